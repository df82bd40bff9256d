"""The results store: ``results/<run_id>/`` with manifest, samples and summary.

``samples.jsonl`` is the run's crash-safe, append-only log of finished samples, one JSON object
per line. A line is written with a single ``write`` and flushed before the next sample starts,
so a killed process (even ``kill -9``) leaves every finished sample on disk; the file is also
fsync'd at most every second and on close, which bounds what a power loss can take. A torn
last line (power loss mid-write) is detected and cut off on the next open. ``manifest.json``
and ``summary.json`` are replaced atomically.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from m1eval.errors import RunStateError
from m1eval.fsutil import (
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_text,
    encode_text,
    unencodable_chars,
)

MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
PROMPTS = "prompts.jsonl"  # the messages sent, once per prompt hash, for reading samples back
PROMPT_KEEP_CHARS = 32_000  # per message: longer contents keep their head and tail
FSYNC_INTERVAL_S = 1.0


class RunStore:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._fh: Any = None
        self._lock_fh: Any = None
        self._last_fsync = 0.0
        self._prompts_fh: Any = None
        self._prompts_seen: set[str] = set()

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / MANIFEST

    @property
    def samples_path(self) -> Path:
        return self.run_dir / SAMPLES

    @property
    def summary_path(self) -> Path:
        return self.run_dir / SUMMARY

    # -- opening ---------------------------------------------------------------------------

    def open(self, config_hash: str) -> dict[str, dict[str, Any]]:
        """Lock the run directory and return the finished samples by ``sample_id``.

        Refuses a directory whose manifest was written for a different configuration: mixing
        samples of two configurations under one run would make its numbers meaningless.
        """
        existing = self.read_manifest()
        if existing is not None and existing.get("config_hash") != config_hash:
            raise RunStateError(
                f"run directory {self.run_dir} holds a run with a different configuration "
                f"(config hash {str(existing.get('config_hash'))[:12]} != {config_hash[:12]}); "
                "choose another --run-id"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        done = self._read_samples(repair=True)
        self._fh = open(self.samples_path, "ab")  # noqa: SIM115
        self._prompts_seen = set(read_prompts(self.run_dir))
        _cut_torn_tail(self.run_dir / PROMPTS)
        return done

    def _lock(self) -> None:
        self._lock_fh = open(self.run_dir / ".lock", "a+")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            self._lock_fh = None
            raise RunStateError(
                f"run directory {self.run_dir} is in use by another m1eval process"
            ) from None

    def _read_samples(self, repair: bool, keep_text: bool = False) -> dict[str, dict[str, Any]]:
        records, good_bytes, torn = read_samples_file(self.samples_path, keep_text=keep_text)
        if torn and repair:
            with open(self.samples_path, "r+b") as fh:
                fh.truncate(good_bytes)
                if good_bytes:
                    fh.seek(good_bytes - 1)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
        return records

    # -- writing ---------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> None:
        assert self._fh is not None, "RunStore.open() first"
        line = json.dumps(record, ensure_ascii=False)
        escaped = unencodable_chars(line)
        if escaped:  # lone surrogates from the server: kept as backslash escapes, and counted
            extra = record.get("extra") if isinstance(record.get("extra"), dict) else {}
            record = {**record, "extra": {**extra, "escaped_chars": escaped}}
            line = json.dumps(record, ensure_ascii=False)
        self._fh.write(encode_text(line + "\n"))
        self._fh.flush()
        now = time.monotonic()
        if now - self._last_fsync >= FSYNC_INTERVAL_S:
            os.fsync(self._fh.fileno())
            self._last_fsync = now

    def log_prompt(self, prompt_sha256: str, messages: list[dict[str, Any]]) -> None:
        """Keep the messages of a prompt (once per hash) for the report's sample pages.

        A convenience copy, not the record of truth (that is the hash in every sample): very
        long contents keep only their head and tail, and a torn last line is skipped on read.
        """
        if prompt_sha256 in self._prompts_seen:
            return
        self._prompts_seen.add(prompt_sha256)
        if self._prompts_fh is None:
            self._prompts_fh = open(self.run_dir / PROMPTS, "ab")  # noqa: SIM115
        row = {"prompt_sha256": prompt_sha256, "messages": [shorten_message(m) for m in messages]}
        self._prompts_fh.write(encode_text(json.dumps(row, ensure_ascii=False) + "\n"))
        self._prompts_fh.flush()

    def drop(self, sample_ids: Iterable[str]) -> None:
        """Remove records (to re-attempt them), rewriting ``samples.jsonl`` atomically."""
        drop = set(sample_ids)
        if not drop:
            return
        records = self._read_samples(repair=False, keep_text=True)
        self.replace_samples(r for sid, r in records.items() if sid not in drop)

    def replace_samples(self, records: Iterable[dict[str, Any]]) -> None:
        """Make ``records`` the whole of ``samples.jsonl`` (one atomic rewrite)."""
        if self._fh is not None:
            self._fh.close()
        atomic_write_jsonl(self.samples_path, records)
        self._fh = open(self.samples_path, "ab")  # noqa: SIM115

    def replace_prompts(self, lines: Iterable[str]) -> None:
        """Make ``lines`` (rows of ``prompts.jsonl``, as written) the whole prompts file."""
        if self._prompts_fh is not None:
            self._prompts_fh.close()
            self._prompts_fh = None
        text = "".join(line + "\n" for line in lines)
        if text:
            atomic_write_text(self.run_dir / PROMPTS, text)
        self._prompts_seen = set(read_prompts(self.run_dir))

    def close(self) -> None:
        if self._prompts_fh is not None:
            self._prompts_fh.close()
            self._prompts_fh = None
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.manifest_path, manifest)

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_json(self.summary_path, summary)

    def read_manifest(self) -> dict[str, Any] | None:
        return _read_json(self.manifest_path)

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shorten_message(message: dict[str, Any], keep: int = PROMPT_KEEP_CHARS) -> dict[str, Any]:
    """The message with a text content longer than ``keep`` characters cut to its head and
    tail around a note of how much was left out."""
    content = message.get("content")
    if isinstance(content, list):  # list-of-parts content: the text parts joined
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        return {"role": message.get("role"), "content": json.dumps(content, ensure_ascii=False)}
    if len(content) > keep:
        half = keep // 2
        content = (f"{content[:half]}\n[… {len(content) - 2 * half:,} characters left out "
                   f"here …]\n{content[-half:]}")  # fmt: skip
    return {"role": message.get("role"), "content": content}


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line a kill left without its newline, so appends start on a fresh line."""
    try:
        fh = open(path, "r+b")  # noqa: SIM115
    except FileNotFoundError:
        return
    with fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        fh.truncate(fh.read().rfind(b"\n") + 1)


def read_prompts(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """``{prompt_sha256: messages}`` from a run's prompts file (empty when it has none)."""
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        with open(run_dir / PROMPTS, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                    out[row["prompt_sha256"]] = row["messages"]
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line from a killed run
    except FileNotFoundError:
        pass
    return out


TEXT_FIELDS = ("answer", "reasoning")  # the bulk of a record; summaries never need them


def read_samples_file(
    path: Path, keep_text: bool = True
) -> tuple[dict[str, dict[str, Any]], int, bool]:
    """Parse a samples file: (records by sample_id, bytes of valid records, needs repair?).

    A later line for the same ``sample_id`` replaces an earlier one. Only the final line may be
    incomplete (a crash mid-write); a corrupt line elsewhere is an error, never skipped.
    Without ``keep_text`` the answer and reasoning texts are dropped as lines are read, so
    memory stays small for runs of many 80K-token generations.
    """
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records, 0, False
    data = path.read_bytes()
    pos, lineno = 0, 0
    while pos < len(data):
        lineno += 1
        end = data.find(b"\n", pos)
        last = end < 0
        line = data[pos:] if last else data[pos:end]
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or "sample_id" not in obj:
                raise ValueError("not a sample record")
        except (ValueError, RecursionError):
            if last:
                return records, pos, True  # torn tail: cut it off
            raise RunStateError(f"{path} line {lineno} is corrupt; refusing to guess") from None
        if not keep_text:
            for key in TEXT_FIELDS:
                obj.pop(key, None)
        records[obj["sample_id"]] = obj
        if last:
            return records, len(data), True  # complete record without its newline
        pos = end + 1
    return records, pos, False


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        raise RunStateError(f"cannot read {path}: {type(exc).__name__}: {exc}"[:300]) from None
