"""``m1eval compare BASE CAND``: a paired regression gate between two runs.

Only items present in both runs are compared. With one sample per item and 0/1 scores the test
is McNemar's (exact, on the discordant items); otherwise, up to 16 items, an exact sign-flip
test of the per-item mean differences, and a paired bootstrap over items beyond. A test whose
smallest possible p-value is above alpha says so ("too few items to decide"). One test per
suite and per declared group (MRCR context bins, ...), Holm-corrected together. A regression is
a significant drop larger than ``--min-effect`` points; only that makes the exit code 1; a
significant rise beyond it is an improvement. Drift in the configuration (each key named), the
dataset or the server is reported too.

Coverage comes first: per suite and side, the samples graded, lost to infra errors, skipped,
and the items the other side has that this one lacks. Items lost on one side are not in the
paired test, so a candidate that lost half its samples could compare as "no significant
change" on the half that survived; when the graded shares of the two sides differ by more
than ``--max-coverage-gap`` points the comparison gives no verdict (exit code 4).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any

import numpy as np

from m1eval.contract import contract_of
from m1eval.errors import DataError
from m1eval.records import GRADED, INFRA_ERROR, SKIPPED
from m1eval.results import find_runs, read_manifest, read_summary
from m1eval.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from m1eval.store import SAMPLES, read_samples_file


@dataclass
class Comparison:
    name: str
    method: str
    n_items: int
    base: float
    cand: float
    p_value: float
    p_adjusted: float = 1.0
    flips: list[dict[str, Any]] = field(default_factory=list)
    min_p: float = 0.0  # the smallest p-value the test could give with these items

    @property
    def effect(self) -> float:
        return self.cand - self.base

    def to_dict(self, alpha: float, min_effect: float) -> dict[str, Any]:
        return {
            "name": self.name, "method": self.method, "n_items": self.n_items,
            "base": round(self.base, 4), "cand": round(self.cand, 4),
            "effect": round(self.effect, 4), "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "significant": self.p_adjusted < alpha,
            "regression": self.p_adjusted < alpha and self.effect < -min_effect,
            "decidable": self.min_p < alpha,
            "verdict": self.verdict(alpha, min_effect),
            "flips": self.flips,
        }  # fmt: skip

    def verdict(self, alpha: float, min_effect: float) -> str:
        if self.p_adjusted < alpha and self.effect < -min_effect:
            return REGRESSION
        if self.p_adjusted < alpha and self.effect > min_effect:
            return IMPROVEMENT
        if self.min_p >= alpha:
            return TOO_FEW
        return NO_CHANGE


REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no significant change"
TOO_FEW = "too few items to decide"
NO_VERDICT = "no verdict: coverage differs"
COVERAGE_EXIT = 4


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(diffs: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> float:  # fmt: skip
    """Two-sided p-value that the mean paired difference is zero (items resampled)."""
    if len(diffs) == 0 or np.allclose(diffs, 0):
        return 1.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diffs), size=(resamples, len(diffs)))
    means = diffs[idx].mean(axis=1)
    below = (np.sum(means <= 0) + 1) / (resamples + 1)
    above = (np.sum(means >= 0) + 1) / (resamples + 1)
    return float(min(1.0, 2 * min(below, above)))


EXACT_MAX_ITEMS = 16  # up to 2^16 sign patterns: enumerated exactly


def sign_flip_exact(diffs: np.ndarray) -> float:
    """Two-sided exact p-value of a paired sign-flip (permutation) test on per-item
    differences: the share of the 2^n sign patterns whose mean is at least as far from zero
    as the observed one. Exact at any n (the bootstrap is overconfident with a handful of
    items: with n items no p-value is below 2 / 2^n)."""
    n = len(diffs)
    if n == 0 or np.allclose(diffs, 0):
        return 1.0
    observed = abs(float(np.mean(diffs))) - 1e-12
    patterns = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
    means = np.abs((patterns * diffs).mean(axis=1))
    return float(np.mean(means >= observed))


def holm(tests: list[Comparison]) -> None:
    order = sorted(range(len(tests)), key=lambda i: tests[i].p_value)
    running = 0.0
    for rank, i in enumerate(order):
        adjusted = min(1.0, (len(tests) - rank) * tests[i].p_value)
        running = max(running, adjusted)
        tests[i].p_adjusted = running


def _load(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    runs = find_runs(path)
    if len(runs) != 1:
        raise DataError(f"{path} names {len(runs)} runs; name exactly one run directory")
    records, _, _ = read_samples_file(runs[0] / SAMPLES, keep_text=False)
    if not records:
        raise DataError(f"run {runs[0]} has no samples")
    return read_manifest(runs[0]), list(records.values())


def _group_keys(path: str | Path) -> set[tuple[str, str]]:
    """``(suite, record field)`` of every breakdown the run's summary declares."""
    runs = find_runs(path)
    summary = read_summary(runs[0]) if len(runs) == 1 else None
    keys = set()
    for suite, s in ((summary or {}).get("suites") or {}).items():
        for part in contract_of(suite, s)[1]:
            if part.get("record_key"):
                keys.add((suite, str(part["record_key"])))
    return keys


def _per_item(records: list[dict[str, Any]], key) -> dict[str, dict[str, list[float]]]:  # type: ignore[no-untyped-def]
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r["outcome"] in GRADED:
            groups[key(r)][r["item_id"]].append(float(r["score"] or 0.0))
    return groups


def _test(
    name: str, base: dict[str, list[float]], cand: dict[str, list[float]]
) -> Comparison | None:
    common = sorted(set(base) & set(cand))
    if not common:
        return None
    b_means = np.array([np.mean(base[i]) for i in common])
    c_means = np.array([np.mean(cand[i]) for i in common])
    single = all(len(base[i]) == 1 and len(cand[i]) == 1 for i in common)
    binary = all(v in (0.0, 1.0) for i in common for v in base[i] + cand[i])
    if single and binary:
        worse = int(np.sum((b_means == 1) & (c_means == 0)))
        better = int(np.sum((b_means == 0) & (c_means == 1)))
        method, p = "mcnemar", mcnemar_exact(worse, better)
        min_p = mcnemar_exact(worse + better, 0)
    elif len(common) <= EXACT_MAX_ITEMS:  # few items: the exact test, not the bootstrap
        method, p = "sign-flip-exact", sign_flip_exact(c_means - b_means)
        min_p = 2 / 2 ** len(common)
    else:
        method, p = "paired-bootstrap", paired_bootstrap(c_means - b_means)
        min_p = 2 / (BOOTSTRAP_RESAMPLES + 1)
    flips = [
        {"item_id": i, "base": round(float(b), 4), "cand": round(float(c), 4)}
        for i, b, c in zip(common, b_means, c_means, strict=True)
        if abs(c - b) >= 0.5
    ]
    return Comparison(name, method, len(common), 100 * float(b_means.mean()),
                      100 * float(c_means.mean()), p, flips=flips, min_p=min_p)  # fmt: skip


def coverage(mine: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """Per suite: this side's samples by outcome, the items the other side has and this one
    lacks, and the graded share of what should be there (the missing items counted at this
    side's repeats)."""
    out: dict[str, Any] = {}
    for suite in sorted({r["suite"] for r in mine} | {r["suite"] for r in other}):
        recs = [r for r in mine if r["suite"] == suite]
        items = {r["item_id"] for r in recs}
        missing = {r["item_id"] for r in other if r["suite"] == suite} - items
        per_item = len(recs) / len(items) if items else 1.0
        expected = len(recs) + per_item * len(missing)
        graded = sum(1 for r in recs if r["outcome"] in GRADED)
        out[suite] = {
            "samples": len(recs), "graded": graded,
            "infra_error": sum(1 for r in recs if r["outcome"] == INFRA_ERROR),
            "skipped": sum(1 for r in recs if r["outcome"] == SKIPPED),
            "missing_items": len(missing),
            "graded_share": round(100 * graded / expected, 2) if expected else 0.0,
        }  # fmt: skip
    return out


def compare(base_path: str | Path, cand_path: str | Path, alpha: float = 0.05,
            min_effect: float = 1.0, max_coverage_gap: float = 5.0) -> dict[str, Any]:  # fmt: skip
    base_manifest, base_records = _load(base_path)
    cand_manifest, cand_records = _load(cand_path)
    cover = {"base": coverage(base_records, cand_records),
             "cand": coverage(cand_records, base_records)}  # fmt: skip
    gaps = {s: round(abs(cover["base"][s]["graded_share"] - cover["cand"][s]["graded_share"]), 2)
            for s in cover["base"]}  # fmt: skip
    tests: list[Comparison] = []
    by_suite_b = _per_item(base_records, lambda r: r["suite"])
    by_suite_c = _per_item(cand_records, lambda r: r["suite"])
    for suite in sorted(set(by_suite_b) & set(by_suite_c)):
        t = _test(suite, by_suite_b[suite], by_suite_c[suite])
        if t:
            tests.append(t)

    # every group table a suite declares with a record key (MRCR bins, difficulties, ...)
    for suite, record_key in sorted(_group_keys(base_path) & _group_keys(cand_path)):

        def key(r: dict[str, Any], suite: str = suite, rk: str = record_key) -> str | None:
            value = (r.get("extra") or {}).get(rk)
            return f"{suite}/{value}" if r["suite"] == suite and value is not None else None

        groups_b, groups_c = _per_item(base_records, key), _per_item(cand_records, key)
        for name in sorted(set(groups_b) & set(groups_c) - {None}):
            t = _test(name, groups_b[name], groups_c[name])
            if t:
                tests.append(t)
    if not tests:
        raise DataError(f"the two runs share no graded item (base: {_suites(base_records)}; "
                        f"candidate: {_suites(cand_records)})")  # fmt: skip
    holm(tests)
    rows = [t.to_dict(alpha, min_effect) for t in tests]
    refused = sorted(s for s, gap in gaps.items() if gap > max_coverage_gap)
    if refused:
        verdict = NO_VERDICT
    elif any(r["regression"] for r in rows):
        verdict = REGRESSION
    elif any(r["verdict"] == IMPROVEMENT for r in rows):
        verdict = IMPROVEMENT
    elif all(r["verdict"] == TOO_FEW for r in rows):
        verdict = TOO_FEW
    else:
        verdict = NO_CHANGE
    return {
        "base": str(base_path), "cand": str(cand_path), "alpha": alpha,
        "min_effect": min_effect, "correction": "holm", "tests": rows,
        "verdict": verdict, "regression": verdict == REGRESSION,
        "coverage": cover, "coverage_gap": gaps, "max_coverage_gap": max_coverage_gap,
        "coverage_refused": refused,
        "drift": _drift(base_manifest, cand_manifest),
    }  # fmt: skip


def _suites(records: list[dict[str, Any]]) -> str:
    names = sorted({str(r["suite"]) for r in records})
    graded = sum(1 for r in records if r["outcome"] in GRADED)
    return f"{', '.join(names)}, {graded} graded samples"


DRIFT_KEYS_SHOWN = 8


def _drift(base: dict[str, Any], cand: dict[str, Any]) -> list[str]:
    notes = []
    keys = config_differences(base.get("identity") or {}, cand.get("identity") or {})
    if keys:
        shown = "; ".join(keys[:DRIFT_KEYS_SHOWN])
        more = f"; {len(keys) - DRIFT_KEYS_SHOWN} more" if len(keys) > DRIFT_KEYS_SHOWN else ""
        notes.append(f"configuration differs: {shown}{more}")
    pairs = (
        ("config hash", base.get("config_hash"), cand.get("config_hash")),
        ("dataset content", (base.get("dataset") or {}).get("content_sha256"),
         (cand.get("dataset") or {}).get("content_sha256")),
        ("server fingerprint", (base.get("endpoint") or {}).get("hash"),
         (cand.get("endpoint") or {}).get("hash")),
        ("m1eval version", base.get("m1eval_version"), cand.get("m1eval_version")),
    )  # fmt: skip
    for what, a, b in pairs:
        if a != b and not (what == "config hash" and keys):  # named above, key by key
            notes.append(f"{what} differs: {str(a)[:16]} -> {str(b)[:16]}")
    return notes


def config_differences(base: Any, cand: Any, path: str = "") -> list[str]:
    """Each configuration key whose value differs: ``sampling.seed: 1 -> 2`` (values cut to
    40 characters), in key order."""
    if isinstance(base, dict) and isinstance(cand, dict):
        out = []
        for key in sorted(set(base) | set(cand), key=str):
            out += config_differences(base.get(key, _ABSENT), cand.get(key, _ABSENT),
                                      f"{path}.{key}" if path else str(key))  # fmt: skip
        return out
    if base == cand:
        return []
    return [f"{path}: {_value(base)} -> {_value(cand)}"]


_ABSENT = object()


def _value(v: Any) -> str:
    text = "(absent)" if v is _ABSENT else json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:39] + "…"
