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
from m1eval.fsutil import atomic_write_json, atomic_write_jsonl

MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
FSYNC_INTERVAL_S = 1.0


class RunStore:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._fh: Any = None
        self._lock_fh: Any = None
        self._last_fsync = 0.0

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
        self._fh = open(self.samples_path, "a", encoding="utf-8")  # noqa: SIM115
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
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        now = time.monotonic()
        if now - self._last_fsync >= FSYNC_INTERVAL_S:
            os.fsync(self._fh.fileno())
            self._last_fsync = now

    def drop(self, sample_ids: Iterable[str]) -> None:
        """Remove records (to re-attempt them), rewriting ``samples.jsonl`` atomically."""
        drop = set(sample_ids)
        if not drop:
            return
        records = self._read_samples(repair=False, keep_text=True)
        kept = [r for sid, r in records.items() if sid not in drop]
        if self._fh is not None:
            self._fh.close()
        atomic_write_jsonl(self.samples_path, kept)
        self._fh = open(self.samples_path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
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
        except ValueError:
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
    except (OSError, ValueError) as exc:
        raise RunStateError(f"cannot read {path}: {exc}") from None
