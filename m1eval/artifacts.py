"""Artifacts: files a suite leaves in a run directory beside the sample records, declared.

A solver or a grader writes through an :class:`ArtifactWriter` rooted in the run directory and
gets back an :class:`Artifact` (a kind and a path relative to the run directory); the record of
the sample lists them. Readers (the viewer, the report) follow ``record["artifacts"]`` and
render each by its kind, never by a suite's folder layout:

- ``dialogue``: JSON with a ``trajectory`` (chat messages, tool calls included) and optional
  ``reward`` / ``ended_by`` (an agent episode);
- ``json``: a JSON document (a pipeline stage's inputs and outputs);
- ``diff``: a unified diff (a patch);
- ``text``: plain text (test output, a harness log, a JSONL export).

Every name is confined to the writer's folder: no absolute path, no ``..``, no link followed
out of it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from m1eval.fsutil import atomic_write_json, atomic_write_text

KINDS = ("dialogue", "json", "diff", "text")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
SEGMENT_CHARS = 80


@dataclass(frozen=True)
class Artifact:
    kind: str
    path: str  # POSIX, relative to the run directory

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path}


def safe_segment(text: str) -> str:
    """A folder name for any identifier (an item id holds whatever its dataset holds):
    unchanged when it is already plain, else a plain spelling plus a hash of the original."""
    plain = _SAFE.sub("_", text)[:SEGMENT_CHARS].strip(".") or "_"
    if plain == text:
        return plain
    return f"{plain}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


class ArtifactWriter:
    """Writes artifacts under ``run_dir / prefix`` and names them relative to ``run_dir``."""

    def __init__(self, run_dir: Path, prefix: str = "") -> None:
        self.run_dir = Path(run_dir)
        self.prefix = PurePosixPath(prefix) if prefix else PurePosixPath()

    @property
    def root(self) -> Path:
        return self.run_dir / self.prefix

    def sub(self, *segments: str) -> ArtifactWriter:
        """A writer for a folder below this one (each segment made safe)."""
        return ArtifactWriter(self.run_dir, str(self.prefix.joinpath(*map(safe_segment,
                                                                          segments))))  # fmt: skip

    def _relative(self, name: str) -> PurePosixPath:
        rel = PurePosixPath(name)
        if rel.is_absolute() or not rel.parts or any(p in ("..", "") for p in rel.parts):
            raise ValueError(f"artifact name {name!r} leaves its folder")
        return self.prefix / rel

    def path(self, name: str) -> Path:
        """Where ``name`` lives on disk (its folder created); for tools that write it."""
        target = self.run_dir / self._relative(name)
        if not target.parent.resolve().is_relative_to(self.run_dir.resolve()):
            raise ValueError(f"artifact name {name!r} leads out of the run directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def declare(self, kind: str, name: str) -> Artifact:
        """An artifact a tool wrote at :meth:`path` ``(name)``."""
        if kind not in KINDS:
            raise ValueError(f"unknown artifact kind {kind!r} (known: {', '.join(KINDS)})")
        return Artifact(kind, str(self._relative(name)))

    def write_json(self, kind: str, name: str, payload: Any) -> Artifact:
        atomic_write_json(self.path(name), payload)
        return self.declare(kind, name)

    def write_text(self, kind: str, name: str, text: str) -> Artifact:
        atomic_write_text(self.path(name), text)
        return self.declare(kind, name)

    def collect(self, kinds: dict[str, str]) -> list[Artifact]:
        """Declare every file a tool left directly in this folder, by suffix (``{".json":
        "json", ".patch": "diff"}``), in name order; other files and links are not listed."""
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.iterdir()):
            kind = kinds.get(path.suffix)
            if kind is not None and path.is_file() and not path.is_symlink():
                out.append(self.declare(kind, path.name))
        return out
