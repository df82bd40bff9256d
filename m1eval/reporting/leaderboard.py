"""``m1eval report RUN... --out reports/NAME``: the M1 Table-2 reproduction as Markdown + HTML."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from m1eval.errors import DataError
from m1eval.fsutil import atomic_write_text
from m1eval.manifests import load_manifest
from m1eval.reporting.samples import write_sample_pages
from m1eval.reporting.verdict import verdict
from m1eval.results import find_runs, read_manifest, read_summary


def rows_for(run_dir: Path) -> list[dict[str, Any]]:
    manifest, summary = read_manifest(run_dir), read_summary(run_dir)
    if not summary:
        raise DataError(f"run {run_dir} has no summary.json (unfinished?)")
    model = (manifest.get("identity") or {}).get("model") or summary.get("model")
    rows = []
    for suite, s in summary["suites"].items():
        try:
            m = load_manifest(suite)
            deviations = list(m.deviations)
            paper_items = m.paper.get("n_items")
        except Exception:
            deviations, paper_items = [], None
        paper = s.get("paper") or {}
        entries = [(suite, s.get("score"), s.get("ci_low"), s.get("ci_high"), paper.get("score"))]
        for name, agg in (s.get("aggregates") or {}).items():  # MRCR: 128K and 1M
            head = agg.get(agg.get("headline", "mean_up_to"), {})
            entries.append((f"{suite} ({name})", head.get("score"), head.get("ci_low"),
                            head.get("ci_high"), agg.get("paper")))  # fmt: skip
        for label, score, lo, hi, paper_score in entries:
            rows.append({
                "run": run_dir.name, "model": model, "suite": label,
                "score": score, "ci_low": lo, "ci_high": hi, "paper": paper_score,
                "paper_column": paper.get("column"),
                "verdict": verdict(score, lo, hi, paper_score, paper_items),
                "outcomes": s.get("outcomes", {}),
                "truncation_rate": s.get("truncation_rate"),
                "deviations": deviations, "complete": s.get("complete"),
            })  # fmt: skip
    return rows


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    notes: list[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[^{notes.index(text) + 1}]"

    lines = [
        "# MiniMax-M1 Table 2 reproduction", "",
        "| model | suite | score | 95% CI | paper | verdict | scored / fail / err / skip | "
        "truncated |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        o = r["outcomes"]
        marks = "".join(note(d) for d in r["deviations"])
        trunc = "—" if r["truncation_rate"] is None else f"{100 * r['truncation_rate']:.0f}%"
        lines.append(
            f"| {r['model']} | {r['suite']}{marks} | {_fmt(r['score'])} | "
            f"{_fmt(r['ci_low'])}–{_fmt(r['ci_high'])} | {_fmt(r['paper'])} | {r['verdict']} | "
            f"{o.get('scored', 0)} / {o.get('model_failure', 0)} / {o.get('infra_error', 0)} / "
            f"{o.get('skipped', 0)} | {trunc} |"
        )
    lines += ["", "Verdicts compare the paper's number with our 95% interval (widened by the "
              "paper's sampling error where known); intervals wider than 20 points are "
              "inconclusive.", ""]  # fmt: skip
    lines += [f"[^{i + 1}]: {text}" for i, text in enumerate(notes)]
    return "\n".join(lines) + "\n"


def plot_png(rows: list[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5), dpi=100)
    ys = range(len(rows))
    for y, r in zip(ys, rows, strict=True):
        if r["score"] is not None:
            err = [[r["score"] - (r["ci_low"] or r["score"])],
                   [(r["ci_high"] or r["score"]) - r["score"]]]  # fmt: skip
            ax.errorbar(r["score"], y, xerr=err, fmt="o", color="tab:blue",
                        label="ours (95% CI)" if y == 0 else None)  # fmt: skip
        if r["paper"] is not None:
            ax.plot(r["paper"], y, "D", color="tab:orange", label="paper" if y == 0 else None)
    ax.set_yticks(list(ys), [f"{r['suite']} · {r['model']}" for r in rows], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("score")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def html_page(rows: list[dict[str, Any]], md: str, runs: list[str] | None = None) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("m1eval.reporting", "templates"),
                      autoescape=select_autoescape())  # fmt: skip
    png = base64.b64encode(plot_png(rows)).decode()
    template = env.get_template("leaderboard.html")
    return template.render(rows=rows, plot=png, fmt=_fmt, escape=html.escape, runs=runs or [])


def build_report(paths: list[str], out: Path) -> Path:
    runs = [r for p in paths for r in find_runs(p)]
    if not runs:
        raise DataError(f"no run found in {', '.join(paths)}")
    rows = [row for run in runs for row in rows_for(run)]
    md = markdown(rows)
    atomic_write_text(out / "report.md", md)
    atomic_write_text(out / "index.html", html_page(rows, md, [r.name for r in runs]))
    for run in runs:
        write_sample_pages(run, out / "runs")
    return out
