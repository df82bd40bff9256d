"""The summary contract: what a suite's summary declares, and all that renderers read.

A suite summary declares its ``headlines`` (named scores with an interval, each with the paper
number it is compared with, if any) and its ``breakdowns`` (tables of groups: context bins,
difficulties, categories, subsets, pass^k). The terminal table, the report, the leaderboard
and ``compare`` read only these, so a new suite's numbers appear everywhere without a renderer
edit. Summaries written before the contract existed are read through :func:`contract_of`,
which derives both from their older fields: the one place that knows those fields.
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
) -> dict[str, Any]:  # fmt: skip
    """Whether a run can be judged against the paper, and if not, why: the benchmark's own
    split, no --limit, the pinned data. Fewer repeats than the protocol's are comparable: the
    interval is a bootstrap over items of each item's mean, so it carries the extra noise."""
    reasons = []
    if split is None or benchmark_split is None or split != benchmark_split:
        reasons.append(f"split '{split}', not the benchmark's '{benchmark_split}'")
    if limit is not None:
        reasons.append(f"--limit {limit}: not every item")
    if matches_pin is False:
        reasons.append("the dataset differs from the pinned content")
    return {"comparable": not reasons, "why": "; ".join(reasons) or None, "split": split,
            "limit": limit, "repeats": repeats, "protocol_repeats": protocol_repeats}  # fmt: skip


def contract_of(suite: str, s: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(headlines, breakdowns)`` of one suite summary, declared or (older runs) derived."""
    paper = (s.get("paper") or {}).get("score")
    if "headlines" in s or "breakdowns" in s:
        heads = s.get("headlines") or [
            headline(suite, s.get("score"), s.get("ci_low"), s.get("ci_high"), paper)
        ]
        return list(heads), list(s.get("breakdowns") or [])
    # -- a summary from before the contract: derive from the fields each suite wrote then --
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
        heads = []
        for name, sub in s["subsets"].items():
            heads.append(
                headline(
                    f"{suite} ({name})",
                    sub.get("score"),
                    sub.get("ci_low"),
                    sub.get("ci_high"),
                    paper if name == "m1-486" else None,
                )
            )
        rows = [
            {
                "group": k,
                "score": v.get("score"),
                "resolved": v.get("resolved"),
                "instances": v.get("n_instances"),
            }
            for k, v in s["subsets"].items()
        ]
        parts.append(breakdown("by subset", ["score", "resolved", "instances"], rows))
    if s.get("pass_hat_k"):  # TAU-bench
        rows = [{"group": k, "score": v} for k, v in s["pass_hat_k"].items()]
        parts.append(breakdown("pass^k", ["score"], rows))
    return heads, parts
