"""SimpleQA: the official grader prompt, the official reading of the judge's reply and the
official aggregate, against verdicts recorded by running simple-evals' own simpleqa_eval.py
(tests/suites/data/simpleqa_official.json); then real runs of the smoke split against the vLLM
emulator acting as both the evaluated model and the judge (scripted replies), a judge that
cannot be reached (infra errors, graded on the rerun) and one that answers nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from m1eval.registry import get_suite
from m1eval.suites.simpleqa import GRADES, grader_prompt, judge_letter, rates
from m1eval.testing.vllm_emulator import spawn
from tests.conftest import only_run_dir, read_jsonl

OFFICIAL = json.loads((Path(__file__).parent / "data" / "simpleqa_official.json").read_text())
# the emulator's scripted replies: the judge's keys first (its prompt also holds the question)
SCRIPT = {
    # the question and the gold target must reach the judge's prompt
    "Question: Which river flows through the smoke-test town of Lindenfeld?\n"
    "Gold target: The Alder\nPredicted answer: The Alder": "A",
    "Gold target: 7\nPredicted answer: Seven spans": "B",
    "Predicted answer: I do not know": "C",
    "Predicted answer: Maria Kessel": "The grade is none of those",
    "Lindenfeld": "The Alder",
    "Vellmar": "Seven spans",
    "Blue Hours": "Maria Kessel",
    "Oberau": "I do not know",
}


def test_the_grader_prompt_is_simple_evals() -> None:
    example = OFFICIAL["grader_prompt_example"]
    prompt = grader_prompt(example["question"], example["target"], example["predicted_answer"])
    assert hashlib.sha256(prompt.encode()).hexdigest() == OFFICIAL["grader_prompt_sha256"]


def test_the_judge_reply_is_read_as_simple_evals_reads_it() -> None:
    """The first A, B or C anywhere: "CORRECT" reads C, "NOT_ATTEMPTED" reads A; none is C."""
    assert len(OFFICIAL["letters"]) >= 20
    for reply, letter in OFFICIAL["letters"].items():
        assert (judge_letter(reply) or "C") == letter, reply
    assert judge_letter("I cannot grade this.") is None  # named: the judge's failure


@pytest.mark.parametrize("case", OFFICIAL["aggregates"], ids=lambda c: "".join(
    c["judge_replies"]) or "empty")  # fmt: skip
def test_the_aggregate_is_simple_evals(case: dict) -> None:
    grades = [[GRADES[judge_letter(r) or "C"]] for r in case["judge_replies"]]
    got = rates(grades)
    m = case["metrics"]
    assert got["correct"] == pytest.approx(100 * m["is_correct"])
    assert got["correct"] == pytest.approx(100 * case["score"])  # the eval's own score
    assert got["incorrect"] == pytest.approx(100 * m["is_incorrect"])
    assert got["not_attempted"] == pytest.approx(100 * m["is_not_attempted"])
    assert got["correct_given_attempted"] == pytest.approx(100 * m["accuracy_given_attempted"])
    assert got["f_score"] == pytest.approx(100 * case["f1"])


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("simpleqa")
    answers = tmp / "answers.json"
    answers.write_text(json.dumps(SCRIPT))
    proc, url = spawn(tmp, "--answers", str(answers), "--correct-rate", "1")
    yield url
    proc.kill()
    proc.wait()


def _run(cli, url: str, results: Path, *extra: str):
    return cli("run", "--suite", "simpleqa", "--split", "smoke", "--base-url", url,
               "--results-dir", results, "--no-progress", *extra)  # fmt: skip


def test_a_run_judged_by_a_model(cli, emulator: str, tmp_path: Path) -> None:
    res = _run(cli, emulator, tmp_path)
    assert res.code == 0, res.err
    assert "the evaluated model grades itself" in res.err  # said loudly
    run = only_run_dir(tmp_path)
    by_item = {r["item_id"]: r for r in read_jsonl(run / "samples.jsonl")}
    assert {k: (r["outcome"], r["score"], r["extra"]["grade"]) for k, r in by_item.items()} == {
        "0": ("scored", 1.0, "CORRECT"), "1": ("scored", 0.0, "INCORRECT"),
        "2": ("model_failure", 0.0, "NOT_ATTEMPTED"), "3": ("scored", 0.0, "NOT_ATTEMPTED")}
    assert by_item["2"]["error"] == ("the judge's reply names no grade (A, B or C); counted "
                                     "NOT_ATTEMPTED as simple-evals does")  # fmt: skip
    # what was answered, against what, and why it did not score 1
    assert [(by_item[k]["extracted_answer"], by_item[k]["gold"], by_item[k].get("cause"))
            for k in "0123"] == [
        ("The Alder", "The Alder", None), ("Seven spans", "7", "judged INCORRECT"),
        ("Maria Kessel", "Maria Kessel", by_item["2"]["error"]), ("I do not know", "1412",
                                                 "judged NOT_ATTEMPTED")]  # fmt: skip
    assert {r["extra"]["judge_model"] for r in by_item.values()} == {
        "MiniMaxAI/MiniMax-M1-80k"}  # fmt: skip
    assert by_item["2"]["extra"]["judge_reply"] == "The grade is none of those"
    assert by_item["0"]["gold"] == "The Alder" and by_item["0"]["tags"]["topic"] == "Geography"
    s = json.loads((run / "summary.json").read_text())["suites"]["simpleqa"]
    # 1 correct, 1 incorrect, 2 not attempted of 4: correct 25, given attempted 50, F 1/3
    assert s["score"] == 25.0 and s["paper"]["score"] == 18.5
    heads = {h["name"]: h for h in s["headlines"]}
    assert heads["simpleqa"]["paper"] == 18.5
    assert heads["simpleqa (correct given attempted)"]["score"] == 50.0
    assert heads["simpleqa (F-score)"]["score"] == pytest.approx(100 / 3, abs=1e-3)
    assert heads["simpleqa (F-score)"]["paper"] is None
    assert s["simpleqa"]["not_attempted"] == 50.0 and s["judge_unparsed"] == 1
    assert s["judge"]["model"] == "MiniMaxAI/MiniMax-M1-80k"
    assert s["fidelity"].startswith("suites/simpleqa.yaml")
    # a model grading its own answers is no reproduction: said, whatever the split
    assert "the judge is the evaluated model" in s["comparable"]["why"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["run_context"]["judge"]["base_url"] == emulator
    shown = cli("results", "show", run)
    assert shown.code == 0 and "simpleqa (F-score)" in shown.out and "by topic" in shown.out


def test_an_unreachable_judge_is_an_infra_error_graded_on_the_rerun(cli, emulator: str,
                                                                    tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    res = _run(cli, emulator, tmp_path, "--judge-base-url", dead, "--max-attempts", "1")
    assert res.code == 4, res.err  # infra errors: incomplete, rerun to retry
    run = only_run_dir(tmp_path)
    records = read_jsonl(run / "samples.jsonl")
    assert {r["outcome"] for r in records} == {"infra_error"}
    assert all("the judge failed" in r["error"] for r in records)
    s = json.loads((run / "summary.json").read_text())["suites"]["simpleqa"]
    assert s["score"] is None and s["complete"] is False
    again = _run(cli, emulator, tmp_path)  # the judge's address is not part of the identity
    assert again.code == 0, again.err
    assert only_run_dir(tmp_path) == run
    assert {r["outcome"] for r in read_jsonl(run / "samples.jsonl")} == {"scored",
                                                                       "model_failure"}


def test_an_empty_judge_reply_is_an_infra_error(cli, tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"Predicted answer": "", "smoke-test": "The Alder"}))
    proc, url = spawn(tmp_path, "--answers", str(answers), "--correct-rate", "1")
    try:
        res = _run(cli, url, tmp_path / "r", "--limit", "1")
    finally:
        proc.kill()
        proc.wait()
    assert res.code == 4, res.err
    [record] = read_jsonl(only_run_dir(tmp_path / "r") / "samples.jsonl")
    assert record["outcome"] == "infra_error" and "empty reply" in record["error"]


def test_the_judge_model_is_part_of_every_sample_identity() -> None:
    from m1eval.runner import plan_samples

    def ids(options: dict) -> list[str]:
        suite = get_suite("simpleqa", options)
        items, _ = suite.load("smoke", None)
        return [p.sample_id for p in plan_samples(suite, items, 1, "m", {}, None)]

    base = ids({})
    assert ids({"judge_model": "gpt-4.1-2025-04-14"}) != base
    assert ids({"judge_base_url": "http://judge:8000/v1"}) == base  # where, not who


def test_an_answer_cut_off_in_its_reasoning_is_never_judged(cli, emulator: str,
                                                             tmp_path: Path) -> None:
    """No final answer: a model failure (truncated) that simple-evals' arithmetic counts as not
    attempted (never as incorrect, which would lower correct-given-attempted)."""
    res = _run(cli, emulator, tmp_path, "--max-tokens", "3")
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    records = read_jsonl(run / "samples.jsonl")
    assert {r["outcome"] for r in records} == {"model_failure"}
    assert all(r["error"].startswith("truncated") and "grade" not in r["extra"]
               for r in records)  # fmt: skip
    s = json.loads((run / "summary.json").read_text())["suites"]["simpleqa"]
    assert s["simpleqa"]["not_attempted"] == 100.0 and s["simpleqa"]["incorrect"] == 0.0
    assert s["judge_unparsed"] == 0 and s["score"] == 0.0


def test_summarize_by_hand() -> None:
    """Two items, two samples each (and one infra error): item 1 graded CORRECT and
    INCORRECT, item 2 NOT_ATTEMPTED and a judge reply naming no grade (NOT_ATTEMPTED).
    Per item (C, I, NA): (1/2, 1/2, 0) and (0, 0, 1); means 25, 25, 50; correct given
    attempted 25/50 = 50; F = 2 * 0.5 * 0.25 / 0.75 = 33.3. Resampling the two items gives
    (1, 1) -> 50 and 50, (2, 2) -> 0 and 0, (1, 2) -> 50 and 33.3: intervals [0, 50]."""
    suite = get_suite("simpleqa")
    recs = [
        {"item_id": "1", "repeat": 0, "outcome": "scored", "score": 1.0,
         "extra": {"grade": "CORRECT", "topic": "Art"}},
        {"item_id": "1", "repeat": 1, "outcome": "scored", "score": 0.0,
         "extra": {"grade": "INCORRECT", "topic": "Art"}},
        {"item_id": "2", "repeat": 0, "outcome": "scored", "score": 0.0,
         "extra": {"grade": "NOT_ATTEMPTED", "topic": "Music"}},
        {"item_id": "2", "repeat": 1, "outcome": "model_failure", "score": 0.0,
         "extra": {"judge_reply": "no grade here", "topic": "Music"}},
        {"item_id": "3", "repeat": 0, "outcome": "infra_error", "score": None, "extra": {}},
    ]  # fmt: skip
    s = suite.summarize(recs)
    heads = {h["name"]: h for h in s["headlines"]}
    assert (heads["simpleqa"]["score"], heads["simpleqa"]["ci_low"],
            heads["simpleqa"]["ci_high"]) == (25.0, 0.0, 50.0)  # fmt: skip
    given = heads["simpleqa (correct given attempted)"]
    assert (given["score"], given["ci_low"], given["ci_high"]) == (50.0, 0.0, 50.0)
    f = heads["simpleqa (F-score)"]
    assert (f["score"], f["ci_low"], f["ci_high"]) == (pytest.approx(33.3333), 0.0, 50.0)
    assert f["paper"] is None and f["note"] == "simple-evals' secondary metric"
    assert given["note"] == "simple-evals' secondary metric"
    assert heads["simpleqa"]["note"] == ("correct: share graded CORRECT by the judge "
                                         "(simple-evals' score)")  # fmt: skip
    assert s["simpleqa"] == {"correct": 25.0, "incorrect": 25.0, "not_attempted": 50.0,
                             "correct_given_attempted": 50.0, "f_score": 33.3333}
    grades, topics = s["breakdowns"]
    assert grades["title"].startswith("grades") and grades["columns"] == ["share", "samples"]
    assert [(r["group"], r["share"], r["samples"]) for r in grades["rows"]] == [
        ("CORRECT", 25.0, 1), ("INCORRECT", 25.0, 1), ("NOT_ATTEMPTED", 50.0, 2)]
    assert topics["record_key"] == "topic" and topics["title"] == "by topic"
    assert [(r["group"], r["score"], r["items"]) for r in topics["rows"]] == [
        ("Art", 50.0, 1), ("Music", 0.0, 1)]
    assert s["judge_unparsed"] == 1
    # one item alone: its value, no interval to draw
    one = suite.summarize(recs[:2])
    given = {h["name"]: h for h in one["headlines"]}["simpleqa (correct given attempted)"]
    assert (given["score"], given["ci_low"], given["ci_high"]) == (50.0, 50.0, 50.0)
    assert suite.summarize([recs[4]])["simpleqa"] == {}


def _judged(reply: str, answer: str = "The Alder") -> tuple:
    """Grade ``answer`` to the first smoke item with a judge that replies ``reply``; returns
    (grade, the messages the judge was sent, its parameters). The judge is a recording
    endpoint in this process: what is checked is what the harness sends and how it reads the
    reply (the runs above use the emulator as a real judge)."""
    import asyncio

    from m1eval.model.types import Completion
    from m1eval.suites.base import RunContext, Solution

    sent: list = []

    class Judge:
        async def complete(self, messages, params):
            sent.append((messages, params))
            return Completion.of_text(reply)

    async def endpoints(base_url, model, api_key):
        assert (base_url, model) == ("http://judge/v1", "judge-model")
        return Judge()

    suite = get_suite("simpleqa")
    items, _ = suite.load("smoke", None)
    suite.context = RunContext(endpoints=endpoints)
    suite._judge = ("http://judge/v1", "judge-model", None)
    grade = asyncio.run(suite.score(items[0], Solution(Completion.of_text(answer))))
    return grade, *sent[0]


def test_the_judge_is_sent_simple_evals_messages_and_read_as_it_reads_them() -> None:
    grade, messages, params = _judged("A")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == "You are a helpful assistant."  # simple-evals' sampler
    assert "Gold target: The Alder\nPredicted answer: The Alder" in messages[1]["content"]
    assert params == get_suite("simpleqa").judge_params
    assert (grade.outcome, grade.score, grade.cause) == ("scored", 1.0, None)
    assert grade.details == {"grade": "CORRECT", "judge_reply": "A",
                             "judge_model": "judge-model"}  # fmt: skip
    wrong, _, _ = _judged("B")
    assert (wrong.score, wrong.cause) == (0.0, "judged INCORRECT")
    # the answer kept with the sample is bounded: 300 characters
    long, _, _ = _judged("C", answer="x" * 400)
    assert long.extracted_answer == "x" * 300 and long.cause == "judged NOT_ATTEMPTED"


def test_an_empty_judge_reply_is_named() -> None:
    from m1eval.errors import InfraFault

    with pytest.raises(InfraFault, match=r"^the judge returned an empty reply$"):
        _judged("  \n")


def test_the_derived_rates_intervals_are_reproducible() -> None:
    """The same items give the same interval on every run (a fixed resampling seed)."""
    import numpy as np

    from m1eval.suites.simpleqa import _interval

    # 40 items of varied grade shares: an interval that moves with the resampling draws
    rows = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0], [0.25, 0.25, 0.5]]
    per_item = np.array([rows[(i * 7) % 5] if i % 3 else rows[i % 4] for i in range(40)])
    first = _interval(per_item, "f_score")
    assert first == _interval(per_item, "f_score")
    assert 0.0 <= first[0] < first[1] <= 100.0


def test_judging_before_the_judge_is_set_up_is_refused() -> None:
    import asyncio

    from m1eval.model.types import Completion
    from m1eval.suites.base import Solution

    suite = get_suite("simpleqa")
    items, _ = suite.load("smoke", None)
    with pytest.raises(RuntimeError, match=r"^prepare\(\) first$"):
        asyncio.run(suite.score(items[0], Solution(Completion.of_text("x"))))
