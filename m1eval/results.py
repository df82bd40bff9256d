"""Reading runs back: ``m1eval.results.load(path_or_glob) -> pandas.DataFrame``.

One row per sample, with the run's metadata as columns (``run_id``, ``model``, ``protocol``,
``config_hash``, ``base_url``, ``run_status``), so several runs concatenate into one frame:

>>> from m1eval.results import load
>>> df = load("results/*")
>>> df.groupby(["run_id", "item_id"]).score.mean()

``score`` is in percent (0–100), as in summaries and reports; ``grade`` is the same in [0, 1].
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from m1eval import boundedjson
from m1eval.contract import comparability as contract_comparability
from m1eval.errors import DataError
from m1eval.run_format import migrate_manifest, migrate_records, migrate_summary
from m1eval.run_status import effective_status
from m1eval.store import MANIFEST, SAMPLES, SUMMARY, read_samples_file
from m1eval.summary import summarize_suite

RUN_FILE_MAX_DEPTH = 100

RUN_COLUMNS = ("run_id", "model", "protocol", "config_hash", "base_url", "run_status")


def find_runs(path_or_glob: str | Path) -> list[Path]:
    """Run directories named by a run dir, a samples file, a results dir, or a glob of those."""
    text = str(path_or_glob)
    candidates = (
        [Path(p) for p in sorted(glob.glob(text))] if glob.has_magic(text) else [Path(text)]
    )
    runs: list[Path] = []
    for cand in candidates:
        if cand.is_file() and cand.name in (SAMPLES, MANIFEST, SUMMARY):
            cand = cand.parent
        if (cand / MANIFEST).is_file() or (cand / SAMPLES).is_file():
            runs.append(cand)
        elif cand.is_dir():
            runs.extend(p.parent for p in sorted(cand.glob(f"*/{MANIFEST}")))
    seen: set[Path] = set()
    unique = []
    for r in runs:
        if r.resolve() not in seen:
            seen.add(r.resolve())
            unique.append(r)
    return unique


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The run's manifest in the current format ({} when it has none)."""
    try:
        manifest = migrate_manifest(_json_object(run_dir / MANIFEST))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise DataError(f"{run_dir / MANIFEST} is not valid JSON: {exc}") from None
    status = effective_status(manifest)
    if status != manifest.get("status"):  # the owner is gone (or elsewhere): say so
        manifest = {**manifest, "status": status, "status_recorded": manifest.get("status")}
    return manifest


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary in the current format (None before the run has finished once)."""
    try:
        return migrate_summary(_json_object(run_dir / SUMMARY))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise DataError(f"{run_dir / SUMMARY} is not valid JSON: {exc}") from None


def read_records(run_dir: Path, keep_text: bool = True) -> list[dict[str, Any]]:
    """The run's sample records in the current format (older runs' artifacts found)."""
    records, _, _ = read_samples_file(run_dir / SAMPLES, keep_text=keep_text)
    return migrate_records(list(records.values()), run_dir)


def partial_score(run_dir: Path, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """What a run without a summary has so far (interrupted, or still running): the score of
    the samples recorded, the conservative score, and how many of the requested samples
    there are. None when no sample was recorded."""
    records = read_records(run_dir, keep_text=False)
    if not records:
        return None
    s = summarize_suite(records)
    invocations = manifest.get("invocations") or [{}]
    requested = invocations[-1].get("requested") if isinstance(invocations[-1], dict) else None
    return {"score": s["score"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
            "conservative": s["conservative"]["score"], "n_samples": s["n_samples"],
            "requested": requested, "outcomes": s["outcomes"]}  # fmt: skip


def run_metadata(run_dir: Path) -> dict[str, Any]:
    m = read_manifest(run_dir)
    identity = m.get("identity", {})
    return {
        "run_id": m.get("run_id", run_dir.name),
        "model": identity.get("model"),
        "protocol": identity.get("protocol"),
        "config_hash": m.get("config_hash"),
        "base_url": (m.get("endpoint") or {}).get("base_url"),
        "run_status": m.get("status"),
    }


def load(path_or_glob: str | Path) -> Any:
    """All samples of the named runs as a pandas DataFrame (one row per sample).

    ``score`` is on the scale of every summary, report and leaderboard (0–100), so the mean
    over items of each item's mean ``score`` is the suite's score as the summary gives it;
    ``grade`` is the sample's grade in [0, 1] as ``samples.jsonl`` stores it (its ``score``
    field). Both are missing (NaN) for samples that were not graded (infra errors)."""
    import pandas as pd

    runs = find_runs(path_or_glob)
    if not runs:
        raise DataError(f"no m1eval run found at {path_or_glob}")
    frames = []
    for run_dir in runs:
        records, _, _ = read_samples_file(run_dir / SAMPLES)
        meta = run_metadata(run_dir)
        rows = [{**meta, **r} for r in records.values()]
        frame = pd.DataFrame(rows)
        if frame.empty:
            frame = pd.DataFrame(columns=[*RUN_COLUMNS, "sample_id", "score"])
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    for col in ("item_id", "suite", "outcome"):
        if col in df.columns:
            df[col] = df[col].astype("string")
    df["grade"] = pd.to_numeric(df["score"], errors="coerce")  # every frame has the column
    df["score"] = df["grade"] * 100
    return df


def comparability(manifest: dict[str, Any], suite: str, s: dict[str, Any]) -> dict[str, Any]:
    """Whether a suite's run can be judged against the paper (recorded in summaries since the
    contract; derived from the manifest's configuration for older runs)."""
    if isinstance(s.get("comparable"), dict):
        return s["comparable"]
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    try:
        from m1eval.suite_specs import load_suite_spec

        benchmark_split = load_suite_spec(suite).dataset.split
    except Exception:  # a suite this checkout does not have: nothing to judge against
        benchmark_split = None
    dataset = manifest.get("dataset") if isinstance(manifest.get("dataset"), dict) else {}
    return contract_comparability(config.get("split"), benchmark_split, config.get("limit"),
                                  dataset.get("matches_pin"), config.get("repeats"))  # fmt: skip


def _json_object(path: Path) -> dict[str, Any]:
    """A run's JSON file, parsed within bounds; ``ValueError`` unless it holds an object."""
    value = boundedjson.loads(path.read_text(encoding="utf-8"), max_depth=RUN_FILE_MAX_DEPTH)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value
