"""The one way a run's files are written: its manifest as it starts, each invocation as it
ends, and the finish (``summary.json``, the manifest that names the summary's hash, the
suite's export). ``m1eval run``, ``merge``, ``swe-bench grade`` and ``swe-bench
validate-gold`` all end through :func:`finish_run`; no command writes run files itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from m1eval import __version__
from m1eval.artifacts import ArtifactWriter
from m1eval.contract import SUITE_ROW, comparability, headline
from m1eval.hashing import stable_hash
from m1eval.provenance import git_state, package_versions
from m1eval.run_format import FORMAT
from m1eval.run_plan import RunPlan
from m1eval.run_status import owner
from m1eval.store import RunStore, read_samples_file
from m1eval.summary import summarize_suite


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_manifest(store: RunStore, plan: RunPlan, endpoint: dict[str, Any],
                 **fields: Any) -> dict[str, Any]:  # fmt: skip
    """The run's manifest: identity, configuration, suite, protocol, dataset, endpoint and
    provenance, keeping the invocations (and creation time) of an earlier one in the same
    directory; ``fields`` add to it (serving, chat template, run context, shard)."""
    previous = store.read_manifest() or {}
    spec, config = plan.suite.spec, plan.config
    manifest = {
        "format": FORMAT,
        "run_id": plan.run_id,
        "m1eval_version": __version__,
        "status": previous.get("status", "new"),
        "created_at": previous.get("created_at", now_iso()),
        "ended_at": previous.get("ended_at"),
        "config_hash": plan.config_hash,
        "identity": plan.identity,
        "config": config.to_dict(),
        "suite": {
            "name": spec.name,
            "title": spec.title,
            "manifest_path": str(spec.path),
            "manifest_sha256": plan.identity.get("suite_manifest_sha256"),
            "deviations": list(spec.deviations),
        },
        "protocol": {"name": plan.protocol.name, "path": str(plan.protocol.path),
                     "paper_column": plan.protocol.paper_column},
        "dataset": plan.dataset.describe(),
        "endpoint": endpoint,
        "packages": package_versions(),
        "git": git_state(),
        "host": {**owner(), "python": sys.executable},
        "invocations": [_settled(i) for i in previous.get("invocations", [])],
    }
    if plan.shard is not None:
        manifest["shard"] = plan.shard
    manifest.update(fields)
    return manifest


def start_invocation(store: RunStore, manifest: dict[str, Any], **fields: Any
                     ) -> dict[str, Any]:  # fmt: skip
    """Record an invocation as running (the manifest is written at once)."""
    invocation = {"started_at": now_iso(), **fields, "status": "running"}
    manifest["invocations"].append(invocation)
    manifest["status"] = "running"
    store.write_manifest(manifest)
    return invocation


def end_invocation(store: RunStore, manifest: dict[str, Any], invocation: dict[str, Any],
                   status: str) -> None:  # fmt: skip
    """How the invocation ended (complete, interrupted, failed), written at once."""
    invocation["ended_at"] = manifest["ended_at"] = now_iso()
    invocation["status"] = manifest["status"] = status
    store.write_manifest(manifest)


def final_records(store: RunStore, plan: RunPlan, keep_text: bool = False
                  ) -> list[dict[str, Any]]:  # fmt: skip
    """The run's records in plan order."""
    records, _, _ = read_samples_file(store.samples_path, keep_text=keep_text)
    return [records[p.sample_id] for p in plan.planned if p.sample_id in records]


def finish_run(
    store: RunStore,
    plan: RunPlan,
    manifest: dict[str, Any],
    summary_extra: dict[str, Any] | None = None,
    adjust: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Write ``summary.json`` from the run's records (``summary_extra`` added at the top,
    ``adjust`` applied to the suite's section), then the suite's export, then the manifest
    naming both; returns the summary."""
    summary = build_summary(plan, final_records(store, plan))
    summary.update(summary_extra or {})
    if adjust is not None:
        adjust(summary["suites"][plan.suite.name])
    store.write_summary(summary)
    if plan.suite.exports:
        written = plan.suite.export(final_records(store, plan, keep_text=True),
                                    ArtifactWriter(store.run_dir))  # fmt: skip
        manifest["artifacts"] = [*manifest.get("artifacts", []), *(a.to_dict() for a in written)]
    manifest["format"] = FORMAT
    manifest["summary_sha256"] = stable_hash(summary)
    store.write_manifest(manifest)
    return summary


def build_summary(plan: RunPlan, records: list[dict[str, Any]]) -> dict[str, Any]:
    """``summary.json``: deterministic in the sample records (no timings, no timestamps)."""
    suite, config, dataset = plan.suite, plan.config, plan.dataset
    column = plan.protocol.paper_column
    s = summarize_suite(records, binary=suite.binary_scores)
    s.update(suite.summarize(records))
    rows = suite.spec.paper.get("rows") or {}
    s["paper"] = {
        "column": column,
        "score": suite.spec.paper_scores.get(column) if column else None,
        "metric": suite.spec.paper.get("metric"),
    }
    heads = s.get("headlines") or [headline(suite.name, s["score"], s["ci_low"], s["ci_high"],
                                            paper_row=SUITE_ROW)]  # fmt: skip
    for h in heads:
        row = h.pop("paper_row", None)
        if row == SUITE_ROW:
            h["paper"] = s["paper"]["score"]
        elif row is not None:
            h["paper"] = (rows.get(row) or {}).get(column) if column else None
    s["headlines"] = heads
    s.setdefault("breakdowns", [])
    s["comparable"] = comparability(
        config.split, suite.spec.dataset.split, config.limit, dataset.matches_pin,
        config.repeats, suite.spec.method.get("repeats"), suite.not_comparable(),
    )  # fmt: skip
    s["dataset"] = {"repo_id": dataset.repo_id, "split": dataset.split,
                    "content_sha256": dataset.content_sha256,
                    "matches_pin": dataset.matches_pin}  # fmt: skip
    s["fidelity"] = suite.spec.fidelity
    s["plots"] = [dict(p) for p in suite.spec.plots]
    return {
        "format": FORMAT,
        "run_id": plan.run_id,
        "config_hash": plan.config_hash,
        "model": config.model,
        "protocol": config.protocol,
        "suites": {suite.name: s},
    }


def _settled(invocation: dict[str, Any]) -> dict[str, Any]:
    """An earlier invocation still marked running died without cleaning up (we hold the lock)."""
    if invocation.get("status") == "running":
        return {**invocation, "status": "killed"}
    return invocation
