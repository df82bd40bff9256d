"""Suite specs (``suites/*.yaml``): the paper's evaluation method and numbers, as data.

Vocabulary: a *suite spec* is one of these YAML files; a *protocol* is a model setup under
``protocols/`` (sampling, thinking budget, message shape); a *run manifest* is the
``manifest.json`` of a run directory. A spec's ``method:`` block is how the paper evaluated
the suite (repeats, instruction, suite constants); an older spelling, ``protocol:``, is read
the same way.

A spec names the dataset and its pinned revision, the method the paper used, the
paper's reported score for every model column of Table 2, and the known deviations. The
adapter module holds the code (prompt, grader); the spec holds everything a reader
should be able to audit without reading code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from m1eval.errors import ConfigError
from m1eval.paths import suites_dir


@dataclass(frozen=True)
class DatasetSpec:
    repo_id: str
    revision: str | None
    split: str
    id_field: str | None  # None: the adapter builds ids (MRCR: "{n}needle-{shard}-{row}")
    checksum_fields: tuple[str, ...]
    content_sha256: str | None
    notes: str = ""


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    title: str
    adapter: str
    dataset: DatasetSpec
    method: dict[str, Any]
    paper: dict[str, Any]
    deviations: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)
    fidelity: str | None = None  # where the audit against the official code is written
    plots: tuple[dict[str, Any], ...] = ()  # breakdowns renderers draw (name, breakdown, ...)

    @property
    def paper_scores(self) -> dict[str, float | None]:
        return dict(self.paper.get("scores", {}))


PLOT_KEYS = {"name", "breakdown", "title", "x_label", "y_label"}
_REPORT_BLOCK = re.compile(rb"^report:.*?(?=^[^\s#]|\Z)", re.M | re.S)


def spec_sha256(spec: SuiteSpec) -> str:
    """SHA-256 of the spec file without its ``report:`` block: what a run's identity holds
    (a new fidelity link or plot hint leaves every run's identity as it was)."""
    if spec.path is None:
        raise ConfigError(f"suite {spec.name} has no spec file")
    return hashlib.sha256(_REPORT_BLOCK.sub(b"", spec.path.read_bytes())).hexdigest()


def available_suites() -> list[str]:
    return sorted(p.stem for p in suites_dir().glob("*.yaml"))


def load_suite_spec(name_or_path: str) -> SuiteSpec:
    """Load a spec by suite name (``aime24``) or by path to a YAML file."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = suites_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            known = ", ".join(available_suites()) or "none"
            raise ConfigError(f"unknown suite '{name_or_path}' (known suites: {known})")
    return parse_suite_spec(path)


def parse_suite_spec(path: Path) -> SuiteSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"malformed YAML in {path}{where}: {_first_line(exc)}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read suite spec {path}: {exc.strerror}") from None
    except (RecursionError, ValueError) as exc:
        raise ConfigError(f"unreadable suite spec {path}: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"suite spec {path} must be a mapping, got {type(raw).__name__}")

    def need(mapping: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        if key not in mapping:
            raise ConfigError(f"suite spec {path}: missing '{where}{key}'")
        value = mapping[key]
        if not isinstance(value, kind):
            raise ConfigError(f"suite spec {path}: '{where}{key}' has the wrong type")
        return value

    ds = need(raw, "dataset", dict, "")
    dataset = DatasetSpec(
        repo_id=need(ds, "repo_id", str, "dataset."),
        revision=ds.get("revision"),
        split=need(ds, "split", str, "dataset."),
        id_field=ds.get("id_field"),
        checksum_fields=tuple(ds.get("checksum_fields") or ()),
        content_sha256=ds.get("content_sha256"),
        notes=str(ds.get("notes") or ""),
    )
    if "method" in raw and "protocol" in raw:
        raise ConfigError(f"suite spec {path}: give 'method' or its older name, not both")
    key = "protocol" if "protocol" in raw else "method"
    method = need(raw, key, dict, "")
    repeats = method.get("repeats", 1)
    if not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"suite spec {path}: 'method.repeats' must be a positive integer")
    paper = raw.get("paper") or {}
    if not isinstance(paper, dict) or not isinstance(paper.get("scores", {}), dict):
        raise ConfigError(f"suite spec {path}: 'paper.scores' must be a mapping")
    deviations = raw.get("deviations") or []
    if not isinstance(deviations, list):
        raise ConfigError(f"suite spec {path}: 'deviations' must be a list")
    name = need(raw, "name", str, "")
    if name != path.stem:
        raise ConfigError(f"suite spec {path}: name '{name}' differs from the file name")
    fidelity, plots = _report_block(raw.get("report"), path)
    return SuiteSpec(
        name=name,
        title=str(raw.get("title") or name),
        adapter=need(raw, "adapter", str, ""),
        dataset=dataset,
        method=method,
        paper=paper,
        deviations=tuple(str(d) for d in deviations),
        path=path,
        fidelity=fidelity,
        plots=plots,
    )


def _report_block(report: Any, path: Path) -> tuple[str | None, tuple[dict[str, Any], ...]]:
    if report is None:
        return None, ()
    if not isinstance(report, dict):
        raise ConfigError(f"suite spec {path}: 'report' must be a mapping")
    fidelity = report.get("fidelity")
    if fidelity is not None and not isinstance(fidelity, str):
        raise ConfigError(f"suite spec {path}: 'report.fidelity' must be a string")
    plots = report.get("plots") or []
    if not isinstance(plots, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(
            p.get("breakdown"), str) and set(p) <= PLOT_KEYS for p in plots):  # fmt: skip
        raise ConfigError(f"suite spec {path}: 'report.plots' must be a list of mappings with "
                          f"'name' and 'breakdown' (keys: {', '.join(sorted(PLOT_KEYS))})")
    return fidelity, tuple(dict(p) for p in plots)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "problem", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
