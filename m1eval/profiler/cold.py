"""Decode measured the way a model runs it, with caches cold, and floors no measurement can
beat.

A decode step of one layer reads that layer's state (lightning: 4 MiB per sequence) or KV
cache (softmax: 4 KiB per token per sequence). Timed over one buffer, the buffer stays in the
GPU's L2 (50-60 MB) and the step looks faster than any real model can run it: an 80-layer
model touches 80 different buffers between two visits to the same layer. So each measurement
cycles through distinct per-layer buffers -- the stack's own count (70 lightning, 10
softmax), or more where those would still fit in L2 several times over -- and divides by the
count. Each time is checked against its floor, the bytes the step must move: in the run at
the bandwidth its probes measured, and again on load (:func:`enforce_floors`) against the
device's sheet bandwidth, which no kernel beats. A time beyond that is a measurement error,
reported as such, never as a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
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
            row.setdefault("dropped", {})[key] = row[key]  # for the check on load
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


_RECORDED = re.compile(r"(\w+): measured ([0-9.]+) us is below its floor")


def _measurements(result: dict[str, Any]) -> Iterator[tuple[dict[str, Any], tuple[str, ...],
                                                               float, str, str | None]]:
    """(holder, keys, bytes moved, what, the holder's floor key) for every time a latency
    result holds that a floor bounds."""
    for row in result.get("rows") or []:
        ctx = row["context"]
        yield (row, ("softmax_decode_flash_s", "softmax_decode_cudnn_s"),
               sum(softmax_bytes(1, ctx)), f"softmax decode, context {ctx}", "kv_floor_s")
        yield (row, ("lightning_prefill_s", "lightning_prefill_ours_s"),
               sum(prefill_bytes(1, ctx)), f"prefill, context {ctx}", "prefill_floor_s")
        yield (row, ("lightning_prefill_vllm_s",),
               sum(prefill_bytes(1, ctx, in_bytes=4, out_bytes=4)), f"prefill, context {ctx}",
               None)  # fmt: skip
    yield (result.get("lightning_decode"), ("triton_s", "triton_plain_s", "vllm_s", "torch_s",
                                            "fla_s", "best_s"),
           sum(lightning_bytes(1)), "lightning decode, batch 1", "floor_s")  # fmt: skip
    batched = result.get("batched_decode") or {}
    for b, entry in (batched.get("lightning") or {}).items():
        yield (entry, ("s", "plain_s", "vllm_s"), sum(lightning_bytes(int(b))),
               f"lightning decode, batch {b}", "floor_s")  # fmt: skip
    for row in batched.get("softmax") or []:
        b, ctx = row["batch"], row["context"]
        yield (row, ("flash_s", "cudnn_s"), sum(softmax_bytes(b, ctx)),
               f"softmax decode, batch {b}, context {ctx}", "kv_floor_s")  # fmt: skip
        yield (row, ("ragged_flex_s",), ragged_kv_bytes(b, ctx), f"ragged flex, batch {b}",
               "ragged_kv_floor_s")  # fmt: skip
    for entry in result.get("prefill_batches") or []:
        b, ctx = entry["batch"], entry["context"]
        yield (entry, ("fla_s", "ours_s"), sum(prefill_bytes(b, ctx)),
               f"prefill, context {ctx}, batch {b}", "prefill_floor_s")  # fmt: skip
        yield (entry, ("vllm_s",), sum(prefill_bytes(b, ctx, in_bytes=4, out_bytes=4)),
               f"prefill, context {ctx}, batch {b}", None)  # fmt: skip


def _recorded(holder: dict[str, Any], key: str) -> float | None:
    """A time the run measured for ``key`` and dropped against its probes' floor: kept in
    ``dropped``, or (older runs) in the words of ``below_floor`` (to 0.01 us)."""
    value = (holder.get("dropped") or {}).get(key)
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    for why in holder.get("below_floor") or []:
        m = _RECORDED.search(str(why))
        if m and m.group(1) == key:
            return float(m.group(2)) * 1e-6
    return None


def _unrecord(holder: dict[str, Any], key: str) -> None:
    (holder.get("dropped") or {}).pop(key, None)
    left = [w for w in holder.get("below_floor") or []
            if not ((m := _RECORDED.search(str(w))) and m.group(1) == key)]  # fmt: skip
    if "below_floor" in holder:
        holder["below_floor"] = left or None


def enforce_floors(result: dict[str, Any]) -> list[str]:
    """Every time in a latency result against physics, whatever run or version wrote it,
    in place; returns what it drops (also added to ``result['floor_violations']``).

    A time is a measurement error when its bytes, moved in that time, would go faster than
    the device's peak bandwidth by its sheet: nothing moves bytes faster. Such a time is set
    to None and named. A device whose sheet is not known is held to the run's own probes
    instead (a read-only reduction, a copy). The probes are a floor's estimate, not a
    bound: on an H200 a torch reduction read 3,991 GB/s while cuDNN's batched decode read
    68 GB of distinct caches at 4,578 GB/s. So a time the run dropped against its
    probes, and that is not beyond the sheet, is restored; and the floors shown (each
    holder's floor key) are at the fastest bandwidth any probe or kept measurement reached,
    ``ceilings['floor_gbps']`` (named in ``floor_set_by``): no time shown is below its
    floor. Softmax decode rows get their best time again from what is left."""
    ceil = result["ceilings"]
    probes = max(ceil.get("read_gbps") or 0.0, ceil["copy_gbps"])
    sheet = spec_gbps(str(result.get("device")))
    limit = sheet or probes
    found: list[str] = []
    fastest, set_by = probes, "the run's probes (read-only reduction, copy)"
    for holder, keys, nbytes, what, _ in _measurements(result):
        for key in keys if isinstance(holder, dict) else ():
            value = holder.get(key)
            if value is None and sheet is not None:
                value = _recorded(holder, key)
                if value is not None and nbytes / value <= limit * 1e9:
                    holder[key] = value  # below the probes' floor, within physics
                    _unrecord(holder, key)
                    result["floor_violations"] = [
                        w for w in result.get("floor_violations") or []
                        if f"{what} {key}:" not in str(w)] or None  # fmt: skip
                value = holder.get(key)
            if not (isinstance(value, (int, float)) and value > 0):
                continue
            if nbytes / value > limit * 1e9:
                holder[key] = None
                found.append(checked(value, nbytes / (limit * 1e9), f"{what} {key}")[1] or "")
            elif sheet is not None and nbytes / value / 1e9 > fastest:
                fastest, set_by = nbytes / value / 1e9, f"{what} {key}"
    ceil["floor_gbps"], ceil["floor_set_by"] = fastest, set_by
    for holder, _, nbytes, _, floor_key in _measurements(result):
        if isinstance(holder, dict) and floor_key and floor_key in holder:
            holder[floor_key] = nbytes / (fastest * 1e9)
    for row in (result.get("batched_decode") or {}).get("softmax") or []:
        left = [x for x in (row.get("flash_s"), row.get("cudnn_s")) if x]
        row["best_s"] = min(left) if left else None
        row["served_s"] = row.get("flash_s")
    light = result.get("lightning_decode")
    if isinstance(light, dict) and "best_s" in light:
        kept = [light.get(k) for k in ("triton_s", "vllm_s", "torch_s", "fla_s")]
        light["best_s"] = min((x for x in kept if x), default=None)
    if found:
        result["floor_violations"] = [*(result.get("floor_violations") or []), *found]
    return found
