"""Runs written by the previous version (summaries without headlines, breakdowns,
comparability or the conservative score; MRCR without prompts.jsonl) still list, show,
load, report and compare. The run directories in tests/runs/data/runs_v0 were written by m1eval
at commit a346136 against the stub server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from m1eval.results import load

OLD = Path(__file__).resolve().parent / "data" / "runs_v0"


def copy_old(tmp_path: Path) -> Path:
    target = tmp_path / "runs"
    shutil.copytree(OLD, target)
    return target


def test_old_runs_list_and_show(cli, tmp_path: Path) -> None:
    runs = copy_old(tmp_path)
    listed = cli("results", "list", "--results-dir", runs / "base")
    assert listed.code == 0, listed.err
    assert "aime24-v0-base" in listed.out and "smoke · all · 2" in listed.out
    shown = cli("results", "show", runs / "base" / "mrcr-v0-base")
    assert shown.code == 0, shown.err
    assert "mrcr (128K)" in shown.out and "by context bin" in shown.out
    df = load(runs / "*" / "*")
    assert len(df) == 2 * (5 * 2 + 4)  # two runs each of aime24 (5 x 2) and mrcr (2 x 2)
    # load()'s score is on the summaries' scale: its mean of item means is the summary's score
    aime = df[df.suite == "aime24"]
    by_run = aime.groupby(["run_id", "item_id"]).score.mean().groupby("run_id").mean()
    for run_id, value in by_run.items():
        summary = json.loads((runs / run_id.split("-")[-1] / run_id / "summary.json").read_text())
        assert value == pytest.approx(summary["suites"]["aime24"]["score"])
        assert 0 < value <= 100
    assert (aime.score == 100 * aime.grade).all() and set(aime.grade) <= {0.0, 1.0}


def test_old_runs_report_with_derived_headlines(cli, tmp_path: Path) -> None:
    runs = copy_old(tmp_path)
    res = cli("report", runs / "base", "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    board = md.split("## Runs")[0]
    # several footnotes on one row are separated, each linked
    assert re.search(r"\| mrcr \(128K\)\[\^\d+\](,\[\^\d+\])+ \|", md), md.split("## Runs")[1][:600]
    assert "FIDELITY.md#mrcr" in md
    for line in ("| aime24 | 86.0 (MiniMax-M1-80k) |", "| mrcr (128K) | 73.4 (MiniMax-M1-80k) |",
                 "| mrcr (1M) | 56.2 (MiniMax-M1-80k) |"):  # fmt: skip
        assert line in board, line
    aime = next(ln for ln in board.splitlines() if ln.startswith("| aime24 |"))
    summary = json.loads((runs / "base" / "aime24-v0-base" / "summary.json").read_text())
    assert f"{summary['suites']['aime24']['score']:.1f}" in aime
    assert "not comparable" in aime  # a smoke split, judged as such even from an old run


def test_old_runs_compare(cli, tmp_path: Path) -> None:
    runs = copy_old(tmp_path)
    for suite in ("aime24", "mrcr"):
        res = cli("compare", runs / "base" / f"{suite}-v0-base",
                  runs / "cand" / f"{suite}-v0-cand", "--json")  # fmt: skip
        assert res.code in (0, 1), res.err
        names = [t["name"] for t in json.loads(res.out)["tests"]]
        assert names[0] == suite
        if suite == "mrcr":  # the bins, found through the legacy summary fields
            assert any(n.startswith("mrcr/") for n in names), names


def test_results_list_cuts_nothing_and_honours_columns(cli, tmp_path: Path, monkeypatch) -> None:
    """Model names and times are shown whole in a log (no "…"), and ``COLUMNS`` sets the
    width: at 90 columns long values fold onto more lines, every character still there."""
    runs = tmp_path / "runs"
    shutil.copytree(OLD.parent / "runs_v1", runs)
    monkeypatch.delenv("COLUMNS", raising=False)
    wide = cli("results", "list", "--results-dir", runs)
    assert wide.code == 0, wide.err
    assert "…" not in wide.out
    assert "MiniMaxAI/MiniMax-M1-80k" in wide.out and "2026-12-06 03:56 UTC" in wide.out
    assert "tau-bench-retail-minimaxai-minimax-m1-80k-m1-80k-d5288dcc" in wide.out
    monkeypatch.setenv("COLUMNS", "90")
    narrow = cli("results", "list", "--results-dir", runs)
    assert narrow.code == 0, narrow.err
    lines = narrow.out.splitlines()
    assert lines and max(len(line) for line in lines) <= 90
    assert "…" not in narrow.out
    cells = "".join(line.split("│")[4].strip() for line in lines if line.count("│") > 4)
    assert "MiniMaxAI/MiniMax-M1-80k" in cells  # the model column, folded but whole


def test_breakdown_titles_do_not_wrap_at_the_table_width(cli, monkeypatch) -> None:
    """A breakdown's title is one line even when its table is two narrow columns wide."""
    monkeypatch.setenv("COLUMNS", "100")
    run = OLD.parent / "runs_v1" / "tau-bench-retail-minimaxai-minimax-m1-80k-m1-80k-d5288dcc"
    shown = cli("results", "show", run)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert "tau-bench-retail: pass^k (k of the trials succeed)" in lines
    assert "tau-bench-retail: how episodes ended" in lines
