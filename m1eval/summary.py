"""From sample records to the numbers a run reports (``summary.json``).

Denominators are explicit: ``model_failure`` samples score 0 and stay in the denominator;
``infra_error`` and ``skipped`` samples are not evidence about the model, so they are left out
of the score and counted, and a run with any of them is marked incomplete. Beside the score
stands the conservative score, with every sample left out counted as 0: what is left out can
never raise it, so a server that errs or refuses on the items it would get wrong cannot buy a
number, and a reader comparing the two sees at once how much could have moved. Readers lead
with the conservative score whenever the run is incomplete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from m1eval.causes import failure_causes
from m1eval.records import GRADED, INFRA_ERROR, MODEL_FAILURE, OUTCOMES, SCORED, SKIPPED
from m1eval.stats import bootstrap_ci, k_values, majority_vote, pass_at_k


def summarize_suite(records: Iterable[dict[str, Any]], binary: bool = True) -> dict[str, Any]:
    recs = list(records)
    by_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        by_item[r["item_id"]].append(r)
    counts = {o: 0 for o in OUTCOMES}
    for r in recs:
        counts[r["outcome"]] += 1

    per_item: dict[str, dict[str, Any]] = {}
    item_means: list[float] = []
    for item_id in sorted(by_item, key=_natural_key):
        samples = sorted(by_item[item_id], key=lambda r: r["repeat"])
        graded = [r for r in samples if r["outcome"] in GRADED]
        scores = [float(r["score"] or 0.0) for r in graded]
        mean = sum(scores) / len(scores) if scores else None
        per_item[item_id] = {
            "n": len(samples),
            "n_graded": len(graded),
            "mean_score": None if mean is None else round(mean, 6),
        }
        if mean is not None:
            item_means.append(mean)

    graded_total = counts[SCORED] + counts[MODEL_FAILURE]
    score = 100 * sum(item_means) / len(item_means) if item_means else None
    low, high = bootstrap_ci(item_means) if item_means else (None, None)
    conservative = _conservative(by_item)
    answered = [r for r in recs if r["outcome"] in GRADED]
    truncated = sum(1 for r in answered if r.get("truncated"))
    repeats = max((len(v) for v in by_item.values()), default=0)
    out: dict[str, Any] = {
        "score": _round(score),
        "ci_low": _round(None if low is None else 100 * low),
        "ci_high": _round(None if high is None else 100 * high),
        "confidence": 0.95,
        "metric": f"avg@{repeats}",
        "n_items": len(by_item),
        "n_items_graded": len(item_means),
        "n_samples": len(recs),
        "denominator": graded_total,
        "outcomes": counts,
        "complete": counts[INFRA_ERROR] == 0 and counts[SKIPPED] == 0,
        "left_out": counts[INFRA_ERROR] + counts[SKIPPED],
        "conservative": conservative,
        "truncation_rate": _round(truncated / len(answered) if answered else None, 6),
        "tokens": _token_totals(answered),
        "failure_causes": failure_causes(recs),
        "per_item": per_item,
    }
    if binary and repeats > 1:
        out["pass_at_k"] = _pass_at_k(by_item)
        if any(r.get("vote_key") is not None for r in answered):  # answers that can vote
            out["maj_at_k"] = _maj_at_k(by_item, repeats)
    return out


def _conservative(by_item: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The score with every sample left out (infra errors, skips) counted as 0."""
    means = []
    for samples in by_item.values():
        counted = [r for r in samples if r["outcome"] in OUTCOMES]
        if counted:
            means.append(sum(float(r["score"] or 0.0) if r["outcome"] in GRADED else 0.0
                             for r in counted) / len(counted))  # fmt: skip
    low, high = bootstrap_ci(means) if means else (None, None)
    return {
        "score": _round(100 * sum(means) / len(means) if means else None),
        "ci_low": _round(None if low is None else 100 * low),
        "ci_high": _round(None if high is None else 100 * high),
        "denominator": sum(1 for rs in by_item.values() for r in rs if r["outcome"] in OUTCOMES),
    }


def summarize_groups(
    records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str | None]
) -> dict[str, dict[str, Any]]:
    """The same summary per group of samples (difficulty, length, context bin, ...)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        name = key(r)
        if name is not None:
            groups[name].append(r)
    out = {}
    for name, recs in groups.items():
        s = summarize_suite(recs, binary=False)
        out[name] = {k: s[k] for k in ("score", "ci_low", "ci_high", "n_items", "n_samples",
                                        "denominator", "outcomes", "conservative")}  # fmt: skip
    return out


def _pass_at_k(by_item: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    graded = {i: [r for r in rs if r["outcome"] in GRADED] for i, rs in by_item.items()}
    n_min = min((len(v) for v in graded.values()), default=0)
    if n_min < 1:
        return {}
    out = {}
    for k in k_values(n_min):
        vals = [
            pass_at_k(len(rs), sum(1 for r in rs if (r["score"] or 0) >= 1.0), k)
            for rs in graded.values()
        ]
        out[f"pass@{k}"] = _round(100 * sum(vals) / len(vals))
    return out


def _maj_at_k(by_item: dict[str, list[dict[str, Any]]], k: int) -> dict[str, float]:
    correct = 0
    counted = 0
    for rs in by_item.values():
        first = [r for r in sorted(rs, key=lambda r: r["repeat"]) if r["outcome"] in GRADED]
        first = first[:k]
        if not first:
            continue
        counted += 1
        winner = majority_vote([r.get("vote_key") for r in first])
        if winner is not None:
            hit = next(r for r in first if r.get("vote_key") == winner)
            correct += 1 if (hit["score"] or 0) >= 1.0 else 0
    return {f"maj@{k}": _round(100 * correct / counted)} if counted else {}


def _token_totals(recs: list[dict[str, Any]]) -> dict[str, Any]:
    def total(key: str) -> int | None:
        vals = [r.get(key) for r in recs]
        return sum(v for v in vals if v is not None) if any(v is not None for v in vals) else None

    completion = total("completion_tokens")
    return {
        "prompt": total("prompt_tokens"),
        "completion": completion,
        "reasoning": total("reasoning_tokens"),
        "mean_completion": _round(completion / len(recs), 1) if recs and completion else None,
    }


def _natural_key(item_id: str) -> tuple[int, int | str]:
    return (0, int(item_id)) if item_id.lstrip("-").isdigit() else (1, item_id)


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)
