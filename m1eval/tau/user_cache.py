"""A persistent cache of user-simulator replies, so a resumed run does not pay twice.

Keyed by the episode's sample id, the simulator model, its sampling and the whole
conversation so far: different trials never share replies (they are meant to be independent
draws), while a rerun of the same episode with the same agent turns gets the same user turns
without a request. Stored append-only as ``tau/user_cache.jsonl`` in the run directory.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from m1eval.hashing import stable_hash


class UserCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, str] = {}
        self.hits = 0
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
                try:
                    row = json.loads(line)
                    self._entries[row["key"]] = row["reply"]
                except (ValueError, KeyError):
                    continue  # a torn last line: that reply is simply asked again

    @staticmethod
    def key(sample_id: str, model: str, params: dict[str, Any], messages: list[dict]) -> str:
        return stable_hash({"sample": sample_id, "model": model, "params": params,
                            "messages": messages})  # fmt: skip

    def get(self, key: str) -> str | None:
        reply = self._entries.get(key)
        if reply is not None:
            self.hits += 1
        return reply

    def put(self, key: str, reply: str) -> None:
        with self._lock:
            self._entries[key] = reply
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": key, "reply": reply}) + "\n")
