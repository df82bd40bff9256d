"""Reading a saved latency result: its table against the floors, and its plots (CPU only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from m1eval import boundedjson
from m1eval.errors import DataError
from m1eval.profiler.lightning import decode_state_bytes, softmax_decode_bytes


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
    out = []
    for row in result["rows"]:
        ctx = row["context"]
        best = min(x for x in (row.get("softmax_decode_flash_s"), row.get("softmax_decode_cudnn_s"))
                   if x)  # fmt: skip
        floor = softmax_decode_bytes(ctx) / bw
        prefill = row.get("lightning_prefill_s")
        flops = 64 * ctx * (4 * 64 * 128 + 4 * 128 * 128)  # chunk 64: intra + state terms
        out.append({
            "context": ctx, "softmax_decode_s": best, "softmax_floor_s": floor,
            "softmax_vs_floor": best / floor,
            "lightning_prefill_s": prefill,
            "lightning_prefill_tflops": flops / prefill / 1e12 if prefill else None,
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


def plot(result: dict[str, Any], path: Path | BinaryIO) -> None:
    """Decode and prefill per layer against context, saved as PNG to a path or a stream."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    ctx = [r["context"] / 1024 for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
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
    b.plot(ctx, [(r.get("softmax_prefill_flash_s") or float("nan")) * 1e3 for r in rows],
           marker="o", label="softmax prefill (SDPA flash, causal)")  # fmt: skip
    b.set_xlabel("context (K tokens)")
    b.set_ylabel("prefill time per layer (ms)")
    b.set_yscale("log")
    b.set_title("prefill, one layer")
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
