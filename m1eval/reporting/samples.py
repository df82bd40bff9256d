"""Per-sample drill-down pages: every sample of a run, paged so that a run of 10,000+ samples
stays as quick to open as one of ten (static HTML, no script, PAGE_SIZE samples a page)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from m1eval.fsutil import atomic_write_text
from m1eval.store import SAMPLES, read_prompts, read_samples_file, shorten_message

PAGE_SIZE = 250
PROMPT_SHOWN_CHARS = 4_000  # per message on a page; prompts.jsonl keeps up to 32,000
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


def _prompt(messages: list[dict[str, Any]] | None, sha: str | None, first: bool) -> str:
    esc = html.escape
    if not first:
        return f"<p><b>prompt</b>: as above (sha256 {esc(str(sha)[:12])})</p>"
    if messages is None:
        return f"<p><b>prompt</b>: not kept (sha256 {esc(str(sha)[:12])})</p>"
    shown = [shorten_message(m, PROMPT_SHOWN_CHARS) for m in messages]
    body = "".join(f"<p><i>{esc(str(m['role']))}</i></p><pre>{esc(m['content'])}</pre>"
                   for m in shown)  # fmt: skip
    return f"<p><b>prompt</b> (sha256 {esc(str(sha)[:12])})</p>{body}"


def _sample(r: dict[str, Any], prompt: str) -> str:
    esc = html.escape
    head = (f"{esc(str(r['item_id']))} #{r['repeat']} — <span class='{esc(r['outcome'])}'>"
            f"{esc(r['outcome'])}</span> — score {r.get('score')}")  # fmt: skip
    parts = [f"<details><summary>{head}</summary>", prompt]
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
    prompts = read_prompts(run_dir)
    rows = sorted(records.values(), key=lambda r: (str(r["item_id"]), r["repeat"]))
    base = out / run_dir.name
    n_pages = max(1, -(-len(rows) // PAGE_SIZE))
    nav = "<nav>" + "".join(f'<a href="samples-{i + 1}.html">{i + 1}</a>'
                            for i in range(n_pages)) + "</nav>"  # fmt: skip
    pages = []
    for i in range(n_pages):
        chunk = rows[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]
        shown: set[str | None] = set()
        parts = []
        for r in chunk:
            sha = r.get("prompt_sha256")
            parts.append(_sample(r, _prompt(prompts.get(sha or ""), sha, sha not in shown)))
            shown.add(sha)
        body = "".join(parts)
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
