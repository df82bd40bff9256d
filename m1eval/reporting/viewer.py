"""``m1eval view RUN... --out DIR``: a static run viewer (no server; works from disk and as a
CI artifact) for one run or many.

Each run gets ``DIR/<run>/index.html``, a small app over data files loaded as scripts (so it
works from ``file://``): ``index.js`` holds the run's configuration and provenance and one
compact row per sample (suite, item, repeat, outcome, score, extracted answer, error, tokens,
tags), enough to filter 100,000 samples at once; ``chunk-N.js`` files hold the details of
CHUNK samples each (prompt, answer, reasoning, the LiveCodeBench test that failed, and the
sample's declared artifacts: ``dialogue`` artifacts as turns with tool calls and observations,
other files copied beside the page and linked), loaded when a sample is opened or a search
needs them. ``DIR/index.html`` lists the runs. No suite's folder layout is known here: only
``record["artifacts"]`` and their kinds.

Everything shown came from a model or a server: the page puts it into the DOM as text
(``textContent``), never as HTML, and the data files are JSON with every non-ASCII and
markup character escaped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from m1eval.causes import sample_cause
from m1eval.fsutil import atomic_write_text
from m1eval.results import find_runs, read_manifest, read_records, read_summary
from m1eval.store import read_prompts, shorten_message

CHUNK = 500
TEXT_CHARS = 40_000  # per answer or reasoning in a detail chunk: head and tail kept
PROMPT_CHARS = 8_000  # per prompt message
ARTIFACT_BYTES = 200_000_000  # artifact files copied into the site per run, at most
SAMPLE_ARTIFACT_BYTES = 2_000_000  # and per sample
ROW_FIELDS = ("suite", "item_id", "repeat", "outcome", "score", "extracted_answer", "gold",
              "cause", "status", "error", "completion_tokens", "latency_s", "truncated",
              "tags")  # fmt: skip
DERIVED = ("tags", "cause", "status")
APP = Path(__file__).with_name("templates") / "viewer.html"


def _js(name: str, payload: Any) -> str:
    """A script that hands ``payload`` to the page (JSON, ASCII only, markup escaped)."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.{name}({text});\n"


def _cut(text: Any, limit: int) -> Any:
    if not isinstance(text, str) or len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… [{len(text) - limit:,} characters not shown] …\n{text[-half:]}"


def _tags(r: dict[str, Any]) -> dict[str, Any]:
    """The record's tags with a plain value (offered as filters)."""
    tags = r.get("tags") if isinstance(r.get("tags"), dict) else {}
    return {k: v for k, v in tags.items() if v is not None and not isinstance(v, dict | list)}


def _dialogue(run_dir: Path, rel: str) -> dict[str, Any] | None:
    """A ``dialogue`` artifact: its turns (shortened), reward and how it ended."""
    path = _inside(run_dir, rel)
    if path is None:
        return None
    try:
        episode = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(episode, dict):
        return None
    return {"file": path.name, "reward": episode.get("reward"),
            "ended_by": episode.get("ended_by"),
            "trajectory": [_turn(m) for m in episode.get("trajectory") or []
                           if isinstance(m, dict)]}  # fmt: skip


def _turn(message: dict[str, Any]) -> dict[str, Any]:
    """A dialogue turn: role, shortened text, and its tool calls (name, arguments) if any."""
    turn = shorten_message(message, PROMPT_CHARS)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        turn["tool_calls"] = [
            {"name": str((c.get("function") or {}).get("name", "")),
             "arguments": _cut(str((c.get("function") or {}).get("arguments", "")), 4000)}
            for c in calls if isinstance(c, dict)]  # fmt: skip
    return turn


def _inside(run_dir: Path, rel: Any) -> Path | None:
    """``run_dir / rel`` when it is a plain file inside the run directory, else None."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/"):
        return None
    path = run_dir / rel
    try:
        inside = path.resolve().is_relative_to(run_dir.resolve())
    except OSError:
        return None
    return path if inside and path.is_file() and not path.is_symlink() else None


def _artifacts(r: dict[str, Any], run_dir: Path, site: Path, budget: list[int]
               ) -> tuple[list[dict[str, Any]], list[str]]:  # fmt: skip
    """A record's declared artifacts: dialogues read for the page, other files copied into
    the site (within ARTIFACT_BYTES per run) and linked."""
    dialogues, links = [], []
    mine = SAMPLE_ARTIFACT_BYTES
    for a in r.get("artifacts") or []:
        if not isinstance(a, dict):
            continue
        if a.get("kind") == "dialogue":
            d = _dialogue(run_dir, a.get("path"))
            if d is not None:
                dialogues.append(d)
            continue
        path = _inside(run_dir, a.get("path"))
        if path is None:
            continue
        dest = site / "artifacts" / a["path"]
        if not dest.exists():
            size = path.stat().st_size
            if size > min(budget[0], mine):
                continue
            budget[0] -= size
            mine -= size
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        links.append(f"artifacts/{a['path']}")
    return dialogues, links


def _detail(r: dict[str, Any], prompts: dict[str, Any], run_dir: Path, site: Path,
            budget: list[int]) -> dict[str, Any]:  # fmt: skip
    extra = r.get("extra") or {}
    detail: dict[str, Any] = {
        "sample_id": r.get("sample_id"), "gold": r.get("gold"),
        "answer": _cut(r.get("answer"), TEXT_CHARS),
        "reasoning": _cut(r.get("reasoning"), TEXT_CHARS),
        "finish_reason": r.get("finish_reason"), "prompt_tokens": r.get("prompt_tokens"),
        "reasoning_tokens": r.get("reasoning_tokens"), "attempts": r.get("attempts"),
        "extra": {k: v for k, v in extra.items() if k not in ("trajectory",)},
    }  # fmt: skip
    messages = prompts.get(r.get("prompt_sha256") or "")
    if messages:
        detail["prompt"] = [shorten_message(m, PROMPT_CHARS) for m in messages]
    dialogues, links = _artifacts(r, run_dir, site, budget)
    if dialogues:
        detail["dialogues"] = dialogues
    if links:
        detail["artifacts"] = links
    return detail


def write_run_viewer(run_dir: Path, site: Path) -> Path:
    """The viewer of one run at ``site``; returns its index page."""
    site.mkdir(parents=True, exist_ok=True)
    rows = sorted(read_records(run_dir), key=lambda r: (str(r.get("suite")), str(r["item_id"]),
                                                        r.get("repeat", 0)))  # fmt: skip
    prompts = read_prompts(run_dir)
    manifest = read_manifest(run_dir)
    summary = read_summary(run_dir) or {}
    compact = []
    budget = [ARTIFACT_BYTES]
    for start in range(0, max(len(rows), 1), CHUNK):
        chunk = rows[start : start + CHUNK]
        details = [_detail(r, prompts, run_dir, site, budget) for r in chunk]
        atomic_write_text(
            site / f"chunk-{start // CHUNK}.js",
            _js("m1vChunk", {"chunk": start // CHUNK, "samples": details}),
        )
        for r in chunk:
            row = {k: r.get(k) for k in ROW_FIELDS if k not in DERIVED}
            row["extracted_answer"] = _cut(row.get("extracted_answer"), 200)
            row["gold"] = _cut(row.get("gold"), 100)
            row["error"] = _cut(row.get("error"), 300)
            row["tags"] = _tags(r)
            row["cause"] = sample_cause(r)
            row["status"] = _status(r)
            compact.append([row[k] for k in ROW_FIELDS])
    config = {"run": run_dir.name, "fields": list(ROW_FIELDS), "chunk": CHUNK,
              "manifest": _provenance(manifest), "summary": _headlines(summary),
              "samples": compact}  # fmt: skip
    atomic_write_text(site / "index.js", _js("m1vIndex", config))
    page = site / "index.html"
    atomic_write_text(page, APP.read_text(encoding="utf-8"))
    return page


def _status(r: dict[str, Any]) -> str | None:
    """A failed test's status where the suite ran tests (LiveCodeBench's ``wrong_answer``,
    ``runtime_error``, ``timeout``, ...)."""
    first = (r.get("extra") or {}).get("first_failure")
    return str(first.get("status")) if isinstance(first, dict) and first.get("status") else None


def _provenance(manifest: dict[str, Any]) -> dict[str, Any]:
    keep = ("run_id", "status", "created_at", "ended_at", "config", "suite", "protocol",
            "dataset", "endpoint", "serving", "chat_template", "run_context", "git", "packages",
            "m1eval_version", "shards")  # fmt: skip
    return {k: manifest.get(k) for k in keep if k in manifest}


def _headlines(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, s in (summary.get("suites") or {}).items():
        for h in s.get("headlines") or [{"name": name, "score": s.get("score")}]:
            out.append({"name": h.get("name"), "score": h.get("score"),
                        "ci_low": h.get("ci_low"), "ci_high": h.get("ci_high"),
                        "paper": h.get("paper")})  # fmt: skip
    return out


def build_viewer(paths: list[str], out: Path) -> Path:
    """The viewer of every run found under ``paths`` at ``out``; returns the runs page."""
    from m1eval.errors import DataError

    runs = [r for p in paths for r in find_runs(p)]
    if not runs:
        raise DataError(f"no run found in {', '.join(paths)}")
    links = []
    for run in runs:
        write_run_viewer(run, out / run.name)
        links.append(_run_row(run))
    atomic_write_text(out / "runs.js", _js("m1vRuns", links))
    atomic_write_text(out / "index.html", (APP.with_name("viewer_runs.html")).read_text())
    atomic_write_text(out / "side.html", (APP.with_name("viewer_side.html")).read_text())
    return out / "index.html"


def _run_row(run: Path) -> dict[str, Any]:
    """A run in the runs list: what tells runs of one suite apart."""
    manifest = read_manifest(run)
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    identity = manifest.get("identity") if isinstance(manifest.get("identity"), dict) else {}
    suite = manifest.get("suite") if isinstance(manifest.get("suite"), dict) else {}
    return {"run": run.name, "href": f"{run.name}/index.html", "status": manifest.get("status"),
            "suite": suite.get("name") or config.get("suite"),
            "model": identity.get("model") or config.get("model"),
            "created": manifest.get("created_at"), "split": config.get("split"),
            "limit": config.get("limit"), "repeats": config.get("repeats"),
            "headlines": _headlines(read_summary(run) or {})}  # fmt: skip
