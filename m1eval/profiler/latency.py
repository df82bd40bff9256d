"""GPU latency of lightning vs softmax attention at MiniMax-M1 shapes (64 heads of dim 128;
8 KV heads in softmax layers; bf16), from 1K to 128K tokens of context.

Prefill: lightning through flash-linear-attention's ``chunk_simple_gla`` (per-head constant
decay, MiniMax's slopes, no 1/sqrt(d) scale); softmax through PyTorch SDPA (flash and cuDNN
backends). Decode: one token per step under CUDA graphs (20 steps a graph); lightning as fla's
fused recurrent step and as two plain PyTorch ops; softmax as SDPA over the KV cache.
Every number comes with its floor from ceilings measured in the same run (a bf16 matrix
product, a device-to-device copy). Then the per-step decode times are integrated over a 100K
generation for M1's attention stack (70 lightning + 10 softmax) and an all-softmax stack.

Runs on a CUDA GPU (here through the device tool: ``python benchmarks/attention_latency.py``);
writes ``$OUT/attention_latency.json`` (or ./) and prints a table. ``m1eval profile latency
--from FILE`` renders a saved result with its plot on any machine.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from m1eval.profiler.cold import check_prefill
from m1eval.profiler.latency_batch import FLEX, FLEX_OFF
from m1eval.profiler.lightning import (
    blocks_carry_lambda_i,
    decay,
    recurrent,
    relative_error,
)
from m1eval.profiler.report import totals

H, D, KVH = 64, 128, 8
CONTEXTS = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 102400, 131072]
DEV = "cuda"


def events_time(fn, reps: int = 10, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    return float(np.median(times))


def graph_step_time(step, steps_per_graph: int = 20, replays: int = 50) -> float:
    """Seconds per ``step()`` call, replayed from a CUDA graph holding ``steps_per_graph``."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(steps_per_graph):
            step()
    return events_time(graph.replay, reps=replays, warmup=5) / steps_per_graph


def ceilings() -> dict[str, float]:
    n = 8192
    a = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    t = events_time(lambda: a @ b)
    x = torch.randn(1 << 29, device=DEV, dtype=torch.bfloat16)  # 1 GiB
    y = torch.empty_like(x)
    tc = events_time(lambda: y.copy_(x))
    # read-only: a reduction reads every byte once and writes one number
    tr = min(events_time(lambda: torch.amax(x)), events_time(lambda: x.sum(dtype=torch.float32)))
    return {"matmul_tflops": 2 * n**3 / t / 1e12,
            "copy_gbps": 2 * x.numel() * 2 / tc / 1e9,
            "read_gbps": x.numel() * 2 / tr / 1e9,
            "l2_bytes": float(torch.cuda.get_device_properties(0).L2_cache_size)}  # fmt: skip


def decode_numerics(lam: torch.Tensor, vllm: Any = None) -> dict[str, float]:
    """One decode step against float64: our fused step (bf16 q, k, v; fp32 state) and, when
    loaded, vLLM's (fp32 q, k, v as served)."""
    from m1eval.profiler.decode_kernels import step_kernel

    s0 = torch.randn(H, D, D, device=DEV, dtype=torch.float32) * 0.01
    q, k, v = (torch.randn(H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
    lam64 = lam.double()
    ref_state = s0.double() * lam64[:, None, None] + k.double()[:, :, None] * v.double()[:, None, :]
    ref = torch.einsum("hk,hkv->hv", q.double(), ref_state)
    out = {}
    s = s0.clone()
    o = torch.empty(H, D, device=DEV, dtype=torch.float32)
    step_kernel()[(H, D // 32)](s, q, k, v, lam, o, H=H, D=D, BV=32)
    out["ours_decode_vs_fp64"] = float((o.double() - ref).norm() / ref.norm())
    if vllm is not None:
        from m1eval.profiler import vllm_kernels

        bufs = {"caches": [s0.clone()[None]], "q": q.float()[None, :, None],
                "k": k.float()[None, :, None], "v": v.float()[None, :, None],
                "slots": torch.zeros(1, device=DEV, dtype=torch.int64)}  # fmt: skip
        got = vllm_kernels.decode_step(vllm, bufs, 0, -torch.log(lam)).reshape(H, D)
        out["vllm_decode_vs_fp64"] = float((got.double() - ref).norm() / ref.norm())
    return out


def lightning_prefill(ctx: int, g_gamma: torch.Tensor, batch: int = 1) -> float:
    from fla.ops.simple_gla import chunk_simple_gla

    q, k, v = (torch.randn(batch, ctx, H, D, device=DEV, dtype=torch.bfloat16) * 0.1
               for _ in range(3))  # fmt: skip
    return events_time(lambda: chunk_simple_gla(q, k, v, g_gamma=g_gamma, scale=1.0), reps=5)


def softmax_prefill(ctx: int, backend) -> float:
    from torch.nn.attention import sdpa_kernel

    q = torch.randn(1, H, ctx, D, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(1, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    v = torch.randn(1, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    with sdpa_kernel([backend]):
        return events_time(lambda: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True, enable_gqa=True), reps=3)  # fmt: skip


def softmax_prefill_flex(ctx: int) -> float:
    from torch.nn.attention.flex_attention import create_block_mask

    from m1eval.profiler.latency_batch import compiled_flex

    q = torch.randn(1, H, ctx, D, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(1, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    v = torch.randn(1, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)

    def causal(b, h, q_idx, kv_idx):
        return q_idx >= kv_idx

    # _compile=True builds the block mask block by block, never a dense T×T tensor (which
    # ran out of memory at 100K on an H100)
    mask = create_block_mask(causal, None, None, ctx, ctx, device=DEV, _compile=True)
    fn = compiled_flex()
    return events_time(lambda: fn(q, k, v, block_mask=mask, enable_gqa=True), reps=3)


# Seen with Triton 3.6 on an H200: C=128 tiles crashed (illegal address), and BV=32 with 4
# warps computed wrong outputs or crashed; each configuration is checked and timed in a
# process of its own, so one that breaks the CUDA context cannot take the run with it.
# SEG 0 walks each sequence in one program per head and block of columns (the earlier
# design); NSEG segments also split the sequence into segments run side by side, LSEG the
# first pass's finer local segments; FORM where the decays are applied. Tried in this order,
# most promising first. On an H200 (2026-12-07, FORM 0) one walk with BV 64, 8 warps and 3
# stages was fastest at 3.34 ms, 4 warps took 5.33 ms, and 2 segments 3.62 ms. On an H100
# the same day, in one run: FORM 0 3.39 ms, FORM 1 3.48-3.49 ms (3 or 4 stages; 10x closer
# to fla's outputs), FORM 2 6.2-9.3 ms (two chunks a step: the longer step's registers and
# shared memory cost more than the state steps it saves). So FORM 0 and 1 first, the splits,
# then one FORM 2 configuration.
_WALKS = ((64, 8, 3), (64, 8, 4), (32, 8, 3), (128, 8, 3), (32, 4, 3), (64, 8, 2),
          (128, 16, 2), (64, 4, 3))
_SPLITS = ((2, 64, 8, 2), (2, 128, 8, 3), (2, 64, 4, 2), (3, 64, 4, 2), (3, 128, 8, 2),
           (4, 64, 4, 2), (4, 128, 8, 3))
# KERNEL "ws" is the warp-specialized Gluon kernel (a loader warp, the intra-chunk products and
# the state's chain in warpgroups of their own), tried first, both splits of its work (WS). On
# an H100 (2026-12-07, the value blocks first in the grid): the five within 2.40-2.59 ms (WS 2
# with 4 stages fastest), the one walk below 3.42-3.49 ms. With the earlier grid order 3 or 4
# stages had taken 3.23-3.31 ms against 2.49-2.52 ms with 2, hence 2 stages first.
PREFILL_CONFIGS = [
    *({"KERNEL": "ws", "WS": ws, "C": 64, "BV": 64, "num_warps": 4, "STAGES": st, "SEG": 0,
       "FORM": 1} for ws, st in ((1, 2), (2, 2), (1, 3), (2, 3), (2, 4))),
    *({"C": 64, "BV": bv, "num_warps": w, "STAGES": st, "SEG": 0, "FORM": form}
      for bv, w, st in _WALKS[:2] for form in (0, 1)),
    *({"C": 64, "BV": bv, "num_warps": w, "STAGES": st, "NSEG": n, "LSEG": 2048, "FORM": 0}
      for n, bv, w, st in _SPLITS),
    *({"C": 64, "BV": bv, "num_warps": w, "STAGES": st, "SEG": 0, "FORM": 0}
      for bv, w, st in _WALKS[2:]),
    {"C": 64, "BV": 64, "num_warps": 8, "STAGES": 2, "SEG": 0, "FORM": 2},
]  # fmt: skip
CONFIG_KEYS = ("KERNEL", "WS", "C", "BV", "num_warps", "STAGES", "SEG", "NSEG", "LSEG", "FORM")
FLEX_MIN_CONTEXT = 65536
PREFILL_MAX_ERROR = 2e-2  # bf16 inputs: fla's chunk kernel is at ~4e-3 against float64


TUNE_REFERENCE = "/tmp/m1eval_prefill_reference.pt"
BEST_PREFILL = "/tmp/m1eval_best_prefill.json"  # the tuned configuration, for the next part
TUNE_BUDGET_S = float(os.environ.get("PROFILE_TUNE_BUDGET_S", "300"))


def tune_reference(lam: np.ndarray, slopes_t: torch.Tensor, path: str = TUNE_REFERENCE) -> str:
    """The references every configuration is checked against, computed once: the float64
    recurrence at 1,000 tokens (a padded first chunk) and fla's chunk kernel at 32K tokens,
    where a configuration's own segment length splits the sequence (float64 is out of reach
    at that size). Saved to ``path`` for the checking processes."""
    def fla_chunk(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        from fla.ops.simple_gla import chunk_simple_gla

        out = chunk_simple_gla(q, k, v, g_gamma=-slopes_t, scale=1.0)
        return out[0] if isinstance(out, tuple) else out

    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((H, 1000, D)) * 0.1 for _ in range(3))
    ref, ref_state = recurrent(q, k, v, lam)
    small = [torch.tensor(x.transpose(1, 0, 2)[None], dtype=torch.bfloat16) for x in (q, k, v)]
    gen = torch.Generator(device=DEV).manual_seed(2)
    big = [torch.randn(1, 32768, H, D, device=DEV, dtype=torch.bfloat16, generator=gen) * 0.1
           for _ in range(3)]  # fmt: skip
    fla, fla_err = safe(fla_chunk, *big)
    # fla failing here (a Triton it does not support) leaves the float64 check standing
    torch.save({"small": small, "small_ref": torch.from_numpy(ref),
                "small_state": torch.from_numpy(ref_state), "big": [x.cpu() for x in big],
                "big_ref": None if fla is None else fla.float().cpu(), "big_error": fla_err},
               path)  # fmt: skip
    return path


def prefill_error(slopes_t: torch.Tensor, refs: dict, config: dict) -> float:
    """A configuration's error against the float64 recurrence at 1,000 tokens, the larger of
    its outputs' and its final state's (one configuration computed wrong outputs on an H200
    while its neighbours were right)."""
    from m1eval.profiler.lightning_prefill import prefill

    got, state = prefill(*(x.to(DEV) for x in refs["small"]), slopes_t, small_segments(config),
                         final_state=True)  # fmt: skip
    out_err = relative_error(got[0].float().cpu().numpy().transpose(1, 0, 2),
                             refs["small_ref"].numpy())  # fmt: skip
    state_err = relative_error(state[0].cpu().numpy(), refs["small_state"].numpy())
    return float(np.max([out_err, state_err]))  # NaN in either stays NaN


def small_segments(config: dict) -> dict:
    """The configuration at the sizes a float64 reference allows (1,000 tokens): segments of
    256 tokens where it splits by length (4 segments, a padded first and a short last); its
    number of segments where it splits by number; local segments of 128 tokens where it has
    them (so several local states per segment go through the scan)."""
    small = {**config, "SEG": min(config.get("SEG") or 0, 256)}
    if config.get("LSEG"):
        small["LSEG"] = 128
    return small


def vs_fla(slopes_t: torch.Tensor, refs: dict, config: dict) -> float:
    """Our output against fla's chunk kernel at 32K tokens (the saved reference)."""
    from m1eval.profiler.lightning_prefill import prefill

    got = prefill(*(x.to(DEV) for x in refs["big"]), slopes_t, config).float()
    ref = refs["big_ref"].to(DEV)
    return float((got - ref).norm() / ref.norm())


def lightning_prefill_ours(ctx: int, slopes_t: torch.Tensor, config: dict,
                           batch: int = 1) -> float:  # fmt: skip
    from m1eval.profiler.lightning_prefill import prefill

    q, k, v = (torch.randn(batch, ctx, H, D, device=DEV, dtype=torch.bfloat16) * 0.1
               for _ in range(3))  # fmt: skip
    return events_time(lambda: prefill(q, k, v, slopes_t, config), reps=5)


def tune_prefill(slopes_t: torch.Tensor, lam: np.ndarray, ceil: dict | None = None,
                 ctx: int = 102400) -> tuple[dict | None, list]:  # fmt: skip
    """Every kernel configuration, each in a process of its own: checked against the
    references, then timed at ``ctx`` (a time below the prefill floor is dropped as a
    measurement error); the fastest correct one. Configurations past the time budget
    ($PROFILE_TUNE_BUDGET_S) are listed as not tried."""
    import subprocess
    import sys

    fixed = os.environ.get("PREFILL_CONFIG")
    if not fixed and Path(BEST_PREFILL).is_file():  # tuned by an earlier part on this machine
        fixed = Path(BEST_PREFILL).read_text()
    if fixed:  # chosen by an earlier tuning run: no tuning here
        return json.loads(fixed), [{**json.loads(fixed), "error": None, "s": None,
                                    "note": "tuned by an earlier run on this machine"}]  # fmt: skip
    ref_path, ref_err = safe(tune_reference, lam, slopes_t)
    started = time.monotonic()
    table = []
    for cfg in PREFILL_CONFIGS:
        if ref_err or time.monotonic() - started > TUNE_BUDGET_S:
            table.append({**cfg, "rel_error": None, "s": None,
                          "error": ref_err or "not tried: the tuning time budget ran out"})
            continue
        try:
            child = subprocess.run([sys.executable, "-m", "m1eval.profiler.latency",
                                    "--tune-one", json.dumps(cfg), str(ctx), ref_path],
                                   capture_output=True, text=True, timeout=90)  # fmt: skip
            row = json.loads(child.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            row = {"rel_error": None, "s": None, "error": "the check process timed out"}
        except (ValueError, IndexError):
            row = {"rel_error": None, "s": None, "error": "the check process failed: "
                   f"exit {child.returncode}: {child.stderr.strip()[-300:]}"}  # fmt: skip
        if ceil:
            check_prefill(row, ctx, 1, ceil, {"s": 2})
        table.append({**cfg, **row})
        print("tune", json.dumps(table[-1])[:300], flush=True)
    ok = [r for r in table if r["s"]]
    best = min(ok, key=lambda r: r["s"]) if ok else None
    chosen = {k: best[k] for k in CONFIG_KEYS if k in best} if best else None
    if chosen:  # the prefill part, run next on the same machine, takes it
        Path(BEST_PREFILL).write_text(json.dumps(chosen))
    return chosen, table


_CASES: dict[bytes, list] = {}


def reference_cases(lam: np.ndarray) -> list[tuple[int, tuple, np.ndarray, np.ndarray]]:
    """The float64 cases every kernel is checked against, computed once per run (each
    recurrence takes seconds on the CPU): T=1024 and T=1000 (left padding), seed 0, as
    (T, (q, k, v) [H, T, D], outputs, final state)."""
    key = lam.tobytes()
    if key not in _CASES:
        rng = np.random.default_rng(0)
        cases = []
        for t in (1024, 1000):
            q, k, v = (rng.standard_normal((H, t, D)) * 0.1 for _ in range(3))
            cases.append((t, (q, k, v), *recurrent(q, k, v, lam)))
        _CASES[key] = cases
    return _CASES[key]


def numerics_ours(slopes_t: torch.Tensor, lam: np.ndarray, config: dict) -> dict[str, float]:
    """Our kernel against the float64 recurrence: outputs at T=1024 (as fla is checked) and
    T=1000 (left padding), and the final state; a splitting configuration with segments of
    256 tokens, so the scan and the segments' initial states are in the check."""
    from m1eval.profiler.lightning_prefill import prefill

    out = {}
    for t, (q, k, v), ref, ref_state in reference_cases(lam):
        to_gpu = [torch.tensor(x.transpose(1, 0, 2)[None], device=DEV, dtype=torch.bfloat16)
                  for x in (q, k, v)]  # fmt: skip
        o, state = prefill(*to_gpu, slopes_t, small_segments(config), final_state=True)
        got = o[0].float().cpu().numpy().transpose(1, 0, 2)
        out[f"ours_bf16_vs_fp64_t{t}"] = relative_error(got, ref)
        out[f"ours_state_vs_fp64_t{t}"] = relative_error(state[0].cpu().numpy(), ref_state)
    return out


def numerics(g_gamma: torch.Tensor, lam: np.ndarray) -> dict[str, float]:
    from fla.ops.simple_gla import chunk_simple_gla

    _, (q, k, v), ref, _ = reference_cases(lam)[0]  # T=1024
    to_gpu = [torch.tensor(x.transpose(1, 0, 2)[None], device=DEV, dtype=torch.bfloat16)
              for x in (q, k, v)]  # fmt: skip
    out = chunk_simple_gla(*to_gpu, g_gamma=g_gamma, scale=1.0)
    out = out[0] if isinstance(out, tuple) else out
    got = out[0].float().cpu().numpy().transpose(1, 0, 2)
    return {"chunk_simple_gla_bf16_vs_fp64": relative_error(got, ref)}


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"torch": torch.__version__, "cuda": torch.version.cuda,
                                  "cudnn": str(torch.backends.cudnn.version())}  # fmt: skip
    for name in ("triton", "fla-core"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _write(result: dict) -> None:
    out = Path(os.environ.get("OUT", "."))
    (out / "attention_latency.json").write_text(json.dumps(result, indent=2, default=str))


LATE = "not measured: the run's time ran out ($PROFILE_DEADLINE)"


def late(margin_s: float = 0.0) -> bool:
    """Past the run's deadline ($PROFILE_DEADLINE, seconds since the epoch, set by the run
    script so that what was measured is written before the call's time limit)?"""
    deadline = os.environ.get("PROFILE_DEADLINE")
    return bool(deadline) and time.time() > float(deadline) - margin_s


def safe(fn, *args):
    try:
        return fn(*args), None
    except Exception as exc:  # a backend that does not support a shape is a result too
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"


def vllm_numerics(vllm: Any, slopes_t: torch.Tensor, lam: np.ndarray) -> dict[str, float]:
    """vLLM's prefill as served (fp32 inputs) against the float64 recurrence."""
    from m1eval.profiler import vllm_kernels

    out = {}
    for t, (q, k, v), ref, _ in reference_cases(lam):
        to_gpu = [torch.tensor(x.transpose(1, 0, 2)[None], device=DEV, dtype=torch.float32)
                  for x in (q, k, v)]  # fmt: skip
        got = vllm_kernels.prefill(vllm, *to_gpu, slopes_t)[0].double().cpu().numpy()
        got = got.transpose(1, 0, 2)
        out[f"vllm_fp32_vs_fp64_t{t}"] = relative_error(got, ref)
        # the same against vLLM's own cross-block convention (λ^i where the recurrence has
        # λ^(i+1)): near fp32 rounding when that convention explains the difference
        out[f"vllm_fp32_vs_lambda_i_blocks_t{t}"] = relative_error(
            got, blocks_carry_lambda_i(q, k, v, lam))  # fmt: skip
    return out


def vllm_prefill(vllm: Any, ctx: int, slopes_t: torch.Tensor, batch: int = 1) -> float:
    """vLLM's prefill of ``batch`` sequences of ``ctx`` tokens as served: one call per
    sequence (see vllm_kernels.prefill); one sequence's fp32 inputs (3.4 GB a tensor at
    100K, far past L2) serve every call, which keeps 8 x 100K within memory."""
    from m1eval.profiler import vllm_kernels

    q, k, v = (torch.randn(1, ctx, H, D, device=DEV, dtype=torch.float32) * 0.1
               for _ in range(3))  # fmt: skip

    def run() -> None:
        for _ in range(batch):
            vllm_kernels.prefill(vllm, q, k, v, slopes_t)

    return events_time(run, reps=3)


def _load_vllm(result: dict) -> Any:
    """vLLM's lightning kernels from the file named by $VLLM_LIGHTNING (a 0.23 wheel's
    vllm/model_executor/layers/lightning_attn.py), or None."""
    path = os.environ.get("VLLM_LIGHTNING")
    if not path:
        result["vllm"] = {"error": "VLLM_LIGHTNING not set: the served kernels not measured"}
        return None
    from m1eval.profiler import vllm_kernels

    module, err = safe(vllm_kernels.load, path)
    result["vllm"] = {"path": path, "sha256": getattr(module, "sha256", None), "error": err,
                      "version": os.environ.get("VLLM_VERSION", "0.23.0")}  # fmt: skip
    return module


def main() -> None:
    props = torch.cuda.get_device_properties(0)
    result: dict = {"device": props.name, "torch": torch.__version__, "time": time.time(),
                    "method": "cold"}  # fmt: skip
    ceil = ceilings()
    result["ceilings"] = ceil
    lam_np = decay(0, 80, H)
    lam = torch.tensor(lam_np, device=DEV, dtype=torch.float32)
    g_gamma = torch.log(lam)
    slopes_t = -g_gamma
    parts = set(os.environ.get("PROFILE_PARTS", "all").split(","))
    result["versions"] = _versions()
    vllm = _load_vllm(result)
    result["numerics"], err = safe(numerics, g_gamma, lam_np)
    result["numerics_error"] = err
    result["decode_numerics"], result["decode_numerics_error"] = safe(decode_numerics, lam, vllm)
    if vllm is not None:
        result["numerics_vllm"], result["numerics_vllm_error"] = safe(
            vllm_numerics, vllm, slopes_t, lam_np)  # fmt: skip
    best_cfg, table = None, []
    if parts & {"all", "prefill", "quick", "batches"}:  # decode alone needs no prefill kernel
        best_cfg, table = tune_prefill(slopes_t, lam_np, ceil)
        result["prefill_tuning"] = {"context": 102400, "configs": table, "best": best_cfg}
    if best_cfg:
        result["numerics_ours"], result["numerics_ours_error"] = safe(
            numerics_ours, slopes_t, lam_np, best_cfg)  # fmt: skip
    _write(result)
    if not parts & {"all", "decode", "prefill", "batches"}:  # a quick call: tuning, numerics
        _quick(result, g_gamma, slopes_t, vllm, best_cfg)
        return
    result["gpu_bytes"] = float(props.total_memory)
    result["parts"] = sorted(parts)
    if parts & {"all", "decode"}:
        _decode_parts(result, lam, vllm)
    else:  # prefill only: the contexts' rows start empty
        result["rows"] = [{"context": c} for c in CONTEXTS]
    if parts & {"all", "prefill", "batches"}:  # batches: 100K for batch 1/4/8 alone
        _prefill_parts(result, g_gamma, slopes_t, best_cfg, vllm,
                       per_context=bool(parts & {"all", "prefill"}))  # fmt: skip
    if "batched_decode" in result:
        totals(result)
    _write(result)
    _print_result(result)


def _quick(result: dict, g_gamma: torch.Tensor, slopes_t: torch.Tensor, vllm: Any,
           best_cfg: dict | None) -> None:  # fmt: skip
    """Tuning and numerics, a flex mask at 100K, and the prefill kernels at 100K."""
    flex, flex_err = (None, FLEX_OFF) if not FLEX else (
        safe(softmax_prefill_flex, 102400) if not late(90) else (None, LATE))
    result["flex_check"] = {"s": flex, "error": flex_err}
    result["fla_100k"] = safe(lightning_prefill, 102400, g_gamma)
    if vllm is not None:
        result["vllm_100k"] = safe(vllm_prefill, vllm, 102400, slopes_t)
    _write(result)
    for r in result["prefill_tuning"]["configs"]:
        print(r.get("KERNEL", "walk"), r.get("SEG"), r.get("NSEG"), r["BV"], r["num_warps"],
              r["STAGES"], r.get("FORM"),
              r["rel_error"], r["s"],
              (r["error"] or "")[:80])  # fmt: skip
    keys = ("numerics", "numerics_ours", "numerics_vllm", "decode_numerics", "flex_check",
            "fla_100k", "vllm_100k", "ceilings", "vllm")  # fmt: skip
    print(json.dumps({k: result.get(k) for k in keys}, default=str))


def _decode_parts(result: dict, lam: torch.Tensor, vllm: Any) -> None:
    """Cold decode: batched lightning (ours, vLLM's) and softmax; the batch-1 rows per
    context; each against its floor."""
    from m1eval.profiler import latency_batch
    from m1eval.profiler.cold import check_row, floor_s, softmax_bytes

    ceil = result["ceilings"]
    bw = (ceil["read_gbps"], ceil["copy_gbps"])
    result["batched_decode"] = latency_batch.measure(lam, ceil, graph_step_time, events_time,
                                                     safe, vllm, late)  # fmt: skip
    result["graph_node_s"], result["graph_node_error"] = safe(latency_batch.empty_node_cold,
                                                              graph_step_time)  # fmt: skip
    result["graph_node_pdl_s"], result["graph_node_pdl_error"] = safe(
        latency_batch.empty_node_cold, graph_step_time, 70, 512, True)  # fmt: skip
    _write(result)
    one = result["batched_decode"]["lightning"]["1"]
    result["lightning_decode"] = {
        "triton_s": one.get("s"), "triton_config": one.get("config"), "vllm_s": one.get("vllm_s"),
        "triton_plain_s": one.get("plain_s"),
        "floor_s": one["floor_s"], "layers": one.get("layers"),
        "best_s": min((x for x in (one.get("s"), one.get("vllm_s")) if x), default=None),
        "below_floor": one.get("below_floor"),
    }  # fmt: skip
    from torch.nn.attention import SDPBackend

    l2 = int(ceil["l2_bytes"])
    rows = []
    for ctx in CONTEXTS:
        row = {"context": ctx, "kv_floor_s": floor_s(*softmax_bytes(1, ctx), *bw)}
        rows.append(row)
        if late(30):
            row["softmax_decode_flash_error"] = row["softmax_decode_cudnn_error"] = LATE
            continue
        for name, backend in (("flash", SDPBackend.FLASH_ATTENTION),
                              ("cudnn", SDPBackend.CUDNN_ATTENTION)):  # fmt: skip
            got, row[f"softmax_decode_{name}_error"] = safe(
                latency_batch.softmax_decode_cold, 1, ctx, backend, graph_step_time, l2,
                torch.cuda.mem_get_info()[0])  # fmt: skip
            row[f"softmax_decode_{name}_s"], row["layers"] = got or (None, row.get("layers"))
            torch.cuda.empty_cache()
        check_row(row, ["softmax_decode_flash_s", "softmax_decode_cudnn_s"], row["kv_floor_s"],
                  f"softmax decode, context {ctx}")  # fmt: skip
        result["rows"] = rows
        _write(result)
    result["rows"] = rows
    _write(result)


def _prefill_parts(result: dict, g_gamma: torch.Tensor, slopes_t: torch.Tensor,
                   best_cfg: dict | None, vllm: Any, per_context: bool = True) -> None:  # fmt: skip
    """Prefill per context (fla, ours, vLLM's, and the softmax kernels), then at 100K for
    batches 1, 4 and 8."""
    for row in result["rows"] if per_context else ():
        if late(60):
            row["lightning_prefill_error"] = LATE
            continue
        row.update(_context_row(row["context"], g_gamma, slopes_t, best_cfg, vllm))
        check_prefill(row, row["context"], 1, result["ceilings"],
                      {"lightning_prefill_s": 2, "lightning_prefill_ours_s": 2,
                       "lightning_prefill_vllm_s": 4})  # fmt: skip
        _write(result)  # what is measured so far survives a timeout
        torch.cuda.empty_cache()
    batches = []
    result["prefill_batches"] = batches
    for b in (1, 4, 8):
        entry = {"batch": b, "context": 102400}
        batches.append(entry)
        if late(20):
            entry["fla_error"] = LATE
            continue
        entry["fla_s"], entry["fla_error"] = safe(lightning_prefill, 102400, g_gamma, b)
        if best_cfg:
            entry["ours_s"], entry["ours_error"] = safe(lightning_prefill_ours, 102400,
                                                        slopes_t, best_cfg, b)  # fmt: skip
            entry["ours_config"] = best_cfg  # a joined result keeps which kernel timed it
        if vllm is not None:
            entry["vllm_s"], entry["vllm_error"] = safe(vllm_prefill, vllm, 102400, slopes_t, b)
        check_prefill(entry, 102400, b, result["ceilings"],
                      {"fla_s": 2, "ours_s": 2, "vllm_s": 4})  # fmt: skip
        _write(result)
        torch.cuda.empty_cache()


def _context_row(ctx: int, g_gamma: torch.Tensor, slopes_t: torch.Tensor,
                 best_cfg: dict | None, vllm: Any) -> dict:  # fmt: skip
    """Prefill at one context: fla's, ours, vLLM's (fp32, as served), and softmax."""
    from torch.nn.attention import SDPBackend

    backends = (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION))
    row: dict = {}
    row["lightning_prefill_s"], row["lightning_prefill_error"] = safe(
        lightning_prefill, ctx, g_gamma)  # fmt: skip
    if best_cfg:
        row["lightning_prefill_ours_s"], row["lightning_prefill_ours_error"] = safe(
            lightning_prefill_ours, ctx, slopes_t, best_cfg)  # fmt: skip
        row["lightning_prefill_ours_config"] = best_cfg
    if vllm is not None:
        row["lightning_prefill_vllm_s"], row["lightning_prefill_vllm_error"] = safe(
            vllm_prefill, vllm, ctx, slopes_t)  # fmt: skip
    for name, backend in backends:
        row[f"softmax_prefill_{name}_s"], row[f"softmax_prefill_{name}_error"] = safe(
            softmax_prefill, ctx, backend)  # fmt: skip
    if ctx >= FLEX_MIN_CONTEXT and not FLEX:
        row["softmax_prefill_flex_error"] = FLEX_OFF
    elif ctx >= FLEX_MIN_CONTEXT and not late(120):  # each shape compiles anew: long only
        row["softmax_prefill_flex_s"], row["softmax_prefill_flex_error"] = safe(
            softmax_prefill_flex, ctx)  # fmt: skip
    prefills = {n: row.get(f"softmax_prefill_{n}_s") for n in ("flash", "cudnn", "flex")}
    done = {n: t for n, t in prefills.items() if t}
    row["softmax_prefill_best"] = min(done, key=done.get) if done else None
    row["softmax_prefill_s"] = min(done.values()) if done else None
    lights = {n: row.get(k) for n, k in (("fla", "lightning_prefill_s"),
                                         ("ours", "lightning_prefill_ours_s"),
                                         ("vllm", "lightning_prefill_vllm_s"))}  # fmt: skip
    lights = {n: t for n, t in lights.items() if t}
    row["lightning_prefill_best"] = min(lights, key=lights.get) if lights else None
    row["lightning_prefill_best_s"] = min(lights.values()) if lights else None
    return row


def _print_result(result: dict) -> None:
    ceil, rows = result["ceilings"], result["rows"]
    print(f"device {result['device']}; matmul {ceil['matmul_tflops']:.0f} TFLOP/s, copy "
          f"{ceil['copy_gbps']:.0f} GB/s, read {ceil['read_gbps']:.0f} GB/s; numerics "
          f"{result.get('numerics')} {result.get('decode_numerics')} "
          f"{result.get('numerics_vllm')}")  # fmt: skip

    def us(x: float | None) -> str:
        return f"{x * 1e6:11.2f}" if x else f"{'-':>11}"

    def ms(x: float | None) -> str:
        return f"{x * 1e3:11.3f}" if x else f"{'-':>11}"

    for b, e in (result.get("batched_decode") or {}).get("lightning", {}).items():
        print(f"lightning decode batch {b:>3}: ours {us(e.get('s'))} us ({e.get('config')}, "
              f"{e.get('layers')} layers) vllm {us(e.get('vllm_s'))} us floor "
              f"{us(e['floor_s'])} us {e.get('below_floor') or ''}")  # fmt: skip
    print("context flash-dec us cudnn-dec us  floor us  fla-pre ms  ours-pre ms  vllm-pre ms"
          "  soft-pre ms (best)")  # fmt: skip
    for r in rows:
        print(f"{r['context']:7d} {us(r.get('softmax_decode_flash_s'))} "
              f"{us(r.get('softmax_decode_cudnn_s'))} {us(r.get('kv_floor_s'))} "
              f"{ms(r.get('lightning_prefill_s'))} {ms(r.get('lightning_prefill_ours_s'))} "
              f"{ms(r.get('lightning_prefill_vllm_s'))} {ms(r.get('softmax_prefill_s'))} "
              f"({r.get('softmax_prefill_best')})")  # fmt: skip
    for e in result.get("prefill_batches") or []:
        print(f"prefill 100K batch {e['batch']}: fla {ms(e.get('fla_s'))} ours "
              f"{ms(e.get('ours_s'))} vllm {ms(e.get('vllm_s'))} ms "
              f"{e.get('vllm_error') or ''}")  # fmt: skip
    for key in ("decode_100k", "decode_100k_vllm") if "batched_decode" in result else ():
        d = result.get(key)
        if d:
            print(f"{key}: M1 {d['m1_stack_s']:.2f} s, all-softmax {d['all_softmax_s']:.2f} s, "
                  f"ratio {d['latency_ratio']:.3f}")  # fmt: skip
    for key in ("serving", "serving_vllm"):
        sv = result.get(key) or {}
        print(key, {k: sv.get(k) for k in ("throughput_ratio", "generation_ratio")})


def tune_one(cfg: dict, ctx: int, ref_path: str) -> dict:
    """One configuration, in its own process: its error against float64 and against fla at
    32K, then its time."""
    lam = decay(0, 80, H)
    slopes_t = torch.tensor(-np.log(lam), device=DEV, dtype=torch.float32)
    refs = torch.load(ref_path)
    rel, err = safe(prefill_error, slopes_t, refs, cfg)
    if err is None and not rel <= PREFILL_MAX_ERROR:  # NaN is wrong too
        err = f"wrong outputs: relative error {rel:.2e} against float64"
    t = fla_diff = fla_err = None
    if err is None and refs.get("big_ref") is None:  # fla could not run: float64 stands alone
        fla_err = f"no fla reference at 32K ({refs.get('big_error')})"
    elif err is None:
        fla_diff, err = safe(vs_fla, slopes_t, refs, cfg)
        if fla_diff is not None and not fla_diff <= PREFILL_MAX_ERROR:
            err = f"differs from fla at 32K by {fla_diff:.2e}"
    if err is None:
        t, err = safe(lightning_prefill_ours, ctx, slopes_t, cfg)
    return {"rel_error": rel, "vs_fla_32k": fla_diff, "vs_fla_error": fla_err, "s": t,
            "error": err}


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--tune-one"]:
        print(json.dumps(tune_one(json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
    else:
        main()
