"""Dataset loading: the pinned upstream revision, an offline mirror, or the bundled smoke split.

Every suite reads its rows through :func:`load_rows`, which records where the rows came from
and a checksum of their content, so a run can say exactly what it evaluated. An offline
mirror directory ``DIR`` holds ``DIR/<hf_repo_id>/`` as a snapshot of the dataset repository
(the layout ``datasets.load_dataset`` reads from a local folder).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.errors import DataError
from m1eval.hashing import stable_hash
from m1eval.manifests import DatasetSpec
from m1eval.paths import smoke_data_dir

SMOKE_SPLIT = "smoke"
DATA_DIR_ENV = "M1EVAL_DATA_DIR"


@dataclass(frozen=True)
class LoadedDataset:
    rows: list[dict[str, Any]]
    repo_id: str
    revision: str | None
    split: str
    source: str  # "hub", "mirror" or "bundled"
    location: str
    content_sha256: str
    pinned_sha256: str | None

    @property
    def matches_pin(self) -> bool | None:
        """Whether the content equals the manifest's pinned checksum (None: nothing pinned)."""
        if self.pinned_sha256 is None:
            return None
        return self.content_sha256 == self.pinned_sha256

    def describe(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "revision": self.revision,
            "split": self.split,
            "source": self.source,
            "location": self.location,
            "n_rows": len(self.rows),
            "content_sha256": self.content_sha256,
            "pinned_sha256": self.pinned_sha256,
            "matches_pin": self.matches_pin,
        }


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    value = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def content_checksum(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    """Checksum of the fields a suite uses, in dataset order (other columns may come and go)."""
    if fields:
        rows = [{f: row.get(f) for f in fields} for row in rows]
    return stable_hash(rows)


def load_rows(
    spec: DatasetSpec, split: str | None = None, data_dir: str | Path | None = None
) -> LoadedDataset:
    """Load every row of ``split`` (default: the manifest's split)."""
    split = split or spec.split
    mirror = resolve_data_dir(data_dir)
    if split == SMOKE_SPLIT:
        location, source, revision = smoke_data_dir() / spec.repo_id, "bundled", None
        rows = _load_local(location, split, spec)
    elif mirror is not None:
        location, source, revision = mirror / spec.repo_id, "mirror", spec.revision
        rows = _load_local(location, split, spec, mirror=mirror)
    else:
        location, source, revision = Path(spec.repo_id), "hub", spec.revision
        rows = _load_hub(spec, split)
    if not rows:
        raise DataError(f"dataset {spec.repo_id} split '{split}' has no rows")
    missing = [f for f in (spec.id_field, *spec.checksum_fields) if f not in rows[0]]
    if missing:
        raise DataError(
            f"dataset {spec.repo_id} split '{split}' lacks the column(s) {', '.join(missing)}"
        )
    pinned = spec.content_sha256 if split == spec.split else None
    loaded = LoadedDataset(
        rows=rows,
        repo_id=spec.repo_id,
        revision=revision,
        split=split,
        source=source,
        location=str(location),
        content_sha256=content_checksum(rows, spec.checksum_fields),
        pinned_sha256=pinned,
    )
    if loaded.matches_pin is False:
        logging.getLogger("m1eval").warning(
            "content of %s split %s differs from the pinned checksum; the run records this",
            spec.repo_id,
            split,
        )
    return loaded


def _datasets():
    """Import ``datasets`` quietly: its progress bars and logs would break one-line errors."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def _load_local(
    location: Path, split: str, spec: DatasetSpec, mirror: Path | None = None
) -> list[dict[str, Any]]:
    if not location.is_dir():
        where = f"under --data-dir {mirror}" if mirror else "in the package"
        raise DataError(
            f"dataset {spec.repo_id} (revision {spec.revision or 'unpinned'}) not found {where}: "
            f"expected a dataset snapshot at {location}/"
        )
    datasets = _datasets()
    try:
        ds = datasets.load_dataset(str(location), split=split)
    except ValueError as exc:
        raise DataError(
            f"dataset {spec.repo_id} at {location} has no split '{split}': {_short(exc)}"
        ) from None
    except Exception as exc:  # datasets raises many types for unreadable files
        raise DataError(
            f"cannot read dataset {spec.repo_id} at {location}: {_short(exc)}"
        ) from None
    return [dict(row) for row in ds]


def _load_hub(spec: DatasetSpec, split: str) -> list[dict[str, Any]]:
    datasets = _datasets()
    try:
        ds = datasets.load_dataset(spec.repo_id, revision=spec.revision, split=split)
    except Exception as exc:
        raise DataError(
            f"cannot load dataset {spec.repo_id} at revision {spec.revision or 'unpinned'} "
            f"split '{split}' from the Hugging Face hub ({_short(exc)}); for an offline mirror "
            f"pass --data-dir DIR (or set {DATA_DIR_ENV}) where DIR/{spec.repo_id}/ is a snapshot"
        ) from None
    return [dict(row) for row in ds]


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else (text or type(exc).__name__)
