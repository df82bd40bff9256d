"""The report's pictures, each returned as PNG bytes (embedded in the HTML, written for the
Markdown): score against the paper, the breakdowns suites ask to see drawn (MRCR by context
bin), reasoning lengths and truncation, and the profiler's FLOPs and latency curves."""

from __future__ import annotations

import io
from typing import Any

from m1eval.reporting.usage import SuiteUsage

COLORS = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
          "tab:olive", "tab:cyan")  # fmt: skip


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    _plt().close(fig)
    return buf.getvalue()


def score_vs_paper(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    """One line per suite; each model's score with its 95% interval, the paper's diamond."""
    return _png(score_vs_paper_figure(rows, columns))


def score_vs_paper_figure(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    """The figure of ``score_vs_paper`` (open: the caller saves and closes it)."""
    plt = _plt()
    suites = list(dict.fromkeys(r["suite"] for r in rows))
    height = 0.35 * len(suites) * max(1, len(columns)) ** 0.5 + 2.2
    # constrained layout keeps the legend below the axes, where it hides no marker
    fig, ax = plt.subplots(figsize=(8.5, height), dpi=100, layout="constrained")
    step = 0.6 / max(1, len(columns))
    labelled: set[str] = set()

    def label(name: str) -> str | None:
        if name in labelled:
            return None
        labelled.add(name)
        return name

    for y, key in enumerate(suites):
        here = [r for r in rows if r["suite"] == key]
        for c, column in enumerate(columns):
            r = next((r for r in here if r["column"] == column), None)
            if r is None or r["score"] is None:
                continue
            lo = r["ci_low"] if r["ci_low"] is not None else r["score"]
            hi = r["ci_high"] if r["ci_high"] is not None else r["score"]
            offset = (c - (len(columns) - 1) / 2) * step
            ax.errorbar(r["score"], y + offset, xerr=[[r["score"] - lo], [hi - r["score"]]],
                        fmt="o", color=COLORS[c % len(COLORS)], capsize=3, clip_on=False,
                        label=label(column))  # fmt: skip
        for paper in {r["paper"] for r in here if r["paper"] is not None}:
            ax.plot(paper, y, "D", color="tab:orange", markersize=8, clip_on=False,
                    label=label("paper"))  # fmt: skip
    ax.set_yticks(range(len(suites)), suites, fontsize=8)
    ax.set_ylim(max(1, len(suites)) - 0.5, -0.5)
    ax.set_xlim(-2, 102)  # a score of 0 or 100 (and its marker) is drawn whole
    ax.set_xticks(range(0, 101, 10))
    ax.set_xlabel("score (95% CI)")
    ax.grid(alpha=0.3)
    if labelled:
        fig.legend(loc="outside lower center", ncol=min(4, len(labelled)), fontsize=8,
                   frameon=False)  # fmt: skip
    return fig


def breakdown_lines(bins_by_column: dict[str, dict[str, dict[str, Any]]], x_label: str,
                    y_label: str) -> bytes:  # fmt: skip
    """A breakdown's score per group (a suite's plot hint: MRCR's context bins), one line
    per leaderboard column, 95% intervals as error bars where the rows have them."""
    plt = _plt()
    labels = list(dict.fromkeys(b for bins in bins_by_column.values() for b in bins))
    fig, ax = plt.subplots(figsize=(8.5, 3.8), dpi=100)
    for c, (column, bins) in enumerate(bins_by_column.items()):
        xs, ys, err_lo, err_hi = [], [], [], []
        for x, label in enumerate(labels):
            b = bins.get(label) or {}
            if b.get("score") is None:
                continue
            lo = b["ci_low"] if b.get("ci_low") is not None else b["score"]
            hi = b["ci_high"] if b.get("ci_high") is not None else b["score"]
            xs.append(x)
            ys.append(b["score"])
            err_lo.append(b["score"] - lo)
            err_hi.append(hi - b["score"])
        ax.errorbar(xs, ys, yerr=[err_lo, err_hi], marker="o", capsize=3,
                    color=COLORS[c % len(COLORS)], label=column)  # fmt: skip
    ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=20)
    ax.set_ylim(0, 100)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def reasoning_lengths(usages: dict[str, list[SuiteUsage]]) -> bytes:
    """Per suite: the distribution of completion lengths per model, truncation rate beside it."""
    plt = _plt()
    suites = [s for s, us in usages.items() if any(u.lengths for u in us)]
    fig, axes = plt.subplots(len(suites), 1, squeeze=False, dpi=100,
                             figsize=(8.5, 1.1 + 0.45 * sum(len(usages[s]) for s in suites)
                                      + 0.5 * len(suites)))  # fmt: skip
    for ax, suite in zip(axes[:, 0], suites, strict=True):
        us = [u for u in usages[suite] if u.lengths]
        ax.boxplot([u.lengths for u in us], orientation="horizontal", widths=0.6, showfliers=True,
                   flierprops={"markersize": 2})  # fmt: skip
        names = []
        for u in us:
            rate = u.truncation_rate
            names.append(f"{u.run} · trunc {'—' if rate is None else f'{100 * rate:.0f}%'}")
        ax.set_yticks(range(1, len(us) + 1), names, fontsize=7)
        ax.set_title(suite, fontsize=9, loc="left")
        longest, shortest = max(max(u.lengths) for u in us), min(min(u.lengths) for u in us)
        if shortest > 0 and longest / shortest > 20:
            ax.set_xscale("log")
        ax.grid(alpha=0.3, axis="x")
    axes[-1, 0].set_xlabel("completion tokens per sample (reasoning + answer)")
    fig.tight_layout()
    return _png(fig)


def flops_curves(convention: str = "paper-figure", max_length: int = 131072) -> bytes:
    """Cumulative generation FLOPs of M1 against DeepSeek-R1 and Qwen3 (the paper's Figure 1
    right), and M1's share of each."""
    from m1eval.profiler.flops import MODELS, cost, load_config, model_color

    plt = _plt()
    costs = {m: cost(load_config(m), convention) for m in MODELS}
    xs = [int(i * max_length / 128) for i in range(1, 129)]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    for name, model in costs.items():
        a.plot([x / 1024 for x in xs], [model.total(x) for x in xs], label=name,
               color=model_color(name))  # fmt: skip
    a.set_xlabel("generated tokens (K)")
    a.set_ylabel("cumulative FLOPs")
    a.set_title(f"FLOPs to generate L tokens ({convention})", fontsize=9)
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    m1 = costs["minimax-m1"]
    for name, model in costs.items():
        if name != "minimax-m1":
            b.plot([x / 1024 for x in xs], [100 * m1.total(x) / model.total(x) for x in xs],
                   label=f"M1 / {name}", color=model_color(name))  # fmt: skip
    b.axvline(100, color="gray", linestyle=":", linewidth=1)
    b.set_xlabel("generated tokens (K)")
    b.set_ylabel("M1's FLOPs as % of the other")
    b.set_ylim(bottom=0)
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def latency(result: dict[str, Any]) -> bytes:
    """The measured per-layer decode and prefill times of a saved latency result."""
    from m1eval.profiler.report import plot

    buf = io.BytesIO()
    plot(result, buf)
    return buf.getvalue()
