"""``profile serve``'s result: assembled, written, printed and plotted."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from m1eval.profiler.serve_stats import Trace, kernel_projection, ratio_by_bucket

KIND = "m1eval-profile-serve"
COLORS = ["tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive"]
VERSION = 1


def assemble(settings: dict[str, Any], target: tuple[dict, list[dict]],
             baseline: tuple[dict, list[dict]] | None = None,
             latency: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The JSON document: settings, each endpoint's fingerprint and levels, the ratio per
    position bucket where a baseline was measured, and the kernel-level projection (from a
    ``profile latency`` result) at the same positions."""
    fp, levels = target
    result: dict[str, Any] = {
        "kind": KIND, "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "target": {"fingerprint": fp, "levels": levels},
        "baseline": None, "ratio": None, "projection": None,
    }  # fmt: skip
    if baseline is not None:
        bfp, blevels = baseline
        result["baseline"] = {"fingerprint": bfp, "levels": blevels}
        by_c = {lv["concurrency"]: lv for lv in blevels}
        result["ratio"] = [ratio_by_bucket(lv, by_c[lv["concurrency"]]) for lv in levels
                           if lv["concurrency"] in by_c]  # fmt: skip
    if latency is not None and levels:
        prompt = int(settings.get("prompt_tokens") or 0)
        centres = [(b["lo"] + b["hi"]) / 2 for b in levels[0]["buckets"]]
        rows = kernel_projection(latency, [prompt + c for c in centres])
        result["projection"] = {"device": latency.get("device"), "prompt_tokens": prompt,
                                "positions": centres, "rows": rows}  # fmt: skip
    return result


def load(path: Path) -> dict[str, Any]:
    from m1eval.errors import ConfigError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ConfigError(f"{path} is not a profile serve result (no kind {KIND!r})")
    return data


def traces_jsonl(traces: dict[str, list[list[Trace]]], levels: list[int]) -> str:
    lines = []
    for side, per_level in traces.items():
        for c, group in zip(levels, per_level, strict=True):
            lines += [json.dumps({"endpoint": side, "concurrency": c, **t.to_json()})
                      for t in group]  # fmt: skip
    return "\n".join(lines) + ("\n" if lines else "")


def _us(x: float | None) -> str:
    return "—" if x is None else f"{1e6 * x:,.0f}"


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{1e3 * x:,.2f}"


def level_rows(levels: list[dict[str, Any]]) -> list[list[str]]:
    """One row per concurrency level (the terminal's and the report's table)."""
    rows = []
    for lv in levels:
        sl = lv["slope"]
        per_k = (f"{_us(1000 * sl['s_per_token'])} [{_us(1000 * sl['ci_low'])}, "
                 f"{_us(1000 * sl['ci_high'])}]" if sl["s_per_token"] is not None
                 else "—")  # fmt: skip
        rise = "—" if sl.get("rise_pct") is None else f"{sl['rise_pct']:+.1f}%"
        rate = lv["tokens_per_s"]
        per_req = lv["tokens_per_s_per_request"]
        rows.append([
            str(lv["concurrency"]), f"{lv['ok']}/{lv['generations']}",
            f"{lv['generated_min']:,}–{lv['generated_max']:,}",
            "—" if rate is None else f"{rate:,.1f}",
            "—" if per_req is None else f"{per_req:,.1f}",
            f"{_ms(lv['ttft_p50_s'])}/{_ms(lv['ttft_p99_s'])}",
            f"{_ms(lv['itl_p50_s'])}/{_ms(lv['itl_p99_s'])}",
            per_k, rise, sl["verdict"],
        ])  # fmt: skip
    return rows


LEVEL_COLUMNS = ["concurrency", "ok", "tokens", "tok/s", "tok/s per request",
                 "TTFT p50/p99 ms", "ITL p50/p99 ms", "ITL slope µs/1K tokens [95%]",
                 "rise over L", "ITL with position"]  # fmt: skip


def bucket_rows(result: dict[str, Any], level: int = 0) -> list[list[str]]:
    """Latency by position for one concurrency level, with the baseline, the ratio and the
    kernel projection's ratio where present."""
    lv = result["target"]["levels"][level]
    base = ((result.get("baseline") or {}).get("levels") or [None] * (level + 1))[level]
    ratio = (result.get("ratio") or [None] * (level + 1))[level]
    proj = (result.get("projection") or {}).get("rows") or []
    rows = []
    for i, b in enumerate(lv["buckets"]):
        row = [f"{b['lo']:,}–{b['hi']:,}", str(b["n"]), _ms(b["p50_s"]), _ms(b["p99_s"])]
        if base is not None:
            r = ratio["buckets"][i]["ratio_p50"] if ratio else None
            row += [_ms(base["buckets"][i]["p50_s"]), "—" if r is None else f"{r:.3f}"]
        if proj:
            pr = proj[i]["ratio"]
            row.append("—" if pr is None else f"{pr:.3f}")
        rows.append(row)
    return rows


def bucket_columns(result: dict[str, Any]) -> list[str]:
    cols = ["position", "tokens", "ITL p50 ms", "ITL p99 ms"]
    if result.get("baseline"):
        cols += ["baseline p50 ms", "ratio"]
    if (result.get("projection") or {}).get("rows"):
        cols.append("kernel projection ratio (attention only)")
    return cols


def plot(result: dict[str, Any], path: Path | io.BytesIO) -> None:
    """Left: median (solid) and p99 (dotted) inter-token latency against position, per
    concurrency, the baseline dashed. Right: the ratio to the baseline per position with
    the kernel projection, or, without a baseline, throughput against concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=100, layout="constrained")
    for i, lv in enumerate(result["target"]["levels"]):
        colour = COLORS[i % len(COLORS)]
        xs = [(b["lo"] + b["hi"]) / 2 for b in lv["buckets"]]
        left.plot(xs, [_ms_or_none(b["p50_s"]) for b in lv["buckets"]], "o-", color=colour,
                  label=f"c={lv['concurrency']} p50")  # fmt: skip
        left.plot(xs, [_ms_or_none(b["p99_s"]) for b in lv["buckets"]], ":", color=colour,
                  label=f"c={lv['concurrency']} p99")  # fmt: skip
    for i, lv in enumerate((result.get("baseline") or {}).get("levels") or []):
        xs = [(b["lo"] + b["hi"]) / 2 for b in lv["buckets"]]
        left.plot(xs, [_ms_or_none(b["p50_s"]) for b in lv["buckets"]], "s--",
                  color=COLORS[i % len(COLORS)], alpha=0.6,
                  label=f"baseline c={lv['concurrency']} p50")  # fmt: skip
    left.set_xlabel("generated position (tokens)")
    left.set_ylabel("inter-token latency (ms)")
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    _right_panel(right, result, COLORS)
    fig.savefig(path, format="png")
    plt.close(fig)


def _ms_or_none(x: float | None) -> float | None:
    return None if x is None else 1e3 * x


def _right_panel(ax: Any, result: dict[str, Any], colors: list[str]) -> None:
    proj = result.get("projection") or {}
    if result.get("ratio"):
        for i, r in enumerate(result["ratio"]):
            xs = [(b["lo"] + b["hi"]) / 2 for b in r["buckets"]]
            ax.plot(xs, [b["ratio_p50"] for b in r["buckets"]], "o-",
                    color=colors[i % len(colors)], label=f"measured c={r['concurrency']}")
        if proj.get("rows"):
            ax.plot(proj["positions"], [row["ratio"] for row in proj["rows"]], "k--",
                    label=f"kernel projection, attention only ({proj.get('device')})")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_ylabel("inter-token latency: target / baseline")
        ax.set_xlabel("generated position (tokens)")
        ax.set_ylim(bottom=0)
    else:
        levels = result["target"]["levels"]
        ax.plot([lv["concurrency"] for lv in levels], [lv["tokens_per_s"] for lv in levels],
                "o-", color=colors[0], label="tokens/s (all requests)")  # fmt: skip
        ax.set_xticks([lv["concurrency"] for lv in levels])  # the levels run, never 0.96
        ax.set_xlabel("concurrency")
        ax.set_ylabel("tokens/s")
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def print_result(result: dict[str, Any], out_dir: Path | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from m1eval.profiler.tables import make_console

    console = make_console()
    settings = result["settings"]
    for side in ("target", "baseline"):
        part = result.get(side)
        if not part:
            continue
        console.print(escape(f"{side}: {settings[side]['model']} at {settings[side]['base_url']}"
                             f", up to {settings['length']:,} tokens per generation"),
                      soft_wrap=True)  # fmt: skip
        table = Table()
        for col in LEVEL_COLUMNS:
            table.add_column(col, justify="left" if col == "ITL with position" else "right")
        for row in level_rows(part["levels"]):
            table.add_row(*row)
        console.print(table)
    for i, lv in enumerate(result["target"]["levels"]):
        console.print(f"by position, concurrency {lv['concurrency']}", style="italic")
        table = Table()
        for col in bucket_columns(result):
            table.add_column(col, justify="right")
        for row in bucket_rows(result, i):
            table.add_row(*row)
        console.print(table)
    for side in ("target", "baseline"):
        for lv in (result.get(side) or {}).get("levels") or []:
            if lv["ok"] and lv["generated_min"] < settings["length"]:
                console.print(escape(
                    f"warning: {side} at concurrency {lv['concurrency']}: some generations "
                    f"stopped at {lv['generated_min']:,} of {settings['length']:,} tokens (the "
                    "server ignored ignore_eos; pass --ban-token with its end-of-sequence id): "
                    "the last positions have fewer samples"), style="bold")  # fmt: skip
            if lv["failed"]:
                console.print(escape(f"warning: {side} at concurrency {lv['concurrency']}: "
                                     f"{len(lv['failed'])} generation(s) failed: "
                                     f"{lv['failed'][0]}"), style="bold")  # fmt: skip
    if out_dir is not None:
        console.print(escape(f"results: {out_dir}/serve.json, traces.jsonl, serve.png"))
