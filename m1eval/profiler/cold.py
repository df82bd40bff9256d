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


def ragged_lengths(batch: int, ctx: int) -> list[int]:
    """A ragged batch's lengths: spread evenly over [ctx/2, ctx] (one sequence at ctx when
    batch is 1)."""
    if batch == 1:
        return [ctx]
    return [ctx // 2 + round(i * (ctx - ctx // 2) / (batch - 1)) for i in range(batch)]


# Peak memory bandwidth by the maker's sheet (GB/s), first match in the device's name: no
# kernel moves bytes faster
SPEC_GBPS = (("GH200", 4900.0), ("H200", 4800.0), ("H100 NVL", 3900.0), ("H100 PCIe", 2000.0),
             ("H100", 3350.0))  # fmt: skip


def spec_gbps(device: str) -> float | None:
    return next((gbps for name, gbps in SPEC_GBPS if name in device), None)


def ragged_kv_bytes(batch: int, ctx: int, kv_heads: int = 8, d: int = 128) -> int:
    """K and V (bf16) a ragged batch's decode step reads: each sequence's own length."""
    return 2 * kv_heads * d * 2 * sum(ragged_lengths(batch, ctx))


def enforce_floors(result: dict[str, Any]) -> list[str]:
    """Every measurement in a latency result against its floor, whatever run or version
    wrote it: a time below its floor is set to None in place and named in
    ``result['floor_violations']`` (the new ones are returned). Softmax decode rows get their
    best time again from what is left. The floor's bandwidth is the faster of the result's
    own read-only and copy ceilings; a result without a read-only ceiling (older runs) is
    checked at the device's peak by its sheet, since a copy understates what a read-only
    step can reach and its floor would drop real measurements."""
    ceil = result["ceilings"]
    read = ceil.get("read_gbps") or spec_gbps(str(result.get("device"))) or 0.0
    bw = (read, ceil["copy_gbps"])
    found: list[str] = []

    def check(holder: dict[str, Any] | None, keys: tuple[str, ...], floor: float,
              what: str) -> None:  # fmt: skip
        for key in keys if isinstance(holder, dict) else ():
            value = holder.get(key)
            if isinstance(value, (int, float)) and value > 0 and value < floor:
                holder[key] = None
                found.append(checked(value, floor, f"{what} {key}")[1] or "")

    for row in result.get("rows") or []:
        ctx = row["context"]
        check(row, ("softmax_decode_flash_s", "softmax_decode_cudnn_s"),
              floor_s(*softmax_bytes(1, ctx), *bw), f"softmax decode, context {ctx}")
        check(row, ("lightning_prefill_s", "lightning_prefill_ours_s"),
              floor_s(*prefill_bytes(1, ctx), *bw), f"prefill, context {ctx}")
        check(row, ("lightning_prefill_vllm_s",),
              floor_s(*prefill_bytes(1, ctx, in_bytes=4, out_bytes=4), *bw),
              f"prefill, context {ctx}")  # fmt: skip
    check(result.get("lightning_decode"), ("triton_s", "vllm_s", "torch_s", "fla_s", "best_s"),
          floor_s(*lightning_bytes(1), *bw), "lightning decode, batch 1")  # fmt: skip
    batched = result.get("batched_decode") or {}
    for b, entry in (batched.get("lightning") or {}).items():
        check(entry, ("s", "vllm_s"), floor_s(*lightning_bytes(int(b)), *bw),
              f"lightning decode, batch {b}")  # fmt: skip
    for row in batched.get("softmax") or []:
        b, ctx = row["batch"], row["context"]
        check(row, ("flash_s", "cudnn_s"), floor_s(*softmax_bytes(b, ctx), *bw),
              f"softmax decode, batch {b}, context {ctx}")  # fmt: skip
        check(row, ("ragged_flex_s",), floor_s(ragged_kv_bytes(b, ctx), 0, *bw),
              f"ragged flex, batch {b}")  # fmt: skip
        left = [x for x in (row.get("flash_s"), row.get("cudnn_s")) if x]
        row["best_s"] = min(left) if left else None
        row["served_s"] = row.get("flash_s")
    for entry in result.get("prefill_batches") or []:
        b, ctx = entry["batch"], entry["context"]
        check(entry, ("fla_s", "ours_s"), floor_s(*prefill_bytes(b, ctx), *bw),
              f"prefill, context {ctx}, batch {b}")  # fmt: skip
        check(entry, ("vllm_s",), floor_s(*prefill_bytes(b, ctx, in_bytes=4, out_bytes=4), *bw),
              f"prefill, context {ctx}, batch {b}")  # fmt: skip
    if found:
        result["floor_violations"] = [*(result.get("floor_violations") or []), *found]
    return found
