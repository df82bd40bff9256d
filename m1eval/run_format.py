"""The format of a run directory, and how runs written in older formats are read.

``summary.json`` and ``manifest.json`` carry ``"format": FORMAT``. Older runs are brought to the
current format when read, in memory (their files are never rewritten), so every reader (list,
show, load, report, view, compare) sees one shape:

- format 0 (before the summary contract): no ``headlines``/``breakdowns``; both are derived
  from the fields each suite wrote then (MRCR aggregates and bins, LiveCodeBench
  difficulties, LongBench-v2 categories, SWE-bench subsets, TAU-bench pass^k);
- format 1 (no ``format`` field): records list no ``artifacts``; TAU dialogues
  (``tau/<item>-*.json``), SWE-bench stages (``swe-bench/<item>/``) and harness logs are found
  by their folder names, the one place that still knows those layouts;
- format 2: records list their artifacts; summaries name the suite's fidelity section and
  plots (from its spec).

This module is the only reader of the older fields and layouts.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from m1eval.contract import GROUP_COLUMNS, breakdown, group_rows, headline
from m1eval.suite_specs import load_suite_spec

FORMAT = 2
HARNESS_SUFFIXES = {".json": "json", ".txt": "text", ".log": "text", ".diff": "diff",
                    ".sh": "text"}  # fmt: skip
STAGE_SUFFIXES = {".json": "json", ".patch": "diff"}


def summary_format(summary: dict[str, Any]) -> int:
    if isinstance(summary.get("format"), int):
        return int(summary["format"])
    suites = summary.get("suites") or {}
    declared = any(isinstance(s, dict) and ("headlines" in s or "breakdowns" in s)
                   for s in suites.values())  # fmt: skip
    return 1 if declared or not suites else 0


def manifest_format(manifest: dict[str, Any]) -> int:
    return int(manifest["format"]) if isinstance(manifest.get("format"), int) else 1


def migrate_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    if manifest_format(manifest) >= FORMAT or not manifest:
        return manifest
    return {**manifest, "format": FORMAT, "read_from_format": manifest_format(manifest)}


def migrate_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary in the current format (a copy when anything had to change)."""
    found = summary_format(summary)
    if found >= FORMAT:
        return summary
    out = copy.deepcopy(summary)
    for name, s in (out.get("suites") or {}).items():
        if not isinstance(s, dict):
            continue
        if found == 0:
            s["headlines"], s["breakdowns"] = _derived_contract(name, s)
        for key, value in _presentation(name).items():
            s.setdefault(key, value)
    out["format"], out["read_from_format"] = FORMAT, found
    return out


def _presentation(suite: str) -> dict[str, Any]:
    """The fidelity section and plot hints of a suite this checkout knows."""
    try:
        spec = load_suite_spec(suite)
    except Exception:  # an lm-eval task, or a suite this checkout does not have
        return {"fidelity": None, "plots": []}
    return {"fidelity": spec.fidelity, "plots": [dict(p) for p in spec.plots]}


def _derived_contract(suite: str, s: dict[str, Any]
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """Headlines and breakdowns of a format-0 summary, from the fields each suite wrote."""
    paper = (s.get("paper") or {}).get("score")
    heads = [headline(suite, s.get("score"), s.get("ci_low"), s.get("ci_high"), paper)]
    parts: list[dict[str, Any]] = []
    for name, agg in (s.get("aggregates") or {}).items():  # MRCR
        head = agg.get(agg.get("headline", "mean_up_to")) or {}
        heads.append(headline(f"{suite} ({name})", head.get("score"), head.get("ci_low"),
                              head.get("ci_high"), agg.get("paper")))  # fmt: skip
    if s.get("bins"):
        parts.append(breakdown("by context bin (o200k tokens)", GROUP_COLUMNS,
                               group_rows(s["bins"]), record_key="bin"))  # fmt: skip
    if s.get("by_difficulty"):  # LiveCodeBench
        parts.append(breakdown("by difficulty", GROUP_COLUMNS, group_rows(s["by_difficulty"]),
                               record_key="difficulty"))  # fmt: skip
    if s.get("categories"):  # LongBench-v2
        rows = [{"group": k, "score": v.get("score"),
                 "failures as wrong": v.get("score_failures_as_wrong"), "n": v.get("n"),
                 "failed requests": v.get("n_infra_error")}
                for k, v in s["categories"].items()]  # fmt: skip
        parts.append(breakdown("by category", ["score", "failures as wrong", "n",
                                               "failed requests"], rows))  # fmt: skip
    if s.get("subsets"):  # SWE-bench: the paper's number is over its 486
        heads = [headline(f"{suite} ({name})", sub.get("score"), sub.get("ci_low"),
                          sub.get("ci_high"), paper if name == "m1-486" else None)
                 for name, sub in s["subsets"].items()]  # fmt: skip
        rows = [{"group": k, "score": v.get("score"), "resolved": v.get("resolved"),
                 "instances": v.get("n_instances")} for k, v in s["subsets"].items()]  # fmt: skip
        parts.append(breakdown("by subset", ["score", "resolved", "instances"], rows))
    if s.get("pass_hat_k"):  # TAU-bench
        rows = [{"group": k, "score": v} for k, v in s["pass_hat_k"].items()]
        parts.append(breakdown("pass^k", ["score"], rows))
    return heads, parts


class LegacyArtifacts:
    """The artifacts of a format-1 run's records, found by the folder layouts it used.

    A TAU dialogue file was named by its item, not its sample: every sample of the item lists
    every dialogue of the item (as the viewer of that version showed them)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._harness: dict[str, list[Path]] | None = None

    def of(self, record: dict[str, Any]) -> list[dict[str, str]]:
        item = str(record.get("item_id"))
        found: list[tuple[str, Path]] = []
        tau = self.run_dir / "tau"
        if tau.is_dir():
            found += [("dialogue", p) for p in sorted(tau.glob(f"{_glob_safe(item)}-*.json"))]
        stages = self.run_dir / "swe-bench" / item
        if item and "/" not in item and stages.is_dir() and not stages.is_symlink():
            found += [(STAGE_SUFFIXES[p.suffix], p) for p in sorted(stages.iterdir())
                      if p.suffix in STAGE_SUFFIXES]  # fmt: skip
        found += [(HARNESS_SUFFIXES[p.suffix], p) for p in self._harness_logs().get(item, [])]
        return [{"kind": kind, "path": p.relative_to(self.run_dir).as_posix()}
                for kind, p in found if p.is_file() and not p.is_symlink()]  # fmt: skip

    def _harness_logs(self) -> dict[str, list[Path]]:
        """``<run>/[swe-bench/]harness/logs/run_evaluation/<run id>/<model>/<item>/*``."""
        if self._harness is None:
            self._harness = {}
            for root in (self.run_dir / "swe-bench" / "harness", self.run_dir / "harness"):
                for folder in sorted(root.glob("logs/run_evaluation/*/*/*")):
                    if folder.is_dir() and not folder.is_symlink():
                        self._harness.setdefault(folder.name, []).extend(
                            p for p in sorted(folder.iterdir()) if p.suffix in HARNESS_SUFFIXES)
        return self._harness


def _glob_safe(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


# the fields of ``extra`` that format-1 readers offered as tags
LEGACY_TAGS = ("bin", "difficulty", "category", "repo", "domain", "length", "ended_by")


def migrate_records(records: list[dict[str, Any]], run_dir: Path) -> list[dict[str, Any]]:
    """Records in the current format: a record written before records listed their artifacts
    and tags (a format-1 run, or the older samples of one resumed since) gets the artifacts
    its run's folder layouts hold and the tags those readers showed."""
    if all("artifacts" in r and "tags" in r for r in records):
        return records
    legacy = LegacyArtifacts(run_dir)
    out = []
    for r in records:
        r = dict(r)
        if "artifacts" not in r:
            r["artifacts"] = legacy.of(r)
        if "tags" not in r:
            extra = r.get("extra") if isinstance(r.get("extra"), dict) else {}
            r["tags"] = {k: extra[k] for k in LEGACY_TAGS if k in extra}
        out.append(r)
    return out
