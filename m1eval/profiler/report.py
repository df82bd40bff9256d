"""Reading a saved latency result: its table against the floors, and its plots (CPU only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from m1eval import boundedjson
from m1eval.errors import DataError
from m1eval.profiler.cold import enforce_floors, floor_s, prefill_attainable_pct, prefill_bytes
from m1eval.profiler.lightning import decode_state_bytes, softmax_decode_bytes
from m1eval.profiler.lightning_prefill import chunk_flops


def load(path: Path) -> dict[str, Any]:
    try:
        result = boundedjson.loads(path.read_text(encoding="utf-8"), max_depth=32)
    except FileNotFoundError:
        raise DataError(f"no latency result at {path}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: {exc}") from None
    if not isinstance(result, dict):
        raise DataError(f"{path}: not a latency result (not a JSON object)")
    for key in ("device", "ceilings", "rows"):
        if key not in result:
            raise DataError(f"{path}: not a latency result (no '{key}')")
    try:
        # whatever wrote the file, no time below its floor is shown; the projections are made
        # again from what stands, or made at all (a run cut short after its decode part)
        dropped = enforce_floors(result)
        if "lightning_decode" in result and "batched_decode" in result and (
                dropped or "serving" not in result):  # fmt: skip
            totals(result)
        if "lightning_decode" not in result:  # a prefill part: rendered joined with decode
            return result
        floors(result)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise DataError(f"{path}: not a latency result ({type(exc).__name__}: {exc})") from None
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def floors(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each measurement next to its floor, per context, and the lightning decode last. A
    cold-cache result (``method: cold``) carries floors computed in the run from the bytes
    each step moves at the fastest measured bandwidth (read-only or copy); an older, warm
    one is given floors at its measured copy bandwidth."""
    ceil = result["ceilings"]
    cold = result.get("method") == "cold"
    # the floors' bandwidth: the fastest any probe or kept measurement reached (enforce_floors)
    bw = (ceil.get("floor_gbps") or max(ceil.get("read_gbps") or 0.0, ceil["copy_gbps"])) * 1e9
    ceiling = ceil["matmul_tflops"]
    out = []
    for row in result["rows"]:
        ctx = row["context"]
        best = min((x for x in (row.get("softmax_decode_flash_s"),
                                row.get("softmax_decode_cudnn_s")) if x), default=None)
        floor = row.get("kv_floor_s") if cold else softmax_decode_bytes(ctx) / bw
        single = _batch_one(result, ctx)  # a batches part measures 100K at batch 1 too
        kernels = {"fla": row.get("lightning_prefill_s") or single.get("fla_s"),
                   "ours": row.get("lightning_prefill_ours_s") or single.get("ours_s"),
                   "vllm": row.get("lightning_prefill_vllm_s") or single.get("vllm_s")}  # fmt: skip
        ours_config = (row.get("lightning_prefill_ours_config")
                       if row.get("lightning_prefill_ours_s") else single.get("ours_config"))
        found = {k: v for k, v in kernels.items() if v}
        fastest = min(found, key=found.get) if found else None
        light = found.get(fastest) if fastest else None
        flops = chunk_flops(ctx)  # chunk 64: intra-chunk and state terms
        soft_flops = 2 * 2 * 64 * 128 * ctx * (ctx + 1) / 2  # causal QKᵀ and PV
        soft, winner = softmax_prefill(row)
        prefill_floor = floor_s(*prefill_bytes(1, ctx), bw / 1e9, 0.0)
        out.append({
            "context": ctx, "softmax_decode_s": best, "softmax_floor_s": floor,
            "softmax_vs_floor": _ratio(best, floor),
            "lightning_prefill_s": light, "lightning_prefill_kernel": fastest,
            "lightning_prefill_fla_s": kernels["fla"], "lightning_prefill_ours_s": kernels["ours"],
            "lightning_prefill_vllm_s": kernels["vllm"],
            "lightning_prefill_ours_config": ours_config if kernels["ours"] else None,
            "lightning_prefill_tflops": flops / light / 1e12 if light else None,
            "lightning_prefill_ceiling_pct": 100 * flops / light / 1e12 / ceiling
            if light else None,
            "lightning_prefill_floor_s": prefill_floor,
            "lightning_prefill_attainable_pct": prefill_attainable_pct(flops, prefill_floor,
                                                                       ceiling),
            "ours_vs_fla": _ratio(kernels["fla"], kernels["ours"]),
            "ours_vs_vllm": _ratio(kernels["vllm"], kernels["ours"]),
            "softmax_prefill_s": soft, "softmax_prefill_kernel": winner,
            "softmax_prefill_tflops": soft_flops / soft / 1e12 if soft else None,
            "prefill_ratio": _ratio(soft, light),
        })  # fmt: skip
    out.append(_lightning_decode_row(result["lightning_decode"], cold, bw))
    return out


def _batch_one(result: dict[str, Any], ctx: int) -> dict[str, Any]:
    """The prefill batches' batch-1 entry at ``ctx`` (the same measurement as that
    context's row, where a run measured only the batches), or an empty one."""
    return next((e for e in result.get("prefill_batches") or []
                 if e.get("batch") == 1 and e.get("context", 102400) == ctx), {})  # fmt: skip


def _lightning_decode_row(light: dict[str, Any], cold: bool, bw: float) -> dict[str, Any]:
    floor = light.get("floor_s") if cold else decode_state_bytes() / bw
    ours = light.get("triton_s") if cold else min(
        x for x in (light.get("torch_s"), light.get("fla_s"), light.get("triton_s")) if x)
    vllm, plain = light.get("vllm_s"), light.get("triton_plain_s")
    return {"context": None, "lightning_decode_s": ours, "lightning_floor_s": floor,
            "lightning_vs_floor": _ratio(ours, floor), "lightning_decode_vllm_s": vllm,
            "vllm_vs_floor": _ratio(vllm, floor), "cold": cold,
            "lightning_decode_config": light.get("triton_config"),
            "lightning_decode_plain_s": plain, "plain_vs_floor": _ratio(plain, floor)}  # fmt: skip


def softmax_prefill(row: dict[str, Any]) -> tuple[float | None, str | None]:
    """The fastest softmax prefill measured at this context, and its kernel's name."""
    found = {name: row.get(f"softmax_prefill_{name}_s") for name in ("flash", "cudnn", "flex")}
    found = {k: v for k, v in found.items() if v}
    if not found:
        return None, None
    winner = min(found, key=lambda k: found[k])
    return found[winner], winner


def serving_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The serving regime, when measured: M1 and an all-softmax stack side by side."""
    serving = result.get("serving")
    if not isinstance(serving, dict) or "m1" not in serving:
        return []
    out = []
    for name, label in (("m1", "M1 (70 lightning + 10 softmax)"),
                        ("all_softmax", "all-softmax, same shape")):  # fmt: skip
        e = serving[name]
        out.append({
            "stack": label, "sequences": e.get("sequences"),
            "gb_per_sequence": e["bytes_per_sequence"]["total"] / 1e9,
            "step_ms": e["step_s"] * 1e3 if e.get("step_s") else None,
            "tokens_per_s": e.get("tokens_per_s"), "generation_s": e.get("generation_s"),
        })  # fmt: skip
    return out


def _serving_panels(c: Any, e: Any, result: dict[str, Any], serving: list[dict[str, Any]],
                    batched: list[dict[str, Any]]) -> None:  # fmt: skip
    """The lower panels: batched decode per layer, and one node at 100K context."""
    for bsz in sorted({r["batch"] for r in batched}):
        pts = [(r["context"] / 1024, r["best_s"] * 1e3) for r in batched
               if r["batch"] == bsz and r.get("best_s")]  # fmt: skip
        c.plot(*zip(*pts, strict=True), marker="o", label=f"softmax, batch {bsz}")
    light = (result.get("batched_decode") or {}).get("lightning") or {}
    for bsz, v in sorted(light.items(), key=lambda kv: int(kv[0])):
        if v.get("s"):
            c.axhline(v["s"] * 1e3, ls="--", lw=1, color="grey")
            c.annotate(f"lightning, batch {bsz}", (0.01, v["s"] * 1e3), fontsize=7,
                       xycoords=("axes fraction", "data"), va="bottom")  # fmt: skip
    c.set_yscale("log")
    c.set_xlabel("context (K tokens)")
    c.set_ylabel("decode step per layer (ms)")
    c.set_title("batched decode, one layer")
    c.legend(fontsize=7)
    c.grid(alpha=0.3)
    labels = ["sequences", "decode tok/s ÷ 100", "100K answer, s ÷ 10"]
    xs = range(len(labels))
    for i, row in enumerate(serving):
        vals = [row["sequences"] or 0, (row["tokens_per_s"] or 0) / 100,
                (row["generation_s"] or 0) / 10]  # fmt: skip
        e.bar([x + 0.38 * i for x in xs], vals, width=0.38, label=row["stack"])
    e.set_xticks([x + 0.19 for x in xs], labels, fontsize=7)
    e.set_title("one 8-GPU node at 100K context (attention only)")
    e.legend(fontsize=7)
    e.grid(alpha=0.3, axis="y")


def measured_batches(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The 100K prefill batches with at least one kernel's time."""
    return [e for e in result.get("prefill_batches") or []
            if any(e.get(k) for k in ("fla_s", "ours_s", "vllm_s"))]  # fmt: skip


def _prefill_panel(b: Any, result: dict[str, Any], rows: list[dict[str, Any]],
                   ctx: list[float]) -> None:  # fmt: skip
    """Prefill per context where measured; else the 100K prefill by batch (a run of the
    batches part only); else a panel that says prefill was not measured."""
    keys = (("lightning_prefill_s", "lightning prefill (fla chunk_simple_gla)", "s"),
            ("lightning_prefill_ours_s", "lightning prefill (ours, Triton)", "D"),
            ("lightning_prefill_vllm_s", "lightning prefill (vLLM 0.23, fp32, as served)", "x"))
    best = [softmax_prefill(r) for r in rows]
    batches = measured_batches(result)
    if any(r.get(k) for r in rows for k, _, _ in keys) or any(t for t, _ in best):
        for key, label, marker in keys:
            if key == "lightning_prefill_s" or any(r.get(key) for r in rows):
                b.plot(ctx, [(r.get(key) or float("nan")) * 1e3 for r in rows], marker=marker,
                       label=label)  # fmt: skip
        names = sorted({w for _, w in best if w})
        b.plot(ctx, [(t or float("nan")) * 1e3 for t, _ in best], marker="o",
               label=f"softmax prefill, best of SDPA/flex ({', '.join(names)})")  # fmt: skip
        b.set_xlabel("context (K tokens)")
        b.set_title("prefill, one layer")
    elif batches:
        kernels = (("fla_s", "fla chunk_simple_gla"), ("ours_s", "ours, Triton"),
                   ("vllm_s", "vLLM 0.23, fp32, as served"))  # fmt: skip
        xs = range(len(batches))
        for i, (key, label) in enumerate(kernels):
            b.bar([x + 0.27 * i for x in xs], [(e.get(key) or 0) * 1e3 for e in batches],
                  width=0.27, label=label)  # fmt: skip
        b.set_xticks([x + 0.27 for x in xs], [f"batch {e['batch']}" for e in batches])
        b.set_xlabel("sequences of 100K tokens (prefill per context not measured)")
        b.set_title("lightning prefill at 100K, one layer")
    else:
        b.text(0.5, 0.5, "prefill not measured in this run", ha="center", va="center",
               transform=b.transAxes)  # fmt: skip
        b.set_title("prefill, one layer")
        return
    b.set_ylabel("prefill time per layer (ms)")
    b.set_yscale("log")
    b.legend(fontsize=8)
    b.grid(alpha=0.3)


def plot(result: dict[str, Any], path: Path | BinaryIO) -> None:
    """Decode and prefill per layer against context, saved as PNG to a path or a stream."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    ctx = [r["context"] / 1024 for r in rows]
    serving = serving_table(result)
    batched = (result.get("batched_decode") or {}).get("softmax") or []
    panels = 4 if serving and batched else 2
    rows_of_panels = panels // 2
    fig, grid = plt.subplots(rows_of_panels, 2, figsize=(11, 4.2 * rows_of_panels), dpi=110,
                             squeeze=False)  # fmt: skip
    axes = list(grid.flat)
    a, b = axes[0], axes[1]
    for key, label in (("softmax_decode_flash_s", "softmax decode (SDPA flash)"),
                       ("softmax_decode_cudnn_s", "softmax decode (SDPA cuDNN)"),
                       ("kv_floor_s", "softmax KV-read floor")):  # fmt: skip
        a.plot(ctx, [(r.get(key) or float("nan")) * 1e6 for r in rows], marker="o", label=label)
    light = floors(result)[-1]
    a.plot(ctx, [(light["lightning_decode_s"] or float("nan")) * 1e6] * len(ctx), marker="s",
           label="lightning decode, ours (constant)")  # fmt: skip
    if light.get("lightning_decode_vllm_s"):
        a.plot(ctx, [light["lightning_decode_vllm_s"] * 1e6] * len(ctx), marker="x",
               label="lightning decode, vLLM 0.23 (as served)")  # fmt: skip
    a.set_xlabel("context (K tokens)")
    a.set_ylabel("per-token decode time per layer (µs)")
    a.set_title(f"decode, one layer — {result['device']}")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    _prefill_panel(b, result, rows, ctx)
    if panels == 4:
        _serving_panels(axes[2], axes[3], result, serving, batched)
    fig.tight_layout()
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)


def totals(result: dict[str, Any]) -> None:
    """From the measured decode (in place): the serving projection and the 100K-token decode
    integral, with our kernels and as served by vLLM (its lightning decode kernel; flash
    attention for the softmax layers)."""
    from m1eval.profiler.lightning import integrate_decode
    from m1eval.profiler.serving_model import Node, project

    h, d = 64, 128
    batched = result["batched_decode"]
    served = {"lightning": {b: {"s": v.get("vllm_s")} for b, v in batched["lightning"].items()},
              "softmax": [{**r, "best_s": r.get("served_s")} for r in batched["softmax"]]}
    earlier = ((result.get("serving") or {}).get("node") or {}).get("gpu_bytes")
    node = Node(gpu_bytes=float(result.get("gpu_bytes") or earlier or Node().gpu_bytes))
    result["serving"] = project(batched, node)
    result["serving_vllm"] = project(served, node)
    ld = result["lightning_decode"]
    total = 100 * 1024
    flops_m1 = 70 * 4 * h * d * d * total + 10 * 2 * h * 2 * d * total * (total + 1) / 2
    flops_dense = 80 * 2 * h * 2 * d * total * (total + 1) / 2
    variants = (("decode_100k", ld.get("triton_s"), ("softmax_decode_flash_s",
                                                      "softmax_decode_cudnn_s")),
                ("decode_100k_vllm", ld.get("vllm_s"), ("softmax_decode_flash_s",)))  # fmt: skip
    for key, light, soft_keys in variants:
        soft = {r["context"]: min((r[k] for k in soft_keys if r.get(k)), default=None)
                for r in result["rows"]}  # fmt: skip
        soft = {c: t for c, t in soft.items() if t}
        if not light or not soft:
            result[key] = None
            continue
        m1 = integrate_decode({c: 70 * light + 10 * t for c, t in soft.items()}, total)
        dense = integrate_decode({c: 80 * t for c, t in soft.items()}, total)
        result[key] = {"m1_stack_s": m1, "all_softmax_s": dense, "latency_ratio": m1 / dense,
                       "flops_ratio": flops_m1 / flops_dense}  # fmt: skip


def _given(tuning: Any) -> bool:
    """Whether a prefill tuning is only the configuration a run was given (each entry noted
    so, none timed)."""
    configs = (tuning.get("configs") if isinstance(tuning, dict) else None) or []
    return bool(configs) and all(isinstance(c, dict) and c.get("note") and not c.get("s")
                                 for c in configs)  # fmt: skip


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Results of separate runs on one device (``PROFILE_PARTS=decode`` and ``prefill``, each
    within a call's time limit) as one: rows joined by context and the 100K prefill batches by
    batch, every other key taken whole; a later part's measurements over an earlier's (a part
    run again, a decode part after an ``all`` run, stands), what only an earlier part has
    kept, except a prefill tuning that timed nothing (a part run with its configuration
    given); the drops of every part listed; the floors and the projections computed again
    from the joined data."""
    devices = {p.get("device") for p in parts}
    if len(devices) != 1:
        raise ValueError(f"parts measured on different devices: {sorted(map(str, devices))}")
    merged: dict[str, Any] = {}
    rows: dict[int, dict[str, Any]] = {}
    batches: dict[int, dict[str, Any]] = {}
    for part in parts:
        for key, value in part.items():
            if key == "rows":
                for r in value:
                    rows.setdefault(r["context"], {}).update(r)
            elif key == "prefill_batches":  # joined by batch, as rows are by context
                for e in value or []:
                    batches.setdefault(e["batch"], {}).update(e)
            elif key == "floor_violations":
                merged[key] = list(dict.fromkeys([*(merged.get(key) or []), *(value or [])]))
            elif key == "prefill_tuning" and key in merged and _given(value):
                continue  # a part given its configuration ($PREFILL_CONFIG) timed no tuning
            elif value is not None:
                merged[key] = value
    merged["rows"] = [rows[c] for c in sorted(rows)]
    if batches:
        merged["prefill_batches"] = [batches[b] for b in sorted(batches)]
    merged["parts"] = sorted({x for p in parts for x in p.get("parts") or []})
    # the floors again over the joined data: the last part's probes, or the fastest time any
    # part kept, whichever is faster, for every floor shown
    enforce_floors(merged)
    if "batched_decode" in merged:
        totals(merged)
    return merged
