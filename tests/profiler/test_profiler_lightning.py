"""Lightning attention's definition and the latency harness's bookkeeping, on the CPU."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from m1eval.profiler.cold import lightning_bytes
from m1eval.profiler.lightning import (
    blocks_carry_lambda_i,
    chunked,
    decay,
    decode_state_bytes,
    fused_chunks,
    integrate_decode,
    layer_slopes,
    recurrent,
    relative_error,
    segmented,
    slopes,
    softmax_decode_bytes,
)
from m1eval.profiler.report import floors, load

H100_RESULT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / \
    "attention_latency_h100.json"  # fmt: skip


def test_minimax_slopes_and_decay() -> None:
    s = slopes(64)
    assert s[0] == pytest.approx(2 ** (-8 / 64)) and s[-1] == pytest.approx(2**-8)
    assert np.all(np.diff(s) < 0)
    first, last = layer_slopes(0, 80), layer_slopes(79, 80)
    assert first == pytest.approx(s * (1 + 1e-5))
    assert last == pytest.approx(s * 1e-5)  # the last layer barely decays
    assert decay(0, 80) == pytest.approx(np.exp(-s * (1 + 1e-5)))


@pytest.mark.parametrize(("t", "chunk"), [(1, 4), (37, 8), (64, 64), (130, 32)])
def test_chunked_equals_the_recurrence(t: int, chunk: int) -> None:
    rng = np.random.default_rng(t)
    q, k, v = (rng.standard_normal((4, t, 16)) * 0.3 for _ in range(3))
    lam = decay(5, 80, 4)
    ref, ref_state = recurrent(q, k, v, lam)
    out, state = chunked(q, k, v, lam, chunk)
    assert relative_error(out, ref) < 1e-12 and relative_error(state, ref_state) < 1e-12


def test_no_scale_in_the_recurrence() -> None:
    q = np.ones((1, 1, 4))
    k = np.ones((1, 1, 4))
    v = np.ones((1, 1, 4))
    out, _ = recurrent(q, k, v, np.array([0.5]))
    assert out[0, 0, 0] == 4.0  # q·k = 4, not 4/sqrt(4)


def test_byte_floors() -> None:
    assert decode_state_bytes() == 2 * 64 * 128 * 128 * 4  # ~8.4 MB of fp32 state, read+write
    assert softmax_decode_bytes(100 * 1024) == 2 * 8 * 102400 * 128 * 2  # ~419 MB of bf16 KV


def test_integrate_decode() -> None:
    assert integrate_decode({1: 2.0}, 1000) == pytest.approx(2000.0)
    # a step cost growing linearly with the context integrates to the triangle
    assert integrate_decode({1: 1.0, 1001: 1001.0}, 1000) == pytest.approx(1000 * 1001 / 2)


def test_saved_h100_result_against_floors() -> None:
    result = load(H100_RESULT)
    assert result["device"].startswith("NVIDIA H100")
    rows = floors(result)
    at_100k = next(r for r in rows if r["context"] == 102400)
    assert at_100k["softmax_vs_floor"] < 1.3  # softmax decode is KV-read bound
    light = rows[-1]
    # the cold run's floor: the state, q, k, v and the output at the run's fastest read
    assert result["method"] == "cold"
    assert math.isclose(light["lightning_floor_s"], sum(lightning_bytes(1))
                        / (result["ceilings"]["floor_gbps"] * 1e9))  # fmt: skip
    assert light["lightning_floor_s"] > decode_state_bytes() / (3350 * 1e9)  # the sheet's
    assert result["decode_100k"]["latency_ratio"] > result["decode_100k"]["flops_ratio"]
    # prefill per context measured too: the 100K row shows its own measurement, not the
    # batches part's batch 1
    raw = next(r for r in result["rows"] if r["context"] == 102400)
    assert at_100k["lightning_prefill_ours_s"] == raw["lightning_prefill_ours_s"]
    assert at_100k["lightning_prefill_ours_s"] != result["prefill_batches"][0]["ours_s"]
    assert at_100k["ours_vs_fla"] >= 2.0  # the warp-specialized kernel, batch 1
    # at least 2x fla's at every batch (a head's two value blocks in one wave)
    assert all(e["fla_s"] >= 2 * e["ours_s"] for e in result["prefill_batches"])
    assert all(r["lightning_prefill_ours_s"] < r["lightning_prefill_fla_s"]
               for r in rows[:-1])  # ours is the fastest lightning prefill at every context


def test_latency_command_renders_a_saved_result(cli, tmp_path: Path) -> None:
    res = cli("profile", "latency", "--from", H100_RESULT, "--results-dir", tmp_path)
    assert res.code == 0, res.err
    assert "latency ratio" in res.out and "102,400" in res.out
    # the 100K batches and the tuning's choice (the run timed 14 configurations)
    assert "lightning prefill at 100K per batch" in res.out
    assert ("warp-specialized, WS 2, BV 64, 4 stages (a loader warp, an intra-chunk and a "
            "state warpgroup), fastest of 14 configurations timed") in res.out  # fmt: skip
    # prefill per context, every context measured by that kernel
    assert "ours per context: warp-specialized, WS 2, BV 64, 4 stages" in res.out
    # the batch-1 decode step's launch, what it assumes, and the step launched plainly
    assert "(BV64-w4-deferred-pdl)" in res.out and "programmatic dependent launch" in res.out
    assert "launched plainly, the fastest step takes 4.37 µs" in res.out
    assert (tmp_path / "profile-latency" / "latency.png").stat().st_size > 10_000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"device": "x"}))
    res = cli("profile", "latency", "--from", bad, "--results-dir", tmp_path)
    assert res.code == 2 and "not a latency result" in res.err


def test_measuring_without_a_gpu_is_a_clear_error(cli, tmp_path: Path) -> None:
    try:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    except ImportError:
        pass
    res = cli("profile", "latency", "--results-dir", tmp_path)
    assert res.code == 2 and "needs a CUDA GPU" in res.err


@pytest.mark.parametrize(("t", "chunk", "block_v"), [(1, 8, 16), (37, 8, 8), (64, 64, 16),
                                                     (130, 32, 4), (200, 64, 16)])  # fmt: skip
def test_the_prefill_kernels_arithmetic_equals_the_recurrence(t: int, chunk: int,
                                                              block_v: int) -> None:  # fmt: skip
    """Our Triton kernel's math (left padding to whole chunks, value-column blocks, the fixed
    per-chunk decay factors) against the float64 recurrence: outputs and the final state."""
    rng = np.random.default_rng(t + chunk)
    q, k, v = (rng.standard_normal((4, t, 16)) * 0.3 for _ in range(3))
    lam = decay(3, 80, 4)
    ref, ref_state = recurrent(q, k, v, lam)
    out, state = fused_chunks(q, k, v, lam, chunk, block_v)
    assert out.shape == ref.shape and state.shape == ref_state.shape
    assert relative_error(out, ref) < 1e-12 and relative_error(state, ref_state) < 1e-12


def test_strong_decay_underflows_to_zero_not_nan() -> None:
    """The first heads of M1's first layer decay by e^-0.9 a token: λ^C underflows for long
    chunks and must give zeros, never NaN or inf."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 300, 8)) for _ in range(3))
    lam = np.exp(-np.array([0.917, 30.0]))  # the second: e^-30 a token, e^-3840 a chunk
    out, state = fused_chunks(q, k, v, lam, 128, 8)
    ref, ref_state = recurrent(q, k, v, lam)
    assert np.isfinite(out).all() and relative_error(out, ref) < 1e-12
    assert relative_error(state, ref_state) < 1e-12


def test_chunk_flops_count() -> None:
    from m1eval.profiler.lightning_prefill import chunk_flops

    # per token and head: 4·C·D + 4·D² = 4·64·128 + 4·128² = 98,304
    assert chunk_flops(102400) == 102400 * 64 * 98304


H200_RESULT = H100_RESULT.with_name("attention_latency_h200.json")


def test_the_h200_result_names_the_winners_and_the_serving_regime(cli, tmp_path: Path) -> None:
    """The committed H200 result (cold caches): each prefill baseline is the best measured
    kernel (named), our lightning prefill beats fla's by at least 1.5x at 100K with its
    share of the matmul ceiling, and the serving regime renders (M1 vs all-softmax on one
    node)."""
    from m1eval.profiler.report import serving_table

    result = load(H200_RESULT)
    assert result["method"] == "cold" and result["device"] == "NVIDIA H200"
    assert result["versions"]["triton"] and result["versions"]["fla-core"]
    at_100k = next(r for r in floors(result) if r["context"] == 102400)
    raw = next(r for r in result["rows"] if r["context"] == 102400)
    measured = {n: raw[f"softmax_prefill_{n}_s"] for n in ("flash", "cudnn", "flex")
                if raw.get(f"softmax_prefill_{n}_s")}  # fmt: skip
    assert at_100k["softmax_prefill_s"] == min(measured.values())
    assert at_100k["softmax_prefill_kernel"] == min(measured, key=measured.get)
    assert at_100k["lightning_prefill_kernel"] == "ours" and at_100k["ours_vs_fla"] >= 1.5
    tflops = 64 * 102400 * (4 * 64 * 128 + 4 * 128 * 128) / at_100k["lightning_prefill_s"] / 1e12
    assert at_100k["lightning_prefill_tflops"] == pytest.approx(tflops)
    assert at_100k["lightning_prefill_ceiling_pct"] == pytest.approx(
        100 * tflops / result["ceilings"]["matmul_tflops"]
    )
    assert result["numerics_ours"]["ours_bf16_vs_fp64_t1000"] < 2e-2
    m1, dense = serving_table(result)
    assert m1["sequences"] > 5 * dense["sequences"] and m1["tokens_per_s"] > dense["tokens_per_s"]
    assert m1["gb_per_sequence"] == pytest.approx(4.4879, abs=1e-3)
    # 96 FLOPs per byte: memory allows 57% of this H200's ceiling (at the fastest read of the
    # run, 4,578 GB/s), 39% of the H100's (cuDNN's batched decode, 3,217 GB/s, over the
    # last part's 788 TFLOP/s)
    assert at_100k["lightning_prefill_attainable_pct"] == pytest.approx(
        100 * 96 * result["ceilings"]["floor_gbps"] / 1e3 / result["ceilings"]["matmul_tflops"])
    assert round(at_100k["lightning_prefill_attainable_pct"]) == 57
    assert round(next(r for r in floors(load(H100_RESULT)) if r["context"] == 102400)[
        "lightning_prefill_attainable_pct"]) == 39  # fmt: skip
    res = cli("profile", "latency", "--from", H200_RESULT, "--results-dir", tmp_path)
    assert res.code == 0, res.err
    assert "serving one 8-GPU node" in res.out and "cudnn" in res.out
    assert "allows at most 57% of the matmul ceiling" in res.out


def test_an_older_result_without_the_serving_regime_still_renders() -> None:
    """The H100 result of 2026-11-25 (warm caches, before the serving regime and our
    kernel), as it was committed."""
    from m1eval.profiler.report import serving_table

    result = load(Path(__file__).parent / "data" / "attention_latency_warm_h100_2026-11-25.json")
    assert serving_table(result) == []
    at_100k = next(r for r in floors(result) if r["context"] == 102400)
    assert at_100k["lightning_prefill_kernel"] == "fla" and at_100k["ours_vs_fla"] is None


@pytest.mark.parametrize(("t", "chunk", "segment", "local"),
                         [(1, 4, 8, None), (37, 4, 8, None), (64, 8, 16, None),
                          (130, 8, 32, None), (200, 8, 200, None), (130, 8, 32, 8),
                          (203, 4, 48, 16), (130, 8, 32, 24)])  # fmt: skip
def test_segmented_prefill_arithmetic_matches_the_recurrence(
        t: int, chunk: int, segment: int, local: int | None) -> None:  # fmt: skip
    """The split prefill's three steps (local states, finer than the segments where asked;
    the scan; the walk from each segment's initial state) compute the recurrence exactly,
    padding and a short last segment too; a local segment that does not divide the segment
    is refused."""
    rng = np.random.default_rng(t)
    h, d = 3, 5
    q, k, v = (rng.standard_normal((h, t, d)) for _ in range(3))
    lam = np.array([0.5, 0.9, 0.999])
    if segment % chunk or segment % (local or segment):
        with pytest.raises(ValueError):
            segmented(q, k, v, lam, chunk, segment, local)
        return
    ref, ref_state = recurrent(q, k, v, lam)
    out, state = segmented(q, k, v, lam, chunk, segment, local)
    assert relative_error(out, ref) < 1e-12
    assert relative_error(state, ref_state) < 1e-12


def test_vllm_cross_block_convention_by_hand() -> None:
    """One head, d = 1, λ = 0.5, blocks of 2, q = k = v = 1. The recurrence: S = 1, 1.5,
    1.75, 1.875. vLLM's convention: the first block exact (1, 1.5); in the second block
    the carried 1.5 enters at λ^0 and λ^1 instead of λ^1 and λ^2: 1 + 1.5 = 2.5 and
    1.5 + 0.75 = 2.25; with λ = 1 (no decay) the two agree."""
    ones = np.ones((1, 4, 1))
    got = blocks_carry_lambda_i(ones, ones, ones, np.array([0.5]), block=2)
    assert got[0, :, 0].tolist() == [1.0, 1.5, 2.5, 2.25]
    assert recurrent(ones, ones, ones, np.array([0.5]))[0][0, :, 0].tolist() == [
        1.0, 1.5, 1.75, 1.875]  # fmt: skip
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 9, 3)) for _ in range(3))
    same = blocks_carry_lambda_i(q, k, v, np.ones(2), block=4)
    assert relative_error(same, recurrent(q, k, v, np.ones(2))[0]) < 1e-12
