"""Dataset loading: the pinned upstream revision, an offline mirror, or the bundled smoke split.

Every suite reads its rows through :func:`load_rows`, which records where the rows came from
and a checksum of their content, so a run can say exactly what it evaluated. An offline
mirror directory ``DIR`` holds ``DIR/<hf_repo_id>/`` as a snapshot of the dataset repository
(the layout ``datasets.load_dataset`` reads from a local folder).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.errors import DataError
from m1eval.hashing import canonical_json
from m1eval.paths import smoke_data_dir
from m1eval.suite_specs import DatasetSpec

SMOKE_SPLIT = "smoke"
DATA_DIR_ENV = "M1EVAL_DATA_DIR"


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset split as memory-mapped Arrow tables (rows are read on demand, not held)."""

    tables: tuple[Any, ...]  # datasets.Dataset objects, one per group of data files
    repo_id: str
    revision: str | None
    split: str
    source: str  # "hub", "mirror" or "bundled"
    location: str
    content_sha256: str
    pinned_sha256: str | None

    @property
    def n_rows(self) -> int:
        return sum(len(t) for t in self.tables)

    def rows(self, columns: list[str] | None = None) -> list[dict[str, Any]]:
        """All rows (optionally only some columns) as dicts: for small data or light columns."""
        out: list[dict[str, Any]] = []
        for table in self.tables:
            view = table.select_columns(columns) if columns else table
            out.extend(dict(row) for row in view)
        return out

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
            "n_rows": self.n_rows,
            "content_sha256": self.content_sha256,
            "pinned_sha256": self.pinned_sha256,
            "matches_pin": self.matches_pin,
        }


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    value = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def data_source(
    repo_id: str, revision: str | None, split: str, data_dir: str | Path | None, what: str,
) -> tuple[Path | None, str, str | None]:  # fmt: skip
    """Where ``split`` of ``repo_id`` is read from, the one decision for every loader:
    ``(location, source, revision)`` with source ``bundled`` (the smoke split, shipped in the
    package), ``mirror`` (``--data-dir`` / ``M1EVAL_DATA_DIR``) or ``hub`` (location None, the
    pinned revision). A bundled or mirrored snapshot that is absent is a one-line error."""
    mirror = resolve_data_dir(data_dir)
    if split == SMOKE_SPLIT:
        location, source, revision = smoke_data_dir() / repo_id, "bundled", None
    elif mirror is not None:
        # one data root for every suite: DIR/<org>/<dataset>, or the same under DIR/hf/ (the
        # layout that keeps tau_bench/ beside it)
        location, source = mirror / repo_id, "mirror"
        if not location.is_dir() and (mirror / "hf" / repo_id).is_dir():
            location = mirror / "hf" / repo_id
    else:
        return None, "hub", revision
    if not location.is_dir():
        if source == "mirror":
            raise DataError(
                f"{what} not found under --data-dir {mirror}: expected a dataset "
                f"snapshot at {location}/ (or {mirror / 'hf' / repo_id}/)"
            )
        raise DataError(
            f"{what} not found in the package: expected a dataset snapshot at {location}/"
        )
    return location, source, revision


def content_checksum(tables: Iterable[Any], fields: tuple[str, ...]) -> str:
    """SHA-256 over the fields a suite uses, row by row in dataset order.

    Streaming (a few rows at a time), so hundreds of megabytes of prompts are hashed without
    being held; other columns may come and go without changing the checksum.
    """
    digest = hashlib.sha256()
    for table in tables:
        view = table.select_columns(list(fields)) if fields else table
        for batch in view.iter(batch_size=16):
            keys = list(batch)
            for values in zip(*(batch[k] for k in keys), strict=True):
                digest.update(canonical_json(dict(zip(keys, values, strict=True))).encode())
                digest.update(b"\n")
    return digest.hexdigest()


def load_rows(
    spec: DatasetSpec,
    split: str | None = None,
    data_dir: str | Path | None = None,
    file_groups: dict[str, list[str]] | None = None,
    builder_kwargs: dict[str, Any] | None = None,
) -> LoadedDataset:
    """Load ``split`` (default: the manifest's split) of the suite's dataset.

    ``file_groups`` names groups of data files inside the repository (``{"0":
    ["4needle/4needle_0.parquet"]}``), each loaded as its own table, for datasets whose rows
    are addressed by file (MRCR); without it the split is loaded the usual way.
    ``builder_kwargs`` go to the ``datasets`` builder (MRCR reads parquet a few rows at a time).
    """
    extra = builder_kwargs or {}
    split = split or spec.split
    found, source, revision = data_source(
        spec.repo_id, spec.revision, split, data_dir,
        f"dataset {spec.repo_id} (revision {spec.revision or 'unpinned'})",
    )  # fmt: skip
    location = found if found is not None else Path(spec.repo_id)
    if source == "hub":
        tables = _load_hub(spec, split, file_groups, extra)
    else:
        tables = _load_local(location, split, spec, file_groups, extra)
    if not any(len(t) for t in tables):
        raise DataError(f"dataset {spec.repo_id} split '{split}' has no rows")
    columns = set(tables[0].column_names)
    wanted = ((spec.id_field,) if spec.id_field else ()) + spec.checksum_fields
    missing = [f for f in wanted if f not in columns]
    if missing:
        raise DataError(
            f"dataset {spec.repo_id} split '{split}' lacks the column(s) {', '.join(missing)}"
        )
    pinned = spec.content_sha256 if split == spec.split else None
    loaded = LoadedDataset(
        tables=tuple(tables),
        repo_id=spec.repo_id,
        revision=revision,
        split=split,
        source=source,
        location=str(location),
        content_sha256=content_checksum(tables, spec.checksum_fields),
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
    location: Path,
    split: str,
    spec: DatasetSpec,
    file_groups: dict[str, list[str]] | None,
    extra: dict[str, Any],
) -> list[Any]:
    datasets = _datasets()  # data_source() has checked that the snapshot is there
    try:
        if file_groups is None:
            return [datasets.load_dataset(str(location), split=split)]
        tables = []
        for files in file_groups.values():
            paths = [str(location / f) for f in files]
            absent = [p for p in paths if not Path(p).exists()]
            if absent:
                raise DataError(f"dataset {spec.repo_id}: missing file {absent[0]}")
            kind = Path(paths[0]).suffix.lstrip(".")
            kind = {"jsonl": "json"}.get(kind, kind)
            tables.append(datasets.load_dataset(kind, data_files=paths, split="train", **extra))
        return tables
    except DataError:
        raise
    except ValueError as exc:
        raise DataError(
            f"dataset {spec.repo_id} at {location} has no split '{split}': {_short(exc)}"
        ) from None
    except Exception as exc:  # datasets raises many types for unreadable files
        raise DataError(
            f"cannot read dataset {spec.repo_id} at {location}: {_short(exc)}"
        ) from None


def _load_hub(
    spec: DatasetSpec,
    split: str,
    file_groups: dict[str, list[str]] | None,
    extra: dict[str, Any],
) -> list[Any]:
    offline = not hub_reachable()
    if offline:  # no retries against an unreachable hub: the local cache or a one-line error
        os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    datasets = _datasets()
    if offline:  # read at import: set them too where datasets was imported already
        datasets.config.HF_DATASETS_OFFLINE = True
        datasets.config.HF_HUB_OFFLINE = True
    try:
        if file_groups is None:
            return [
                datasets.load_dataset(spec.repo_id, revision=spec.revision, split=split, **extra)
            ]
        return [
            datasets.load_dataset(
                spec.repo_id, revision=spec.revision, data_files=files, split="train", **extra
            )
            for files in file_groups.values()
        ]
    except Exception as exc:
        if offline:
            raise DataError(
                f"dataset {spec.repo_id} is not in the local cache and the Hugging Face hub "
                f"cannot be reached; pass --data-dir DIR (or set {DATA_DIR_ENV}) where "
                f"DIR/{spec.repo_id}/ (or DIR/hf/{spec.repo_id}/) is a snapshot"
            ) from None
        raise DataError(
            f"cannot load dataset {spec.repo_id} at revision {spec.revision or 'unpinned'} "
            f"split '{split}' from the Hugging Face hub ({_short(exc)}); for an offline mirror "
            f"pass --data-dir DIR (or set {DATA_DIR_ENV}) where DIR/{spec.repo_id}/ is a snapshot"
        ) from None


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connect (HF_ENDPOINT's host; an explicit
    HF_HUB_OFFLINE=1 means no)."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https"
                                                                else 80)  # fmt: skip
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else (text or type(exc).__name__)
