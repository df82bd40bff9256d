"""The serving-regime memory model and its bookkeeping, against hand-computed values."""

from __future__ import annotations

import pytest

from m1eval.profiler.lightning import integrate_decode as generation_seconds
from m1eval.profiler.serving_model import (
    Node,
    Stack,
    interpolate_batch,
    kv_bytes_per_token,
    non_expert_params,
    sequence_bytes,
    sequences_per_node,
    state_bytes_per_layer,
    step_seconds,
    weight_bytes,
)

M1 = Stack()
DENSE = M1.all_softmax()


def test_bytes_per_layer_kind() -> None:
    assert kv_bytes_per_token(M1) == 2 * 8 * 128 * 2 == 4096
    assert state_bytes_per_layer(M1) == 64 * 128 * 128 * 4 == 4_194_304


def test_bytes_per_100k_sequence() -> None:
    m1 = sequence_bytes(M1, 102_400)
    assert m1 == {"softmax_kv": 4_194_304_000, "lightning_state": 293_601_280,
                  "total": 4_487_905_280}  # fmt: skip
    dense = sequence_bytes(DENSE, 102_400)
    assert dense == {"softmax_kv": 33_554_432_000, "lightning_state": 0,
                     "total": 33_554_432_000}  # fmt: skip
    # the lightning state does not grow with the context; softmax KV does, linearly
    assert sequence_bytes(M1, 1)["lightning_state"] == m1["lightning_state"]
    assert sequence_bytes(M1, 204_800)["softmax_kv"] == 2 * m1["softmax_kv"]


def test_weights() -> None:
    # lightning 70·5·(6144·8192) + softmax 10·(2·6144·8192 + 2·6144·1024) + 2·200,064·6144
    assert non_expert_params(M1) == 17_616_076_800 + 1_132_462_080 + 2_458_386_432
    assert weight_bytes(M1) == 2 * 21_206_925_312 + (456e9 - 21_206_925_312)
    assert weight_bytes(DENSE) == weight_bytes(M1)  # same weights, another attention


def test_sequences_per_node() -> None:
    node = Node()
    assert node.usable == pytest.approx(8 * 141e9 * 0.85 * 0.95)
    free = node.usable - 477_206_925_312  # 433.65 GB for caches
    assert sequences_per_node(M1, node, 102_400) == int(free // 4_487_905_280) == 96
    assert sequences_per_node(DENSE, node, 102_400) == int(free // 33_554_432_000) == 12
    h100 = Node(gpu_bytes=80e9)  # 517 GB usable: 40 GB beside the weights
    assert sequences_per_node(M1, h100, 102_400) == 8
    assert sequences_per_node(DENSE, h100, 102_400) == 1
    tiny = Node(gpus=1)
    assert sequences_per_node(M1, tiny, 102_400) == 0  # the weights alone do not fit


def test_step_and_generation_bookkeeping() -> None:
    assert step_seconds(M1, 3e-6, 100e-6, 8) == pytest.approx((70 * 3e-6 + 10 * 100e-6) / 8)
    assert step_seconds(DENSE, 3e-6, 100e-6, 8) == pytest.approx(80 * 100e-6 / 8)
    measured = {1: 1.0, 8: 2.0, 32: 5.0}
    assert interpolate_batch(measured, 8) == 2.0
    assert interpolate_batch(measured, 20) == pytest.approx(3.5)
    assert interpolate_batch(measured, 64) == pytest.approx(10.0)  # past the last: linear
    # contexts 1..4 at a step that costs c microseconds at context c (measured at 1 and 4)
    assert generation_seconds({1: 1e-6, 4: 4e-6}, 4) == pytest.approx(10e-6)
    assert generation_seconds({2: 5.0}, 3) == pytest.approx(15.0)  # constant beyond the ends


def test_projection_from_measured_batches() -> None:
    """Two contexts, three batches; times chosen so the answer is computed by hand."""
    from m1eval.profiler.serving_model import project

    batch = {
        "lightning": {"1": {"s": 2e-6}, "32": {"s": 10e-6}, "128": {"s": 40e-6}},
        "softmax": [
            {"batch": b, "context": c, "best_s": t} for (b, c, t) in (
                (1, 8192, 10e-6), (32, 8192, 100e-6), (128, 8192, 400e-6),
                (1, 131072, 100e-6), (32, 131072, 1000e-6), (128, 131072, None))],
    }  # fmt: skip
    out = project(batch, Node(), context=102_400, total=102_400)
    m1, dense = out["m1"], out["all_softmax"]
    assert (m1["sequences"], dense["sequences"]) == (96, 12)
    # M1 at 96 sequences: lightning interpolated between 32 and 128 -> 30e-6; softmax at
    # 131072 past the last measured batch (32) -> 1000e-6 * 96/32 = 3000e-6, at 8192 between
    # 32 and 128 -> 300e-6; at 102,400 tokens: 300 + (3000-300)·(102400-8192)/(131072-8192)
    soft_at = 300e-6 + (3000e-6 - 300e-6) * (102_400 - 8192) / (131_072 - 8192)
    assert m1["step_s"] == pytest.approx((70 * 30e-6 + 10 * soft_at) / 8)
    assert m1["tokens_per_s"] == pytest.approx(96 / m1["step_s"])
    # all-softmax at 12 sequences: softmax between batch 1 and 32
    soft12_8k = 10e-6 + (100e-6 - 10e-6) * 11 / 31
    soft12_128k = 100e-6 + (1000e-6 - 100e-6) * 11 / 31
    at = soft12_8k + (soft12_128k - soft12_8k) * (102_400 - 8192) / (131_072 - 8192)
    assert dense["step_s"] == pytest.approx(80 * at / 8)
    assert out["throughput_ratio"] == pytest.approx(m1["tokens_per_s"] / dense["tokens_per_s"])
    assert m1["generation_s"] > m1["step_s"] * 8192  # the early steps are cheaper, not free
