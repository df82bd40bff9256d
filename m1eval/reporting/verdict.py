"""Reproduced / not reproduced / inconclusive: a verdict from the confidence interval.

The paper's number is compared with our 95% interval, widened by the paper's own sampling
error where its sample size is known (a binomial standard error over its items). An interval
wider than ``MAX_WIDTH`` points cannot decide either way.
"""

from __future__ import annotations

import math

MAX_WIDTH = 20.0


def verdict(score: float | None, low: float | None, high: float | None, paper: float | None,
            paper_items: int | None = None) -> str:  # fmt: skip
    if paper is None:
        return "no paper number"
    if score is None or low is None or high is None:
        return "inconclusive"
    margin = 0.0
    if paper_items:
        p = min(max(paper / 100, 0.0), 1.0)
        margin = 196 * math.sqrt(p * (1 - p) / paper_items)
    lo, hi = low - margin, high + margin
    if lo <= paper <= hi:
        return "reproduced" if hi - lo <= MAX_WIDTH + 2 * margin else "inconclusive"
    return "not reproduced" if high - low <= MAX_WIDTH else "inconclusive"
