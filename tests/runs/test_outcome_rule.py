"""The truncation rule, written once (m1eval.outcomes): a generation cut off inside its
reasoning has no final answer and is the model's failure, never graded, whether it was asked
by a run or graded from a responses file."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from m1eval.model.types import Completion
from m1eval.outcomes import TRUNCATED, grade_output
from m1eval.registry import get_suite
from m1eval.suites.base import Solution


def test_a_cut_off_reasoning_is_a_model_failure_never_graded() -> None:
    suite = get_suite("aime24")
    items, _ = suite.load("smoke", None)
    item = items[0]
    right = f"\\boxed{{{item.row['answer']}}}"
    whole = Completion.of_text(right)
    assert asyncio.run(grade_output(suite, item, Solution(whole))).score == 1.0
    cut = replace(whole, reasoning_truncated=True)
    grade = asyncio.run(grade_output(suite, item, Solution(cut)))
    assert (grade.outcome, grade.score, grade.error) == ("model_failure", 0.0, TRUNCATED)


def test_m1eval_grade_applies_the_same_rule(cli, tmp_path: Path) -> None:
    suite = get_suite("aime24")
    items, _ = suite.load("smoke", None)
    gold = items[0].row["answer"]
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps({"item_id": items[0].item_id, "response": text})
                                 + "\n" for text in (f"<think>so \\boxed{{{gold}}}",
                                                     f"<think>x</think>\\boxed{{{gold}}}")))
    res = cli("grade", "--suite", "aime24", "--split", "smoke", "--responses", responses,
              "--out", tmp_path / "out.jsonl")  # fmt: skip
    assert res.code == 0, res.err
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["outcome"], r["score"], r["error"]) for r in rows] == [
        ("model_failure", 0.0, TRUNCATED), ("scored", 1.0, None)]


def test_a_cut_off_reasoning_is_an_empty_output_where_a_suite_counts_those() -> None:
    """LongBench-v2's official accuracy leaves empty outputs out (pred.py never writes one):
    a generation cut off in its reasoning has no answer, so the cut-off grade says
    ``empty_output`` (with the suite's own details beside it), which the summary reads."""
    suite = get_suite("longbench-v2")
    items, _ = suite.load("smoke", None)
    cut = replace(Completion.of_text("The correct answer is (B)"), reasoning_truncated=True)
    grade = asyncio.run(grade_output(suite, items[0], Solution(cut)))
    assert grade.error == TRUNCATED and grade.details["empty_output"] is True
    assert "pred_py_empty" in grade.details  # the literal reading's own verdict kept
