"""Decode in the serving regime: one layer's attention step for a batch of sequences.

Softmax: SDPA over a [B, 8, context, 128] bf16 KV cache per layer (flash and cuDNN, the
faster one kept), every sequence at one context; and ragged batches (lengths spread evenly
over [context/2, context]) through FlexAttention with a per-sequence length mask, compared
with the same batch padded to its longest sequence. Lightning: the fused Triton step over a
[B·64, 128, 128] fp32 state (each sequence's state read and written once). Each time comes
with its memory floor (bytes a step must move at the measured copy bandwidth).

Runs on a CUDA GPU as part of ``latency.py``.
"""

from __future__ import annotations

from typing import Any

import torch

H, D, KVH = 64, 128, 8
DEV = "cuda"
BATCHES = [1, 8, 32, 128]
BATCH_CONTEXTS = [8192, 32768, 65536, 131072]
RAGGED_CONTEXT = 65536


def _batched_step_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def step(s_ptr, q_ptr, k_ptr, v_ptr, lam_ptr, o_ptr, H: tl.constexpr, D: tl.constexpr,
             BV: tl.constexpr):  # fmt: skip
        """One decode step for sequence·head ``pid`` and BV state columns."""
        pid = tl.program_id(0)
        cols = tl.program_id(1) * BV + tl.arange(0, BV)
        rows = tl.arange(0, D)
        ptrs = s_ptr + pid.to(tl.int64) * D * D + rows[:, None] * D + cols[None, :]
        state = tl.load(ptrs)
        k = tl.load(k_ptr + pid * D + rows).to(tl.float32)
        v = tl.load(v_ptr + pid * D + cols).to(tl.float32)
        q = tl.load(q_ptr + pid * D + rows).to(tl.float32)
        state = state * tl.load(lam_ptr + pid % H) + k[:, None] * v[None, :]
        tl.store(ptrs, state)
        tl.store(o_ptr + pid * D + cols, tl.sum(q[:, None] * state, axis=0))

    return step


def lightning_decode_batch(batch: int, lam: torch.Tensor, graph_step_time) -> float:
    kernel = _batched_step_kernel()
    bv = 32
    s = torch.randn(batch * H, D, D, device=DEV, dtype=torch.float32) * 0.01
    q, k, v = (torch.randn(batch * H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
    o = torch.empty(batch * H, D, device=DEV, dtype=torch.float32)

    def step() -> None:
        kernel[(batch * H, D // bv)](s, q, k, v, lam, o, H=H, D=D, BV=bv)

    return graph_step_time(step)


def softmax_decode_batch(batch: int, ctx: int, backend, graph_step_time) -> float:
    from torch.nn.attention import sdpa_kernel

    q = torch.randn(batch, H, 1, D, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    v = torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    out = torch.empty(batch, H, 1, D, device=DEV, dtype=torch.bfloat16)
    big = batch * ctx > 1 << 21
    with sdpa_kernel([backend]):

        def step() -> None:
            out.copy_(torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True))

        return graph_step_time(step, steps_per_graph=5 if big else 20, replays=10 if big else 50)


def ragged_lengths(batch: int, ctx: int) -> list[int]:
    """Lengths spread evenly over [ctx/2, ctx] (one sequence at ctx when batch is 1)."""
    if batch == 1:
        return [ctx]
    return [ctx // 2 + round(i * (ctx - ctx // 2) / (batch - 1)) for i in range(batch)]


def softmax_decode_ragged(batch: int, ctx: int, events_time) -> float:
    """FlexAttention decode over a padded cache with a per-sequence length mask."""
    from torch.nn.attention.flex_attention import create_block_mask

    lengths = torch.tensor(ragged_lengths(batch, ctx), device=DEV, dtype=torch.int32)
    q = torch.randn(batch, H, 1, D, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    v = torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)

    def within(b, h, q_idx, kv_idx):
        return kv_idx < lengths[b]

    mask = create_block_mask(within, batch, None, 1, ctx, device=DEV)
    fn = compiled_flex()
    return events_time(lambda: fn(q, k, v, block_mask=mask, enable_gqa=True), reps=10)


_FLEX: list[Any] = []


def compiled_flex() -> Any:
    from torch.nn.attention.flex_attention import flex_attention

    if not _FLEX:
        _FLEX.append(torch.compile(flex_attention, dynamic=False))
    return _FLEX[0]


def kv_bytes(batch: int, lengths: list[int] | int) -> int:
    total = sum(lengths) if isinstance(lengths, list) else batch * lengths
    return 2 * KVH * D * 2 * total


def state_bytes(batch: int) -> int:
    return 2 * batch * H * D * D * 4


def measure(lam: torch.Tensor, bw: float, graph_step_time, events_time, safe) -> dict:
    from torch.nn.attention import SDPBackend

    free = torch.cuda.mem_get_info()[0]
    light = {}
    for b in BATCHES:
        t, err = safe(lightning_decode_batch, b, lam, graph_step_time)
        light[b] = {"s": t, "error": err, "floor_s": state_bytes(b) / bw}
    rows = []
    for ctx in BATCH_CONTEXTS:
        for b in BATCHES:
            row: dict[str, Any] = {"batch": b, "context": ctx,
                                   "kv_floor_s": kv_bytes(b, ctx) / bw}  # fmt: skip
            if 2 * kv_bytes(b, ctx) > 0.8 * free:
                row["skipped"] = "KV cache larger than this GPU's free memory"
                rows.append(row)
                continue
            for name, backend in (("flash", SDPBackend.FLASH_ATTENTION),
                                  ("cudnn", SDPBackend.CUDNN_ATTENTION)):  # fmt: skip
                row[f"{name}_s"], row[f"{name}_error"] = safe(
                    softmax_decode_batch, b, ctx, backend, graph_step_time)  # fmt: skip
            if ctx == RAGGED_CONTEXT and b > 1:  # flex compiles each shape: one context
                lengths = ragged_lengths(b, ctx)
                row["ragged_flex_s"], row["ragged_flex_error"] = safe(
                    softmax_decode_ragged, b, ctx, events_time)  # fmt: skip
                row["ragged_kv_floor_s"] = kv_bytes(b, lengths) / bw
            best = [x for x in (row.get("flash_s"), row.get("cudnn_s")) if x]
            row["best_s"] = min(best) if best else None
            rows.append(row)
            torch.cuda.empty_cache()
    return {"lightning": {str(b): v for b, v in light.items()}, "softmax": rows}
