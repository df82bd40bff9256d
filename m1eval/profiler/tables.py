"""The profiler's tables in the terminal: cumulative FLOPs, and measured attention latency
with the serving projection."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from m1eval.profiler.report import measured_batches, serving_table


def make_console() -> Console:
    """A terminal's own width; ``COLUMNS`` where set; logs and pipes get room for whole
    tables (not squeezed into 80 columns)."""
    out = Console(highlight=False)
    if not out.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        out = Console(highlight=False, width=max(out.width, 200))
    return out


def _fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def print_flops(result: dict[str, Any], out_dir: Path) -> None:
    console = make_console()
    lengths = list(next(iter(result["models"].values())))
    table = Table(title=f"cumulative FLOPs to generate L tokens ({result['convention']})",
                  title_justify="left")  # fmt: skip
    table.add_column("model")
    for n in lengths:
        table.add_column(f"{int(n) / 1024:g}K", justify="right")
    for model, row in result["models"].items():
        table.add_row(model, *(f"{row[n]:.3e}" for n in lengths))
    for name, row in (result.get("ratios") or {}).items():
        table.add_row(name, *(f"{row[n]:.3f}" for n in lengths))
    console.print(table)
    console.print(f"results: {out_dir} (flops.json, flops.png)")


def print_latency(result: dict[str, Any], rows: list[dict[str, Any]], out_dir: Path) -> None:
    console = make_console()
    c = result["ceilings"]
    read = f", read {c['read_gbps']:.0f} GB/s" if c.get("read_gbps") else ""
    how = ("cold caches: distinct per-layer buffers cycled" if result.get("method") == "cold"
           else "one buffer per measurement (warm caches)")  # fmt: skip
    console.print(f"{result['device']}: matmul {c['matmul_tflops']:.0f} TFLOP/s, "
                  f"copy {c['copy_gbps']:.0f} GB/s{read} (measured in the same run); "
                  f"decode with {how}")  # fmt: skip
    if c.get("floor_gbps"):
        console.print(f"floors at {c['floor_gbps']:.0f} GB/s, the fastest read of the run "
                      f"({c.get('floor_set_by')}); a time beyond the device's sheet "
                      "bandwidth is dropped")  # fmt: skip
    table = Table(title="per layer, M1 shapes (64 heads x 128; 8 KV heads)", title_justify="left")
    for col in ("context", "softmax decode µs", "floor µs", "x floor", "lightning prefill ms",
                "fastest", "% ceiling", "ours/fla", "vLLM (served) ms", "ours/vLLM",
                "softmax prefill ms", "kernel", "softmax/lightning"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        if r["context"] is None:
            continue
        table.add_row(f"{r['context']:,}", _fmt(_us(r["softmax_decode_s"]), 1),
                      _fmt(_us(r["softmax_floor_s"]), 1), _fmt(r["softmax_vs_floor"], 2),
                      _fmt(_ms(r["lightning_prefill_s"]), 2),
                      r.get("lightning_prefill_kernel") or "-",
                      _fmt(r.get("lightning_prefill_ceiling_pct"), 1),
                      _fmt(r.get("ours_vs_fla"), 2),
                      _fmt(_ms(r.get("lightning_prefill_vllm_s")), 2),
                      _fmt(r.get("ours_vs_vllm"), 1),
                      _fmt(_ms(r.get("softmax_prefill_s")), 2),
                      r.get("softmax_prefill_kernel") or "-",
                      _fmt(r.get("prefill_ratio"), 1))  # fmt: skip
    console.print(table)
    attainable = next((r["lightning_prefill_attainable_pct"] for r in rows
                       if r.get("lightning_prefill_attainable_pct")), None)  # fmt: skip
    if attainable is not None and attainable < 100:
        console.print(f"lightning prefill is bound by memory here: reading q, k, v and writing "
                      f"the output once (bf16) allows at most {attainable:.0f}% of the matmul "
                      f"ceiling (its chunked form does {_prefill_intensity():.0f} FLOPs per "
                      "byte)")  # fmt: skip
    timed = [(f"{r['context'] // 1024}K", r.get("lightning_prefill_ours_config"))
             for r in rows[:-1] if r.get("lightning_prefill_ours_s")]  # fmt: skip
    if timed:
        console.print(f"ours per context: {ours_kernels(timed)}")
    light = rows[-1]
    served = (f"; vLLM's kernel as served {_us(light['lightning_decode_vllm_s']):.2f} µs "
              f"({light['vllm_vs_floor']:.2f}x)" if light.get("lightning_decode_vllm_s")
              else "")  # fmt: skip
    config = light.get("lightning_decode_config")
    console.print(f"lightning decode: ours {_fmt(_us(light['lightning_decode_s']), 2)} µs per "
                  f"layer per token{f' ({config})' if config else ''} (floor "
                  f"{_us(light['lightning_floor_s']):.2f} µs, "
                  f"{_fmt(light['lightning_vs_floor'], 2)}x){served}; independent of the "
                  "context")  # fmt: skip
    if config and config.endswith("-pdl"):
        console.print(_pdl_words(light))
    for key, how in (("graph_node_s", ""), ("graph_node_pdl_s", ", with PDL")):
        if result.get(key):
            console.print(f"an empty kernel launched the same way{how} (512 programs, a node "
                          f"per layer of one CUDA graph) takes {_us(result[key]):.2f} µs per "
                          "layer: a fixed cost the bytes-only floor leaves out")  # fmt: skip
    _print_prefill_batches(console, result)
    _print_totals(console, result)
    dropped = result.get("floor_violations") or []
    if dropped:
        console.print(f"warning: {len(dropped)} measurement(s) below their floor were dropped "
                      f"as measurement errors (listed in floor_violations), e.g. {dropped[0]}",
                      style="yellow", markup=False)  # fmt: skip
    console.print(f"results: {out_dir} (attention_latency.json, latency.png)")


def _config_name(cfg: dict[str, Any]) -> str:
    split = f", {cfg['NSEG']} segments" if cfg.get("NSEG") else ""
    if cfg.get("KERNEL") == "ws":
        return (f"warp-specialized, WS {cfg.get('WS', 1)}, BV {cfg.get('BV')}, "
                f"{cfg.get('STAGES')} stages (a loader warp, an intra-chunk and a state "
                "warpgroup)")  # fmt: skip
    return (f"form {cfg.get('FORM', 0)}, BV {cfg.get('BV')}, {cfg.get('num_warps')} warps, "
            f"{cfg.get('STAGES')} stages{split}")  # fmt: skip


def ours_kernels(timed: list[tuple[str, Any]]) -> str:
    """Which configuration of our prefill kernel timed each measurement (``timed``: a label
    and the configuration its run recorded, None where a run before the field recorded
    none), grouped: a joined result may hold measurements of different kernels."""
    groups: dict[str, list[str]] = {}
    for label, cfg in timed:
        name = _config_name(cfg) if isinstance(cfg, dict) else "configuration not recorded"
        groups.setdefault(name, []).append(label)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"at {', '.join(labels)}: {name}" for name, labels in groups.items())


def _print_prefill_batches(console: Console, result: dict[str, Any]) -> None:
    """Lightning prefill at 100K per batch (fla, ours, vLLM as served), and what the tuning
    of our kernel tried and chose."""
    entries = measured_batches(result)
    if entries:
        table = Table(title="lightning prefill at 100K per batch (ms)", title_justify="left")
        for col in ("batch", "fla", "ours", "vLLM (served)", "ours/fla"):
            table.add_column(col, justify="right")
        for e in entries:
            ratio = e["fla_s"] / e["ours_s"] if e.get("fla_s") and e.get("ours_s") else None
            table.add_row(str(e["batch"]), _fmt(_ms(e.get("fla_s")), 2),
                          _fmt(_ms(e.get("ours_s")), 2), _fmt(_ms(e.get("vllm_s")), 1),
                          _fmt(ratio, 2))  # fmt: skip
        console.print(table)
        timed = [(f"batch {e['batch']}", e.get("ours_config")) for e in entries
                 if e.get("ours_s")]  # fmt: skip
        if timed:
            console.print(f"ours at 100K per batch: {ours_kernels(timed)}")
    tuning = result.get("prefill_tuning") or {}
    tried = [c for c in tuning.get("configs") or [] if c.get("s")]
    if tuning.get("best") and tried:
        skipped = len(tuning["configs"]) - len(tried)
        console.print(f"our prefill kernel, tuned at 100K: {_config_name(tuning['best'])}, "
                      f"fastest of {len(tried)} configurations timed"
                      + (f" ({skipped} not timed: failed, wrong or out of time)" if skipped
                         else ""))  # fmt: skip


def _pdl_words(light: dict[str, Any]) -> str:
    """What a PDL launch assumes, and the step without it."""
    plain = light.get("lightning_decode_plain_s")
    without = (f"; launched plainly, the fastest step takes {_us(plain):.2f} µs "
               f"({_fmt(light.get('plain_vs_floor'), 2)}x)" if plain else "")  # fmt: skip
    deferred = ("; deferred: the state in memory is one token behind, each step applying the "
                "update the last one left before it waits, and letting the next step start "
                "once it has drawn its ticket (a ticket per state block orders one layer's "
                "steps)"
                if "-deferred" in light["lightning_decode_config"] else "")  # fmt: skip
    return ("  launched with programmatic dependent launch (PDL): the step's state traffic "
            "overlaps the node before it, here the previous layer's step; in a served model "
            f"only where the kernel before it releases it early{deferred}{without}")


def _prefill_intensity() -> float:
    from m1eval.profiler.cold import prefill_bytes
    from m1eval.profiler.lightning_prefill import chunk_flops

    return chunk_flops(1) / sum(prefill_bytes(1, 1))


def _us(x: float | None) -> float | None:
    return None if x is None else x * 1e6


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1e3


def _print_totals(console: Console, result: dict[str, Any]) -> None:
    for key, label in (("decode_100k", "with our kernels"),
                       ("decode_100k_vllm", "as served by vLLM 0.23")):  # fmt: skip
        d = result.get(key)
        if d:
            console.print(f"100K-token decode, attention only, {label}: M1 stack (70 lightning "
                          f"+ 10 softmax) {d['m1_stack_s']:.0f} s vs all-softmax "
                          f"{d['all_softmax_s']:.0f} s: latency ratio {d['latency_ratio']:.3f}, "
                          f"FLOPs ratio {d['flops_ratio']:.3f}")  # fmt: skip
    for key, label in (("serving", "with our kernels"), ("serving_vllm", "as served by vLLM")):
        serving = serving_table({"serving": result.get(key)})
        if not serving:
            continue
        table = Table(title=f"serving one 8-GPU node at 100K context, decode attention only, "
                      f"{label}", title_justify="left")  # fmt: skip
        for col in ("stack", "GB per sequence", "sequences", "step ms", "tokens/s",
                    "100K answer s"):  # fmt: skip
            table.add_column(col, justify="left" if col == "stack" else "right")
        for r in serving:
            table.add_row(r["stack"], f"{r['gb_per_sequence']:.2f}", str(r["sequences"]),
                          _fmt(r["step_ms"], 2), _fmt(r["tokens_per_s"], 0),
                          _fmt(r["generation_s"], 0))  # fmt: skip
        console.print(table)
        s = result[key]
        if s.get("throughput_ratio"):
            console.print(f"M1 decodes {s['throughput_ratio']:.1f}x the tokens/s of the "
                          f"all-softmax stack per node, {label}")  # fmt: skip
