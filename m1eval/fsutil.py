"""Atomic file writes (a reader sees the old file or the new one, never half of either) and
reads of user-supplied files that fail with a one-line cause."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from m1eval.errors import DataError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def encode_text(text: str) -> bytes:
    """``text`` as UTF-8; characters UTF-8 cannot hold (lone surrogates, which a server's JSON
    may well contain) are written as backslash escapes (``\\ud800``) instead of raising. In
    JSON text the escape reads back as the same character."""
    return text.encode("utf-8", "backslashreplace")


def unencodable_chars(text: str) -> int:
    """How many characters of ``text`` UTF-8 cannot hold (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return sum(1 for ch in text if "\ud800" <= ch <= "\udfff")
    return 0


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file, fsync and rename."""
    atomic_write_bytes(path, encode_text(text))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_user_text(path: Path, what: str) -> str:
    """The UTF-8 text of a file the user named; ``DataError`` naming ``what`` if unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {what} {path}: {exc}") from None


def remove_tree(path: str | Path) -> None:
    """Remove a directory tree whatever its modes (a program may have made parts of it
    unreadable or unwritable); what still cannot be removed is left without an error."""

    def _open_up(directory: str) -> None:
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _open_up(entry.path)

    if not os.path.isdir(path) or os.path.islink(path):
        return
    _open_up(str(path))
    shutil.rmtree(path, ignore_errors=True)
