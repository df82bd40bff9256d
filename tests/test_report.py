"""Leaderboard reports: verdicts from intervals, Markdown with footnoted deviations, HTML."""

from __future__ import annotations

from pathlib import Path

from m1eval.reporting.verdict import verdict
from m1eval.results import load
from m1eval.testing.stub_server import StubConfig, StubServer


def test_verdicts() -> None:
    assert verdict(85.0, 80.0, 90.0, 86.0) == "reproduced"
    assert verdict(70.0, 65.0, 75.0, 86.0) == "not reproduced"
    assert verdict(50.0, 20.0, 80.0, 86.0) == "inconclusive"  # too wide to exclude
    assert verdict(50.0, 20.0, 80.0, 60.0) == "inconclusive"  # too wide to confirm
    assert verdict(80.0, 78.0, 82.0, None) == "no paper number"
    # the paper's own sampling error (30 items) widens the interval
    assert verdict(80.0, 78.0, 82.0, 86.0) == "not reproduced"
    assert verdict(80.0, 78.0, 82.0, 86.0, paper_items=30) == "reproduced"


def test_report_of_runs(cli, tmp_path: Path) -> None:
    answers = {"$7 + 5$": "12", "divisors": "9", "$2^{10}$": "24", "consecutive": "21"}
    with StubServer(StubConfig(answers=answers, correct_rate=0.9)) as server:
        for suite in ("aime24", "mrcr"):
            res = cli("run", "--suite", suite, "--split", "smoke", "--base-url",
                      server.base_url, "--model", "stub-model", "--repeats", "2",
                      "--results-dir", tmp_path / "results", "--no-progress")  # fmt: skip
            assert res.code == 0, res.err
    out = tmp_path / "reports" / "nightly"
    res = cli("report", str(tmp_path / "results"), "--out", out)
    assert res.code == 0, res.err
    md = (out / "report.md").read_text()
    assert "| stub-model | aime24 |" in md and "86.0" in md  # the m1-80k column's number
    assert "mrcr (128K)" in md and "73.4" in md
    assert "[^1]:" in md  # deviations are footnotes
    page = (out / "index.html").read_text()
    assert "<table>" in page and "data:image/png;base64," in page and "mrcr (1M)" in page
    # the same runs load as one tidy frame for a leaderboard pivot
    df = load(tmp_path / "results" / "*")
    pivot = df.groupby(["model", "suite"])["score"].mean().unstack()
    assert set(pivot.columns) == {"aime24", "mrcr"}
    bad = cli("report", str(tmp_path / "nothing"), "--out", out)
    assert bad.code == 2 and "no run found" in bad.err
