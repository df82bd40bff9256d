"""``m1eval report RUN... --out reports/NAME``: the M1 Table-2 reproduction as Markdown + HTML."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

from m1eval.contract import contract_of, lead_score
from m1eval.errors import DataError
from m1eval.fsutil import atomic_write_bytes, atomic_write_text
from m1eval.reporting.escape import md
from m1eval.reporting.verdict import verdict
from m1eval.reporting.viewer import build_viewer
from m1eval.results import comparability, find_runs, read_manifest, read_summary
from m1eval.suite_specs import load_suite_spec


def rows_for(run_dir: Path) -> list[dict[str, Any]]:
    manifest, summary = read_manifest(run_dir), read_summary(run_dir)
    if not summary:
        raise DataError(f"run {run_dir} has no summary.json (unfinished?)")
    model = (manifest.get("identity") or {}).get("model") or summary.get("model")
    rows = []
    for suite, s in summary["suites"].items():
        recorded = manifest.get("suite") or {}
        try:
            m = load_suite_spec(suite)
            deviations = list(m.deviations)
            paper_items = m.paper.get("n_items")
        except Exception:  # lm-eval tasks, or a suite this checkout does not have
            deviations, paper_items = [], None
        if recorded.get("name") == suite and recorded.get("deviations") is not None:
            deviations = list(recorded["deviations"])  # as the run was made
        if s.get("fidelity"):  # the suite's spec names where its audit is written
            deviations.append(
                f"Where {suite} follows the official grader and where it departs, "
                f"with the options: {s['fidelity']}"
            )
        paper = s.get("paper") or {}
        headlines, _ = contract_of(suite, s)
        comp = comparability(manifest, suite, s)
        complete = s.get("complete", True)
        for i, h in enumerate(headlines):
            score, lo, hi, paper_score = h["score"], h["ci_low"], h["ci_high"], h["paper"]
            if i == 0 and not complete:  # lead with every sample left out counted as wrong
                lead = lead_score(s)
                score, lo, hi = lead["score"], lead["ci_low"], lead["ci_high"]
            judged = verdict(score, lo, hi, paper_score, paper_items)
            if paper_score is not None and not comp["comparable"]:
                judged = "not comparable"
            if not complete:  # nothing is judged against the paper while samples are missing
                judged = f"incomplete ({s.get('left_out', '?')} left out)"
            rows.append({
                "run": run_dir.name, "model": model, "suite": h["name"],
                "score": score, "ci_low": lo, "ci_high": hi, "paper": paper_score,
                "paper_column": paper.get("column"), "verdict": judged,
                "why_not_comparable": comp["why"] if judged == "not comparable" else None,
                "split": comp.get("split"), "limit": comp.get("limit"),
                "repeats": comp.get("repeats"),
                "outcomes": s.get("outcomes", {}),
                "truncation_rate": s.get("truncation_rate"),
                "deviations": deviations, "complete": s.get("complete"),
                "conservative": s.get("conservative") if i == 0 else None,
                "answered_score": h["score"],
                "reading": h.get("note"),
                "failure_causes": (s.get("failure_causes") or []) if i == 0 else [],
            })  # fmt: skip
    return rows


def _fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def label_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Give every row a ``column``: its model, or ``model (run)`` where one model has several
    runs of the same suite; returns the columns in first-seen order."""
    runs_of: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        runs_of.setdefault((str(r["model"]), r["suite"]), set()).add(r["run"])
    split = {model for (model, _), runs in runs_of.items() if len(runs) > 1}
    for r in rows:
        model = str(r["model"])
        r["column"] = f"{model} ({r['run']})" if model in split else model
    return list(dict.fromkeys(r["column"] for r in rows))


def pivot(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    """The leaderboard: one line per suite, one cell per model. Each cell's verdict is against
    the paper column of its own protocol; the line lists every paper number its cells used."""
    lines: dict[str, dict[str, Any]] = {}
    for r in rows:
        line = lines.setdefault(r["suite"], {"suite": r["suite"], "papers": {}, "cells": {}})
        line["cells"][r["column"]] = r
        if r["paper"] is not None:
            line["papers"][r["paper_column"] or "paper"] = r["paper"]
    return list(lines.values())


def paper_text(line: dict[str, Any]) -> str:
    return "; ".join(f"{_fmt(v)} ({k})" for k, v in line["papers"].items()) or "—"


CAUSE_OUTCOMES = {"model_failure": "model failures", "scored": "below full credit",
                  "infra_error": "infra errors", "skipped": "skipped"}  # fmt: skip


def causes_text(causes: list[dict[str, Any]]) -> str:
    """``model failures: 3 × no code block; infra errors: 2 × HTTP 500: ...`` (runs of earlier
    versions list model failures only, with no ``outcome``)."""
    parts = []
    for outcome, words in CAUSE_OUTCOMES.items():
        mine = [c for c in causes if c.get("outcome", "model_failure") == outcome]
        if mine:
            parts.append(f"{words}: " + "; ".join(f"{c['n']} × {c['cause']}" for c in mine))
    return " · ".join(parts)


def not_full_credit(causes: list[dict[str, Any]]) -> int:
    """Samples that did not score 1, as the causes count them."""
    return sum(int(c.get("n") or 0) for c in causes)


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "—"
    return f"{_fmt(r['score'])} [{_fmt(r['ci_low'])}–{_fmt(r['ci_high'])}] {md(r['verdict'])}"


def _causes_section(rows: list[dict[str, Any]]) -> list[str]:
    """Why samples did not score 1, per run and suite (nothing when every sample did)."""
    failing = [r for r in rows if r["failure_causes"]]
    if not failing:
        return []
    lines = ["", "## Why samples did not score 1", "",
             "| run | suite | below 1 | most common causes |", "|---|---|---|---|"]  # fmt: skip
    for r in failing:
        lines.append(f"| {md(r['run'])} | {md(r['suite'])} | "
                     f"{not_full_credit(r['failure_causes'])} | "
                     f"{md(causes_text(r['failure_causes']))} |")  # fmt: skip
    return lines


def _earlier_section(earlier: list[dict[str, Any]]) -> list[str]:
    """Runs the leaderboard leaves out (nothing when it shows every run)."""
    if not earlier:
        return []
    lines = ["", "## Earlier runs", "",
             "Runs the leaderboard does not show: for each model and suite it shows the "
             "latest complete run (`m1eval report --all-runs` shows every run).", "",
             "| run | created | model | suite | score | verdict |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {md(e['run'])} | {e['created']} | {md(str(e['model']))} | "
              f"{md(e['suite'])} | {_fmt(e['score'])} | {md(e['verdict'])} |"
              for e in earlier]  # fmt: skip
    return lines


def serve_tables(path: Path) -> dict[str, Any]:
    """A ``profile serve`` result as the report shows it: a table per endpoint (one row
    per concurrency level), the position table of the first level, and its plot."""
    import io

    from m1eval.profiler import serve_report

    result = serve_report.load(path)
    png = io.BytesIO()
    serve_report.plot(result, png)
    settings = result["settings"]
    sides = [{"name": side, "model": settings[side]["model"],
              "base_url": settings[side]["base_url"],
              "rows": serve_report.level_rows(result[side]["levels"])}
             for side in ("target", "baseline") if result.get(side)]  # fmt: skip
    return {"length": settings["length"], "columns": serve_report.LEVEL_COLUMNS,
            "sides": sides, "bucket_columns": serve_report.bucket_columns(result),
            "bucket_rows": serve_report.bucket_rows(result, 0),
            "png": png.getvalue()}  # fmt: skip


def _serve_section(serve: dict[str, Any] | None) -> list[str]:
    if not serve:
        return []
    lines = ["", "## Live endpoint latency", "",
             f"Generations of up to {serve['length']:,} tokens (`m1eval profile serve`).", ""]
    for side in serve["sides"]:
        lines += [f"{side['name']}: {md(side['model'])} at {md(side['base_url'])}", "",
                  "| " + " | ".join(serve["columns"]) + " |",
                  "|" + "---|" * len(serve["columns"])]  # fmt: skip
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in side["rows"]]
        lines.append("")
    lines += ["By position (the first concurrency level):", "",
              "| " + " | ".join(serve["bucket_columns"]) + " |",
              "|" + "---|" * len(serve["bucket_columns"])]  # fmt: skip
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in serve["bucket_rows"]]
    return lines


def markdown(rows: list[dict[str, Any]], usage: list[dict[str, Any]], plots: dict[str, str],
             earlier: list[dict[str, Any]] | None = None,
             serve: dict[str, Any] | None = None) -> str:  # fmt: skip
    notes: list[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[^{notes.index(text) + 1}]"

    columns = list(dict.fromkeys(r["column"] for r in rows))
    lines = ["# MiniMax-M1 Table 2 reproduction", "", "## Leaderboard", "",
             "| suite | paper | " + " | ".join(md(c) for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]  # fmt: skip
    for line in pivot(rows, columns):
        cells = " | ".join(_cell(line["cells"].get(c)) for c in columns)
        lines.append(f"| {md(line['suite'])} | {md(paper_text(line))} | {cells} |")
    lines += ["", "Cells: score [95% CI] verdict.", "", "## Runs", "",
              "| model | run | suite | split · limit · repeats | score | 95% CI | "
              "answered only | paper | verdict | scored / fail / err / skip | truncated |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        o = r["outcomes"]
        refs = [note(d) for d in r["deviations"]]
        if r.get("why_not_comparable"):
            refs.append(note(f"{r['run']} is not comparable with the paper: "
                          f"{r['why_not_comparable']}"))  # fmt: skip
        if r.get("reading") and r["paper"] is not None:  # which reading the verdict is on
            refs.append(note(f"{r['suite']}: judged against the paper on this reading: "
                             f"{r['reading']}"))  # fmt: skip
        marks = ",".join(refs)  # separated: "¹,²", not "¹²"
        shape = f"{r.get('split')} · {r.get('limit') or 'all'} · {r.get('repeats')}"
        trunc = "—" if r["truncation_rate"] is None else f"{100 * r['truncation_rate']:.0f}%"
        lines.append(
            f"| {md(r['model'])} | {md(r['run'])} | {md(r['suite'])}{marks} | {md(shape)} | "
            f"{_fmt(r['score'])} | {_fmt(r['ci_low'])}–{_fmt(r['ci_high'])} | "
            f"{_fmt(r.get('answered_score'))} | {_fmt(r['paper'])} | "
            f"{md(r['verdict'])} | "
            f"{o.get('scored', 0)} / {o.get('model_failure', 0)} / {o.get('infra_error', 0)} / "
            f"{o.get('skipped', 0)} | {trunc} |"
        )
    lines += _causes_section(rows) + _earlier_section(earlier or [])
    lines += ["", "## Tokens, latency and throughput", "",
              "| run | suite | answered | truncated | mean completion tok | mean reasoning tok | "
              "median latency s | p95 latency s | median TTFT s | tok/s per request | "
              "run tok/s |", "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for u in usage:
        trunc = "—" if u["truncation_rate"] is None else f"{100 * u['truncation_rate']:.0f}%"
        lines.append(
            f"| {md(u['run'])} | {md(u['suite'])} | {u['answered']} | {trunc} | "
            f"{_fmt(u['mean_completion_tokens'], 0)} | {_fmt(u['mean_reasoning_tokens'], 0)} | "
            f"{_fmt(u['median_latency_s'], 2)} | {_fmt(u['p95_latency_s'], 2)} | "
            f"{_fmt(u['median_ttft_s'], 2)} | {_fmt(u['tokens_per_s_per_request'])} | "
            f"{_fmt(u['run_tokens_per_s'])} |"
        )
    lines += _serve_section(serve)
    lines += ["", "## Plots", ""]
    lines += [f"![{md(title)}]({path})" for title, path in plots.items()]  # our own paths
    lines += ["", "Verdicts compare the paper's number with our 95% interval (widened by the "
              "paper's sampling error where known); intervals wider than 20 points are "
              "inconclusive.", ""]  # fmt: skip
    lines += [f"[^{i + 1}]: {md(text, 2000)}" for i, text in enumerate(notes)]
    return "\n".join(lines) + "\n"


PLOT_TITLES = {
    "score_vs_paper": "score against the paper, 95% intervals",
    "reasoning_lengths": "completion lengths and truncation per suite",
    "flops": "generation FLOPs: lightning attention against softmax models",
    "serve": "live endpoint: inter-token latency by generated position (and the ratio to "
             "the baseline endpoint)",
    "latency": "measured attention latency per layer (and, where measured, batched decode "
    "and one 8-GPU node serving 100K-token sequences)",
}


def latest_runs(runs: list[Path]) -> tuple[list[Path], list[Path]]:
    """The run the leaderboard shows for each model, protocol and suite (the latest complete
    one; the latest where none is complete) and the others, newest first (its history)."""
    groups: dict[tuple[str, ...], list[tuple[tuple[int, str, str], Path]]] = {}
    for run in runs:
        manifest, summary = read_manifest(run), read_summary(run) or {}
        suites = summary.get("suites") or {}
        model = str((manifest.get("identity") or {}).get("model") or summary.get("model"))
        key = (model, str(summary.get("protocol")), *sorted(suites))
        complete = all(isinstance(s, dict) and s.get("complete", True) for s in suites.values())
        rank = (int(complete), str(manifest.get("created_at") or ""), run.name)
        groups.setdefault(key, []).append((rank, run))
    shown, history = [], []
    for members in groups.values():
        members.sort(key=lambda m: m[0], reverse=True)
        shown.append(members[0][1])
        history += [run for _, run in members[1:]]
    order = {run: i for i, run in enumerate(runs)}
    shown.sort(key=order.__getitem__)
    history.sort(key=lambda r: str(read_manifest(r).get("created_at") or ""), reverse=True)
    return shown, history


def history_rows(runs: list[Path]) -> list[dict[str, Any]]:
    """Earlier runs, one line per run and suite: when, its lead score and verdict."""
    out = []
    for run in runs:
        created = str(read_manifest(run).get("created_at") or "")[:16].replace("T", " ")
        seen: set[str] = set()
        for r in rows_for(run):
            suite = r["suite"].split(" (")[0]
            if suite in seen:
                continue
            seen.add(suite)
            out.append({"run": run.name, "model": r["model"], "suite": r["suite"],
                        "created": created, "score": r["score"], "verdict": r["verdict"]})
    return out


def build_report(paths: list[str], out: Path, latency_result: Path | None = None,
                 flops_convention: str = "paper-figure", all_runs: bool = False,
                 serve_result: Path | None = None) -> Path:  # fmt: skip
    from m1eval.reporting import plots
    from m1eval.reporting.usage import run_throughput, suite_usage

    found = [r for p in paths for r in find_runs(p)]
    if not found:
        raise DataError(f"no run found in {', '.join(paths)}")
    runs = [r for r in found if read_summary(r)]
    if not runs:
        raise DataError(f"no finished run found in {', '.join(paths)}")
    for r in found:
        if r not in runs:  # interrupted before its summary
            print(f"m1eval: note: {r} has no summary.json yet; left out of the report",
                  file=sys.stderr)  # fmt: skip
    history: list[Path] = []
    if not all_runs:  # one column per model: the latest complete run; the rest as history
        runs, history = latest_runs(runs)
    latency = None
    if latency_result is not None:
        from m1eval.profiler.report import load

        latency = load(latency_result)
    rows = [row for run in runs for row in rows_for(run)]
    columns = label_columns(rows)
    column_of_run = {r["run"]: r["column"] for r in rows}
    usages: dict[str, list[Any]] = {}
    usage_rows = []
    for run in runs:
        throughput = run_throughput(run)
        for suite, u in suite_usage(run).items():
            u.run = column_of_run.get(run.name, run.name)
            usages.setdefault(suite, []).append(u)
            usage_rows.append({**u.to_row(), "run": run.name, "run_tokens_per_s": throughput})
    pngs = {"score_vs_paper": plots.score_vs_paper(rows, columns)}
    titles = dict(PLOT_TITLES)
    for hint, series in _breakdown_series(runs, column_of_run):
        name = hint["name"]
        titles[name] = hint.get("title") or name
        pngs[name] = plots.breakdown_lines(series, hint.get("x_label") or hint["breakdown"],
                                           hint.get("y_label") or "score")  # fmt: skip
    if any(u.lengths for us in usages.values() for u in us):
        pngs["reasoning_lengths"] = plots.reasoning_lengths(usages)
    pngs["flops"] = plots.flops_curves(flops_convention)
    if latency is not None:
        pngs["latency"] = plots.latency(latency)
    serve = serve_tables(serve_result) if serve_result is not None else None
    if serve is not None:
        pngs["serve"] = serve.pop("png")
    for name, png in pngs.items():
        atomic_write_bytes(out / "plots" / f"{name}.png", png)
    earlier = history_rows(history)
    md = markdown(rows, usage_rows, {titles[n]: f"plots/{n}.png" for n in pngs}, earlier,
                  serve)  # fmt: skip
    atomic_write_text(out / "report.md", md)
    page = html_page(rows, columns, usage_rows, pngs, [r.name for r in runs], latency, titles,
                     earlier, serve)  # fmt: skip
    atomic_write_text(out / "index.html", page)
    # every run's samples, one click from the leaderboard: the run viewer
    build_viewer([str(r) for r in [*runs, *history]], out / "runs")
    return out


def _breakdown_series(runs: list[Path], column_of_run: dict[str, str]
                      ) -> list[tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]]:
    """For each plot a suite's summary asks for (its ``plots`` hints: a breakdown named by the
    start of its title), the hint and that breakdown's rows per leaderboard column."""
    hints: dict[str, dict[str, Any]] = {}
    series: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for run in runs:
        for name, s in (read_summary(run) or {}).get("suites", {}).items():
            for hint in s.get("plots") or []:
                hint = hints.setdefault(hint["name"], hint)
                part = next((p for p in contract_of(name, s)[1]
                             if str(p.get("title", "")).startswith(hint["breakdown"])), None)
                if part is not None:
                    series.setdefault(hint["name"], {})[column_of_run[run.name]] = {
                        r["group"]: r for r in part["rows"]}  # fmt: skip
    return [(hints[n], lines) for n, lines in series.items()]


def html_page(rows: list[dict[str, Any]], columns: list[str], usage: list[dict[str, Any]],
              pngs: dict[str, bytes], runs: list[str],
              latency: dict[str, Any] | None = None,
              titles: dict[str, str] | None = None,
              earlier: list[dict[str, Any]] | None = None,
              serve: dict[str, Any] | None = None) -> str:  # fmt: skip
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("m1eval.reporting", "templates"),
                      autoescape=select_autoescape())  # fmt: skip
    titles = titles or PLOT_TITLES
    images = [(titles[n], base64.b64encode(png).decode()) for n, png in pngs.items()]
    notes: list[str] = list(dict.fromkeys(d for r in rows for d in r["deviations"]))
    template = env.get_template("leaderboard.html")
    return template.render(
        rows=rows,
        columns=columns,
        lines=pivot(rows, columns),
        usage=usage,
        images=images,
        runs=runs,
        fmt=_fmt,
        paper_text=paper_text,
        causes_text=causes_text,
        not_full_credit=not_full_credit,
        notes=notes,
        note_of={n: i + 1 for i, n in enumerate(notes)},
        device=(latency or {}).get("device"),
        earlier=earlier or [],
        serve=serve,
    )
