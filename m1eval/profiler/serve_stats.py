"""What a live endpoint's token arrivals say: TTFT, inter-token latency by position, the
slope of inter-token latency with position, throughput, and the ratio to a baseline.

Pure functions over recorded traces (``serve.py`` records them), so every number can be
checked by hand at small sizes. A trace is the arrival of each streamed chunk: the number
of generated tokens so far and the time since the request was sent. A chunk that carries
k tokens spreads its gap over them (k per-token latencies of gap/k), so a server that
batches tokens into chunks reports the same latency per token as one that does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BOOTSTRAP = 1000


@dataclass
class Trace:
    """One streamed generation."""

    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (tokens so far, s)
    prompt_tokens: int | None = None
    finish_reason: str | None = None
    error: str | None = None
    started_s: float = 0.0  # when it was sent, from the start of its concurrency level

    @property
    def tokens(self) -> int:
        return self.arrivals[-1][0] if self.arrivals else 0

    @property
    def ttft_s(self) -> float | None:
        first = next((t for n, t in self.arrivals if n > 0), None)
        return first

    def inter_token(self) -> list[tuple[int, float]]:
        """(generated position, seconds since the token before) for tokens 2..n; the first
        token's wait is the TTFT, not an inter-token latency."""
        out: list[tuple[int, float]] = []
        prev_n, prev_t = None, None
        for n, t in self.arrivals:
            if n <= 0:
                continue
            if prev_n is not None and n > prev_n:
                gap = (t - prev_t) / (n - prev_n)
                out += [(p, gap) for p in range(prev_n + 1, n + 1)]
            if prev_n is None or n > prev_n:
                prev_n, prev_t = n, t
        return out

    def to_json(self) -> dict[str, Any]:
        return {"arrivals": [[n, round(t, 7)] for n, t in self.arrivals],
                "prompt_tokens": self.prompt_tokens, "finish_reason": self.finish_reason,
                "error": self.error, "started_s": round(self.started_s, 6)}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trace:
        return cls([(int(n), float(t)) for n, t in data.get("arrivals") or []],
                   data.get("prompt_tokens"), data.get("finish_reason"), data.get("error"),
                   float(data.get("started_s") or 0.0))  # fmt: skip


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), linear between order statistics; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def bucket_edges(length: int, buckets: int) -> list[tuple[int, int]]:
    """``buckets`` ranges of generated positions covering 1..length, as even as integers
    allow: [(1, 10), (11, 20), ...] for 100 positions in 10 buckets."""
    buckets = max(1, min(buckets, length))
    edges = [round(i * length / buckets) for i in range(buckets + 1)]
    return [(edges[i] + 1, edges[i + 1]) for i in range(buckets)]


def by_bucket(points: list[tuple[int, float]], edges: list[tuple[int, int]]
              ) -> list[list[float]]:  # fmt: skip
    """The latencies whose position falls in each bucket (positions past the last are
    left out)."""
    groups: list[list[float]] = [[] for _ in edges]
    if not edges:
        return groups
    length = edges[-1][1]
    n = len(edges)
    for pos, value in points:
        if 1 <= pos <= length:
            i = min(n - 1, (pos - 1) * n // length)
            while i > 0 and pos < edges[i][0]:
                i -= 1
            while i < n - 1 and pos > edges[i][1]:
                i += 1
            groups[i].append(value)
    return groups


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (slope, intercept); None with fewer than two distinct x."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if len({x for x, _ in pairs}) < 2:
        return None
    mx = sum(x for x, _ in pairs) / len(pairs)
    my = sum(y for _, y in pairs) / len(pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    slope = sum((x - mx) * (y - my) for x, y in pairs) / sxx
    return slope, my - slope * mx


def resampled_medians(values: list[float], rng: np.random.Generator) -> np.ndarray:
    """``BOOTSTRAP`` medians of resamples (with replacement) of ``values``. Small groups are
    resampled outright; a large one (a 100K-token generation's bucket) draws the rank of
    each resample's median instead -- the count of resampled values below an order
    statistic is binomial, so the median's rank is Binomial(n, 1/2) -- linear in n, not
    n times the number of draws."""
    data = np.sort(np.asarray(values, dtype=float))
    n = len(data)
    if n <= 256:
        picks = data[rng.integers(0, n, size=(BOOTSTRAP, n))]
        return np.median(picks, axis=1)
    ranks = np.clip(rng.binomial(n, 0.5, size=BOOTSTRAP), 0, n - 1)
    return data[ranks]


def slope_of(groups: list[list[float]], edges: list[tuple[int, int]],
             seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """The slope of the median inter-token latency against position (seconds per token),
    fitted over the buckets' medians, with a 95% bootstrap interval (resampling each
    bucket's latencies) and a verdict: "rising" when the interval is above zero, "falling"
    below it, else "flat within noise". ``rise_pct`` is the fitted change over the whole
    range, in percent of the fitted latency at its start."""
    centres = [(lo + hi) / 2 for lo, hi in edges]
    used = [(c, g) for c, g in zip(centres, groups, strict=True) if g]
    fitted = fit_line([c for c, _ in used], [percentile(g, 50) for _, g in used])
    if fitted is None:
        return {"s_per_token": None, "ci_low": None, "ci_high": None, "rise_pct": None,
                "verdict": "too few positions to fit"}  # fmt: skip
    slope, intercept = fitted
    rng = np.random.default_rng(seed)
    xs = np.array([c for c, _ in used], dtype=float)
    medians = np.stack([resampled_medians(g, rng) for _, g in used])  # buckets x BOOTSTRAP
    xc = xs - xs.mean()
    draws = list((xc @ (medians - medians.mean(axis=0))) / float(xc @ xc))
    lo, hi = percentile(draws, 2.5), percentile(draws, 97.5)
    start = intercept + slope * edges[0][0]
    rise = None if start <= 0 else 100.0 * slope * (edges[-1][1] - edges[0][0]) / start
    verdict = ("rising" if lo is not None and lo > 0 else
               "falling" if hi is not None and hi < 0 else "flat within noise")  # fmt: skip
    return {"s_per_token": slope, "intercept_s": intercept, "ci_low": lo, "ci_high": hi,
            "rise_pct": rise, "verdict": verdict}  # fmt: skip


def summarize_level(concurrency: int, traces: list[Trace], wall_s: float, length: int,
                    buckets: int, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """One concurrency level: every generation accounted for (ok or failed with its
    error), TTFT and inter-token percentiles, throughput, latency by position bucket and
    its slope."""
    ok = [t for t in traces if t.error is None and t.tokens > 0]
    failed = [t.error or "no token arrived" for t in traces if t not in ok]
    points = [p for t in ok for p in t.inter_token()]
    edges = bucket_edges(length, buckets)
    groups = by_bucket(points, edges)
    ttfts = [t.ttft_s for t in ok if t.ttft_s is not None]
    itls = [v for _, v in points]
    tokens = sum(t.tokens for t in ok)
    rates = [(t.tokens - 1) / (t.arrivals[-1][1] - t.ttft_s) for t in ok
             if t.tokens > 1 and t.ttft_s is not None and t.arrivals[-1][1] > t.ttft_s]
    finishes: dict[str, int] = {}
    for t in ok:
        finishes[str(t.finish_reason)] = finishes.get(str(t.finish_reason), 0) + 1
    return {
        "concurrency": concurrency, "generations": len(traces), "ok": len(ok),
        "failed": failed, "tokens": tokens, "wall_s": wall_s,
        "generated_min": min((t.tokens for t in ok), default=0),
        "generated_max": max((t.tokens for t in ok), default=0),
        "finish_reasons": finishes,
        "tokens_per_s": tokens / wall_s if wall_s > 0 else None,
        "tokens_per_s_per_request": sum(rates) / len(rates) if rates else None,
        "ttft_p50_s": percentile(ttfts, 50), "ttft_p99_s": percentile(ttfts, 99),
        "itl_p50_s": percentile(itls, 50), "itl_p99_s": percentile(itls, 99),
        "buckets": [{"lo": lo, "hi": hi, "n": len(g), "p50_s": percentile(g, 50),
                     "p99_s": percentile(g, 99)} for (lo, hi), g in zip(edges, groups,
                                                                         strict=True)],
        "slope": slope_of(groups, edges, seed),
    }  # fmt: skip


def ratio_by_bucket(target: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Per position bucket, the target's median inter-token latency over the baseline's
    (same concurrency, same buckets), and the same ratio of the fitted lines at the first
    and last position."""
    rows = []
    for a, b in zip(target["buckets"], baseline["buckets"], strict=True):
        ratio = (a["p50_s"] / b["p50_s"] if a["p50_s"] is not None and b["p50_s"]
                 else None)  # fmt: skip
        rows.append({"lo": a["lo"], "hi": a["hi"], "ratio_p50": ratio})
    return {"concurrency": target["concurrency"], "buckets": rows,
            "tokens_per_s_ratio": (target["tokens_per_s"] / baseline["tokens_per_s"]
                                   if target["tokens_per_s"] and baseline["tokens_per_s"]
                                   else None)}  # fmt: skip


def _interpolate(points: list[tuple[float, float]], x: float) -> float:
    """Linear through sorted (x, y) points, extended past both ends by the end segments."""
    if len(points) == 1:
        return points[0][1]
    i = 1
    while i < len(points) - 1 and x > points[i][0]:
        i += 1
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def kernel_projection(latency: dict[str, Any], contexts: list[float], layers: int = 80,
                      softmax_layers: int = 10) -> list[dict[str, Any]]:  # fmt: skip
    """From a ``profile latency`` result: the attention time per generated token of an
    M1-shaped stack (``layers - softmax_layers`` lightning layers at the measured decode
    time, any context; ``softmax_layers`` at the fastest measured softmax decode for the
    context) and of an all-softmax stack, and their ratio, at each context. Softmax decode
    is interpolated linearly in context between measured rows (it is linear in context).
    Attention only: the rest of a decode step (weights, experts, sampling) is not in it."""
    rows = sorted(
        (r["context"], min(x for x in (r.get("softmax_decode_flash_s"),
                                       r.get("softmax_decode_cudnn_s")) if x))
        for r in latency.get("rows") or []
        if r.get("softmax_decode_flash_s") or r.get("softmax_decode_cudnn_s"))  # fmt: skip
    light = latency.get("lightning_decode") or {}
    light_s = light.get("best_s") or min(
        (x for x in (light.get("torch_s"), light.get("fla_s"), light.get("triton_s")) if x),
        default=None)  # fmt: skip
    if not rows or light_s is None:
        return []
    out = []
    for c in contexts:
        soft = max(0.0, _interpolate(rows, c))
        m1 = (layers - softmax_layers) * light_s + softmax_layers * soft
        all_softmax = layers * soft
        out.append({"context": c, "m1_s": m1, "all_softmax_s": all_softmax,
                    "ratio": m1 / all_softmax if all_softmax > 0 else None})  # fmt: skip
    return out
