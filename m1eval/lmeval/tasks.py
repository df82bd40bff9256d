"""Finding and building lm-evaluation-harness tasks.

Task names are looked up in the bundled YAMLs (``lm_eval_tasks/``) and any
``--lm-eval-include`` folders first, then in lm-eval's own task index (a few seconds to build).
The dataset comes from the hub at the task's revision, from an offline ``--data-dir`` snapshot
(``DIR/<dataset_path>/``), or from the bundled smoke split, exactly as for m1eval's own suites.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.data import data_source
from m1eval.errors import ConfigError, DataError
from m1eval.paths import lm_eval_tasks_dir

_MANAGERS: dict[tuple[tuple[str, ...], bool], Any] = {}


def bundled_dir() -> Path:
    return lm_eval_tasks_dir()


def _lm_eval() -> None:
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise ConfigError(
            "lm-eval suites need lm-evaluation-harness: pip install 'm1eval[lm-eval]'"
        ) from None
    import logging

    for name in ("lm_eval", "lm-eval"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _manager(paths: tuple[str, ...], defaults: bool) -> Any:
    from lm_eval.tasks import TaskManager

    key = (paths, defaults)
    if key not in _MANAGERS:
        _MANAGERS[key] = TaskManager(include_path=list(paths), include_defaults=defaults)
    return _MANAGERS[key]


def find_task(name: str, include: tuple[str, ...] = ()) -> tuple[Path, dict[str, Any]]:
    """``(yaml_path, resolved config)`` of the lm-eval task ``name``."""
    _lm_eval()
    from lm_eval.tasks._index import Kind
    from lm_eval.tasks._yaml_loader import load_yaml

    for path in include:
        if not Path(path).exists():
            raise ConfigError(f"--lm-eval-include {path}: no such file or folder")
    paths = (str(bundled_dir()), *include)
    entry = _manager(paths, False).task_index.get(name)
    if entry is None:
        entry = _manager(paths, True).task_index.get(name)
    if entry is None:
        bundled = sorted(p.stem for p in bundled_dir().glob("*.yaml"))
        raise ConfigError(
            f"unknown lm-eval task '{name}' (bundled: {', '.join(bundled)}; any task of "
            "`lm_eval ls tasks`, or a folder of YAMLs with --lm-eval-include)"
        )
    if entry.kind in (Kind.GROUP, Kind.TAG):
        raise ConfigError(
            f"lm-eval '{name}' is a {entry.kind.name.lower()} of several tasks; run its tasks "
            "one by one (each is one suite with its own score)"
        )
    if entry.kind != Kind.TASK or entry.yaml_path is None:
        raise ConfigError(f"lm-eval task '{name}' is defined in Python; only YAML tasks run here")
    try:
        cfg = copy.deepcopy(load_yaml(entry.yaml_path, resolve_func=True))
    except Exception as exc:
        raise ConfigError(f"cannot load lm-eval task {entry.yaml_path}: {exc}") from None
    for key in ("tag", "group", "task_list"):
        cfg.pop(key, None)
    cfg["task"] = name
    return Path(entry.yaml_path), cfg


@dataclass(frozen=True)
class DataSource:
    repo_id: str
    revision: str | None
    split: str
    source: str  # "hub", "mirror", "bundled" or "local" (the task's own data files)
    location: str


# ``datasets``' packaged builders: a task naming one reads its own ``data_files``
PACKAGED_BUILDERS = frozenset({"json", "csv", "parquet", "text", "arrow", "pandas", "xml"})


def redirect(cfg: dict[str, Any], split: str | None, data_dir: str | Path | None,
             ) -> tuple[dict[str, Any], DataSource]:  # fmt: skip
    """The task config reading ``split`` from the hub, a mirror or the smoke data."""
    cfg = copy.deepcopy(cfg)
    repo = cfg.get("dataset_path")
    if not isinstance(repo, str) or not repo:
        raise ConfigError(f"lm-eval task {cfg['task']}: no dataset_path")
    kwargs = dict(cfg.get("dataset_kwargs") or {})
    revision = kwargs.get("revision")
    own_split = cfg.get("test_split") or cfg.get("validation_split")
    if own_split is None:
        raise ConfigError(f"lm-eval task {cfg['task']} has no test or validation split")
    split = split or own_split
    if repo in PACKAGED_BUILDERS and kwargs.get("data_files"):
        # files the task names itself (``dataset_path: json`` with ``data_files``): no hub
        # repository, no mirror; read where they are
        cfg["dataset_kwargs"] = kwargs
        if split != own_split:
            cfg["test_split"], cfg["validation_split"] = split, None
        return cfg, DataSource(repo, None, split, "local", str(kwargs["data_files"])[:500])
    location, source, revision = data_source(
        repo, revision, split, data_dir, f"dataset {repo} of lm-eval task {cfg['task']}"
    )
    if location is not None:
        cfg["dataset_path"] = str(location)
        kwargs.pop("revision", None)
    cfg["dataset_kwargs"] = kwargs
    if split != own_split:
        cfg["test_split"], cfg["validation_split"] = split, None
    where = str(location) if location is not None else repo
    return cfg, DataSource(repo, revision, split, source, where)


def build_task(cfg: dict[str, Any], data: DataSource) -> Any:
    """The lm-eval task object, its dataset loaded."""
    from lm_eval.api.task import ConfigurableTask

    from m1eval.data import _datasets

    _datasets()  # quiet: no progress bars or logs from the datasets library
    try:
        return ConfigurableTask(config=cfg)
    except (ConfigError, DataError):
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (
            ""
            if data.source != "hub"
            else f"; offline, pass --data-dir DIR with DIR/{data.repo_id}/"
        )
        raise DataError(
            f"cannot load lm-eval task {cfg['task']} ({data.repo_id} split {data.split} from "
            f"{data.source}): {text[:300]}{hint}"
        ) from None
