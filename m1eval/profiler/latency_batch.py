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

import os
from typing import Any

import torch

from m1eval.profiler import decode_kernels
from m1eval.profiler.cold import ragged_lengths
from m1eval.profiler.decode_kernels import Config

H, D, KVH = decode_kernels.H, decode_kernels.D, 8
DEV = "cuda"
BATCHES = [1, 8, 32, 128]
BATCH_CONTEXTS = [8192, 32768, 65536, 131072]
RAGGED_CONTEXT = 65536
# FlexAttention compiles anew for each shape (tens of seconds each): a run pressed for time
# leaves it out with PROFILE_FLEX=0, and says so where its numbers would be
FLEX = os.environ.get("PROFILE_FLEX", "1") != "0"
FLEX_OFF = "not measured: FlexAttention left out of this run (PROFILE_FLEX=0)"


def empty_node_cold(graph_step_time, layers: int = 70, programs: int = 512,
                    pdl: bool = False) -> float:  # fmt: skip
    """Seconds per layer of a kernel that moves next to nothing, launched as a decode step
    is: ``programs`` programs (the batch-1 step's 64 heads x 8 column blocks), one node per
    layer of the same CUDA graph (``pdl``: with programmatic dependent launch, as the PDL
    step is). The fixed cost of a node, which a step's floor (its bytes at the run's fastest
    read) leaves out."""
    kernel = decode_kernels.empty_kernel()
    bufs = [torch.empty(programs, device=DEV, dtype=torch.float32) for _ in range(layers)]
    opts = {"PDL": True, "launch_pdl": True} if pdl else {}
    steps = [lambda b=b: kernel[(programs,)](b, **opts) for b in bufs]
    return _cycle(steps, graph_step_time)


# Each timed, the fastest kept: at batch 1 the step moves 8 MiB, so how many programs keep
# bytes in flight decides how close it gets to its floor; with programmatic dependent launch
# (PDL) a step's state read, or (deferred) all its state traffic, overlaps the node before
DECODE_CONFIGS = [Config(8, 1), Config(8, 2), Config(16, 1), Config(16, 2), Config(16, 4),
                  Config(32, 4), Config(32, 8), Config(64, 4), Config(64, 8), Config(128, 8),
                  *(Config(bv, w, pdl=True) for bv, w in ((16, 1), (16, 4), (32, 4), (64, 4),
                                                          (128, 8))),
                  *(Config(bv, w, pdl=True, deferred=True)
                    for bv, w in ((16, 1), (16, 4), (32, 4), (64, 4), (64, 8), (128, 8)))
                  ]  # fmt: skip


def _cycle(steps: list, graph_step_time) -> float:
    """Seconds per layer: a CUDA graph holding one step of each distinct layer in turn (so
    no layer's buffer is still in L2 when its turn comes again), replayed."""

    def stack() -> None:
        for step in steps:
            step()

    return graph_step_time(stack, steps_per_graph=1, replays=20) / len(steps)


def lightning_decode_cold(batch: int, lam: torch.Tensor, graph_step_time, l2: int,
                          free: float, config: Config | None = None
                          ) -> tuple[float, int]:  # fmt: skip
    """Our fused step, one per layer over distinct [B·64, 128, 128] fp32 states; (seconds per
    layer, layers cycled). The node before each step is the previous layer's step, never the
    same layer's, as a PDL launch requires (:mod:`decode_kernels`)."""
    from m1eval.profiler.cold import layers_to_cycle

    config = config or Config(32, 4)
    n = layers_to_cycle(batch * H * D * D * 4, 70, l2, free)
    stack = [decode_kernels.Layer(torch.randn(batch * H, D, D, device=DEV) * 0.01, config)
             for _ in range(n)]  # fmt: skip
    q, k, v = (torch.randn(batch * H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
    o = torch.empty(batch * H, D, device=DEV, dtype=torch.float32)
    steps = [lambda layer=layer: layer.step(q, k, v, lam, o) for layer in stack]
    try:
        return _cycle(steps, graph_step_time), n
    finally:
        del stack


PDL_TOLERANCE = 1e-4  # fp32 state, the same bf16 inputs: a race is off by far more


def pdl_checks(lam: torch.Tensor, safe) -> dict[str, dict[str, Any]]:
    """Each PDL configuration's chain of steps in a CUDA graph against float64
    (:func:`decode_kernels.chain_error`)."""
    checks = {}
    for cfg in DECODE_CONFIGS:
        if cfg.pdl:
            err, why = safe(decode_kernels.chain_error, lam, cfg)
            checks[cfg.name] = {"vs_fp64": err, "error": why}
    return checks


def lightning_decode_best(batch: int, lam: torch.Tensor, graph_step_time, l2: int,
                          free: float, pdl_ok: dict[str, Any] | None = None
                          ) -> dict[str, Any]:  # fmt: skip
    """Every decode configuration, cold; the fastest, and the fastest without PDL. A PDL
    configuration is timed only where its chain check (``pdl_ok``) is within
    :data:`PDL_TOLERANCE`: one that computes the wrong thing is no candidate."""
    tried = {}
    for cfg in DECODE_CONFIGS:
        err = ((pdl_ok or {}).get(cfg.name) or {}).get("vs_fp64")
        if cfg.pdl and not (err is not None and err <= PDL_TOLERANCE):  # NaN is not <=
            tried[cfg.name] = {"s": None, "error": "not timed: its PDL chain check "
                                       f"against float64 gave {err}"}  # fmt: skip
            continue
        try:
            t, n = lightning_decode_cold(batch, lam, graph_step_time, l2, free, cfg)
            tried[cfg.name] = {"s": t, "layers": n}
        except Exception as exc:  # a configuration that does not compile is a result too
            tried[cfg.name] = {"s": None, "error": f"{type(exc).__name__}: "
                                       f"{str(exc)[:120]}"}  # fmt: skip
        torch.cuda.empty_cache()
    ok = {k: v for k, v in tried.items() if v.get("s")}
    best = min(ok, key=lambda k: ok[k]["s"]) if ok else None
    plain = [ok[c.name]["s"] for c in DECODE_CONFIGS if not c.pdl and c.name in ok]
    return {"s": ok[best]["s"] if best else None, "config": best,
            "layers": ok[best]["layers"] if best else None, "tried": tried,
            "plain_s": min(plain) if plain else None}  # fmt: skip


def vllm_decode_cold(module: Any, batch: int, slopes: torch.Tensor, graph_step_time, l2: int,
                     free: float) -> tuple[float, int]:  # fmt: skip
    """vLLM's decode kernel as served (fp32 q, k, v; a state cache per layer), cold."""
    from m1eval.profiler import vllm_kernels
    from m1eval.profiler.cold import layers_to_cycle

    n = layers_to_cycle(batch * H * D * D * 4, 70, l2, free)
    bufs = vllm_kernels.decode_inputs(batch, H, D, n, DEV)
    steps = [lambda i=i: vllm_kernels.decode_step(module, bufs, i, slopes) for i in range(n)]
    try:
        return _cycle(steps, graph_step_time), n
    finally:
        bufs.clear()


def softmax_decode_cold(batch: int, ctx: int, backend, graph_step_time, l2: int,
                        free: float) -> tuple[float, int]:  # fmt: skip
    """SDPA over distinct per-layer [B, 8, ctx, 128] bf16 KV caches (M1 has 10 softmax
    layers; more are cycled where 10 would still sit in L2), cold."""
    from torch.nn.attention import sdpa_kernel

    from m1eval.profiler.cold import layers_to_cycle

    n = layers_to_cycle(2 * batch * KVH * ctx * D * 2, 10, l2, free)
    q = torch.randn(batch, H, 1, D, device=DEV, dtype=torch.bfloat16)
    caches = [(torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16),
               torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16))
              for _ in range(n)]  # fmt: skip
    out = torch.empty(batch, H, 1, D, device=DEV, dtype=torch.bfloat16)

    def step(k: torch.Tensor, v: torch.Tensor) -> None:
        out.copy_(torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True))

    with sdpa_kernel([backend]):
        try:
            return _cycle([lambda k=k, v=v: step(k, v) for k, v in caches], graph_step_time), n
        finally:
            caches.clear()


def softmax_decode_ragged(batch: int, ctx: int, events_time) -> float:
    """FlexAttention decode over a padded cache with a per-sequence length mask."""
    from torch.nn.attention.flex_attention import create_block_mask

    lengths = torch.tensor(ragged_lengths(batch, ctx), device=DEV, dtype=torch.int32)
    q = torch.randn(batch, H, 1, D, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    v = torch.randn(batch, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)

    def within(b, h, q_idx, kv_idx):
        return kv_idx < lengths[b]

    mask = create_block_mask(within, batch, None, 1, ctx, device=DEV, _compile=True)
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


def measure(lam: torch.Tensor, ceil: dict[str, float], graph_step_time, events_time, safe,
            vllm: Any = None, late=lambda margin_s=0.0: False) -> dict:  # fmt: skip
    """Batched decode, cold: our lightning step (best configuration), vLLM's, and softmax
    (flash and cuDNN) at each batch and context, each checked against its floor."""
    from torch.nn.attention import SDPBackend

    from m1eval.profiler.cold import (
        check_row,
        floor_s,
        lightning_bytes,
        ragged_kv_bytes,
        softmax_bytes,
    )

    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    bw = (ceil["read_gbps"], ceil["copy_gbps"])
    light = {}
    pdl = pdl_checks(lam, safe)
    for b in BATCHES:
        free = torch.cuda.mem_get_info()[0]
        best, err = safe(lightning_decode_best, b, lam, graph_step_time, l2, free, pdl)
        entry = {"s": (best or {}).get("s"), "error": err, "config": (best or {}).get("config"),
                 "layers": (best or {}).get("layers"), "tried": (best or {}).get("tried"),
                 "plain_s": (best or {}).get("plain_s"),
                 "floor_s": floor_s(*lightning_bytes(b), *bw)}  # fmt: skip
        if vllm is not None:
            got, verr = safe(vllm_decode_cold, vllm, b, -torch.log(lam), graph_step_time, l2,
                             torch.cuda.mem_get_info()[0])  # fmt: skip
            entry["vllm_s"], entry["vllm_error"] = (got or (None, None))[0], verr
        check_row(entry, ["s", "plain_s", "vllm_s"], entry["floor_s"],
                  f"lightning decode, batch {b}")  # fmt: skip
        light[b] = entry
        torch.cuda.empty_cache()
    rows = []
    for ctx in BATCH_CONTEXTS:
        for b in BATCHES:
            free = torch.cuda.mem_get_info()[0]
            row: dict[str, Any] = {"batch": b, "context": ctx,
                                   "kv_floor_s": floor_s(*softmax_bytes(b, ctx), *bw)}  # fmt: skip
            if 2 * kv_bytes(b, ctx) > 0.5 * free:
                row["skipped"] = "two layers' KV caches do not fit in half the free memory"
                rows.append(row)
                continue
            if late(90):
                row["skipped"] = "not measured: the run's time ran out ($PROFILE_DEADLINE)"
                rows.append(row)
                continue
            for name, backend in (("flash", SDPBackend.FLASH_ATTENTION),
                                  ("cudnn", SDPBackend.CUDNN_ATTENTION)):  # fmt: skip
                got, row[f"{name}_error"] = safe(softmax_decode_cold, b, ctx, backend,
                                                 graph_step_time, l2, free)  # fmt: skip
                row[f"{name}_s"], row["layers"] = got or (None, row.get("layers"))
                torch.cuda.empty_cache()
            if ctx == RAGGED_CONTEXT and b > 1 and not FLEX:
                row["ragged_flex_error"] = FLEX_OFF
            elif ctx == RAGGED_CONTEXT and b > 1 and not late(150):  # compiles each shape
                row["ragged_flex_s"], row["ragged_flex_error"] = safe(
                    softmax_decode_ragged, b, ctx, events_time)  # fmt: skip
                row["ragged_kv_floor_s"] = floor_s(ragged_kv_bytes(b, ctx), 0, *bw)
                check_row(row, ["ragged_flex_s"], row["ragged_kv_floor_s"], "ragged flex")
            check_row(row, ["flash_s", "cudnn_s"], row["kv_floor_s"],
                      f"softmax decode, batch {b}, context {ctx}")  # fmt: skip
            best = [x for x in (row.get("flash_s"), row.get("cudnn_s")) if x]
            row["best_s"] = min(best) if best else None
            row["served_s"] = row.get("flash_s")  # vLLM serves M1's softmax layers with flash
            rows.append(row)
            torch.cuda.empty_cache()
    return {"lightning": {str(b): v for b, v in light.items()}, "softmax": rows,
            "pdl_chain_checks": pdl}
