"""Per-sample drill-down pages: every sample of a run, paged so that a run of 10,000+ samples
stays as quick to open as one of ten (static HTML, no script, PAGE_SIZE samples a page)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from m1eval.fsutil import atomic_write_text
from m1eval.store import SAMPLES, read_samples_file

PAGE_SIZE = 250
STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
details { border-bottom: 1px solid #eee; padding: 0.3rem 0; }
summary { cursor: pointer; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: 0.5rem; max-height: 30rem;
      overflow: auto; }
.scored { color: #1a7f37; } .model_failure { color: #9a6700; }
.infra_error, .skipped { color: #cf222e; }
nav a { margin-right: 0.6rem; }
</style>"""


def _sample(r: dict[str, Any]) -> str:
    esc = html.escape
    head = (f"{esc(str(r['item_id']))} #{r['repeat']} — <span class='{esc(r['outcome'])}'>"
            f"{esc(r['outcome'])}</span> — score {r.get('score')}")  # fmt: skip
    parts = [f"<details><summary>{head}</summary>"]
    for key in ("extracted_answer", "gold", "error", "finish_reason"):
        if r.get(key) not in (None, ""):
            parts.append(f"<p><b>{key}</b>: {esc(str(r[key]))}</p>")
    for key in ("answer", "reasoning"):
        if r.get(key):
            parts.append(f"<p><b>{key}</b></p><pre>{esc(str(r[key]))}</pre>")
    parts.append("</details>")
    return "".join(parts)


def write_sample_pages(run_dir: Path, out: Path) -> list[Path]:
    """``out/<run>/samples-N.html`` pages and ``out/<run>/index.html``; returns the pages."""
    records, _, _ = read_samples_file(run_dir / SAMPLES)
    rows = sorted(records.values(), key=lambda r: (str(r["item_id"]), r["repeat"]))
    base = out / run_dir.name
    n_pages = max(1, -(-len(rows) // PAGE_SIZE))
    nav = "<nav>" + "".join(f'<a href="samples-{i + 1}.html">{i + 1}</a>'
                            for i in range(n_pages)) + "</nav>"  # fmt: skip
    pages = []
    for i in range(n_pages):
        chunk = rows[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]
        body = "".join(_sample(r) for r in chunk)
        page = base / f"samples-{i + 1}.html"
        atomic_write_text(page, f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                          f"<title>{html.escape(run_dir.name)} — samples page {i + 1}</title>"
                          f"{STYLE}</head><body><h1>{html.escape(run_dir.name)}</h1>{nav}"
                          f"<p>samples {i * PAGE_SIZE + 1}–{i * PAGE_SIZE + len(chunk)} of "
                          f"{len(rows)}</p>{body}{nav}</body></html>")  # fmt: skip
        pages.append(page)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    atomic_write_text(base / "index.html", f"<!doctype html><html lang='en'><head>"
                      f"<meta charset='utf-8'><title>{html.escape(run_dir.name)}</title>{STYLE}"
                      f"</head><body><h1>{html.escape(run_dir.name)}</h1><p>{len(rows)} samples: "
                      f"{html.escape(summary)}</p>{nav}</body></html>")  # fmt: skip
    return pages
