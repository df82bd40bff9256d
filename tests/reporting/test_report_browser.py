"""The report in a real headless Chromium (Debian's ``chromium``, driven through Playwright):
the leaderboard of an embedded-model run beside a second model loads without console errors,
failed requests or broken images, its drill-down pages account for every sample, and a
screenshot shows the styled page. CI sets M1EVAL_REQUIRE_BROWSER=1: no silent skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from m1eval.model.embedded import EMBEDDED_MODEL_ID
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import embedded_available


def _chromium() -> str | None:
    for name in (os.environ.get("M1EVAL_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = None
    exe = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed"
    if exe is None:
        problem = "no chromium executable (apt-get install chromium)"
    if problem:
        if os.environ.get("M1EVAL_REQUIRE_BROWSER"):
            pytest.fail(f"the browser is required here: {problem}")
        pytest.skip(problem)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """A page opened from disk that records everything that went wrong while loading it."""

    def __init__(self, browser: Any, path: Path, width: int = 1280) -> None:
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.on("console", lambda m: m.type in ("error", "warning")
                     and self.problems.append(f"console {m.type}: {m.text}"))  # fmt: skip
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.goto(path.as_uri(), wait_until="load")

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs of two models (the embedded one and a stub) reported together, made by the CLI in
    its own process (Playwright's sync API holds this process's event loop)."""

    def main(args: list[str]) -> int:
        return subprocess.run([sys.executable, "-m", "m1eval.cli", *args]).returncode

    if not embedded_available():
        pytest.skip("embedded model not installed (run scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("browser")
    results = tmp / "results"
    code = main(["run", "--suite", "aime24", "--split", "smoke", "--model", "embedded",
                 "--repeats", "2", "--max-tokens", "48", "--results-dir", str(results),
                 "--no-progress"])  # fmt: skip
    assert code in (0, 4)
    answers = {"$7 + 5$": "12", "divisors": "9", "$2^{10}$": "24", "consecutive": "21"}
    with StubServer(StubConfig(answers=answers, correct_rate=0.9)) as server:
        for suite in ("aime24", "mrcr"):
            code = main(["run", "--suite", suite, "--split", "smoke", "--base-url",
                         server.base_url, "--model", "stub-model", "--repeats", "2",
                         "--results-dir", str(results), "--no-progress"])  # fmt: skip
            assert code == 0
    out = tmp / "report"
    latency = Path(__file__).resolve().parents[2] / "benchmarks/results/attention_latency_h100.json"
    assert main(["report", str(results), "--out", str(out), "--latency", str(latency)]) == 0
    return out


def test_main_page_loads_clean(browser: Any, report: Path) -> None:
    page = Page(browser, report / "index.html")
    try:
        assert page.problems == []
        p = page.page
        # every plot decoded: score, MRCR bins, lengths, FLOPs, latency
        sizes = p.eval_on_selector_all("img", "els => els.map(e => [e.naturalWidth, e.alt])")
        assert len(sizes) == 5 and all(w > 0 for w, _ in sizes), sizes
        # the leaderboard: one column per model, one line per suite (MRCR's two aggregates)
        head = p.eval_on_selector_all("#leaderboard-table thead th", "els => els.map(e => "
                                      "e.textContent.trim())")  # fmt: skip
        assert head[:2] == ["suite", "paper"]
        assert sorted(head[2:]) == sorted([EMBEDDED_MODEL_ID, "stub-model"]), head
        suites = p.eval_on_selector_all("#leaderboard-table tbody td:first-child",
                                        "els => els.map(e => e.textContent.trim())")  # fmt: skip
        assert suites == [
            "aime24",
            "mrcr",
            "mrcr (128K)",
            "mrcr (1M)",
            "mrcr (whitespace kept)",
            "mrcr (128K, whitespace kept)",
            "mrcr (1M, whitespace kept)",
        ]
        # both models side by side on one AIME line; the stub's protocol has the paper's 86.0,
        # the embedded one's (512 tokens) has no paper column to be judged against
        aime = p.inner_text("#leaderboard-table tbody tr:first-child")
        assert "86.0" in aime and aime.count("[") == 2
        assert "no paper number" in aime
        # a smoke split is never judged against the paper
        assert "not comparable" in aime and "reproduced" not in aime
        # nothing wider than the window: the page reads without scrolling sideways
        assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        links = p.eval_on_selector_all("a[href^='runs/']", "els => els.map(e => "
                                       "e.getAttribute('href'))")  # fmt: skip
    finally:
        page.close()
    runs = {link.split("/")[1] for link in links if link != "runs/index.html"}
    assert len(runs) == 3
    for run in runs:
        index = Page(browser, report / "runs" / run / "index.html")
        assert index.problems == []
        samples = [
            json.loads(line)
            for line in (report.parent / "results" / run / "samples.jsonl").read_text().splitlines()
        ]
        # the run's page is the run viewer, with every sample
        index.page.wait_for_selector("#rows tr")
        assert index.page.locator("#count").inner_text().startswith(
            f"{len(samples)} of {len(samples)} samples")
        index.close()


def test_screenshot_of_main_page(browser: Any, report: Path) -> None:
    """The rendered page, not just its markup: the styled leaderboard is on the first screen,
    verdicts are drawn in their colours, and the plots fill the page below."""
    import numpy as np
    from matplotlib.image import imread

    page = Page(browser, report / "index.html")
    try:
        shot = report / "index.png"
        page.page.screenshot(path=str(shot), full_page=True)
        table = report / "leaderboard.png"
        page.page.locator("#leaderboard-table").screenshot(path=str(table))
        box = page.page.locator("#leaderboard-table").bounding_box()
    finally:
        page.close()
    full = imread(shot)[..., :3]
    assert full.shape[1] == 1280 and full.shape[0] > 2000  # five plots below the tables
    ink = (full < 0.9).any(axis=2).mean()
    assert 0.02 < ink < 0.6, ink  # neither blank nor a flood of colour
    assert box is not None and box["y"] + box["height"] < 900  # on the first screen
    pixels = (imread(table)[..., :3] * 255).round().astype(int).reshape(-1, 3)
    verdict_colours = {(0x1A, 0x7F, 0x37), (0xCF, 0x22, 0x2E), (0x9A, 0x67, 0x00)}
    found = {tuple(c) for c in np.unique(pixels, axis=0)} & verdict_colours
    assert found, "no verdict colour drawn in the leaderboard"
