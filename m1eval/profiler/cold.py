"""Decode measured the way a model runs it, with caches cold, and floors no measurement can
beat.

A decode step of one layer reads that layer's state (lightning: 4 MiB per sequence) or KV
cache (softmax: 4 KiB per token per sequence). Timed over one buffer, the buffer stays in the
GPU's L2 (50-60 MB) and the step looks faster than any real model can run it: an 80-layer
model touches 80 different buffers between two visits to the same layer. So each measurement
cycles through distinct per-layer buffers -- the stack's own count (70 lightning, 10
softmax), or more where those would still fit in L2 several times over -- and divides by the
count. Each time is checked against its floor, the bytes the step must move at the fastest
bandwidth measured in the same run; a time under its floor is a measurement error, reported
as such, never as a number.
"""

from __future__ import annotations

import math
from typing import Any

L2_FACTOR = 4  # cycle through at least this many L2-fulls of buffers


def layers_to_cycle(bytes_per_layer: int, stack_layers: int, l2_bytes: int,
                    free_bytes: float, budget: float = 0.5) -> int:  # fmt: skip
    """Distinct per-layer buffers to cycle through: the stack's count, raised until they
    span ``L2_FACTOR`` L2-fulls, lowered to what fits in ``budget`` of free memory (at least
    2, and the floor check catches a cycle that still fits in L2)."""
    want = max(stack_layers, math.ceil(L2_FACTOR * l2_bytes / max(1, bytes_per_layer)))
    fits = int(budget * free_bytes // max(1, bytes_per_layer))
    return max(2, min(want, fits))


def floor_s(read_bytes: float, write_bytes: float, read_gbps: float, copy_gbps: float) -> float:
    """The least time to read and write these bytes: all of them at the fastest bandwidth
    measured (a read-only reduction, or a copy counting bytes read plus written)."""
    return (read_bytes + write_bytes) / (max(read_gbps, copy_gbps) * 1e9)


def checked(value: float | None, floor: float | None, what: str) -> tuple[float | None, str | None]:
    """(value, None), or (None, why) when the value is below its floor."""
    if value is None or floor is None or value >= floor:
        return value, None
    return None, (f"{what}: measured {value * 1e6:.2f} us is below its floor "
                  f"{floor * 1e6:.2f} us, a measurement error (cached data, or a floor "
                  "that counts the wrong bytes); not reported")  # fmt: skip


def lightning_bytes(batch: int, heads: int = 64, d: int = 128) -> tuple[int, int]:
    """(read, written) by one lightning decode step: the fp32 state read and written, q, k,
    v read (bf16), the output written (fp32)."""
    state = batch * heads * d * d * 4
    return state + 3 * batch * heads * d * 2, state + batch * heads * d * 4


def softmax_bytes(batch: int, context: int, kv_heads: int = 8, heads: int = 64,
                  d: int = 128) -> tuple[int, int]:  # fmt: skip
    """(read, written) by one softmax decode step: K and V of the whole context (bf16) and
    q; the output."""
    return 2 * batch * kv_heads * context * d * 2 + batch * heads * d * 2, batch * heads * d * 2


def prefill_bytes(batch: int, context: int, heads: int = 64, d: int = 128, in_bytes: int = 2,
                  out_bytes: int = 2) -> tuple[int, int]:  # fmt: skip
    """(read, written) by one layer's lightning prefill at the least: q, k, v read once, the
    output written once (bf16; vLLM's served kernels take and give fp32, 4 bytes)."""
    n = batch * context * heads * d
    return 3 * n * in_bytes, n * out_bytes


def prefill_attainable_pct(flops: float, floor_s: float, matmul_tflops: float) -> float:
    """The most a prefill moving at least its floor's bytes can show as a share of the matmul
    ceiling (in %): where the bytes take longer than the FLOPs at the ceiling, the kernel is
    bound by memory, and no design reaches the ceiling."""
    compute_s = flops / (matmul_tflops * 1e12)
    return 100 * compute_s / max(compute_s, floor_s)


def check_row(row: dict[str, Any], keys: list[str], floor: float, what: str) -> None:
    """Drop, in place, every measurement in ``row[keys]`` below ``floor``, naming it in
    ``row['below_floor']``."""
    for key in keys:
        value, why = checked(row.get(key), floor, f"{what} {key}")
        if why is not None:
            row[key] = value
            row.setdefault("below_floor", []).append(why)


def check_prefill(row: dict[str, Any], ctx: int, batch: int, ceil: dict[str, float],
                  keys: dict[str, int]) -> None:  # fmt: skip
    """The prefill floor (q, k, v read and the output written once, bf16) into
    ``row['prefill_floor_s']``; every measurement in ``keys`` (its kernel's bytes per element:
    vLLM's are fp32) below its own floor dropped, in place, and named."""
    bw = (ceil.get("read_gbps") or 0.0, ceil["copy_gbps"])
    row["prefill_floor_s"] = floor_s(*prefill_bytes(batch, ctx), *bw)
    for key, size in keys.items():
        floor = floor_s(*prefill_bytes(batch, ctx, in_bytes=size, out_bytes=size), *bw)
        check_row(row, [key], floor, f"prefill, context {ctx}, batch {batch}")
