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
        failure = wrong["extra"]["first_failure"]
        assert failure["status"] == "wrong_answer"
        assert pane.locator("p.ff-status").inner_text() == "test 0: wrong_answer"
        # input, expected and actual output, each as the record holds it
        for part in ("input", "expected", "actual"):
            assert pane.locator(f"pre.ff-{part}").inner_text() == failure[part], part
        assert (failure["input"], failure["expected"], failure["actual"]) == ("[3, 1, 4]", "4", "1")
        assert pane.locator("p.why-line").inner_text() == "why: wrong answer"
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
        links = page.locator("#right li a")  # the sample's files
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


def test_a_sample_url_opens_that_sample(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    run = next(results.glob("livecodebench-*"))
    records = read_jsonl(run / "samples.jsonl")
    target = records[-1]
    key = f"livecodebench/{target['item_id']}/{target['repeat']}"
    p = Page(browser, site / run.name / "index.html")
    try:
        page = p.page
        page.goto((site / run.name / "index.html").as_uri() + "#sample=" + key.replace("/", "%2F"))
        page.wait_for_selector("#right h2")
        assert page.locator("#right h2").inner_text() == (
            f"livecodebench · {target['item_id']} #{target['repeat']}")
        # the pane's own link is that URL, and a click on a row puts its URL in the bar
        href = page.locator("#right a.permalink").get_attribute("href")
        assert href == "#sample=" + key.replace("/", "%2F")
        page.locator("#rows tr").first.click()
        page.wait_for_function("location.hash.startsWith('#sample=livecodebench')")
        first = page.evaluate("decodeURIComponent(location.hash)")
        cells = page.locator("#rows tr").first.locator("td")
        assert first == f"#sample=livecodebench/{cells.nth(1).inner_text()}/" + (
            cells.nth(2).inner_text())
        # a sample that is not there says so
        page.goto((site / run.name / "index.html").as_uri() + "#sample=nope%2F1%2F0")
        page.wait_for_selector("#right p.muted")
        assert "no sample nope/1/0 in this run" in page.locator("#right").inner_text()
        assert p.problems == []
    finally:
        p.close()


def test_status_and_cause_filters_agree_with_the_records(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    p, records = _open(browser, site, results, "livecodebench")
    try:
        page = p.page
        page.wait_for_selector("#rows tr")
        statuses = sorted({r["extra"]["first_failure"]["status"] for r in records
                           if (r.get("extra") or {}).get("first_failure")})  # fmt: skip
        assert "wrong_answer" in statuses
        for status in statuses:
            page.select_option("#f-cause", f"status: {status}")
            _expect(page, sum(((r.get("extra") or {}).get("first_failure") or {}).get("status")
                              == status for r in records))  # fmt: skip
        causes = sorted({r["cause"] for r in records if r.get("cause")})
        assert "wrong answer" in causes
        for cause in causes:
            page.select_option("#f-cause", cause)
            _expect(page, sum(r.get("cause") == cause for r in records))
        page.select_option("#f-cause", "")
        _expect(page, len(records))
        assert p.problems == []
    finally:
        p.close()


def test_navigation_sorting_gold_and_grade_colours(browser: Any, viewer) -> None:  # noqa: F811
    site, results = viewer
    p, records = _open(browser, site, results, "aime24")
    try:
        page = p.page
        page.wait_for_selector("#rows tr")
        assert page.locator("#back").get_attribute("href") == "../index.html"
        # keyboard: j opens the first row, j the next, k goes back
        page.keyboard.press("j")
        page.wait_for_selector("#rows tr.open")
        first = page.locator("#rows tr").nth(0)
        assert "open" in (first.get_attribute("class") or "")
        page.keyboard.press("j")
        row_open = "document.querySelectorAll('#rows tr')[{}].classList.contains('open')"
        page.wait_for_function(row_open.format(1))
        page.keyboard.press("ArrowUp")
        page.wait_for_function(row_open.format(0))
        # sorting by grade, both ways
        page.click("th[data-key=score]")
        grades = [float(t) for t in page.locator("#rows tr td:nth-child(5)").all_inner_texts()
                  if t not in ("", "null")]  # fmt: skip
        assert grades == sorted(grades) and len(grades) == sum(r["score"] is not None
                                                              for r in records)  # fmt: skip
        page.click("th[data-key=score]")
        grades = [float(t) for t in page.locator("#rows tr td:nth-child(5)").all_inner_texts()
                  if t not in ("", "null")]  # fmt: skip
        assert grades == sorted(grades, reverse=True)
        # the gold column, and grades coloured by value (a graded 0 is not green)
        golds = page.locator("#rows tr td:nth-child(6)").all_inner_texts()
        assert sorted(golds) == sorted(str(r["gold"]) for r in records)
        for row in page.locator("#rows tr").all():
            grade = row.locator("td").nth(4)
            text, cls = grade.inner_text(), grade.get_attribute("class")
            if text == "1":
                assert cls == "g1"
            elif text == "0":
                assert cls == "g0"
        assert p.problems == []
    finally:
        p.close()


def test_runs_page_columns(browser: Any, viewer) -> None:  # noqa: F811
    site, _ = viewer
    p = Page(browser, site / "index.html")
    try:
        page = p.page
        page.wait_for_selector("#runs tr")
        heads = page.locator("thead th").all_inner_texts()
        assert heads[:8] == ["run", "status", "suite", "model", "created", "split", "limit",
                             "repeats"]  # fmt: skip
        row = page.locator("#runs tr", has_text="aime24-").first
        cells = row.locator("td").all_inner_texts()
        assert cells[1:4] == ["complete", "aime24", "MiniMaxAI/MiniMax-M1-80k"]
        assert cells[5:7] == ["smoke", "all"]
        page.click("th[data-key=suite]")
        suites = page.locator("#runs tr td:nth-child(3)").all_inner_texts()
        assert suites == sorted(suites)
        assert p.problems == []
    finally:
        p.close()


def test_two_runs_side_by_side_flipped_items_first(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    """Two real aime24 runs: A knows every answer, B two of five; the three items B lost come
    first, and a flipped item shows both runs' answers."""
    from m1eval.testing.stub_server import StubConfig, StubServer

    known = {"$7 + 5$": "12", "divisors": "9", "$2^{10}$": "24", "consecutive": "21",
             "$3^4$": "81"}  # fmt: skip
    for name, answers in (("a", known), ("b", dict(list(known.items())[:2]))):
        with StubServer(StubConfig(answers=answers, correct_rate=1.0)) as server:
            _run(server.base_url, tmp_path / name, "aime24", "--model", "stub-model",
                 "--repeats", "1")  # fmt: skip
    runs = {k: next((tmp_path / k).iterdir()) for k in ("a", "b")}
    (tmp_path / "b" / runs["b"].name).rename(tmp_path / "b" / (runs["b"].name + "-b"))
    runs["b"] = tmp_path / "b" / (runs["b"].name + "-b")
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "m1eval.cli", "view", str(runs["a"]),
                          str(runs["b"]), "--out", str(site)], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    rec = {k: {r["item_id"]: r for r in read_jsonl(v / "samples.jsonl")} for k, v in runs.items()}
    flipped = sorted(i for i in rec["a"] if rec["a"][i]["score"] != rec["b"][i]["score"])
    assert len(flipped) == 3 and all(rec["a"][i]["score"] == 1.0 for i in flipped)
    p = Page(browser, site / "index.html")
    try:
        page = p.page
        page.wait_for_selector("#runs tr")
        page.select_option("#side-a", runs["a"].name)
        page.select_option("#side-b", runs["b"].name)
        page.click("#side button")
        page.wait_for_selector("#rows tr")
        rows = page.locator("#rows tr")
        assert rows.count() == 5
        top = [rows.nth(k).locator("td").nth(1).inner_text() for k in range(3)]
        assert sorted(top) == flipped  # the flipped items first
        assert "3 flipped" in page.locator("#summary").inner_text()
        rows.first.click()
        page.wait_for_selector("#side-b pre.answer")
        item = top[0]
        a_text = page.locator("#side-a pre.answer").first.inner_text()
        b_text = page.locator("#side-b pre.answer").first.inner_text()
        assert a_text == rec["a"][item]["answer"] and b_text == rec["b"][item]["answer"]
        assert a_text != b_text
        # the item's URL opens it again
        url = page.url
        assert "item=aime24%2F" in url
        page.goto("about:blank")
        page.goto(url)
        page.wait_for_selector("#side-a pre.answer")
        assert page.locator("#side-a pre.answer").first.inner_text() == a_text
        assert p.problems == []
    finally:
        p.close()


def test_tau_db_diff_and_swe_tests(browser: Any, viewer, tmp_path: Path) -> None:  # noqa: F811
    site, results = viewer
    p, records = _open(browser, site, results, "tau-bench-retail")
    try:
        lost = [r for r in records if ((r.get("extra") or {}).get("db_diff") or {}).get("changes")]
        assert lost, "no episode of the smoke run differs from gold"
        target = lost[0]
        pane = _show(p.page, str(target["item_id"]), target["repeat"])
        changes = target["extra"]["db_diff"]["changes"]
        rows = pane.locator("table.diff tr")
        assert rows.count() == len(changes) + 1
        cells = rows.nth(1).locator("td").all_inner_texts()
        assert cells[0] == changes[0]["path"]
        assert cells[1:] == [c if c is not None else "(absent)"
                             for c in (changes[0]["gold"], changes[0]["actual"])]  # fmt: skip
        assert pane.locator("p.why-line").inner_text() == f"why: {target['cause']}"
        assert p.problems == []
    finally:
        p.close()
    # SWE-bench: a run whose patch left tests failing (the smoke patch resolves its instance,
    # so the record is given a harness report's failing tests here)
    run = next(results.glob("swe-bench-*"))
    copy = tmp_path / "results" / run.name
    copy.parent.mkdir()
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    recs = read_jsonl(copy / "samples.jsonl")
    recs[0].update(score=0.0, cause="FAIL_TO_PASS: 3 still failing; PASS_TO_PASS: 1 broken")
    recs[0]["extra"].update(fail_to_pass_failed=3, fail_to_pass_failing=["t::a", "t::b"],
                            pass_to_pass_failed=1, pass_to_pass_failing=["t::c"])  # fmt: skip
    (copy / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = subprocess.run([sys.executable, "-m", "m1eval.cli", "view", str(copy), "--out",
                          str(tmp_path / "site")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    p = Page(browser, tmp_path / "site" / run.name / "index.html")
    try:
        pane = _show(p.page, str(recs[0]["item_id"]))
        assert pane.locator("pre.fail_to_pass").inner_text() == "t::a\nt::b\n… 1 more"
        assert pane.locator("pre.pass_to_pass").inner_text() == "t::c"
        heads = pane.locator("h4").all_inner_texts()
        assert "FAIL_TO_PASS still failing (3)" in heads and "PASS_TO_PASS broken (1)" in heads
        assert p.problems == []
    finally:
        p.close()
