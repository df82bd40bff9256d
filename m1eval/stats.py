"""Estimators with error bars: bootstrap confidence intervals, pass@k and maj@k."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import comb

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20250616  # fixed: the same samples always give the same interval


def bootstrap_ci(
    item_means: Sequence[float],
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over items (items resampled with replacement).

    Resampling items, not samples, is what makes the interval honest for avg@k: the k repeats
    of one problem are not independent evidence about the benchmark.
    """
    values = np.asarray(item_means, dtype=float)
    n = len(values)
    if n == 0:
        return (float("nan"), float("nan"))
    if n == 1:
        return (float(values[0]), float(values[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 4_000_000 // n)  # bound memory for large item counts
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return (float(low), float(high))


def stratified_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """CI of the mean of group means, resampling items within each group.

    For aggregates over strata of fixed size (MRCR's context bins), where every bin weighs the
    same whatever its number of items.
    """
    rng = np.random.default_rng(seed)
    totals = np.zeros(resamples)
    for group in groups:
        values = np.asarray(group, dtype=float)
        idx = rng.integers(0, len(values), size=(resamples, len(values)))
        totals += values[idx].mean(axis=1)
    means = totals / len(groups)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return (float(low), float(high))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one item with ``c`` correct among ``n`` samples (Chen et al. 2021)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k (all k succeed), the tau-bench reliability estimator: C(c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass^{k} needs at least {k} samples, got {n}")
    return comb(c, k) / comb(n, k)


def majority_vote(keys: Sequence[str | None]) -> str | None:
    """Most frequent non-empty key; ties go to the key that appeared first."""
    present = [k for k in keys if k is not None]
    if not present:
        return None
    counts = Counter(present)
    best = max(counts.values())
    return next(k for k in present if counts[k] == best)


def k_values(n: int) -> list[int]:
    """The k reported for pass@k: powers of two up to n, plus n itself."""
    ks = [1]
    while ks[-1] * 2 <= n:
        ks.append(ks[-1] * 2)
    if ks[-1] != n:
        ks.append(n)
    return ks
