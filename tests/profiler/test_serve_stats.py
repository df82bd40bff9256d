"""``profile serve``'s arithmetic on hand-made traces: each number checked by hand."""

from __future__ import annotations

import random

import pytest

from m1eval.profiler.serve import _chunk_tokens
from m1eval.profiler.serve_stats import (
    Trace,
    bucket_edges,
    by_bucket,
    fit_line,
    kernel_projection,
    percentile,
    ratio_by_bucket,
    slope_of,
    summarize_level,
)


def test_inter_token_spreads_a_multi_token_chunk_over_its_tokens() -> None:
    # tokens 1 at 0.5 s (the TTFT), 2 at 0.6, then a chunk of 3 tokens (3..5) at 0.9
    trace = Trace([(1, 0.5), (2, 0.6), (5, 0.9)])
    assert trace.ttft_s == 0.5 and trace.tokens == 5
    got = trace.inter_token()
    assert [p for p, _ in got] == [2, 3, 4, 5]
    assert got[0][1] == pytest.approx(0.1)
    assert all(v == pytest.approx(0.1) for _, v in got[1:])  # 0.3 s over three tokens


def test_inter_token_ignores_chunks_without_new_tokens() -> None:
    trace = Trace([(0, 0.1), (1, 0.4), (1, 0.45), (2, 0.5)])
    assert trace.ttft_s == 0.4
    assert trace.inter_token() == [(2, pytest.approx(0.1))]


def test_chunk_tokens_reads_the_servers_count_or_counts_chunks_with_text() -> None:
    event = {"choices": [{"delta": {"content": "ab"}, "finish_reason": None}],
             "usage": {"completion_tokens": 7}}
    assert _chunk_tokens(event, 5) == (7, None)  # vLLM's continuous usage: its own count
    assert _chunk_tokens({"choices": [{"delta": {"content": "x"}}]}, 5) == (6, None)
    assert _chunk_tokens({"choices": [{"delta": {}}]}, 5) == (5, None)  # the role chunk
    closing = {"choices": [], "usage": {"completion_tokens": 9}}
    assert _chunk_tokens(closing, 9) == (9, None)  # the closing usage chunk: nothing new
    ended = {"choices": [{"delta": {"content": ""}, "finish_reason": "length"}],
             "usage": {"completion_tokens": 10}}
    assert _chunk_tokens(ended, 9) == (10, "length")
    # a count that goes backwards is not believed
    assert _chunk_tokens({"choices": [{"delta": {"content": "y"}}],
                          "usage": {"completion_tokens": 2}}, 5) == (6, None)


def test_percentile_matches_the_linear_rule() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 99) == pytest.approx(4.96)


def test_buckets_cover_every_position_once() -> None:
    assert bucket_edges(100, 4) == [(1, 25), (26, 50), (51, 75), (76, 100)]
    assert bucket_edges(10, 3) == [(1, 3), (4, 7), (8, 10)]
    assert bucket_edges(3, 10) == [(1, 1), (2, 2), (3, 3)]  # no empty bucket
    for length, n in ((100, 4), (10, 3), (997, 13), (102400, 20)):
        edges = bucket_edges(length, n)
        positions = [(p, float(p)) for p in range(1, length + 2)]  # one past the end
        groups = by_bucket(positions, edges)
        assert sum(len(g) for g in groups) == length
        for (lo, hi), g in zip(edges, groups, strict=True):
            assert g == [float(p) for p in range(lo, hi + 1)]


def test_fit_line_and_slope_of_a_known_line() -> None:
    assert fit_line([1, 2, 3], [2, 4, 6]) == (pytest.approx(2.0), pytest.approx(0.0))
    assert fit_line([1, 1], [2, 3]) is None
    # 1,000 positions, latency 10 ms + 4 µs per position, ±0.5 ms noise
    rng = random.Random(1)
    points = [(p, 0.010 + 4e-6 * p + rng.uniform(-5e-4, 5e-4)) for p in range(1, 1001)]
    edges = bucket_edges(1000, 10)
    fit = slope_of(by_bucket(points, edges), edges)
    assert fit["s_per_token"] == pytest.approx(4e-6, rel=0.05)
    assert fit["ci_low"] < 4e-6 < fit["ci_high"] and fit["ci_low"] > 0
    assert fit["verdict"] == "rising"
    assert fit["rise_pct"] == pytest.approx(100 * 4e-6 * 999 / (0.010 + 4e-6), rel=0.05)
    flat = [(p, 0.010 + rng.uniform(-5e-4, 5e-4)) for p in range(1, 1001)]
    assert slope_of(by_bucket(flat, edges), edges)["verdict"] == "flat within noise"
    falling = [(p, 0.010 - 4e-6 * p) for p in range(1, 1001)]
    assert slope_of(by_bucket(falling, edges), edges)["verdict"] == "falling"
    one = bucket_edges(1, 1)
    assert slope_of(by_bucket([(1, 0.01)], one), one)["verdict"] == "too few positions to fit"


def test_a_level_accounts_for_every_generation() -> None:
    ok = Trace([(1, 0.2), (2, 0.3), (3, 0.4), (4, 0.5)], finish_reason="length")
    short = Trace([(1, 0.1), (2, 0.3)], finish_reason="stop")
    failed = Trace(error="HTTP 500: engine died")
    silent = Trace(finish_reason="stop")  # a 200 with no token
    level = summarize_level(2, [ok, short, failed, silent], wall_s=1.0, length=4, buckets=2)
    assert level["generations"] == 4 and level["ok"] == 2
    assert level["failed"] == ["HTTP 500: engine died", "no token arrived"]
    assert level["tokens"] == 6 and level["tokens_per_s"] == 6.0
    assert level["generated_min"] == 2 and level["generated_max"] == 4
    assert level["finish_reasons"] == {"length": 1, "stop": 1}
    assert level["ttft_p50_s"] == pytest.approx(0.15)
    # per request: (4 - 1) / (0.5 - 0.2) = 10 tok/s and (2 - 1) / (0.3 - 0.1) = 5 tok/s
    assert level["tokens_per_s_per_request"] == pytest.approx(7.5)
    first, second = level["buckets"]
    assert (first["lo"], first["hi"], first["n"]) == (1, 2, 2)  # position 2 of both
    assert first["p50_s"] == pytest.approx(0.15)  # 0.1 and 0.2
    assert (second["lo"], second["hi"], second["n"]) == (3, 4, 2)
    assert second["p50_s"] == pytest.approx(0.1)


def test_ratio_by_bucket_and_throughput_ratio() -> None:
    target = {"concurrency": 1, "tokens_per_s": 50.0,
              "buckets": [{"lo": 1, "hi": 5, "p50_s": 0.02}, {"lo": 6, "hi": 10, "p50_s": None}]}
    base = {"concurrency": 1, "tokens_per_s": 25.0,
            "buckets": [{"lo": 1, "hi": 5, "p50_s": 0.04}, {"lo": 6, "hi": 10, "p50_s": 0.05}]}
    got = ratio_by_bucket(target, base)
    assert [b["ratio_p50"] for b in got["buckets"]] == [0.5, None]
    assert got["tokens_per_s_ratio"] == 2.0


def test_kernel_projection_from_a_latency_result() -> None:
    latency = {"rows": [{"context": 1000, "softmax_decode_flash_s": 2e-5,
                         "softmax_decode_cudnn_s": 1e-5},
                        {"context": 3000, "softmax_decode_flash_s": 3e-5}],
               "lightning_decode": {"best_s": 4e-6}}
    rows = kernel_projection(latency, [1000, 2000, 5000])
    # softmax decode: 1e-5 at 1K, 3e-5 at 3K (the fastest kernel per row), 2e-5 at 2K,
    # 5e-5 at 5K (the last segment extended)
    m1 = [70 * 4e-6 + 10 * s for s in (1e-5, 2e-5, 5e-5)]
    soft = [80 * s for s in (1e-5, 2e-5, 5e-5)]
    for row, a, b in zip(rows, m1, soft, strict=True):
        assert row["m1_s"] == pytest.approx(a) and row["all_softmax_s"] == pytest.approx(b)
        assert row["ratio"] == pytest.approx(a / b)
    assert kernel_projection({"rows": []}, [1000]) == []
