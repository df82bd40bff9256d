"""Paths a model names, confined to the checkout it may edit.

A SEARCH/REPLACE edit names its file: ``### pkg/../.git/config`` once rewrote the checkout's git
configuration (an external diff driver the harness then ran on the host), and ``../`` chains
wrote outside the checkout. An edit may only change an existing regular file inside the
checkout, reached through real directories (no symbolic link on the way), and never anything
git reads as configuration: the ``.git`` directory, ``.gitattributes``, ``.gitmodules``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_PATH_CHARS = 1024
# files through which a working tree configures git itself
GIT_CONTROL = frozenset({".git", ".gitattributes", ".gitmodules"})


class UnsafePath(ValueError):
    """A path that leaves the checkout, goes through a link, or names git's own files."""


def confined_file(root: Path, rel: str) -> Path:
    """The existing regular file ``rel`` names inside ``root``; :class:`UnsafePath` otherwise."""
    if not isinstance(rel, str) or not rel or len(rel) > MAX_PATH_CHARS:
        raise UnsafePath(f"unusable path {str(rel)[:80]!r}")
    if "\x00" in rel or "\\" in rel:
        raise UnsafePath(f"path {rel[:200]!r} holds a NUL or a backslash")
    if rel.startswith("/"):
        raise UnsafePath(f"absolute path {rel[:200]!r}")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePath(f"path {rel[:200]!r} names no file")
    for part in parts:
        if part == "..":
            raise UnsafePath(f"path {rel[:200]!r} leaves the checkout")
        if part.lower() in GIT_CONTROL:
            raise UnsafePath(f"path {rel[:200]!r} names git's own files")
    current = root
    for i, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            raise UnsafePath(f"no file {rel[:200]} in the repository") from None
        last = i == len(parts) - 1
        if stat.S_ISLNK(mode):
            raise UnsafePath(f"path {rel[:200]!r} goes through a symbolic link")
        if not last and not stat.S_ISDIR(mode):
            raise UnsafePath(f"no file {rel[:200]} in the repository")
        if last and not stat.S_ISREG(mode):
            raise UnsafePath(f"{rel[:200]} is not a regular file")
    resolved = current.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UnsafePath(f"path {rel[:200]!r} leaves the checkout")
    return current


def write_confined(path: Path, data: bytes) -> None:
    """Overwrite the regular file ``path`` without following a link planted meanwhile."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
