"""Terminal tables for summaries, run lists and suites (stdout; rich degrades to plain text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from m1eval.results import read_manifest, read_summary


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:  # logs and pipes: do not squeeze tables into 80 columns
        console = Console(highlight=False, width=max(console.width, 140))
    return console


def _fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def print_summary(summary: dict[str, Any], run_dir: Path, stats: Any | None = None) -> None:
    console = _console()
    title = escape(f"{summary['run_id']} · {summary['model']}")  # a server's text is not markup
    table = Table(title=title, title_justify="left")
    for col in ("suite", "score", "95% CI", "err as 0", "paper", "items", "samples",
                "ok/fail/err/skip", "trunc"):  # fmt: skip
        table.add_column(col, justify="left" if col == "suite" else "right")
    for name, s in summary["suites"].items():
        o = s["outcomes"]
        paper = s.get("paper") or {}
        table.add_row(
            name,
            f"{_fmt(s['score'])} {s['metric']}",
            f"{_fmt(s['ci_low'])}–{_fmt(s['ci_high'])}",
            _fmt((s.get("conservative") or {}).get("score")),
            f"{_fmt(paper.get('score'))}",
            str(s["n_items"]),
            str(s["n_samples"]),
            f"{o['scored']}/{o['model_failure']}/{o['infra_error']}/{o.get('skipped', 0)}",
            "—" if s["truncation_rate"] is None else f"{100 * s['truncation_rate']:.0f}%",
        )
    console.print(table)
    for name, s in summary["suites"].items():
        _print_breakdowns(console, name, s)
        extra = {**s.get("pass_at_k", {}), **s.get("maj_at_k", {})}
        if extra:
            console.print(f"{name}: " + "  ".join(f"{k} {_fmt(v)}" for k, v in extra.items()))
        paper = s.get("paper") or {}
        if paper.get("column"):
            console.print(f"{name}: paper column {paper['column']} ({paper.get('metric')})")
    if stats is not None:
        d = stats.to_dict()
        console.print(
            f"{d['requested']} samples: {d['reused']} reused, {d['executed']} asked "
            f"({d['wall_s']:.1f} s, {d['tokens_per_s'] or 0:.1f} tok/s, "
            f"{d['http_retries']} HTTP retries)"
        )
    console.print(f"results: {run_dir}")
    for name, s in summary["suites"].items():
        if (s.get("dataset") or {}).get("matches_pin") is False:
            console.print(
                f"[yellow]{name}: the dataset's content differs from the pinned checksum; "
                "scores may not be comparable to the paper (see manifest.json)[/yellow]"
            )
        if not s["complete"]:
            console.print(
                f"[yellow]{name}: {s['outcomes']['infra_error']} infra errors are not in the "
                'score ("err as 0" counts them as wrong); rerun the same command to retry '
                "them[/yellow]"
            )


def _print_breakdowns(console: Console, name: str, s: dict[str, Any]) -> None:
    """Suite-specific sections: MRCR context bins and aggregates, LongBench-v2 categories."""
    if s.get("bins"):
        table = Table(title=f"{name}: by context bin (o200k tokens)", title_justify="left")
        for col in ("bin", "score", "95% CI", "items", "scored", "skipped", "err"):
            table.add_column(col, justify="left" if col == "bin" else "right")
        for label, b in s["bins"].items():
            o = b["outcomes"]
            table.add_row(label, _fmt(b["score"]), f"{_fmt(b['ci_low'])}–{_fmt(b['ci_high'])}",
                          str(b["n_items"]), str(o["scored"] + o["model_failure"]),
                          str(o["skipped"]), str(o["infra_error"]))  # fmt: skip
        console.print(table)
    for agg_name, agg in (s.get("aggregates") or {}).items():
        parts = []
        for convention in ("mean_up_to", "top_bin"):
            c = agg[convention]
            mark = "*" if convention == agg["headline"] else ""
            parts.append(
                f"{convention}{mark} {_fmt(c['score'])} [{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]"
                f" ({c['bins_scored']}/{c['bins_expected']} bins)"
            )
        console.print(
            f"{name} {agg_name}: " + "   ".join(parts) + f"   paper {_fmt(agg.get('paper'))}"
        )
    if s.get("categories"):
        table = Table(title=f"{name}: {s.get('protocol', '')}", title_justify="left")
        for col in ("category", "score", "failures as wrong", "n", "failed requests"):
            table.add_column(col, justify="left" if col == "category" else "right")
        order = ["Overall", "Easy", "Hard", "Short", "Medium", "Long"]
        cats = sorted(s["categories"].items(), key=lambda kv: order.index(kv[0])
                      if kv[0] in order else len(order))  # fmt: skip
        for cat, c in cats:
            table.add_row(cat, _fmt(c["score"]), _fmt(c["score_failures_as_wrong"]), str(c["n"]),
                          str(c["n_infra_error"]))  # fmt: skip
        console.print(table)


def print_run_list(runs: list[Path]) -> None:
    console = _console()
    table = Table(title="runs", title_justify="left")
    for col in ("run_id", "status", "suite", "model", "score", "samples", "created"):
        table.add_column(col)
    for run_dir in runs:
        m = read_manifest(run_dir)
        s = read_summary(run_dir) or {}
        for name, suite in (s.get("suites") or {"": None}).items():
            table.add_row(
                m.get("run_id", run_dir.name),
                str(m.get("status")),
                name or (m.get("suite") or {}).get("name", "?"),
                (m.get("identity") or {}).get("model", "?"),
                _fmt(suite["score"]) if suite else "—",
                str(suite["n_samples"]) if suite else "—",
                str(m.get("created_at", "")),
            )
    if not runs:
        console.print("no runs")
        return
    console.print(table)


def print_run(run_dir: Path, as_json: bool = False, items: bool = False) -> None:
    manifest = read_manifest(run_dir)
    summary = read_summary(run_dir)
    if as_json:
        print(json.dumps({"manifest": manifest, "summary": summary}, indent=2, sort_keys=True))
        return
    console = _console()
    ident = manifest.get("identity", {})
    ds = manifest.get("dataset", {})
    console.print(f"[bold]{manifest.get('run_id')}[/bold]  status: {manifest.get('status')}")
    console.print(
        f"model {ident.get('model')} at {(manifest.get('endpoint') or {}).get('base_url')}"
    )
    console.print(f"protocol {ident.get('protocol')}  sampling {json.dumps(ident.get('sampling'))}")
    console.print(
        f"dataset {ds.get('repo_id')}@{ds.get('revision')} split {ds.get('split')} "
        f"({ds.get('source')}, sha256 {str(ds.get('content_sha256'))[:12]}, "
        f"matches pin: {ds.get('matches_pin')})"
    )
    if summary:
        print_summary(summary, run_dir)
        if items:
            for name, s in summary["suites"].items():
                print_items(name, s["per_item"])
    else:
        console.print("no summary yet (run interrupted?); rerun the same command to finish it")


def print_items(suite: str, per_item: dict[str, dict[str, Any]]) -> None:
    """Per-item pass rates: which problems the model solves, and how reliably."""
    table = Table(title=f"{suite}: per item", title_justify="left")
    for col in ("item", "samples", "graded", "mean score"):
        table.add_column(col, justify="left" if col == "item" else "right")
    for item_id, row in per_item.items():
        mean = row["mean_score"]
        table.add_row(item_id, str(row["n"]), str(row["n_graded"]), _fmt(None if mean is None
                      else 100 * mean))  # fmt: skip
    _console().print(table)


def _paper_cell(manifest: Any, column: str) -> str:
    rows = manifest.paper.get("rows") or {}
    if rows:
        return "  ".join(f"{_fmt((v or {}).get(column))} ({k})" for k, v in rows.items())
    return _fmt(manifest.paper_scores.get(column))


def print_suites(manifests: list[Any]) -> None:
    console = _console()
    table = Table(title="suites", title_justify="left")
    for col in ("suite", "title", "dataset", "protocol", "MiniMax-M1-80k", "MiniMax-M1-40k"):
        table.add_column(col)
    for m in manifests:
        table.add_row(
            m.name,
            m.title,
            f"{m.dataset.repo_id} ({m.dataset.split})",
            str(m.paper.get("metric", "")),
            _paper_cell(m, "MiniMax-M1-80k"),
            _paper_cell(m, "MiniMax-M1-40k"),
        )
    console.print(table)


def print_flops(result: dict[str, Any], out_dir: Path) -> None:
    console = _console()
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
    console = _console()
    c = result["ceilings"]
    console.print(f"{result['device']}: matmul {c['matmul_tflops']:.0f} TFLOP/s, "
                  f"copy {c['copy_gbps']:.0f} GB/s (measured in the same run)")  # fmt: skip
    table = Table(title="per layer, M1 shapes (64 heads x 128; 8 KV heads), bf16",
                  title_justify="left")  # fmt: skip
    for col in ("context", "softmax decode µs", "KV floor µs", "x floor",
                "lightning prefill ms", "TFLOP/s"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        if r["context"] is None:
            continue
        table.add_row(f"{r['context']:,}", f"{r['softmax_decode_s'] * 1e6:.1f}",
                      f"{r['softmax_floor_s'] * 1e6:.1f}", f"{r['softmax_vs_floor']:.2f}",
                      _fmt((r["lightning_prefill_s"] or 0) * 1e3, 2),
                      _fmt(r["lightning_prefill_tflops"], 0))  # fmt: skip
    console.print(table)
    light = rows[-1]
    console.print(f"lightning decode: {light['lightning_decode_s'] * 1e6:.1f} µs per layer per "
                  f"token (state floor {light['lightning_floor_s'] * 1e6:.1f} µs, "
                  f"{light['lightning_vs_floor']:.2f}x), independent of the context")  # fmt: skip
    d = result["decode_100k"]
    console.print(
        f"100K-token decode, attention only: M1 stack (70 lightning + 10 softmax) "
        f"{d['m1_stack_s']:.0f} s vs all-softmax {d['all_softmax_s']:.0f} s: latency "
        f"ratio {d['latency_ratio']:.3f}, FLOPs ratio {d['flops_ratio']:.3f}"
    )
    console.print(f"results: {out_dir} (attention_latency.json, latency.png)")


def print_compare(result: dict[str, Any]) -> None:
    console = _console()
    table = Table(title=f"{result['base']} -> {result['cand']} (Holm, alpha {result['alpha']})",
                  title_justify="left")  # fmt: skip
    for col in ("test", "method", "items", "base", "cand", "effect", "p (adj.)", "verdict"):
        table.add_column(col, justify="left" if col in ("test", "method", "verdict") else "right")
    for t in result["tests"]:
        verdict = ("REGRESSION" if t["regression"] else
                   "significant" if t["significant"] else "no significant change")  # fmt: skip
        table.add_row(t["name"], t["method"], str(t["n_items"]), f"{t['base']:.1f}",
                      f"{t['cand']:.1f}", f"{t['effect']:+.1f}", f"{t['p_adjusted']:.3g}",
                      verdict)  # fmt: skip
    console.print(table)
    for t in result["tests"]:
        if t["flips"] and (t["significant"] or len(t["flips"]) <= 20):
            shown = ", ".join(f"{f['item_id']} {f['base']:g}->{f['cand']:g}"
                              for f in t["flips"][:20])  # fmt: skip
            console.print(f"{t['name']} flipped: {shown}")
    for note in result["drift"]:
        console.print(f"[yellow]drift: {note}[/yellow]")
