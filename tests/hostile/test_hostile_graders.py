"""A model's output is hostile: no answer may raise its own score or escape its grader.

The outcome rule (m1eval.outcomes): a grader failure on the output is a model_failure in the
denominator; only a proven infra fault is an infra_error. Hand-made attacks for each grader,
then hypothesis throws arbitrary text, huge numbers, NaN/sNaN/Infinity, deep nesting, control
characters and lone surrogates at every grader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m1eval.errors import InfraFault
from m1eval.graders.lcb import (
    Problem,
    call_result_matches,
    decode_test_cases,
    extract_code,
    judge,
    stdout_matches,
)
from m1eval.graders.math_answer import answers_match, extract_last_boxed, vote_key
from m1eval.outcomes import InfraFailure, grade_answer
from m1eval.records import INFRA_ERROR, MODEL_FAILURE, SCORED
from m1eval.registry import get_suite
from m1eval.suites import Grade, Item
from m1eval.suites.aime import AimeSuite
from m1eval.summary import summarize_suite
from m1eval.tau.calculate import calculate
from m1eval.tau.episode import tool_arguments
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import only_run_dir, read_jsonl

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 50_000
# answers crafted against graders: each is (or once was) a way to break one
ATTACKS = [
    "\\boxed{" + HUGE_INT + "}",  # int() raised past 4,300 digits
    "\\boxed{" + "0" * 20_000 + "7}",
    "\\boxed" * 50_000,  # recursion over boxes without arguments
    "\\boxed{" + "\\text{" * 5_000 + "1" + "}" * 5_001,  # quadratic clean-up
    "\\boxed{sNaN}",
    "\\boxed{NaN} \\boxed{Infinity}",
    "\\boxed{\ud800}",  # a lone surrogate
    "\\boxed{\x00\x1b[2J}",
    "\\boxed{" + "{" * 50_000,
    DEEP,
    "\\boxed{1e999999999}",
]


def smoke_items(suite_name: str) -> tuple[Any, list[Item]]:
    suite = get_suite(suite_name)
    items, _ = suite.load("smoke", None)
    return suite, items


def grade(suite: Any, item: Item, answer: str) -> Grade | InfraFailure:
    return asyncio.run(grade_answer(suite, item, answer))


# -- the rule --------------------------------------------------------------------------------


class _Raises(AimeSuite):
    def __init__(self, exc: BaseException) -> None:
        super().__init__(get_suite("aime24").spec)
        self.exc = exc

    def grade(self, item: Item, answer: str) -> Grade:
        raise self.exc


@pytest.mark.parametrize(
    "exc", [ValueError("Exceeds the limit (4300 digits)"), RecursionError(), MemoryError(),
            KeyError("x"), UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates")],
)  # fmt: skip
def test_a_grader_that_raises_on_the_output_is_a_model_failure(exc: BaseException) -> None:
    item = Item("1", {"problem": "p", "answer": "1"})
    result = grade(_Raises(exc), item, "anything")
    assert isinstance(result, Grade)
    assert result.outcome == MODEL_FAILURE and result.score == 0.0
    assert "grading failed on the model's output" in (result.error or "")
    assert type(exc).__name__ in (result.error or "")


def test_only_a_proven_infra_fault_is_an_infra_error() -> None:
    item = Item("1", {"problem": "p", "answer": "1"})
    result = grade(_Raises(InfraFault("docker daemon gone")), item, "x")
    assert isinstance(result, InfraFailure) and "docker daemon gone" in result.cause


def test_infra_errors_can_never_raise_the_conservative_score() -> None:
    recs = [
        {"item_id": "1", "repeat": 0, "outcome": SCORED, "score": 1.0},
        {"item_id": "2", "repeat": 0, "outcome": SCORED, "score": 0.0},
        {"item_id": "3", "repeat": 0, "outcome": INFRA_ERROR, "score": None},
        {"item_id": "4", "repeat": 0, "outcome": INFRA_ERROR, "score": None},
    ]
    s = summarize_suite(recs)
    assert s["score"] == 50.0  # infra errors left out
    assert s["conservative"]["score"] == 25.0  # ... and counted as wrong, side by side
    assert s["conservative"]["denominator"] == 4 and s["complete"] is False


# -- each grader against crafted answers -----------------------------------------------------


@pytest.mark.parametrize("attack", ATTACKS, ids=range(len(ATTACKS)))
def test_aime_attacks_are_wrong_answers_not_errors(attack: str) -> None:
    suite, items = smoke_items("aime24")
    started = time.monotonic()
    result = grade(suite, items[0], attack)
    assert time.monotonic() - started < 5
    assert isinstance(result, Grade)
    assert result.outcome in (SCORED, MODEL_FAILURE) and result.score == 0.0
    assert result.error is None or "grading failed" not in result.error


def test_aime_integer_comparison_needs_no_int() -> None:
    assert answers_match("0" * 10_000 + "25", "025").correct  # still the AIME convention
    assert not answers_match(HUGE_INT, "999").correct
    assert vote_key("0" * 9_000 + "7") == "7"
    assert extract_last_boxed("\\boxed{3} " + "\\boxed" * 10_000) == "3"


def test_aime_score_is_the_same_with_attacks_or_plain_wrong_answers(cli, tmp_path: Path) -> None:
    """Two right answers, three wrong ones: 40.0, whether the wrong ones are plain or crafted."""
    right = {"$7 + 5$": "12", "divisors": "9"}
    plain = {**right, "$2^{10}$": "The answer is \\boxed{7}.", "consecutive": "\\boxed{40}",
             "$3^4$": "\\boxed{80}"}  # fmt: skip
    crafted = {**right, "$2^{10}$": "\\boxed{" + HUGE_INT + "}", "consecutive": "\\boxed{sNaN}",
               "$3^4$": "\\boxed{\ud800" + "\\text{" * 3000 + "}"}  # fmt: skip
    scores = {}
    for name, answers in (("plain", plain), ("crafted", crafted)):
        with StubServer(StubConfig(answers=answers, correct_rate=1.0, reasoning=False)) as srv:
            res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url",
                      srv.base_url, "--model", "stub-model", "--results-dir", tmp_path / name,
                      "--repeats", "2", "--no-progress")  # fmt: skip
        assert res.code == 0, res.err
        run = only_run_dir(tmp_path / name)
        summary = json.loads((run / "summary.json").read_text())["suites"]["aime24"]
        assert summary["outcomes"]["infra_error"] == 0
        scores[name] = (summary["score"], summary["denominator"])
        assert all(r["outcome"] != INFRA_ERROR for r in read_jsonl(run / "samples.jsonl"))
    assert scores["plain"] == scores["crafted"] == (40.0, 10)


def test_grade_command_survives_crafted_responses(cli, tmp_path: Path) -> None:
    responses = tmp_path / "responses.jsonl"
    rows = [{"item_id": 1, "response": "\\boxed{12}"},
            {"item_id": 2, "response": "\\boxed{" + HUGE_INT + "}"},
            {"item_id": 3, "response": "\\boxed{\u2028sNaN}"},
            {"item_id": 4, "response": DEEP}]  # fmt: skip
    responses.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "graded.jsonl"
    res = cli("grade", "--suite", "aime24", "--split", "smoke", "--responses", responses,
              "--out", out)  # fmt: skip
    assert res.code == 0, res.err
    graded = read_jsonl(out)
    assert [g["score"] for g in graded] == [1.0, 0.0, 0.0, 0.0]
    assert all(g["outcome"] in (SCORED, MODEL_FAILURE) for g in graded)


def test_lcb_comparisons_refuse_without_raising() -> None:
    assert not stdout_matches("sNaN", "1")
    assert not stdout_matches("1 sNaN", "1 2")
    assert stdout_matches("NaN", "NaN")  # equal as text first, as upstream
    assert not stdout_matches("1e999999999999999999", "0")
    assert not call_result_matches(DEEP, "[]")
    assert not call_result_matches(HUGE_INT, "1")
    assert not call_result_matches("[" * 300 + "]" * 300, "[]")
    verdict = judge(Problem(["1"], ["1"], "f"), 0, {"status": "ok", "result": HUGE_INT})
    assert not verdict.passed and verdict.status == "wrong_answer"


def test_tau_calculate_is_bounded() -> None:
    started = time.monotonic()
    assert calculate("9**9**9").startswith("Error:")
    assert calculate("2**2**2**2**2**2").startswith("Error:")
    assert calculate("(9**99999)*(9**99999)*(9**99999)").startswith("Error:")
    assert calculate("1+" * 6_000 + "1").startswith("Error:")
    assert calculate("(" * 5_000 + "1" + ")" * 5_000).startswith("Error:")
    assert time.monotonic() - started < 2
    # within the bounds, the official strings
    assert calculate("2**10") == "1024.0"
    assert calculate("(1 + 2) * 3 / 4") == "2.25"
    assert calculate("10**400").startswith("Error: int too large to convert to float")
    assert calculate("1/0") == "Error: division by zero"
    assert calculate("import os") == "Error: invalid characters in expression"


def test_tau_tool_arguments_are_parsed_with_bounds() -> None:
    assert tool_arguments('{"user_id": "a"}') == {"user_id": "a"}
    for raw in ('{"a": ' * 5000 + "1" + "}" * 5000, DEEP, '{"x": ' + HUGE_INT + "}"):
        with pytest.raises(ValueError):
            tool_arguments(raw)
    nested: Any = 1
    for _ in range(100):
        nested = [nested]
    with pytest.raises(ValueError, match="nested deeper"):
        tool_arguments({"a": nested})


def test_test_data_bombs_are_data_errors() -> None:
    import base64
    import pickle
    import zlib

    from m1eval.errors import DataError

    bomb = base64.b64encode(zlib.compress(b"[" + b" " * (300 << 20) + b"]", 9)).decode()
    started = time.monotonic()
    with pytest.raises(DataError, match="expand beyond"):
        decode_test_cases(bomb)
    assert time.monotonic() - started < 10
    # shared references: tiny to pickle, astronomically large when walked
    x: list[Any] = ["a" * 10]
    for _ in range(40):
        x = [x] * 10
    shared = base64.b64encode(zlib.compress(pickle.dumps(x))).decode()
    with pytest.raises(DataError, match="not a string"):
        decode_test_cases(shared)
    for bad in ('[{"input": 1, "output": "2"}]', '["a"]', '{"input": "1"}', "[" * 5000):
        with pytest.raises(DataError):
            decode_test_cases(bad)


# -- properties: arbitrary garbage never escapes a grader, never raises a score --------------

GARBAGE = st.one_of(
    st.text(max_size=400),
    st.text(alphabet=st.characters(codec=None), max_size=200),  # lone surrogates too
    st.sampled_from([*ATTACKS, "NaN", "sNaN", "-Infinity", "\x00", "```python\n```"]),
    st.builds(lambda d: "[" * d + "]" * d, st.integers(0, 20_000)),
    st.builds(lambda n: "\\boxed{" + "7" * n + "}", st.integers(1, 20_000)),
    st.builds(lambda a, b: a + b, st.text(max_size=50), st.sampled_from(ATTACKS)),
)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("suite_name", ["aime24", "mrcr", "longbench-v2"])
@PROPERTY
@given(garbage=GARBAGE)
def test_garbage_never_escapes_a_grader_or_raises_a_score(suite_name: str, garbage: str) -> None:
    suite, items = smoke_items(suite_name)
    item = items[0]
    result = grade(suite, item, garbage)
    assert isinstance(result, Grade), result  # never "not counted"
    assert result.outcome in (SCORED, MODEL_FAILURE)
    assert 0.0 <= result.score <= 1.0
    # the run's score with the garbage sample is at most the score with a right answer there
    right = _right_answer(suite_name, item)
    best = grade(suite, item, right)
    assert isinstance(best, Grade) and best.score == 1.0
    others = [{"item_id": str(i), "repeat": 0, "outcome": SCORED, "score": float(i % 2)}
              for i in range(2, 6)]  # fmt: skip
    with_garbage = summarize_suite([*others, _rec(result)])
    with_right = summarize_suite([*others, _rec(best)])
    assert with_garbage["denominator"] == with_right["denominator"] == 5
    assert with_garbage["score"] <= with_right["score"]


def _rec(g: Grade) -> dict[str, Any]:
    return {"item_id": "1", "repeat": 0, "outcome": g.outcome, "score": g.score}


def _right_answer(suite_name: str, item: Item) -> str:
    if suite_name == "aime24":
        return f"\\boxed{{{item.row['answer']}}}"
    if suite_name == "mrcr":
        return str(item.row["answer"])
    return f"The correct answer is ({item.row['answer']})"


@PROPERTY
@given(output=GARBAGE, expected=st.sampled_from(["1", "1 2\n3", "NaN", "0.5", ""]))
def test_lcb_host_side_never_raises(output: str, expected: str) -> None:
    stdout_matches(output, expected)
    call_result_matches(output, "[1]")
    extract_code(output)
    judge(Problem(["x"], [expected], None), 0, {"status": "ok", "stdout": output})


@PROPERTY
@given(raw=GARBAGE)
def test_tau_parsing_never_raises_anything_but_value_error(raw: str) -> None:
    with contextlib.suppress(ValueError):
        tool_arguments(raw)
    assert calculate(raw[:200]).__class__ is str


class _Stuck(AimeSuite):
    """A grader an answer can stall (an answer naming ``stall`` stands in for
    ``3^{100000000}`` and its kin: a bound no honest answer comes near)."""

    grade_timeout_s = 1.0

    def grade(self, item: Item, answer: str) -> Grade:
        if "stall" in answer:
            import time

            time.sleep(600)
        return super().grade(item, answer)


def test_a_grader_an_answer_stalls_is_stopped_and_the_loop_goes_on() -> None:
    """The grading runs in a worker with a time limit: past it the worker is killed, the
    sample is the model's failure with its cause, the event loop was never blocked, and the
    next grading runs on a fresh worker."""
    import time

    suite = _Stuck(get_suite("aime24").spec)
    item = Item("1", {"problem": "p", "answer": "7"})

    async def both() -> tuple[Any, Any, float]:
        started = time.monotonic()
        slow = asyncio.create_task(grade_answer(suite, item, "\\boxed{stall}"))
        fast = await grade_answer(suite, item, "\\boxed{7}")
        fast_at = time.monotonic() - started
        return await slow, fast, fast_at

    slow, fast, fast_at = asyncio.run(both())
    assert isinstance(slow, Grade) and slow.outcome == MODEL_FAILURE
    assert "GraderTimeout: grading took longer than 1 s" in (slow.error or "")
    assert isinstance(fast, Grade) and fast.score == 1.0 and fast_at < 30
    again = grade(suite, item, "\\boxed{7}")
    assert isinstance(again, Grade) and again.score == 1.0


def test_math_verify_on_a_power_tower_is_bounded() -> None:
    """A real crafted answer: a huge power, which math-verify would evaluate."""
    import time

    suite, items = smoke_items("aime24")
    started = time.monotonic()
    result = grade(suite, items[0], "\\boxed{3^{100000000}}")
    assert isinstance(result, Grade) and result.score == 0.0
    assert time.monotonic() - started < 70  # within the grading time limit
