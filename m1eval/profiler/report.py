"""Reading a saved latency result: its table against the floors, and its plots (CPU only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from m1eval import boundedjson
from m1eval.errors import DataError
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
    for key in ("device", "ceilings", "rows", "lightning_decode", "decode_100k"):
        if key not in result:
            raise DataError(f"{path}: not a latency result (no '{key}')")
    try:
        floors(result)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise DataError(f"{path}: not a latency result ({type(exc).__name__}: {exc})") from None
    return result


def floors(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each decode measurement next to its memory floor at the measured copy bandwidth."""
    bw = result["ceilings"]["copy_gbps"] * 1e9
    ceiling = result["ceilings"]["matmul_tflops"]
    out = []
    for row in result["rows"]:
        ctx = row["context"]
        best = min(x for x in (row.get("softmax_decode_flash_s"), row.get("softmax_decode_cudnn_s"))
                   if x)  # fmt: skip
        floor = softmax_decode_bytes(ctx) / bw
        fla = row.get("lightning_prefill_s")
        ours = row.get("lightning_prefill_ours_s")
        light = min((x for x in (fla, ours) if x), default=None)
        flops = chunk_flops(ctx)  # chunk 64: intra-chunk and state terms
        soft_flops = 2 * 2 * 64 * 128 * ctx * (ctx + 1) / 2  # causal QKᵀ and PV
        soft, winner = softmax_prefill(row)
        out.append({
            "context": ctx, "softmax_decode_s": best, "softmax_floor_s": floor,
            "softmax_vs_floor": best / floor,
            "lightning_prefill_s": light,
            "lightning_prefill_kernel": ("ours" if light is not None and light == ours
                                         else "fla" if light is not None else None),
            "lightning_prefill_fla_s": fla, "lightning_prefill_ours_s": ours,
            "lightning_prefill_tflops": flops / light / 1e12 if light else None,
            "lightning_prefill_ceiling_pct": 100 * flops / light / 1e12 / ceiling
            if light else None,
            "ours_vs_fla": fla / ours if fla and ours else None,
            "softmax_prefill_s": soft, "softmax_prefill_kernel": winner,
            "softmax_prefill_tflops": soft_flops / soft / 1e12 if soft else None,
            "prefill_ratio": soft / light if soft and light else None,
        })  # fmt: skip
    light = result["lightning_decode"]
    state_floor = decode_state_bytes() / bw
    best_light = min(x for x in (light.get("torch_s"), light.get("fla_s"), light.get("triton_s"))
                     if x)  # fmt: skip
    out.append({
        "context": None, "lightning_decode_s": best_light, "lightning_floor_s": state_floor,
        "lightning_vs_floor": best_light / state_floor,
    })  # fmt: skip
    return out


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
    ld = result["lightning_decode"]
    light = min(x for x in (ld.get("torch_s"), ld.get("fla_s"), ld.get("triton_s")) if x)
    a.plot(ctx, [light * 1e6] * len(ctx), marker="s", label="lightning decode (constant)")
    a.set_xlabel("context (K tokens)")
    a.set_ylabel("per-token decode time per layer (µs)")
    a.set_title(f"decode, one layer — {result['device']}")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    b.plot(ctx, [(r.get("lightning_prefill_s") or float("nan")) * 1e3 for r in rows],
           marker="s", label="lightning prefill (fla chunk_simple_gla)")  # fmt: skip
    if any(r.get("lightning_prefill_ours_s") for r in rows):
        b.plot(ctx, [(r.get("lightning_prefill_ours_s") or float("nan")) * 1e3 for r in rows],
               marker="D", label="lightning prefill (ours, Triton)")  # fmt: skip
    best = [softmax_prefill(r) for r in rows]
    names = sorted({w for _, w in best if w})
    b.plot(ctx, [(t or float("nan")) * 1e3 for t, _ in best], marker="o",
           label=f"softmax prefill, best of SDPA/flex ({', '.join(names)})")  # fmt: skip
    b.set_xlabel("context (K tokens)")
    b.set_ylabel("prefill time per layer (ms)")
    b.set_yscale("log")
    b.set_title("prefill, one layer")
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    if panels == 4:
        c, e = axes[2], axes[3]
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
    fig.tight_layout()
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
