"""Edges of score-deciding code that the suites' own tests pass over, each with hand-checked
values: LiveCodeBench's rebuilt numpy results, MRCR's fitted budget at its boundary and its
causes, LongBench-v2's answer turn and its literal pred.py reading, compare's message when
runs share nothing."""

from __future__ import annotations

import numpy as np
import pytest

from m1eval.graders.lcb import _ndarray, _Opaque
from m1eval.model.types import RequestFailed
from m1eval.registry import get_suite
from m1eval.suites.longbench_v2 import TEMPLATE_0SHOT_COT_ANS, pred_py_reading
from m1eval.suites.mrcr import fitted_budget


def test_a_returned_array_keeps_a_numeric_dtype_and_refuses_an_oversized_one() -> None:
    got = _ndarray({"shape": [2], "dtype": "uint8", "flat": [1, 2]})
    assert got.dtype == np.uint8 and got.tolist() == [1, 2]
    flags = _ndarray({"shape": [2], "dtype": "bool", "flat": [True, False]})
    assert flags.dtype == np.bool_
    wide = _ndarray({"shape": [1], "dtype": "complex128", "flat": [1]})  # 16 bytes: taken
    assert wide.dtype == np.complex128
    floats = _ndarray({"shape": [2, 1], "dtype": "float32", "flat": [0.5, 1.5]})
    assert floats.dtype == np.float32 and floats.shape == (2, 1)
    # a string dtype of 400 MB per element is the model's to write: inferred instead
    text = _ndarray({"shape": [1], "dtype": "U100000000", "flat": [7]})
    assert text.dtype.kind == "i" and text.tolist() == [7]
    # numeric kinds only, however small: a short string dtype would turn 7 into '7'
    short_text = _ndarray({"shape": [1], "dtype": "U2", "flat": [7]})
    assert short_text.dtype.kind == "i" and short_text.tolist() == [7]
    unknown = _ndarray({"shape": [1], "dtype": "no such type", "flat": [7]})
    assert unknown.tolist() == [7]
    # elements numpy cannot make one numeric array of: an object array, same shape
    mixed = _ndarray({"shape": [2], "dtype": "int64", "flat": [[1, 2], [3]]})
    assert mixed.dtype == object and mixed.shape == (2,) and mixed[1] == [3]
    assert isinstance(_ndarray(["not", "a", "dict"]), _Opaque)
    assert isinstance(_ndarray({"shape": [1]}), _Opaque)  # too large to send back


def _refusal(window: int, prompt: int, status: int = 400) -> RequestFailed:
    return RequestFailed(f"This model's maximum context length is {window} tokens. However, "
                         f"your request has {prompt} input tokens.", status=status,
                         retryable=False)  # fmt: skip


def test_the_fitted_budget_is_the_window_less_the_prompt_down_to_one_token() -> None:
    assert fitted_budget(_refusal(1000, 900), 500) == 100
    assert fitted_budget(_refusal(1000, 999), 500) == 1  # one token still fits
    assert fitted_budget(_refusal(1000, 1000), 500) is None  # none does
    assert fitted_budget(_refusal(1000, 900), 100) is None  # no smaller than asked
    assert fitted_budget(_refusal(1000, 900), None) == 100
    assert fitted_budget(_refusal(1000, 900, status=500), 500) is None


def test_mrcr_names_why_an_answer_scored_below_one() -> None:
    suite = get_suite("mrcr")
    row = {"answer": "abc123poem", "random_string_to_prepend": "abc123"}
    from m1eval.suites.base import Item

    item = Item("1", row)
    assert suite.grade(item, "abc123poem").cause is None
    partial = suite.grade(item, "abc123poxx")
    assert 0 < partial.score < 1
    assert partial.cause == "partial match (the similarity ratio is below 1)"
    assert suite.grade(item, "poem").cause == "the answer does not start with the required prefix"


def test_the_answer_turn_replaces_the_question_and_omits_the_document() -> None:
    suite = get_suite("longbench-v2", {"cot": True})
    items, _ = suite.load("smoke", None)
    item = items[0]
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "long doc"}]
    got = suite.followup_messages(item, messages, "  I think B.  ")
    assert got[0] == messages[0] and len(got) == 2 and got[1]["role"] == "user"
    row = item.row
    expected = (TEMPLATE_0SHOT_COT_ANS.replace("$DOC$", "")
                .replace("$Q$", row["question"].strip())
                .replace("$C_A$", row["choice_A"].strip()).replace("$C_B$", row["choice_B"].strip())
                .replace("$C_C$", row["choice_C"].strip()).replace("$C_D$", row["choice_D"].strip())
                .replace("$COT$", "I think B."))  # fmt: skip
    assert got[1]["content"] == expected
    assert suite.followup_messages(item, messages, "") is None  # pred.py: '' ends the item


def test_the_literal_pred_py_reading_of_an_unclosed_reasoning_block() -> None:
    """Cut off inside its reasoning, the content is the reasoning alone: an answer after it
    was never served, so pred.py cannot read one."""
    closed = pred_py_reading("A", "thinking", "The correct answer is (A)")
    assert closed["pred_py_answer"] == "A" and closed["pred_py_score"] == 1.0
    cut = pred_py_reading("A", "thinking", "The correct answer is (A)", closed=False)
    assert cut["pred_py_answer"] is None and cut["pred_py_score"] == 0.0
    assert not cut["pred_py_empty"]
    assert pred_py_reading("A", "", "")["pred_py_empty"] is True


def test_compare_names_both_suites_when_runs_share_nothing() -> None:
    import json

    from m1eval.compare import _suites

    recs = [{"suite": "aime24", "outcome": "scored"}, {"suite": "gpqa", "outcome": "skipped"},
            {"suite": "gpqa", "outcome": "model_failure"}]  # fmt: skip
    assert _suites(recs) == "aime24, gpqa, 2 graded samples"
    assert json.dumps(_suites([])) == '", 0 graded samples"'


def test_a_drifted_config_value_is_shown_sorted_and_bounded() -> None:
    """compare names a drifted identity key with both values: JSON with sorted keys (the same
    value always reads the same), anything else as its text, at most 40 characters."""
    from datetime import date

    from m1eval.compare import _ABSENT, _value

    assert _value({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert _value(date(2026, 12, 6)) == '"2026-12-06"'
    assert _value(_ABSENT) == "(absent)"
    exactly = "x" * 38  # 40 characters with its quotes
    assert _value(exactly) == f'"{exactly}"'
    longer = "y" * 39  # 41 with its quotes: cut to 39 and an ellipsis
    assert _value(longer) == '"' + "y" * 38 + "…"


def test_sign_flip_exact_when_every_item_moved_the_same_way() -> None:
    """Five items each up by one: of the 2^5 sign patterns only all-plus and all-minus reach
    a mean of 1, so p = 2/32 -- not 1.0, which a shortcut for constant differences gives."""
    from m1eval.compare import sign_flip_exact

    assert sign_flip_exact(np.ones(5)) == 2 / 32
    assert sign_flip_exact(np.array([1.0, -1.0])) == 1.0
    assert sign_flip_exact(np.zeros(3)) == 1.0 and sign_flip_exact(np.array([])) == 1.0


def test_mrcr_counts_why_samples_were_left_out() -> None:
    from m1eval.suites.mrcr import _reasons

    recs = [{"outcome": "skipped", "error": "prompt of 1,200,000 tokens does not fit the window"},
            {"outcome": "skipped", "error": "prompt of 1,200,000 tokens does not fit the window"},
            {"outcome": "infra_error"}, {"outcome": "infra_error", "error": ""}]  # fmt: skip
    assert _reasons(recs) == {"skipped: prompt of 1,200,000 tokens does not": 2,  # 6 words
                              "infra_error": 2}  # fmt: skip


def test_compare_verdicts_at_their_boundaries() -> None:
    """Significance is strict (p = alpha is not significant), and a test that could not
    reach alpha with these items (its smallest possible p at or above it) says so."""
    from m1eval.compare import IMPROVEMENT, NO_CHANGE, REGRESSION, TOO_FEW, Comparison

    def cmp(p: float, effect: float, min_p: float = 0.001) -> str:
        return Comparison("s", "m", 10, 50.0, 50.0 + effect, p, p, min_p=min_p).verdict(0.05, 1.0)

    assert cmp(0.049, -5) == REGRESSION and cmp(0.049, 5) == IMPROVEMENT
    assert cmp(0.05, -5) == NO_CHANGE and cmp(0.05, 5) == NO_CHANGE
    assert cmp(0.049, -1.0) == NO_CHANGE  # within the minimum effect
    assert cmp(0.5, 5, min_p=0.05) == TOO_FEW and cmp(0.5, 5, min_p=0.0499) == NO_CHANGE


def test_coverage_counts_what_each_side_should_have() -> None:
    """Item a at two repeats here, items a and b there: b is missing and counts at this
    side's two repeats, so 2 of 4 expected samples are graded (50%); a suite only the other
    side ran is reported with nothing graded."""
    from m1eval.compare import coverage

    mine = [{"suite": "aime24", "item_id": "a", "outcome": "scored"},
            {"suite": "aime24", "item_id": "a", "outcome": "scored"},
            {"suite": "aime24", "item_id": "c", "outcome": "infra_error"}]  # fmt: skip
    other = [{"suite": "aime24", "item_id": i, "outcome": "scored"} for i in "ab"]
    other.append({"suite": "gpqa", "item_id": "x", "outcome": "scored"})
    got = coverage(mine, other)
    # a: 2 samples, c: 1 -> 1.5 per item; b missing -> expected 3 + 1.5 = 4.5; 2 graded
    assert got["aime24"] == {"samples": 3, "graded": 2, "infra_error": 1, "skipped": 0,
                             "missing_items": 1, "graded_share": 44.44}  # fmt: skip
    assert got["gpqa"] == {"samples": 0, "graded": 0, "infra_error": 0, "skipped": 0,
                           "missing_items": 1, "graded_share": 0.0}  # fmt: skip


def test_config_differences_and_drift_notes() -> None:
    from m1eval.compare import _drift, config_differences

    assert config_differences({"a": 1}, 5, "x") == ['x: {"a": 1} -> 5']
    assert config_differences({1: "a", "b": 2}, {1: "c", "b": 2}) == ['1: "a" -> "c"']
    keys = {f"k{i}": i for i in range(9)}
    notes = _drift({"identity": keys, "config_hash": "h1"},
                   {"identity": {k: v + 1 for k, v in keys.items()}, "config_hash": "h2"})
    assert notes == ["configuration differs: " + "; ".join(f"k{i}: {i} -> {i + 1}"
                                                           for i in range(8)) + "; 1 more"]
    eight = {f"k{i}": i for i in range(8)}  # exactly as many as are shown: no "more"
    assert _drift({"identity": eight}, {"identity": {k: -1 for k in eight}})[0].endswith(
        "k7: 7 -> -1")  # fmt: skip
    same = {"identity": {"a": 1}}
    assert _drift({**same, "config_hash": "aaa", "dataset": {"content_sha256": "d1"},
                   "endpoint": {"hash": "e1"}, "m1eval_version": "0.1"},
                  {**same, "config_hash": "bbb", "dataset": {"content_sha256": "d2"},
                   "endpoint": {"hash": "e2"}, "m1eval_version": "0.2"}) == [
        "config hash differs: aaa -> bbb", "dataset content differs: d1 -> d2",
        "server fingerprint differs: e1 -> e2", "m1eval version differs: 0.1 -> 0.2"]


def test_compare_refuses_a_path_that_is_not_one_run(tmp_path) -> None:
    from m1eval.compare import _load
    from m1eval.errors import DataError

    with pytest.raises(DataError, match="names 0 runs; name exactly one run directory"):
        _load(tmp_path)


def test_the_paper_verdict_widens_by_the_papers_own_sampling_error() -> None:
    """Paper 56.0 over 500 items: its 95% margin is 196 * sqrt(0.56 * 0.44 / 500) = 4.351
    points. Our interval [60.5, 70.0] misses 56.0 alone; widened to [56.149, 74.351] it
    still misses it; [60.3, 70.0] widened to [55.949, ...] holds it."""
    from m1eval.reporting.verdict import verdict

    margin = 196 * (0.56 * 0.44 / 500) ** 0.5
    assert margin == pytest.approx(4.3510, abs=1e-4)
    # at the boundary: just outside the widened interval, then just inside it
    assert verdict(65.0, 56.0 + margin + 1e-3, 70.0, 56.0, paper_items=500) == "not reproduced"
    assert verdict(65.0, 56.0 + margin - 1e-3, 70.0, 56.0, paper_items=500) == "reproduced"
    assert verdict(65.0, 60.5, 70.0, 56.0) == "not reproduced"
    assert verdict(65.0, 60.5, 70.0, 56.0, paper_items=500) == "not reproduced"
    assert verdict(65.0, 60.3, 70.0, 56.0, paper_items=500) == "reproduced"
    assert verdict(65.0, 60.3, 70.0, 56.0) == "not reproduced"  # no margin without items
    assert verdict(65.0, 56.5, 70.0, 56.0) == "not reproduced"
    # a paper score above 100 is clipped to p = 1 (no margin), never a negative variance
    assert verdict(99.0, 98.0, 99.5, 100.0, paper_items=30) == "not reproduced"
    assert verdict(99.0, 98.0, 99.5, 101.0, paper_items=30) == "not reproduced"
    # wide intervals decide nothing; a missing bound is not a verdict either
    assert verdict(50.0, 30.0, 70.0, 56.0) == "inconclusive"
    assert verdict(50.0, 30.0, 70.0, 90.0) == "inconclusive"
    assert verdict(50.0, None, 60.0, 56.0) == "inconclusive"
    assert verdict(50.0, 40.0, None, 56.0) == "inconclusive"
    assert verdict(None, 40.0, 60.0, 56.0) == "inconclusive"
    assert verdict(50.0, 40.0, 60.0, None) == "no paper number"


def test_the_paper_verdict_at_the_edges_of_the_interval() -> None:
    """The paper's number on either edge of our interval is inside it; an interval exactly
    MAX_WIDTH wide still decides."""
    from m1eval.reporting.verdict import MAX_WIDTH, verdict

    assert verdict(50.0, 40.0, 60.0, 40.0) == "reproduced"  # on the low edge
    assert verdict(50.0, 40.0, 60.0, 60.0) == "reproduced"  # on the high edge
    assert verdict(50.0, 40.0, 40.0 + MAX_WIDTH, 45.0) == "reproduced"  # exactly 20 wide
    assert verdict(50.0, 40.0, 40.0 + MAX_WIDTH, 70.0) == "not reproduced"
    margin = 196 * (0.56 * 0.44 / 500) ** 0.5
    # widened by the paper's margin on both sides, the width limit grows by 2 margins, no more
    assert verdict(50.0, 46.0, 66.0 - margin / 2, 56.0, paper_items=500) == "reproduced"
    assert verdict(50.0, 46.0, 66.0 + margin / 2, 56.0, paper_items=500) == "inconclusive"


def test_group_rows_field_by_field() -> None:
    """A breakdown row carries its group's score and interval, items, graded samples (scored
    and model failures), skips and infra errors; a group without outcome counts reads 0."""
    from m1eval.contract import GROUP_COLUMNS, group_rows

    groups = {
        "8K-16K": {"score": 40.0, "ci_low": 10.0, "ci_high": 70.0, "n_items": 5,
                   "outcomes": {"scored": 6, "model_failure": 2, "skipped": 1,
                                "infra_error": 3}},
        "empty": {"score": None, "ci_low": None, "ci_high": None, "n_items": 0},
    }  # fmt: skip
    rows = group_rows(groups)
    assert rows == [
        {"group": "8K-16K", "score": 40.0, "ci_low": 10.0, "ci_high": 70.0, "items": 5,
         "graded": 8, "skipped": 1, "infra errors": 3},
        {"group": "empty", "score": None, "ci_low": None, "ci_high": None, "items": 0,
         "graded": 0, "skipped": 0, "infra errors": 0},
    ]  # fmt: skip
    assert set(GROUP_COLUMNS) == set(rows[0]) - {"group"}


def _lcb_records(difficulties: list[str]) -> list[dict]:
    return [{"suite": "livecodebench", "item_id": f"i{n}", "repeat": 0, "outcome": "scored",
             "score": float(n % 2), "extra": {"difficulty": d}}
            for n, d in enumerate(difficulties)]  # fmt: skip


def test_livecodebench_breaks_its_score_down_by_difficulty_in_the_official_order() -> None:
    """Hand-checked: i0 hard 0, i1 easy 1, i2 medium 0, i3 hard 1."""
    summary = get_suite("livecodebench").summarize(_lcb_records(["hard", "easy", "medium", "hard"]))
    assert list(summary["by_difficulty"]) == ["easy", "medium", "hard"]
    assert [summary["by_difficulty"][k]["score"] for k in ("easy", "medium", "hard")] == [
        100.0, 0.0, 50.0]  # fmt: skip
    [table] = summary["breakdowns"]
    assert table["title"] == "by difficulty" and table["record_key"] == "difficulty"
    assert table["columns"] == ["score", "ci_low", "ci_high", "items", "graded", "skipped",
                                "infra errors"]  # fmt: skip
    assert summary["window"] == ["2024-08-01", "2025-05-01"]  # the paper's window
    assert summary["release"] == get_suite("livecodebench").options["release"]
    assert [(r["group"], r["score"], r["items"]) for r in table["rows"]] == [
        ("easy", 100.0, 1), ("medium", 0.0, 1), ("hard", 50.0, 2)]  # fmt: skip


@pytest.mark.parametrize("exec_model", ["official", "process"])
def test_livecodebench_runs_programs_the_way_the_run_asked(monkeypatch: pytest.MonkeyPatch,
                                                         exec_model: str) -> None:  # fmt: skip
    """``--lcb-exec`` reaches the grader, on a local pool and on a cluster's pools. The
    sandbox is replaced by a recorder (this checks the option's path, not the sandbox; the
    sandbox tests run both models for real)."""
    import asyncio

    from m1eval.graders.lcb import ProgramVerdict
    from m1eval.model.types import Completion
    from m1eval.suites import livecodebench
    from m1eval.suites.base import Solution

    seen: list[str] = []

    def recording(runner, code, problem, timeout_s=0, exec_model="official"):
        seen.append(exec_model)
        return ProgramVerdict(passed=True, n_tests=0)

    class Remote:
        async def grade(self, code, problem, timeout_s, exec_model):
            seen.append(exec_model)
            return ProgramVerdict(passed=True, n_tests=0)

    monkeypatch.setattr(livecodebench, "grade_program", recording)
    suite = get_suite("livecodebench", {"lcb_exec": exec_model})
    items, _ = suite.load("smoke", None)
    solution = Solution(Completion.of_text("```python\nprint(1)\n```"))
    suite._pool = object()
    assert asyncio.run(suite.score(items[0], solution)).score == 1.0
    suite._pool, suite._remote = None, Remote()
    assert asyncio.run(suite.score(items[0], solution)).score == 1.0
    assert seen == [exec_model, exec_model]


def test_livecodebench_refuses_to_grade_before_its_sandbox_starts() -> None:
    import asyncio

    from m1eval.model.types import Completion
    from m1eval.suites.base import Solution

    suite = get_suite("livecodebench")
    items, _ = suite.load("smoke", None)
    with pytest.raises(RuntimeError, match="sandbox is not started"):
        asyncio.run(suite.score(items[0], Solution(Completion.of_text("```python\nx\n```"))))


def test_longbench_literal_reading_scores_each_sample_by_its_own_verdict() -> None:
    """Three graded samples: the default reading right, wrong, right (66.7); pred.py on the
    served content (reasoning inline) read a different letter for the first: wrong, wrong,
    right (33.3)."""
    records = [{"suite": "longbench-v2", "item_id": f"i{n}", "repeat": 0, "outcome": "scored",
                "score": score, "extra": {"pred_py_empty": False, "pred_py_score": literal}}
               for n, (score, literal) in enumerate([(1.0, 0.0), (0.0, 0.0),
                                                     (1.0, 1.0)])]  # fmt: skip
    heads = get_suite("longbench-v2").summarize(records)["headlines"]
    assert [round(h["score"], 2) for h in heads] == [66.67, 66.67, 33.33]


def test_a_conservative_score_over_nothing_has_no_interval_not_nan() -> None:
    """No item with a counted sample: no score and no interval (None, which JSON can hold;
    a NaN would make summary.json unreadable to strict parsers)."""
    from m1eval.summary import _conservative

    assert _conservative({}) == {"score": None, "ci_low": None, "ci_high": None,
                                 "denominator": 0}  # fmt: skip
    left_out = {"i": [{"outcome": "not-an-outcome", "score": None}]}
    assert _conservative(left_out)["ci_low"] is None


def test_decoding_a_program_result_within_bounds() -> None:
    """The sandbox's encoding of a returned value, read back: a Decimal only as bounded text,
    a float in hex or decimal notation, an object that equals nothing; anything else named."""
    from decimal import Decimal

    from m1eval.graders.lcb import _MAX_HEX_DIGITS, decode_value

    assert decode_value({"D": "1.50"}) == Decimal("1.50")
    longest = "1" * (4 * _MAX_HEX_DIGITS)
    assert decode_value({"D": longest}) == Decimal(longest)
    for bad in ({"D": "1" * (4 * _MAX_HEX_DIGITS + 1)}, {"D": 150}):
        with pytest.raises(ValueError, match="bad decimal"):
            decode_value(bad)
    assert decode_value({"f": "1.5"}) == 1.5  # decimal notation, not read as hex (1.3125)
    assert decode_value({"f": "0x1.8p+0"}) == 1.5
    assert isinstance(decode_value({"o": "Node"}), _Opaque)
    with pytest.raises(ValueError, match="unknown tag 'z'"):
        decode_value({"z": 1})


def test_judging_one_test_result() -> None:
    """A call-based result that did not come back is no answer, even where the expected
    value is None; a wrong stdout answer is shown as the program printed it."""
    from m1eval.graders.lcb import Problem, judge

    calls = Problem(["[1]"], ["null"], "f")
    assert judge(calls, 0, {"status": "ok", "result": "null"}).passed
    missing = judge(calls, 0, {"status": "ok"})
    assert (missing.passed, missing.status, missing.actual) == (False, "wrong_answer", "")
    stdio = Problem(["1\n"], ["2\n"], None)
    wrong = judge(stdio, 0, {"status": "ok", "stdout": "[3]\n"})
    assert (wrong.status, wrong.actual) == ("wrong_answer", "[3]\n")
    broke = judge(stdio, 0, {"status": "runtime_error", "error": "ValueError: x"})
    assert (broke.passed, broke.status, broke.error) == (False, "runtime_error", "ValueError: x")


def test_a_failure_past_the_last_test_is_summarized_without_a_test_to_show() -> None:
    """The clean-up's verdict comes after the last test: it fails the program, and its
    summary shows no input (there is none), rather than breaking."""
    from m1eval.graders.lcb import Problem, ProgramVerdict, TestVerdict

    problem = Problem(["1\n", "2\n"], ["1\n", "2\n"], None)
    tests = [TestVerdict(True, "ok"), TestVerdict(True, "ok"),
             TestVerdict(False, "killed", error="the worker died")]  # fmt: skip
    summary = ProgramVerdict(False, 2, tests).summary(problem)
    assert summary["first_failure"] == {"test": 2, "status": "killed",
                                        "error": "the worker died"}  # fmt: skip
    assert (summary["tests_run"], summary["tests_passed"]) == (3, 2)


def test_programs_run_the_official_way_unless_asked_otherwise() -> None:
    """grade_program's default execution model is LiveCodeBench's own; the runner is a
    recorder here (the sandbox tests run both models for real)."""
    from m1eval.graders.lcb import Problem, grade_program

    asked: list[dict] = []

    class Recorder:
        def run_program(self, base, inputs, accept):
            asked.append(base)
            for i in range(len(inputs)):
                accept(i, {"status": "ok", "stdout": "1\n"})

    assert grade_program(Recorder(), "print(1)", Problem(["\n"], ["1\n"], None)).passed
    assert asked[0]["exec"] == "official" and asked[0]["mode"] == "stdio"
