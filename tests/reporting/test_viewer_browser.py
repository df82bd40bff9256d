"""The run viewer in a real headless Chromium: real smoke runs (AIME, TAU-bench, SWE-bench,
MRCR against the vLLM emulator, made by the CLI in its own processes), filters and search
that agree with the records, the TAU dialogue with its tool calls, SWE-bench stage links,
provenance, hostile text shown as text, no console errors, a screenshot with content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from m1eval.testing.vllm_emulator import spawn
from tests.conftest import read_jsonl
from tests.reporting.test_report_browser import Page, browser  # noqa: F401 (fixture)

TAU = Path(os.environ["M1EVAL_TAU_DIR"])
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">\\boxed{7}"


def _run(url: str, results: Path, suite: str, *extra: str) -> None:
    res = subprocess.run([sys.executable, "-m", "m1eval.cli", "run", "--suite", suite, "--split",
                          "smoke", "--base-url", url, "--protocol", "m1-80k", "--results-dir",
                          str(results), "--no-progress", *extra],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("viewer")
    proc, url = spawn(tmp)
    try:
        for suite in ("aime24", "swe-bench", "mrcr"):
            _run(url, tmp / "results", suite)
        if (TAU / "retail").exists():
            _run(url, tmp / "results", "tau-bench-retail", "--data-dir", str(TAU))
    finally:
        proc.kill()
    aime = next((tmp / "results").glob("aime24-*"))
    lines = (aime / "samples.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["answer"] = HOSTILE  # model text that is markup: must stay text
    lines[0] = json.dumps(first)
    (aime / "samples.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp / "site"
    res = subprocess.run(
        [sys.executable, "-m", "m1eval.cli", "view", str(tmp / "results" / "*"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return out, tmp / "results"


def _count(page: Any) -> str:
    return page.locator("#count").inner_text()


def _expect(page: Any, n: int) -> None:
    """The count line settles on ``n`` (it is redrawn on every input event)."""
    page.wait_for_function(
        f"document.querySelector('#count').textContent.startsWith('{n} of')", timeout=10_000
    )


def test_runs_page_lists_every_run(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    p = Page(browser, site / "index.html")
    try:
        links = p.page.locator("#runs a")
        names = sorted(links.all_inner_texts())
        assert names == sorted(d.name for d in results.iterdir() if d.is_dir())
        assert p.problems == []
    finally:
        p.close()


def test_filters_and_search_agree_with_the_records(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    run = next(results.glob("aime24-*"))
    records = read_jsonl(run / "samples.jsonl")
    p = Page(browser, site / run.name / "index.html")
    try:
        page = p.page
        page.wait_for_selector("#rows tr")
        _expect(page, len(records))
        assert _count(page).startswith(f"{len(records)} of {len(records)} samples")
        page.select_option("#f-outcome", "scored")
        scored = sum(r["outcome"] == "scored" for r in records)
        _expect(page, scored)
        page.fill("#f-min", "1")
        right = sum(r["outcome"] == "scored" and r["score"] >= 1 for r in records)
        _expect(page, right)
        page.select_option("#f-outcome", "")
        page.fill("#f-min", "")
        item = records[5]["item_id"]
        page.fill("#f-item", str(item))
        _expect(page, sum(str(item) in str(r["item_id"]) for r in records))
        page.fill("#f-item", "")
        target = next(r for r in records[1:] if r.get("extracted_answer"))
        needle = f"boxed{{{target['extracted_answer']}}}"
        page.fill("#f-search", needle)
        page.click("#f-go")
        page.wait_for_function("document.querySelector('#count').textContent.includes('search')")
        expected = sum(needle in (r.get("answer") or "") for r in records)
        assert expected >= 1
        _expect(page, expected)
        # the provenance is there: the run's configuration and its endpoint
        provenance = json.loads(page.locator("#provenance").text_content())
        assert provenance["config"]["suite"] == "aime24" and provenance["endpoint"]["models"]
        assert p.problems == []
    finally:
        p.close()


def test_hostile_answer_is_shown_as_text(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    run = next(results.glob("aime24-*"))
    first = read_jsonl(run / "samples.jsonl")[0]
    p = Page(browser, site / run.name / "index.html")
    try:
        page = p.page
        page.fill("#f-item", str(first["item_id"]))
        page.locator("#rows tr").filter(has_text=str(first["item_id"])).first.click()
        page.wait_for_selector("#right h3")
        rows = page.locator("#rows tr").count()
        for i in range(rows):  # open each repeat of that item until the hostile one shows
            page.locator("#rows tr").nth(i).click()
            page.wait_for_selector("#right pre")
            if "onerror" in page.locator("#right").inner_text():
                break
        assert "<img src=x" in page.locator("#right").inner_text()
        assert page.locator("#right img").count() == 0 and page.title() != "pwned"
    finally:
        p.close()


def test_tau_dialogue_with_tool_calls(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    runs = list(results.glob("tau-bench-retail-*"))
    if not runs:
        pytest.skip("tau-bench data not found")
    p = Page(browser, site / runs[0].name / "index.html")
    try:
        page = p.page
        page.locator("#rows tr").first.click()
        page.wait_for_selector("#right .dialogue")
        calls = page.locator("#right .toolcall")
        assert calls.count() >= 1 and calls.first.inner_text().startswith("→ ")
        roles = set(page.locator("#right .msg b").all_inner_texts())
        assert {"user", "assistant", "tool"} <= roles
        assert p.problems == []
    finally:
        p.close()


def test_swe_bench_stages_and_screenshot(browser: Any, viewer, tmp_path: Path) -> None:  # noqa: F811
    site, results = viewer
    run = next(results.glob("swe-bench-*"))
    p = Page(browser, site / run.name / "index.html")
    try:
        page = p.page
        page.locator("#rows tr").first.click()
        page.wait_for_selector("#right h2")
        links = page.locator("#right a")
        assert links.count() >= 1
        href = links.first.get_attribute("href")
        assert (site / run.name / href).is_file()
        shot = tmp_path / "viewer.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
        assert "swe-bench" in page.locator("#right h2").inner_text()
        assert p.problems == []
    finally:
        p.close()
