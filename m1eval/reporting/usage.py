"""Per run and suite: how long the model thought, how often it ran out, how fast it answered.

Computed from ``samples.jsonl`` (the summaries keep totals only); the lengths are kept so the
plots can draw their distributions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from m1eval.records import GRADED
from m1eval.results import read_manifest
from m1eval.store import SAMPLES, read_samples_file


@dataclass
class SuiteUsage:
    run: str
    suite: str
    answered: int = 0  # samples that produced a graded answer or failure
    truncated: int = 0
    lengths: list[int] = field(default_factory=list)  # completion tokens (reasoning included)
    reasoning: list[int] = field(default_factory=list)  # reasoning tokens where split out
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)

    @property
    def truncation_rate(self) -> float | None:
        return self.truncated / self.answered if self.answered else None

    def to_row(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float | None:
            return float(np.percentile(values, q)) if values else None

        completion = sum(self.lengths)
        busy = sum(self.latencies)
        return {
            "run": self.run, "suite": self.suite, "answered": self.answered,
            "truncation_rate": self.truncation_rate,
            "mean_completion_tokens": completion / len(self.lengths) if self.lengths else None,
            "median_completion_tokens": pct(self.lengths, 50),
            "mean_reasoning_tokens": (sum(self.reasoning) / len(self.reasoning)
                                      if self.reasoning else None),
            "median_latency_s": pct(self.latencies, 50),
            "p95_latency_s": pct(self.latencies, 95),
            "median_ttft_s": pct(self.ttfts, 50),
            # decode speed seen by one request: tokens over its own wall time
            "tokens_per_s_per_request": completion / busy if busy else None,
        }  # fmt: skip


def suite_usage(run_dir: Path) -> dict[str, SuiteUsage]:
    """``{suite: SuiteUsage}`` for one run directory."""
    records, _, _ = read_samples_file(run_dir / SAMPLES)
    out: dict[str, SuiteUsage] = {}
    for r in records.values():
        u = out.setdefault(r["suite"], SuiteUsage(run=run_dir.name, suite=r["suite"]))
        if r["outcome"] not in GRADED:
            continue
        u.answered += 1
        u.truncated += bool(r.get("truncated"))
        if r.get("completion_tokens") is not None:
            u.lengths.append(int(r["completion_tokens"]))
        if r.get("reasoning_tokens"):
            u.reasoning.append(int(r["reasoning_tokens"]))
        if r.get("latency_s") is not None:
            u.latencies.append(float(r["latency_s"]))
        if r.get("ttft_s") is not None:
            u.ttfts.append(float(r["ttft_s"]))
    return out


def run_throughput(run_dir: Path) -> float | None:
    """Completion tokens per wall second over every invocation that asked the server."""
    tokens = wall = 0.0
    for inv in read_manifest(run_dir).get("invocations", []):
        stats = inv.get("stats") or {}
        if stats.get("executed") and stats.get("tokens_per_s") and stats.get("wall_s"):
            tokens += stats["tokens_per_s"] * stats["wall_s"]
            wall += stats["wall_s"]
    return tokens / wall if wall else None
