"""GPQA-Diamond as a native suite: shuffled options, letter grading, the whole path from run
to report and compare, added without touching the CLI, runner, renderers or report."""

from __future__ import annotations

import json
from pathlib import Path

from m1eval.records import MODEL_FAILURE, SCORED
from m1eval.registry import get_suite
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import only_run_dir, read_jsonl


def smoke():
    suite = get_suite("gpqa-diamond")
    items, data = suite.load("smoke", None)
    return suite, items, data


def test_options_are_shuffled_reproducibly_and_the_gold_letter_follows() -> None:
    suite, items, data = smoke()
    assert len(items) >= 3 and data.repo_id == "Idavidrein/gpqa"
    golds = []
    for item in items:
        row = item.row
        assert sorted(row["options"]) == sorted(
            [row["Correct Answer"].strip(), row["Incorrect Answer 1"].strip(),
             row["Incorrect Answer 2"].strip(), row["Incorrect Answer 3"].strip()])  # fmt: skip
        assert row["options"]["ABCD".index(row["gold"])] == row["Correct Answer"].strip()
        golds.append(row["gold"])
        text = suite.build_messages(item)[0]["content"]
        assert text.startswith(row["Question"].strip()) and "\nA) " in text and "\nD) " in text
        assert text.endswith("put the letter of your final answer within \\boxed{}.")
    assert [i.row["gold"] for i in smoke()[1]] == golds  # the same order every time
    assert len(set(golds)) > 1  # not always the first option


def test_letter_grading() -> None:
    suite, items, _ = smoke()
    item = items[0]
    gold = item.row["gold"]
    wrong = next(x for x in "ABCD" if x != gold)
    for answer in (f"\\boxed{{{gold}}}", f"so \\boxed{{({gold})}}", f"\\boxed{{\\text{{{gold}}}}}",
                   f"\\boxed{{{wrong}}} no, \\boxed{{{gold}. because}}"):  # fmt: skip
        g = suite.grade(item, answer)
        assert (g.outcome, g.score, g.extracted_answer) == (SCORED, 1.0, gold), answer
    g = suite.grade(item, f"\\boxed{{{gold}}} wait, \\boxed{{{wrong}}}")
    assert (g.score, g.vote_key) == (0.0, wrong)  # the last box decides
    assert suite.grade(item, "The answer is " + gold).outcome == MODEL_FAILURE
    assert suite.grade(item, "\\boxed{E}").outcome == MODEL_FAILURE  # not an option


def test_from_run_to_report_and_compare(cli, tmp_path: Path) -> None:
    _, items, _ = smoke()
    # the stub answers every question but the last with its gold letter
    answers = {i.row["Question"][:40]: f"\\boxed{{{i.row['gold']}}}" for i in items[:-1]}
    answers[items[-1].row["Question"][:40]] = "\\boxed{Z}"
    for name in ("base", "cand"):
        with StubServer(StubConfig(answers=answers, correct_rate=1.0)) as server:
            res = cli("run", "--suite", "gpqa-diamond", "--split", "smoke", "--base-url",
                      server.base_url, "--model", "stub-model", "--repeats", "2",
                      "--results-dir", tmp_path / name, "--no-progress")  # fmt: skip
        assert res.code == 0, res.err
        assert "gpqa-diamond: not comparable with the paper: split 'smoke'" in res.out
    run = only_run_dir(tmp_path / "base")
    summary = json.loads((run / "summary.json").read_text())["suites"]["gpqa-diamond"]
    expected = 100 * (len(items) - 1) / len(items)
    assert summary["score"] == round(expected, 4)
    assert summary["headlines"][0]["paper"] == 70.0 and "maj@2" in summary["maj_at_k"]
    records = read_jsonl(run / "samples.jsonl")
    assert {r["extra"]["domain"] for r in records} >= {"Physics"}
    report = cli("report", tmp_path / "base", tmp_path / "cand", "--out", tmp_path / "rep")
    assert report.code == 0, report.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| gpqa-diamond | 70.0 (MiniMax-M1-80k) |" in md and "not comparable" in md
    cmp = cli("compare", only_run_dir(tmp_path / "base"), only_run_dir(tmp_path / "cand"),
              "--json")  # fmt: skip
    assert cmp.code == 0, cmp.err
    assert json.loads(cmp.out)["tests"][0]["name"] == "gpqa-diamond"


def test_grade_every_field() -> None:
    from m1eval.suites.base import Grade

    suite = get_suite("gpqa-diamond")
    [item, *_] = suite.load("smoke", None)[0]
    gold = suite.grade(item, "\\boxed{A}").gold
    assert gold in "ABCD"
    other = next(x for x in "ABCD" if x != gold)
    assert suite.grade(item, f"\\boxed{{{gold}}}") == Grade(
        "scored", 1.0, extracted_answer=gold, gold=gold, vote_key=gold
    )
    assert suite.grade(item, f"\\boxed{{{other}}}") == Grade(
        "scored", 0.0, extracted_answer=other, gold=gold, vote_key=other, cause="wrong choice"
    )
    assert suite.grade(item, "no letter") == Grade(
        "model_failure", 0.0, gold=gold, error="no boxed option letter in the final answer"
    )
