"""Leaderboard reports: verdicts from intervals, Markdown with footnoted deviations, HTML."""

from __future__ import annotations

import json
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
    board = md.split("## Runs")[0]
    assert "| suite | paper | stub-model |" in board  # the model is a column
    assert "| aime24 | 86.0 (MiniMax-M1-80k) |" in board  # the m1-80k column's number
    assert "| mrcr (128K) | 73.4 (MiniMax-M1-80k) |" in board
    assert "| stub-model | aime24-" in md and "[^1]:" in md  # deviations are footnotes
    # where readings differ, the report names the one the paper verdict is given on
    assert "mrcr (128K): judged against the paper on this reading: mean of the bin means of " \
        "4K-8K .. 64K-128K; graded: answer after the reasoning" in md  # fmt: skip
    usage = md.split("## Tokens, latency and throughput")[1].split("## Plots")[0]
    assert usage.count("| aime24-") == 1 and usage.count("| mrcr-") == 1
    plots = {p.name for p in (out / "plots").iterdir()}
    assert plots == {"score_vs_paper.png", "mrcr_bins.png", "reasoning_lengths.png",
                     "flops.png"}  # fmt: skip
    assert all(f"](plots/{name})" in md for name in plots)
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "mrcr (1M)" in page
    # every sample of every run is one click from the leaderboard: the run viewer
    run_pages = sorted((out / "runs").glob("*/index.html"))
    assert len(run_pages) == 2 and (out / "runs" / "index.html").is_file()
    for run_page in run_pages:
        assert f'href="runs/{run_page.parent.name}/index.html"' in page
        index = (run_page.parent / "index.js").read_text()
        n = len((tmp_path / "results" / run_page.parent.name / "samples.jsonl").read_text()
                .splitlines())  # fmt: skip
        payload = json.loads(index[index.index("(") + 1 : index.rindex(")")])
        assert len(payload["samples"]) == n  # every sample accounted for
    # the same runs load as one tidy frame for a leaderboard pivot
    df = load(tmp_path / "results" / "*")
    pivot = df.groupby(["model", "suite"])["score"].mean().unstack()
    assert set(pivot.columns) == {"aime24", "mrcr"}
    bad = cli("report", str(tmp_path / "nothing"), "--out", out)
    assert bad.code == 2 and "no run found" in bad.err


def test_the_leaderboard_shows_the_latest_complete_run(cli, tmp_path: Path) -> None:
    """Four runs of one model on aime24: by default one column (the latest complete run, not
    the newer incomplete one), the rest listed as earlier runs; --all-runs: a column each."""
    import shutil

    with StubServer(StubConfig(answers={"$7 + 5$": "12"}, correct_rate=1.0)) as server:
        for seed in (1, 2, 3):
            assert cli("run", "--suite", "aime24", "--split", "smoke", "--base-url",
                       server.base_url, "--model", "stub-model", "--repeats", "1", "--seed",
                       str(seed), "--results-dir", tmp_path / "results",
                       "--no-progress").code == 0  # fmt: skip
    runs = sorted((tmp_path / "results").iterdir())
    for k, run in enumerate(runs):  # created one day apart, in this order
        manifest = json.loads((run / "manifest.json").read_text())
        manifest["created_at"] = f"2026-01-0{k + 1}T00:00:00+00:00"
        (run / "manifest.json").write_text(json.dumps(manifest))
    newest = tmp_path / "results" / "aime24-newest-incomplete"
    shutil.copytree(runs[-1], newest)
    manifest = json.loads((newest / "manifest.json").read_text())
    manifest["created_at"] = "2026-02-01T00:00:00+00:00"
    (newest / "manifest.json").write_text(json.dumps(manifest))
    summary = json.loads((newest / "summary.json").read_text())
    summary["suites"]["aime24"]["complete"] = False
    (newest / "summary.json").write_text(json.dumps(summary))
    assert cli("report", str(tmp_path / "results"), "--out", tmp_path / "rep").code == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| suite | paper |"))
    assert header == "| suite | paper | stub-model |"  # one column
    board = md.split("## Runs")[1].split("##")[0]
    assert runs[-1].name in board and newest.name not in board  # latest *complete*
    earlier = md.split("## Earlier runs")[1].split("## ")[0]
    listed = [line.split(" | ")[0][2:] for line in earlier.splitlines() if line.startswith("| ")]
    assert listed[1:] == [newest.name, runs[1].name, runs[0].name]  # newest first
    # every run is still one click away, in the viewer
    assert {p.parent.name for p in (tmp_path / "rep" / "runs").glob("*/index.html")} == {
        *(r.name for r in runs), newest.name}  # fmt: skip
    assert cli("report", str(tmp_path / "results"), "--out", tmp_path / "all",
               "--all-runs").code == 0  # fmt: skip
    md = (tmp_path / "all" / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| suite | paper |"))
    assert header.count("stub-model (") == 4 and "## Earlier runs" not in md


def test_leaderboard_columns_and_lines() -> None:
    """Models are columns; a model run twice on one suite gets a column per run; each line
    lists every paper number its cells were judged against."""
    from m1eval.reporting.leaderboard import label_columns, paper_text, pivot

    def row(model: str, run: str, suite: str, column: str | None, paper: float | None) -> dict:
        return {"model": model, "run": run, "suite": suite, "paper_column": column,
                "paper": paper, "score": 50.0}  # fmt: skip

    rows = [row("a", "r1", "aime24", "MiniMax-M1-80k", 86.0),
            row("a", "r1", "mrcr", "MiniMax-M1-80k", None),
            row("b", "r2", "aime24", "MiniMax-M1-40k", 83.3),
            row("b", "r3", "aime24", None, None),
            row("c", "r4", "aime24", "MiniMax-M1-80k", 86.0),
            row("c", "r5", "mrcr", "MiniMax-M1-80k", None)]  # fmt: skip
    columns = label_columns(rows)
    assert columns == ["a", "b (r2)", "b (r3)", "c"]  # c's two runs cover different suites
    lines = pivot(rows, columns)
    assert [line["suite"] for line in lines] == ["aime24", "mrcr"]
    assert set(lines[0]["cells"]) == {"a", "b (r2)", "b (r3)", "c"}
    assert paper_text(lines[0]) == "86.0 (MiniMax-M1-80k); 83.3 (MiniMax-M1-40k)"
    assert paper_text(lines[1]) == "—"


def test_report_refuses_a_bad_latency_file(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(answers={}, correct_rate=0.0)) as server:
        res = cli(
            "run",
            "--suite",
            "aime24",
            "--split",
            "smoke",
            "--base-url",
            server.base_url,
            "--model",
            "stub-model",
            "--results-dir",
            tmp_path / "results",
            "--no-progress",
        )
        assert res.code == 0, res.err
    bad = tmp_path / "latency.json"
    bad.write_text('{"device": "x"}')
    res = cli("report", str(tmp_path / "results"), "--out", tmp_path / "out", "--latency", bad)
    assert res.code == 2 and "not a latency result" in res.err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_prompt_log_keeps_heads_and_tails(tmp_path: Path) -> None:
    from m1eval.store import RunStore, read_prompts, shorten_message

    long = "a" * 50_000 + "MIDDLE" + "z" * 50_000
    short = shorten_message({"role": "user", "content": long}, keep=1000)
    assert short["content"].startswith("a" * 500) and short["content"].endswith("z" * 500)
    assert "100,006" not in short["content"] and "99,006 characters left out" in short["content"]
    parts = shorten_message({"role": "user", "content": [{"type": "text", "text": "hi"}]})
    assert parts == {"role": "user", "content": "hi"}
    store = RunStore(tmp_path / "run")
    store.open("cfg")
    store.log_prompt("sha-1", [{"role": "user", "content": "first"}])
    store.log_prompt("sha-1", [{"role": "user", "content": "again"}])  # once per hash
    store.close()
    with (tmp_path / "run" / "prompts.jsonl").open("a") as fh:
        fh.write('{"prompt_sha256": "sha-2", "mess')  # torn by a kill
    assert read_prompts(tmp_path / "run") == {"sha-1": [{"role": "user", "content": "first"}]}
    store = RunStore(tmp_path / "run")
    store.open("cfg")  # a resumed run does not log a known prompt twice
    store.log_prompt("sha-1", [{"role": "user", "content": "first"}])
    store.log_prompt("sha-3", [{"role": "user", "content": "third"}])  # after the torn line
    store.close()
    assert (tmp_path / "run" / "prompts.jsonl").read_text().count("sha-1") == 1
    assert set(read_prompts(tmp_path / "run")) == {"sha-1", "sha-3"}


def test_report_says_why_samples_failed(cli, tmp_path: Path) -> None:
    config = StubConfig(answers={"$7 + 5$": "12"}, correct_rate=1.0,
                        unanswered_prompts=("What is $3^4$",))  # fmt: skip
    with StubServer(config) as server:
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url", server.base_url,
                  "--model", "stub-model", "--repeats", "2", "--results-dir",
                  tmp_path / "results", "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    out = tmp_path / "rep"
    assert cli("report", str(tmp_path / "results"), "--out", out).code == 0
    md = (out / "report.md").read_text()
    section = md.split("## Why samples did not score 1")[1].split("## Tokens")[0]
    # the stub knows one answer: the unanswered item twice, six wrong values (4 items x 2 - 2)
    assert ("| 8 | model failures: 2 × no \\\\boxed{} answer in the final answer · "
            "below full credit: 6 × wrong value |") in section, section
    html = (out / "index.html").read_text()
    assert '<h2 id="failures">Why samples did not score 1</h2>' in html
    assert "model failures: 2 × no \\boxed{} answer in the final answer" in html
    # a run without model failures has no such section
    with StubServer(StubConfig(answers={"$7 + 5$": "12"}, correct_rate=1.0)) as server:
        assert cli("run", "--suite", "aime24", "--split", "smoke", "--base-url",
                   server.base_url, "--model", "stub-model", "--limit", "1", "--results-dir",
                   tmp_path / "clean", "--no-progress").code == 0  # fmt: skip
    assert cli("report", str(tmp_path / "clean"), "--out", tmp_path / "rep2").code == 0
    assert "Why samples did not score 1" not in (tmp_path / "rep2" / "report.md").read_text()
