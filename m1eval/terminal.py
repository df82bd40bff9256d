"""Terminal tables for summaries, run lists and suites (stdout; rich degrades to plain text)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from m1eval.contract import contract_of, lead_score
from m1eval.records import INFRA_ERROR, MODEL_FAILURE, SCORED, SKIPPED
from m1eval.results import comparability, partial_score, read_manifest, read_summary


def _console() -> Console:
    """A terminal's own width; ``COLUMNS`` where set; logs and pipes get room for whole
    tables (not squeezed into 80 columns, where model names and times would be cut)."""
    console = Console(highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console = Console(highlight=False, width=max(console.width, 240))
    return console


def _created(value: Any) -> str:
    """``2026-12-06 19:37 UTC`` from the manifest's ISO time (kept as is when not one)."""
    text = str(value or "")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M") + (" UTC" if when.tzinfo is not None else "")


def _fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def print_summary(summary: dict[str, Any], run_dir: Path, stats: Any | None = None) -> None:
    console = _console()
    title = escape(f"{summary['run_id']} · {summary['model']}")  # a server's text is not markup
    table = Table(title=title, title_justify="left")
    for col in ("suite", "score", "95% CI", "answered only", "paper", "items", "samples",
                "ok/fail/err/skip", "trunc"):  # fmt: skip
        table.add_column(col, justify="left" if col == "suite" else "right")
    for name, s in summary["suites"].items():
        o = s["outcomes"]
        headlines, _ = contract_of(name, s)
        main = next((h for h in headlines if h["name"] == name), None)
        lead = lead_score(s)
        table.add_row(
            name,
            f"{_fmt(lead['score'])} {s['metric']}{'' if s['complete'] else '*'}",
            f"{_fmt(lead['ci_low'])}–{_fmt(lead['ci_high'])}",
            _fmt(s["score"]),
            _fmt(main.get("paper")) if main else "below",
            str(s["n_items"]),
            str(s["n_samples"]),
            f"{o['scored']}/{o['model_failure']}/{o['infra_error']}/{o.get('skipped', 0)}",
            "—" if s["truncation_rate"] is None else f"{100 * s['truncation_rate']:.0f}%",
        )
    console.print(table)
    for name, s in summary["suites"].items():
        _print_breakdowns(console, name, s)
        comp = s.get("comparable") or {}
        if comp.get("comparable") is False:
            console.print(escape(f"{name}: not comparable with the paper: {comp.get('why')}"))
        extra = {**s.get("pass_at_k", {}), **s.get("maj_at_k", {})}
        if extra:
            console.print(f"{name}: " + "  ".join(f"{k} {_fmt(v)}" for k, v in extra.items()))
        paper = s.get("paper") or {}
        if paper.get("column"):
            console.print(f"{name}: paper column {paper['column']} ({paper.get('metric')})")
    _print_failure_causes(console, summary, run_dir)
    if stats is not None:
        d = stats.to_dict()
        console.print(
            f"{d['requested']} samples: {d['reused']} reused, {d['executed']} asked "
            f"({d['wall_s']:.1f} s, {d['tokens_per_s'] or 0:.1f} tok/s, "
            f"{d['http_retries']} HTTP retries)"
        )
    console.print(f"results: {run_dir}")
    if (read_manifest(run_dir).get("config") or {}).get("embedded"):
        console.print(f"note: {summary['model']} is the embedded demo model (135M parameters): "
                      "it shows the whole loop, not a score worth reading (competition problems "
                      "are beyond it). For real numbers, point --base-url at your server "
                      "(README: Against a real deployment).", soft_wrap=True)  # fmt: skip
    report = Path("reports") / run_dir.name
    exe = _invoked_as()
    console.print(f"next: {exe} report {run_dir} --out {report} && xdg-open "
                  f"{report / 'index.html'}   (or: {exe} view {run_dir})", highlight=False,
                  soft_wrap=True)  # fmt: skip
    for name, s in summary["suites"].items():
        if (s.get("dataset") or {}).get("matches_pin") is False:
            console.print(
                f"[yellow]{name}: the dataset's content differs from the pinned checksum; "
                "scores may not be comparable to the paper (see manifest.json)[/yellow]"
            )
        if not s["complete"]:
            o = s["outcomes"]
            console.print(
                f"[yellow]* {name}: {o['infra_error']} infra errors and {o.get('skipped', 0)} "
                "skips were left out: the score counts them as wrong (\"answered only\" leaves "
                "them out), and no verdict against the paper is given; rerun the same command "
                "to retry the infra errors[/yellow]"
            )


def _invoked_as() -> str:
    """How the user called m1eval (``.venv/bin/m1eval`` when that is how it was started)."""
    argv0 = Path(sys.argv[0] if sys.argv and sys.argv[0] else "m1eval")
    if argv0.name != "m1eval":  # python -m m1eval.cli, or inside tests
        return "m1eval"
    on_path = shutil.which("m1eval")
    if on_path is not None and Path(on_path).resolve() == argv0.resolve():
        return "m1eval"
    return str(argv0)


FAILURE_CAUSES_SHOWN = 3
OUTCOME_WORDS = {MODEL_FAILURE: "model failures", SCORED: "below full credit",
                 INFRA_ERROR: "infra errors", SKIPPED: "skipped"}  # fmt: skip


def _print_failure_causes(console: Console, summary: dict[str, Any], run_dir: Path) -> None:
    """Why samples did not score 1, per outcome, most common first (a score of 0 should never
    be a mystery, nor an infra error)."""
    budget = None
    for name, s in summary["suites"].items():
        causes = s.get("failure_causes") or []  # absent in runs of earlier versions
        for outcome, words in OUTCOME_WORDS.items():
            mine = [c for c in causes if c.get("outcome", MODEL_FAILURE) == outcome]
            if not mine:
                continue
            top = mine[:FAILURE_CAUSES_SHOWN]
            parts = [f"{c['n']} × {c['cause']}" for c in top]
            rest = sum(c["n"] for c in mine[FAILURE_CAUSES_SHOWN:])
            if rest > 0:
                parts.append(f"{rest} × other causes")
            tail = ""
            if any("truncated" in c["cause"] for c in top):
                if budget is None:
                    config = read_manifest(run_dir).get("config") or {}
                    budget = (config.get("sampling") or {}).get("max_tokens") or 0
                tail = f" (the budget: {budget:,} tokens, --max-tokens)" if budget else ""
            console.print(escape(f"{name}: {words}: {'; '.join(parts)}{tail}"), soft_wrap=True)


def _print_breakdowns(console: Console, name: str, s: dict[str, Any]) -> None:
    """The suite's declared headlines (beyond its main score) and breakdown tables."""
    headlines, breakdowns = contract_of(name, s)
    for h in headlines[1:] if headlines and headlines[0]["name"] == name else headlines:
        note = f"  ({h['note']})" if h.get("note") else ""
        console.print(escape(
            f"{h['name']}: {_fmt(h['score'])} [{_fmt(h['ci_low'])}, {_fmt(h['ci_high'])}]"
            f"   paper {_fmt(h.get('paper'))}{note}"))  # fmt: skip
    for part in breakdowns:
        # the title on a line of its own: a table's title wraps at the (narrow) table's width
        console.print(escape(f"{name}: {part['title']}"), style="italic", soft_wrap=True)
        table = Table()
        columns = [c for c in part["columns"] if c not in ("ci_low", "ci_high")]
        has_ci = "ci_low" in part["columns"]
        table.add_column("group", justify="left")
        for col in columns[:1]:
            table.add_column(col, justify="right")
        if has_ci:
            table.add_column("95% CI", justify="right")
        for col in columns[1:]:
            table.add_column(col, justify="right")
        for row in part["rows"]:
            cells = [escape(str(row.get("group")))]
            cells += [_cell(row.get(c)) for c in columns[:1]]
            if has_ci:
                cells.append(f"{_fmt(row.get('ci_low'))}–{_fmt(row.get('ci_high'))}")
            cells += [_cell(row.get(c)) for c in columns[1:]]
            table.add_row(*cells)
        console.print(table)
        if part.get("note"):
            console.print(escape(f"{name}: {part['note']}"))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return _fmt(value)
    return "—" if value is None else escape(str(value))


def print_run_list(runs: list[Path]) -> None:
    console = _console()
    table = Table(title="runs", title_justify="left")
    for col in ("run_id", "status", "suite", "model", "split · limit · repeats", "score",
                "samples", "created"):  # fmt: skip
        # nothing is cut (no "…"): where the width is too small, long values fold
        table.add_column(col, overflow="fold", no_wrap=col in ("status", "score", "samples"),
                         justify="right" if col in ("score", "samples") else "left")
    for run_dir in runs:
        m = read_manifest(run_dir)
        s = read_summary(run_dir) or {}
        config = m.get("config") if isinstance(m.get("config"), dict) else {}
        suite_info = m.get("suite") if isinstance(m.get("suite"), dict) else {}
        identity = m.get("identity") if isinstance(m.get("identity"), dict) else {}
        partial = None if s else partial_score(run_dir, m)
        for name, suite in (s.get("suites") or {"": None}).items():
            comp = comparability(m, name, suite) if suite else {
                "split": config.get("split"), "limit": config.get("limit"),
                "repeats": config.get("repeats")}  # fmt: skip
            shape = f"{comp.get('split')} · {comp.get('limit') or 'all'} · {comp.get('repeats')}"
            table.add_row(
                escape(str(m.get("run_id", run_dir.name))),
                escape(str(m.get("status", "no manifest"))),
                escape(str(name or suite_info.get("name", "?"))),
                escape(str(identity.get("model") or config.get("model") or "?")),
                escape(shape),
                _fmt(suite.get("score")) if suite else
                f"{_fmt(partial['score'])} (partial)" if partial else "—",
                str(suite.get("n_samples", "—")) if suite else
                str(partial["n_samples"]) if partial else "—",
                _created(m.get("created_at")),
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
    console.print(escape(dataset_line(ds)), soft_wrap=True)
    if summary:
        print_summary(summary, run_dir)
        if items:
            for name, s in summary["suites"].items():
                print_items(name, s["per_item"])
    else:
        partial = partial_score(run_dir, manifest)
        if partial is None:
            console.print("no sample recorded yet; rerun the same command to run it")
        else:
            of = f" of {partial['requested']:,}" if partial["requested"] else ""
            console.print(
                f"partial score {_fmt(partial['score'])} [{_fmt(partial['ci_low'])}, "
                f"{_fmt(partial['ci_high'])}] over {partial['n_samples']:,}{of} samples "
                f"(conservative {_fmt(partial['conservative'])}); no summary yet: rerun the "
                "same command to finish the run")  # fmt: skip


def dataset_line(ds: dict[str, Any]) -> str:
    """``dataset ORG/NAME@REV split S (source, sha256 …, matches the pinned content)``, with
    no ``None`` where a dataset has no revision or no pin to match."""
    revision = f"@{ds['revision']}" if ds.get("revision") else " (no revision pinned)"
    pin = {True: "matches the pinned content", False: "DIFFERS from the pinned content",
           None: "no content pin to check"}.get(ds.get("matches_pin"), "no content pin to check")
    source = f"{ds['source']}, " if ds.get("source") else ""
    sha = str(ds.get("content_sha256") or "")[:12] or "unknown"
    return (f"dataset {ds.get('repo_id') or '?'}{revision} split {ds.get('split') or '?'} "
            f"({source}sha256 {sha}, {pin})")


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


def print_compare(result: dict[str, Any]) -> None:
    console = _console()
    table = Table(title=f"{result['base']} -> {result['cand']} (Holm, alpha {result['alpha']})",
                  title_justify="left")  # fmt: skip
    for col in ("test", "method", "items", "base", "cand", "effect", "p (adj.)", "verdict"):
        table.add_column(col, justify="left" if col in ("test", "method", "verdict") else "right")
    for t in result["tests"]:
        verdict = t["verdict"].upper() if t["verdict"] == "regression" else t["verdict"]
        table.add_row(escape(t["name"]), t["method"], str(t["n_items"]), f"{t['base']:.1f}",
                      f"{t['cand']:.1f}", f"{t['effect']:+.1f}", f"{t['p_adjusted']:.3g}",
                      verdict)  # fmt: skip
    console.print(table)
    cover = Table(title="coverage (samples)", title_justify="left")
    for col in ("suite", "side", "samples", "graded", "infra errors", "skipped",
                "items missing", "graded share", "gap"):  # fmt: skip
        cover.add_column(col, justify="left" if col in ("suite", "side") else "right")
    for suite, gap in result["coverage_gap"].items():
        for side in ("base", "cand"):
            c = result["coverage"][side][suite]
            cover.add_row(escape(suite), side, str(c["samples"]), str(c["graded"]),
                          str(c["infra_error"]), str(c["skipped"]), str(c["missing_items"]),
                          f"{c['graded_share']:.1f}%", f"{gap:.1f}" if side == "cand" else "")
    console.print(cover)
    for t in result["tests"]:
        if t["flips"] and (t["significant"] or len(t["flips"]) <= 20):
            shown = ", ".join(f"{f['item_id']} {f['base']:g}->{f['cand']:g}"
                              for f in t["flips"][:20])  # fmt: skip
            console.print(f"{t['name']} flipped: {shown}")
    for note in result["drift"]:
        console.print(f"[yellow]drift: {escape(note)}[/yellow]", soft_wrap=True)
    if result["coverage_refused"]:
        console.print(escape(
            f"no verdict: the graded share differs by more than {result['max_coverage_gap']:g} "
            f"points in {', '.join(result['coverage_refused'])} (infra errors, skips or missing "
            "items on one side); rerun the side that lost samples, or widen "
            "--max-coverage-gap"), soft_wrap=True)  # fmt: skip
    else:
        console.print(f"verdict: {result['verdict']}")
    base, cand = Path(result["base"]), Path(result["cand"])
    console.print(escape(
        f"items side by side: m1eval view {base} {cand} --out reports/side, then open "
        f"reports/side/side.html#a={base.name}&b={cand.name}"), soft_wrap=True)  # fmt: skip
