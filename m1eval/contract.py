"""The summary contract: what a suite's summary declares, and all that renderers read.

A suite summary declares its ``headlines`` (named scores with an interval, each with the paper
number it is compared with, if any) and its ``breakdowns`` (tables of groups: context bins,
difficulties, categories, subsets, pass^k). The terminal table, the report, the leaderboard
and ``compare`` read only these, so a new suite's numbers appear everywhere without a renderer
edit. The generic fields every suite summary has are declared here too
(:data:`SUMMARY_FIELDS`, :data:`CONTRACT_FIELDS`).
"""

from __future__ import annotations

from typing import Any

from m1eval.records import GRADED

SUITE_ROW = ""  # ``paper_row`` naming the suite's own number in the manifest


def headline(
    name: str, score: float | None, ci_low: float | None, ci_high: float | None,
    paper: float | None = None, note: str | None = None, paper_row: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One named score; ``paper`` is the number of the paper it is judged against. A suite
    names that number by ``paper_row`` (a row of its manifest's paper table, or
    :data:`SUITE_ROW`); the run's summary resolves it for the run's protocol column."""
    out = {"name": name, "score": score, "ci_low": ci_low, "ci_high": ci_high,
           "paper": paper, "note": note}  # fmt: skip
    if paper_row is not None:
        out["paper_row"] = paper_row
    return out


def breakdown(
    title: str, columns: list[str], rows: list[dict[str, Any]],
    record_key: str | None = None, note: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A table of groups: ``rows`` are ``{"group": label, <column>: value, ...}``.

    ``record_key`` names the field of ``extra`` in each sample record that puts the sample
    in its group, so paired comparisons can be made per group from the records alone.
    """
    return {"title": title, "columns": columns, "rows": rows, "record_key": record_key,
            "note": note}  # fmt: skip


def group_rows(groups: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for groups summarized by :func:`m1eval.summary.summarize_groups`."""
    rows = []
    for label, g in groups.items():
        o = g.get("outcomes") or {}
        rows.append({
            "group": label, "score": g.get("score"), "ci_low": g.get("ci_low"),
            "ci_high": g.get("ci_high"), "items": g.get("n_items"),
            "graded": sum(o.get(k, 0) for k in GRADED), "skipped": o.get("skipped", 0),
            "infra errors": o.get("infra_error", 0),
        })  # fmt: skip
    return rows


GROUP_COLUMNS = ["score", "ci_low", "ci_high", "items", "graded", "skipped", "infra errors"]


def comparability(
    split: str | None, benchmark_split: str | None, limit: int | None,
    matches_pin: bool | None, repeats: int | None, protocol_repeats: int | None = None,
    suite_reasons: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Whether a run can be judged against the paper, and if not, why: the benchmark's own
    split, no --limit, the pinned data, and what the suite itself says departs from the
    paper's set-up (a user simulator or a judge that is the evaluated model). Fewer repeats
    than the protocol's are comparable: the interval is a bootstrap over items of each item's
    mean, so it carries the extra noise."""
    reasons = list(suite_reasons or [])
    if split is None or benchmark_split is None or split != benchmark_split:
        reasons.append(f"split '{split}', not the benchmark's '{benchmark_split}'")
    if limit is not None:
        reasons.append(f"--limit {limit}: not every item")
    if matches_pin is False:
        reasons.append("the dataset differs from the pinned content")
    return {"comparable": not reasons, "why": "; ".join(reasons) or None, "split": split,
            "limit": limit, "repeats": repeats, "protocol_repeats": protocol_repeats}  # fmt: skip


def contract_of(suite: str, s: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(headlines, breakdowns)`` of one suite summary (older summaries are brought to the
    current format when read, :mod:`m1eval.run_format`)."""
    heads = s.get("headlines") or [
        headline(suite, s.get("score"), s.get("ci_low"), s.get("ci_high"),
                 (s.get("paper") or {}).get("score"))]  # fmt: skip
    return list(heads), list(s.get("breakdowns") or [])


def lead_score(s: dict[str, Any]) -> dict[str, Any]:
    """The score a reader sees first: the conservative one (every sample left out counted as
    wrong) whenever anything was left out, else the score."""
    if s.get("complete", True) or not isinstance(s.get("conservative"), dict):
        return {k: s.get(k) for k in ("score", "ci_low", "ci_high")}
    return {k: s["conservative"].get(k) for k in ("score", "ci_low", "ci_high")}


# Every field of a suite's summary that no suite owns: what each means, for readers of
# summary.json (a suite adds its own sections beside them and declares its numbers through
# ``headlines`` and ``breakdowns``).
SUMMARY_FIELDS: dict[str, str] = {
    "score": "mean over items of each item's mean grade, in percent; infra errors and skips "
    "left out",
    "ci_low": "lower end of the 95% bootstrap interval of score (items resampled)",
    "ci_high": "upper end of the 95% bootstrap interval of score",
    "confidence": "the interval's confidence level (0.95)",
    "metric": "avg@k: k is the most samples any item has",
    "n_items": "items with at least one sample",
    "n_items_graded": "items with at least one scored or model_failure sample (in score)",
    "n_samples": "sample records",
    "denominator": "samples in score: scored + model_failure",
    "outcomes": "samples per outcome: scored, model_failure, infra_error, skipped",
    "complete": "no sample is an infra_error or skipped (nothing left out)",
    "left_out": "samples left out of score: infra errors and skips",
    "conservative": "score, ci_low, ci_high and denominator with every sample left out "
    "(infra error, skipped) graded 0; readers lead with it when the run is incomplete",
    "truncation_rate": "share of answered samples cut off by the token budget",
    "tokens": "prompt, completion and reasoning token totals of answered samples, and the "
    "mean completion",
    "failure_causes": "why samples did not score 1: the most common causes per outcome "
                      "(model failures, wrong answers, infra errors, skips) with counts, ties "
                      "in text order, the rest as 'other causes'",
    "per_item": "per item: samples, graded samples, mean grade",
    "pass_at_k": "unbiased pass@k for k up to the repeats (binary suites, repeats > 1)",
    "maj_at_k": "majority vote over the first k answers (binary suites whose answers vote, "
                "repeats > 1)",
}
# What every suite summary holds besides those: the contract renderers read.
CONTRACT_FIELDS: dict[str, str] = {
    "headlines": "named scores with intervals and the paper's number (headline())",
    "breakdowns": "tables of groups (breakdown())",
    "paper": "the paper's column, number and metric for this run's protocol",
    "comparable": "whether the run can be judged against the paper, and why not",
    "dataset": "repo id, split, content checksum and whether it matches the pin",
    "fidelity": "where the suite's audit against the official code is written (spec)",
    "plots": "breakdowns the report draws (spec: name, breakdown, title, axis labels)",
}
