"""The run viewer in a real headless Chromium, on a real run of every suite's smoke split
(made by the CLI in its own processes against the vLLM emulator, with scripted LiveCodeBench
programs and SWE-bench edits so that a program fails a test and a patch is made and graded in
Docker): every page opens with its records and no console errors; filters (outcome, grade,
item, tag) and search agree with the records; the LiveCodeBench test that failed, code with its
layout, the SWE-bench patch as a diff with its stage artifacts, the TAU dialogues with tool
calls, MRCR's bins; provenance; hostile text shown as text; a screenshot with content."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from m1eval.testing.vllm_emulator import spawn
from tests.conftest import read_jsonl
from tests.reporting.test_report_browser import Page, browser  # noqa: F401 (fixture)
from tests.suites.test_livecodebench import ANSWERS as LCB_ANSWERS
from tests.suites.test_swebench import CORRECT_EDIT

TAU = Path(os.environ["M1EVAL_TAU_DIR"])
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">\\boxed{7}"
SUITES = ("aime24", "aime25", "gpqa-diamond", "livecodebench", "longbench-v2", "mrcr",
          "swe-bench", "tau-bench-airline", "tau-bench-retail")  # fmt: skip
SCRIPTED = {**LCB_ANSWERS, "Repository Structure": "```\ncalcpkg/ops.py\n```",
            "Skeleton of Relevant Files": "```\ncalcpkg/ops.py\nfunction: clamp\n```",
            "SEARCH/REPLACE": CORRECT_EDIT}  # fmt: skip


def _run(url: str, results: Path, suite: str, *extra: str) -> None:
    res = subprocess.run([sys.executable, "-m", "m1eval.cli", "run", "--suite", suite, "--split",
                          "smoke", "--base-url", url, "--protocol", "m1-80k", "--results-dir",
                          str(results), "--no-progress", *extra],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("viewer")
    answers = tmp / "answers.json"
    answers.write_text(json.dumps(SCRIPTED))
    proc, url = spawn(tmp, "--answers", str(answers), "--correct-rate", "1")
    try:
        for suite in SUITES:
            if suite.startswith("tau-bench"):
                if (TAU / suite.split("-")[-1]).exists():
                    _run(url, tmp / "results", suite, "--data-dir", str(TAU))
            else:
                _run(url, tmp / "results", suite)
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


def _open(chromium: Any, site: Path, results: Path, suite: str) -> tuple[Any, list[dict]]:
    runs = list(results.glob(f"{suite}-m*"))
    if not runs:
        pytest.skip(f"no {suite} run (its data was not found)")
    [run] = runs
    page = Page(chromium, site / run.name / "index.html")
    page.site_run = site / run.name  # type: ignore[attr-defined]
    return page, read_jsonl(run / "samples.jsonl")


def _show(page: Any, item: str, repeat: int = 0) -> Any:
    """Open one sample's details; the pane."""
    page.fill("#f-item", item)
    page.locator("#rows tr").filter(has_text=item).nth(repeat).click()
    page.wait_for_selector("#right h2")
    return page.locator("#right")


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


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_opens_with_its_records(browser: Any, viewer, suite: str) -> None:  # noqa: F811
    site, results = viewer
    p, records = _open(browser, site, results, suite)
    try:
        page = p.page
        page.wait_for_selector("#rows tr")
        _expect(page, len(records))
        for outcome in sorted({r["outcome"] for r in records}):
            page.select_option("#f-outcome", outcome)
            _expect(page, sum(r["outcome"] == outcome for r in records))
        page.select_option("#f-outcome", "")
        # search: words of the last item's prompt (or dialogue) match that item's samples and
        # any other whose text holds them, as the page's own data says
        texts = _searchable(p.site_run)
        # runs of printable ASCII that JSON leaves alone, from the last sample's text
        words = [m.group(0) for m in re.finditer(r"[a-z][ !#-\[\]-~]{8,30}[a-z0-9$]", texts[-1])
                 if "  " not in m.group(0)]  # fmt: skip
        counts = {w: sum(w in t for t in texts) for w in words}
        needle = min(words, key=lambda w: counts[w])  # the most telling words of that sample
        expected = counts[needle]
        assert 1 <= expected < len(texts) or len(texts) == 1
        page.fill("#f-search", needle)
        page.click("#f-go")
        page.wait_for_function("document.querySelector('#count').textContent.includes('search')")
        _expect(page, expected)
        page.fill("#f-search", "")
        page.click("#f-go")
        _expect(page, len(records))
        pane = _show(page, str(records[-1]["item_id"]))
        assert pane.locator("h2").inner_text().startswith(f"{suite} · ")
        assert records[-1]["outcome"] in pane.inner_text()
        assert p.problems == []
    finally:
        p.close()


def _searchable(site_run: Path) -> list[str]:
    """What the page searches per sample (answer, reasoning, prompt, dialogues), lower-cased,
    read from the detail chunks it loads; in the page's order."""
    out = []
    chunks = sorted(site_run.glob("chunk-*.js"), key=lambda f: int(f.stem.split("-")[1]))
    for chunk in chunks:
        text = chunk.read_text()
        payload = json.loads(text[text.index("(") + 1 : text.rindex(")")])
        for d in payload["samples"]:
            parts = [
                d.get("answer") or "",
                d.get("reasoning") or "",
                json.dumps(d.get("prompt") or []),
                json.dumps(d.get("dialogues") or []),
            ]
            out.append("\n".join(parts).lower())
    return out


def test_livecodebench_failing_test_and_code(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    p, records = _open(browser, site, results, "livecodebench")
    try:
        wrong = next(r for r in records if r["item_id"] == "smoke_lc_9001")
        assert wrong["score"] == 0.0  # the scripted program returns min(), not max()
        pane = _show(p.page, "smoke_lc_9001")
        assert pane.locator("h3", has_text="first failing test").count() == 1
        failure = json.loads(pane.locator("pre.failure").inner_text())
        assert failure == wrong["extra"]["first_failure"]
        assert failure["status"] == "wrong_answer"
        code = pane.locator("pre.code").first.inner_text()  # the program, lines kept
        assert "class Solution:\n    def largest(self, nums):\n" in code
        assert p.problems == []
    finally:
        p.close()


def test_swe_bench_patch_as_a_diff(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    p, records = _open(browser, site, results, "swe-bench")
    try:
        [record] = records
        assert record["outcome"] == "scored" and record["score"] == 1.0  # graded in Docker
        pane = _show(p.page, record["item_id"])
        assert pane.locator("pre.code span.del").filter(has_text="        return x").count() == 1
        assert pane.locator("pre.code span.add").filter(has_text="        return hi").count() == 1
        assert pane.locator("pre.code span.hunk").count() >= 1
        stages = pane.locator("a").all_inner_texts()
        assert {"1_files.json", "2_elements.json", "4_selection.json"} <= set(stages)
        assert p.problems == []
    finally:
        p.close()


def test_tags_filter_mrcr_bins_and_longbench_lengths(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    for suite, key in (("mrcr", "bin"), ("longbench-v2", "length")):
        p, records = _open(browser, site, results, suite)
        try:
            page = p.page
            page.wait_for_selector("#rows tr")
            values = sorted({str(r["extra"][key]) for r in records})
            options = page.locator("#f-tag option").all_inner_texts()
            assert [f"{key}: {v}" for v in values] == [o for o in options if o.startswith(key)]
            for value in values:
                page.select_option("#f-tag", f"{key}: {value}")
                _expect(page, sum(str(r["extra"][key]) == value for r in records))
            # the filter is left on the last value; records[0] is shown under its own
            page.select_option("#f-tag", f"{key}: {records[0]['extra'][key]}")
            pane = _show(page, str(records[0]["item_id"]))
            assert f"{key}: {records[0]['extra'][key]}" in pane.locator("p.muted").inner_text()
            assert p.problems == []
        finally:
            p.close()


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_tau_dialogue_with_tool_calls(browser: Any, viewer, domain: str) -> None:  # noqa: F811
    site, results = viewer
    p, _ = _open(browser, site, results, f"tau-bench-{domain}")
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
