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

import numpy as np
import torch

from m1eval.profiler.lightning import (
    decay,
    decode_state_bytes,
    integrate_decode,
    recurrent,
    relative_error,
    softmax_decode_bytes,
)

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
    return {"matmul_tflops": 2 * n**3 / t / 1e12,
            "copy_gbps": 2 * x.numel() * 2 / tc / 1e9}  # fmt: skip


def softmax_decode(ctx: int, backend) -> float:
    from torch.nn.attention import sdpa_kernel

    q = torch.randn(1, H, 1, D, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(1, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    v = torch.randn(1, KVH, ctx, D, device=DEV, dtype=torch.bfloat16)
    out = torch.empty(1, H, 1, D, device=DEV, dtype=torch.bfloat16)
    with sdpa_kernel([backend]):

        def step():
            out.copy_(torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True))

        return graph_step_time(step)


def lightning_decode_torch(lam: torch.Tensor) -> float:
    s = torch.randn(H, D, D, device=DEV, dtype=torch.float32) * 0.01
    q, k, v = (torch.randn(H, D, device=DEV, dtype=torch.float32) for _ in range(3))
    o = torch.empty(H, 1, D, device=DEV)

    def step():
        s.mul_(lam[:, None, None]).baddbmm_(k[:, :, None], v[:, None, :])
        torch.bmm(q[:, None, :], s, out=o)

    return graph_step_time(step)


def _triton_decode_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def step(s_ptr, q_ptr, k_ptr, v_ptr, lam_ptr, o_ptr, D: tl.constexpr, BV: tl.constexpr):
        """One decode step for one head and BV state columns: S = lam*S + k^T v; o = q S.
        Reads and writes the fp32 state once: the state-traffic floor."""
        h = tl.program_id(0)
        cols = tl.program_id(1) * BV + tl.arange(0, BV)
        rows = tl.arange(0, D)
        ptrs = s_ptr + h * D * D + rows[:, None] * D + cols[None, :]
        state = tl.load(ptrs)
        k = tl.load(k_ptr + h * D + rows).to(tl.float32)
        v = tl.load(v_ptr + h * D + cols).to(tl.float32)
        q = tl.load(q_ptr + h * D + rows).to(tl.float32)
        state = state * tl.load(lam_ptr + h) + k[:, None] * v[None, :]
        tl.store(ptrs, state)
        tl.store(o_ptr + h * D + cols, tl.sum(q[:, None] * state, axis=0))

    return step


def lightning_decode_triton(lam: torch.Tensor) -> tuple[float, float]:
    """A fused Triton step (one pass over the state); returns (seconds, relative error vs the
    two-op PyTorch step on the same inputs)."""
    kernel = _triton_decode_kernel()
    bv = 32
    s = torch.randn(H, D, D, device=DEV, dtype=torch.float32) * 0.01
    q, k, v = (torch.randn(H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
    o = torch.empty(H, D, device=DEV, dtype=torch.float32)
    ref_state = s.clone() * lam[:, None, None] + k.float()[:, :, None] * v.float()[:, None, :]
    ref_out = torch.einsum("hk,hkv->hv", q.float(), ref_state)
    check = s.clone()
    kernel[(H, D // bv)](check, q, k, v, lam, o, D=D, BV=bv)
    err = float((o - ref_out).norm() / ref_out.norm())

    def step():
        kernel[(H, D // bv)](s, q, k, v, lam, o, D=D, BV=bv)

    return graph_step_time(step), err


def lightning_decode_fla(g_gamma: torch.Tensor, steps: int = 20) -> float:
    """fla's fused recurrent step, chained: each step reads the state the previous one wrote
    (no copies), as a decode loop that swaps state buffers would."""
    from fla.ops.simple_gla import fused_recurrent_simple_gla

    q, k, v = (torch.randn(1, 1, H, D, device=DEV, dtype=torch.bfloat16) for _ in range(3))
    state = torch.randn(1, H, D, D, device=DEV, dtype=torch.float32) * 0.01

    def chain():
        s = state
        for _ in range(steps):
            _, s = fused_recurrent_simple_gla(
                q, k, v, g_gamma=g_gamma, scale=1.0, initial_state=s, output_final_state=True
            )

    return graph_step_time(chain, steps_per_graph=1) / steps


def lightning_prefill(ctx: int, g_gamma: torch.Tensor) -> float:
    from fla.ops.simple_gla import chunk_simple_gla

    q, k, v = (torch.randn(1, ctx, H, D, device=DEV, dtype=torch.bfloat16) * 0.1
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

    mask = create_block_mask(causal, None, None, ctx, ctx, device=DEV)
    fn = compiled_flex()
    return events_time(lambda: fn(q, k, v, block_mask=mask, enable_gqa=True), reps=3)


# Seen with Triton 3.6 on an H200: C=128 tiles crashed (illegal address), and BV=32 with 4
# warps computed wrong outputs or crashed; each configuration is checked and timed in a
# process of its own, so one that breaks the CUDA context cannot take the run with it.
PREFILL_CONFIGS = [{"C": 64, "BV": bv, "num_warps": w, "STAGES": st}
                   for bv in (32, 64, 128) for w in (4, 8) for st in (1, 2, 3)]  # fmt: skip
FLEX_MIN_CONTEXT = 32768
PREFILL_MAX_ERROR = 2e-2  # bf16 inputs: fla's chunk kernel is at ~4e-3 against float64


def prefill_error(slopes_t: torch.Tensor, lam: np.ndarray, config: dict) -> float:
    """A configuration's output error against the float64 recurrence at a small size (one
    configuration computed wrong outputs on an H200 while its neighbours were right)."""
    from m1eval.profiler.lightning_prefill import prefill

    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((H, 200, D)) * 0.1 for _ in range(3))
    ref, _ = recurrent(q, k, v, lam)
    to_gpu = [torch.tensor(x.transpose(1, 0, 2)[None], device=DEV, dtype=torch.bfloat16)
              for x in (q, k, v)]  # fmt: skip
    got = prefill(*to_gpu, slopes_t, config)[0].float().cpu().numpy().transpose(1, 0, 2)
    return relative_error(got, ref)


def lightning_prefill_ours(ctx: int, slopes_t: torch.Tensor, config: dict) -> float:
    from m1eval.profiler.lightning_prefill import prefill

    q, k, v = (torch.randn(1, ctx, H, D, device=DEV, dtype=torch.bfloat16) * 0.1
               for _ in range(3))  # fmt: skip
    return events_time(lambda: prefill(q, k, v, slopes_t, config), reps=5)


def tune_prefill(slopes_t: torch.Tensor, lam: np.ndarray, ctx: int = 102400
                 ) -> tuple[dict | None, list]:  # fmt: skip
    """Every kernel configuration: checked against the recurrence, then timed at ``ctx``;
    the fastest correct one."""
    import subprocess
    import sys

    table = []
    for cfg in PREFILL_CONFIGS:
        try:
            child = subprocess.run([sys.executable, "-m", "m1eval.profiler.latency",
                                    "--tune-one", json.dumps(cfg), str(ctx)],
                                   capture_output=True, text=True, timeout=120)  # fmt: skip
            row = json.loads(child.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError) as exc:
            row = {"rel_error": None, "s": None, "error": f"the check process failed: {exc}"}
        table.append({**cfg, **row})
    ok = [r for r in table if r["s"]]
    best = min(ok, key=lambda r: r["s"]) if ok else None
    return ({k: best[k] for k in ("C", "BV", "num_warps", "STAGES")} if best else None), table


def numerics_ours(slopes_t: torch.Tensor, lam: np.ndarray, config: dict) -> dict[str, float]:
    """Our kernel against the float64 recurrence: outputs at T=1024 (as fla is checked) and
    T=1000 (left padding), and the final state."""
    from m1eval.profiler.lightning_prefill import prefill

    out = {}
    rng = np.random.default_rng(0)
    for t in (1024, 1000):
        q, k, v = (rng.standard_normal((H, t, D)) * 0.1 for _ in range(3))
        ref, ref_state = recurrent(q, k, v, lam)
        to_gpu = [torch.tensor(x.transpose(1, 0, 2)[None], device=DEV, dtype=torch.bfloat16)
                  for x in (q, k, v)]  # fmt: skip
        o, state = prefill(*to_gpu, slopes_t, config, final_state=True)
        got = o[0].float().cpu().numpy().transpose(1, 0, 2)
        out[f"ours_bf16_vs_fp64_t{t}"] = relative_error(got, ref)
        out[f"ours_state_vs_fp64_t{t}"] = relative_error(state[0].cpu().numpy(), ref_state)
    return out


def numerics(g_gamma: torch.Tensor, lam: np.ndarray) -> dict[str, float]:
    from fla.ops.simple_gla import chunk_simple_gla

    t = 1024
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((H, t, D)) * 0.1 for _ in range(3))
    ref, _ = recurrent(q, k, v, lam)
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


def safe(fn, *args):
    try:
        return fn(*args), None
    except Exception as exc:  # a backend that does not support a shape is a result too
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"


def main() -> None:
    props = torch.cuda.get_device_properties(0)
    result: dict = {"device": props.name, "torch": torch.__version__, "time": time.time()}
    ceil = ceilings()
    result["ceilings"] = ceil
    bw = ceil["copy_gbps"] * 1e9
    lam_np = decay(0, 80, H)
    lam = torch.tensor(lam_np, device=DEV, dtype=torch.float32)
    g_gamma = torch.log(lam)
    slopes_t = -g_gamma
    parts = set(os.environ.get("PROFILE_PARTS", "all").split(","))
    result["versions"] = _versions()
    result["numerics"], err = safe(numerics, g_gamma, lam_np)
    result["numerics_error"] = err
    best_cfg, table = tune_prefill(slopes_t, lam_np)
    result["prefill_tuning"] = {"context": 102400, "configs": table, "best": best_cfg}
    if best_cfg:
        result["numerics_ours"], result["numerics_ours_error"] = safe(
            numerics_ours, slopes_t, lam_np, best_cfg)  # fmt: skip
    if "all" not in parts:  # a quick call: tuning and numerics only
        _quick(result, table, g_gamma)
        return
    result["lightning_decode"] = _lightning_decode(lam, g_gamma, bw)
    rows = []
    for ctx in CONTEXTS:
        rows.append(_context_row(ctx, bw, g_gamma, slopes_t, best_cfg))
        result["rows"] = rows
        _write(result)  # what is measured so far survives a timeout
        torch.cuda.empty_cache()
    result["rows"] = rows
    _serving_and_totals(result, lam, bw, float(props.total_memory))
    _write(result)
    _print_result(result, err)


def _quick(result: dict, table: list[dict], g_gamma: torch.Tensor) -> None:
    """Tuning and numerics only (PROFILE_PARTS without ``all``)."""
    flex, flex_err = safe(softmax_prefill_flex, 8192)
    result["flex_check"] = {"s": flex, "error": flex_err}
    result["fla_100k"] = safe(lightning_prefill, 102400, g_gamma)
    _write(result)
    for r in table:
        print(r["BV"], r["num_warps"], r["STAGES"], r["rel_error"], r["s"],
              (r["error"] or "")[:80])  # fmt: skip
    keys = ("numerics", "numerics_ours", "flex_check", "fla_100k", "ceilings")
    print(json.dumps({k: result.get(k) for k in keys}, default=str))


def _lightning_decode(lam: torch.Tensor, g_gamma: torch.Tensor, bw: float) -> dict:
    """One lightning decode step per layer: torch, fla and our fused Triton step."""
    light_torch = lightning_decode_torch(lam)
    light_fla, fla_err = safe(lightning_decode_fla, g_gamma)
    triton_res, triton_err = safe(lightning_decode_triton, lam)
    light_triton, triton_rel = triton_res if triton_res else (None, None)
    return {
        "torch_s": light_torch, "fla_s": light_fla, "fla_error": fla_err,
        "triton_s": light_triton, "triton_error": triton_err, "triton_rel_err": triton_rel,
        "floor_s": decode_state_bytes() / bw,
    }  # fmt: skip


def _context_row(ctx: int, bw: float, g_gamma: torch.Tensor, slopes_t: torch.Tensor,
                 best_cfg: dict | None) -> dict:  # fmt: skip
    """Softmax decode and prefill, lightning prefill (fla's and ours) at one context."""
    from torch.nn.attention import SDPBackend

    backends = (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION))
    row = {"context": ctx, "kv_floor_s": softmax_decode_bytes(ctx) / bw}
    for name, backend in backends:
        row[f"softmax_decode_{name}_s"], row[f"softmax_decode_{name}_error"] = safe(
            softmax_decode, ctx, backend)  # fmt: skip
    row["lightning_prefill_s"], row["lightning_prefill_error"] = safe(
        lightning_prefill, ctx, g_gamma)  # fmt: skip
    if best_cfg:
        row["lightning_prefill_ours_s"], row["lightning_prefill_ours_error"] = safe(
            lightning_prefill_ours, ctx, slopes_t, best_cfg)  # fmt: skip
    for name, backend in backends:
        row[f"softmax_prefill_{name}_s"], row[f"softmax_prefill_{name}_error"] = safe(
            softmax_prefill, ctx, backend)  # fmt: skip
    if ctx >= FLEX_MIN_CONTEXT:  # each shape compiles anew: long contexts only
        row["softmax_prefill_flex_s"], row["softmax_prefill_flex_error"] = safe(
            softmax_prefill_flex, ctx)  # fmt: skip
    prefills = {n: row.get(f"softmax_prefill_{n}_s") for n in ("flash", "cudnn", "flex")}
    done = {n: t for n, t in prefills.items() if t}
    row["softmax_prefill_best"] = min(done, key=done.get) if done else None
    row["softmax_prefill_s"] = min(done.values()) if done else None
    lights = {n: row.get(k) for n, k in (("fla", "lightning_prefill_s"),
                                         ("ours", "lightning_prefill_ours_s"))}  # fmt: skip
    lights = {n: t for n, t in lights.items() if t}
    row["lightning_prefill_best"] = min(lights, key=lights.get) if lights else None
    row["lightning_prefill_best_s"] = min(lights.values()) if lights else None
    return row


def _serving_and_totals(result: dict, lam: torch.Tensor, bw: float, gpu_bytes: float) -> None:
    """Batched decode, the serving projection, and the 100K-token decode integral."""
    from m1eval.profiler import latency_batch
    from m1eval.profiler.serving_model import Node, project

    ld = result["lightning_decode"]
    light = min(x for x in (ld["torch_s"], ld["fla_s"], ld["triton_s"]) if x)
    result["batched_decode"] = latency_batch.measure(lam, bw, graph_step_time, events_time, safe)
    result["serving"] = project(result["batched_decode"], Node(gpu_bytes=gpu_bytes))
    ld["best_s"] = light
    best_soft = {r["context"]: min(x for x in (r["softmax_decode_flash_s"],
                                               r["softmax_decode_cudnn_s"]) if x)
                 for r in result["rows"]}  # fmt: skip
    total = 100 * 1024
    m1 = integrate_decode({c: 70 * light + 10 * s for c, s in best_soft.items()}, total)
    dense = integrate_decode({c: 80 * s for c, s in best_soft.items()}, total)
    flops_m1 = 70 * 4 * H * D * D * total + 10 * 2 * H * 2 * D * total * (total + 1) / 2
    flops_dense = 80 * 2 * H * 2 * D * total * (total + 1) / 2
    result["decode_100k"] = {
        "m1_stack_s": m1, "all_softmax_s": dense,
        "latency_ratio": m1 / dense, "flops_ratio": flops_m1 / flops_dense,
    }  # fmt: skip


def _print_result(result: dict, err: str | None) -> None:
    ceil, ld, rows = result["ceilings"], result["lightning_decode"], result["rows"]
    print(f"device {result['device']}; matmul {ceil['matmul_tflops']:.0f} TFLOP/s, "
          f"copy {ceil['copy_gbps']:.0f} GB/s; numerics {result['numerics']} {err or ''}")
    print(f"lightning decode: torch {ld['torch_s'] * 1e6:.1f} us, fla "
          f"{(ld['fla_s'] or 0) * 1e6:.1f} us {ld['fla_error'] or ''}, fused triton "
          f"{(ld['triton_s'] or 0) * 1e6:.1f} us (rel err {ld['triton_rel_err']}) "
          f"{ld['triton_error'] or ''}, floor {ld['floor_s'] * 1e6:.1f} us")  # fmt: skip
    print("context  sdpa-flash us  sdpa-cudnn us  kv-floor us  fla-prefill ms  ours-prefill ms"
          "  soft-prefill ms (best)")  # fmt: skip

    def us(x: float | None) -> str:
        return f"{x * 1e6:13.1f}" if x else f"{'-':>13}"

    def ms(x: float | None) -> str:
        return f"{x * 1e3:16.2f}" if x else f"{'-':>16}"

    for r in rows:
        print(f"{r['context']:7d} {us(r['softmax_decode_flash_s'])} "
              f"{us(r['softmax_decode_cudnn_s'])} {us(r['kv_floor_s'])} "
              f"{ms(r['lightning_prefill_s'])} {ms(r.get('lightning_prefill_ours_s'))} "
              f"{ms(r['softmax_prefill_s'])} ({r['softmax_prefill_best']})")  # fmt: skip
    d = result["decode_100k"]
    print(f"100K decode, attention only: M1 stack {d['m1_stack_s']:.2f} s, all-softmax "
          f"{d['all_softmax_s']:.2f} s, latency ratio {d['latency_ratio']:.3f}, "
          f"FLOPs ratio {d['flops_ratio']:.3f}")  # fmt: skip
    for r in rows:
        for key, val in r.items():
            if key.endswith("_error") and val:
                print(f"  {r['context']} {key}: {val}")
    print(json.dumps(result["serving"], indent=1, default=str))
    for r in result["batched_decode"]["softmax"]:
        print(f"  batch {r['batch']:4d} ctx {r['context']:7d}: best "
              f"{(r.get('best_s') or 0) * 1e6:9.1f} us, floor {r['kv_floor_s'] * 1e6:9.1f} us, "
              f"ragged flex {(r.get('ragged_flex_s') or 0) * 1e6:9.1f} us "
              f"{r.get('skipped') or r.get('ragged_flex_error') or ''}")  # fmt: skip


def tune_one(cfg: dict, ctx: int) -> dict:
    """One configuration, in its own process: its error against float64, then its time."""
    lam = decay(0, 80, H)
    slopes_t = torch.tensor(-np.log(lam), device=DEV, dtype=torch.float32)
    rel, err = safe(prefill_error, slopes_t, lam, cfg)
    if err is None and rel > PREFILL_MAX_ERROR:
        err = f"wrong outputs: relative error {rel:.2e} against float64"
    t = None
    if err is None:
        t, err = safe(lightning_prefill_ours, ctx, slopes_t, cfg)
    return {"rel_error": rel, "s": t, "error": err}


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--tune-one"]:
        print(json.dumps(tune_one(json.loads(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
