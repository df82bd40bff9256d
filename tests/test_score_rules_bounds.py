"""Boundaries and defaults of the rules that decide scores, each pinned where it sits: bounds
on model-controlled text, defaults a caller relies on, the seeded shuffle that decides which
letter is right (changing it would silently change every GPQA item), rounding of stored
figures, determinism of every interval and p-value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from m1eval.compare import Comparison, _test, compare, holm, paired_bootstrap
from m1eval.errors import DataError, RunStateError
from m1eval.graders.choice import shuffled_options
from m1eval.graders.lcb import (
    RESULT_MAX_DEPTH,
    call_result_matches,
    decode_test_cases,
    extract_code,
)
from m1eval.graders.math_answer import (
    MAX_NORMALIZED_CHARS,
    extract_last_boxed,
    integer_value,
    vote_key,
)
from m1eval.outcomes import ERROR_CHARS, describe
from m1eval.stats import BOOTSTRAP_RESAMPLES as R
from m1eval.stats import k_values, pass_at_k, stratified_bootstrap_ci
from m1eval.store import read_samples_file
from m1eval.summary import summarize_suite


def test_the_gpqa_shuffle_is_pinned() -> None:
    assert shuffled_options("recX1", "right", ["w1", "w2", "w3"]) == (
        ["right", "w2", "w1", "w3"],
        "A",
    )
    assert shuffled_options("recX3", "right", ["w1", "w2", "w3"]) == (
        ["w2", "w1", "right", "w3"],
        "C",
    )
    assert shuffled_options("recX4", " right ", ["w1", "w2", "w3"]) == (
        ["w3", "w2", "w1", "right"],
        "D",
    )


def test_call_results_are_read_back_to_their_depth_bound() -> None:
    import sys

    def nested(depth: int) -> str:  # lists nest one JSON level each
        return "[" * depth + "]" * depth

    limit = 2 * RESULT_MAX_DEPTH + 2
    # room for the reader's own recursion whatever wraps its functions (a mutation tool adds
    # frames to every call)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    try:
        assert call_result_matches(nested(limit), json.dumps(json.loads(nested(limit))))
        deeper = nested(limit + 1)
        assert not call_result_matches(deeper, json.dumps(json.loads(deeper)))
    finally:
        sys.setrecursionlimit(old)


def test_test_cases_have_depth_and_size_bounds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    deep = json.dumps([{"input": "1", "output": "2", "x": [[[[[[[[[1]]]]]]]]]}])
    with pytest.raises(DataError, match="undecodable test cases"):
        decode_test_cases(deep)
    monkeypatch.setattr("m1eval.graders.lcb.max_test_data_bytes", lambda: 100)
    big = json.dumps([{"input": "1" * 200, "output": "2"}])
    with pytest.raises(DataError, match="undecodable test cases"):
        decode_test_cases(big)
    with pytest.raises(DataError, match=r"^test cases are a int, not a string$"):
        decode_test_cases(5)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"^test cases are not a list$"):
        decode_test_cases("{}")


def test_code_extraction_keeps_lines_whole() -> None:
    answer = "Here:\n```python\nx = int(input())\nprint(x  *  2)\n```\nDone."
    assert extract_code(answer) == "x = int(input())\nprint(x  *  2)"


def test_boxes_and_fractions_at_their_bounds() -> None:
    long_token = extract_last_boxed("\\boxed " + "1" * 5000)
    assert long_token is not None and len(long_token) < 4096
    assert integer_value("\\frac{" + "2" * 1000 + "}{2}") == "1" * 1000
    assert integer_value("\\frac{" + "2" * 1001 + "}{2}") is None
    assert integer_value("\\frac{4}{" + "0" * 999 + "2}") == "2"
    assert integer_value("\\frac{4}{" + "0" * 1000 + "2}") is None
    padded = "\\frac{66}{2}" + " " * (MAX_NORMALIZED_CHARS - len("\\frac{66}{2}"))
    assert len(padded) == MAX_NORMALIZED_CHARS and integer_value(padded) == "33"
    assert vote_key(padded) == "33"


def test_vote_keys_of_long_answers_with_lone_surrogates() -> None:
    text = "\ud800" + "x" * MAX_NORMALIZED_CHARS
    assert vote_key(text).startswith("sha256:")
    assert vote_key(text) != vote_key("\udc00" + "x" * MAX_NORMALIZED_CHARS)


def test_describe_bounds_and_bare_exceptions() -> None:
    assert describe(ValueError()) == "ValueError"
    exact = describe(ValueError("x" * ERROR_CHARS))
    assert exact == "ValueError: " + "x" * ERROR_CHARS
    longer = describe(ValueError("x" * (ERROR_CHARS + 1)))
    assert longer == "ValueError: " + "x" * (ERROR_CHARS - 1) + "…"


def test_k_values_and_pass_at_k_messages() -> None:
    assert k_values(5) == [1, 2, 4, 5]
    assert k_values(2) == [1, 2] and k_values(3) == [1, 2, 3]
    with pytest.raises(ValueError, match=r"^pass@3 needs at least 3 samples, got 2$"):
        pass_at_k(2, 1, 3)


def test_intervals_and_p_values_are_deterministic_and_bounded() -> None:
    noisy = np.array([0.3, -0.1, 0.2, -0.4, 0.1, 0.0, 0.5])
    assert paired_bootstrap(noisy) == paired_bootstrap(noisy)
    groups = [[0.1, 0.9, 0.4], [0.2, 0.7]]
    assert stratified_bootstrap_ci(groups) == stratified_bootstrap_ci(groups)
    # a single difference: every resample is that difference
    assert paired_bootstrap(np.array([0.5])) == pytest.approx(2 / (R + 1))
    # ties at zero count on both sides: [1, 0] gives mean 0 a quarter of the time
    assert paired_bootstrap(np.array([1.0, 0.0])) == pytest.approx(0.5, abs=0.03)
    assert paired_bootstrap(np.array([-1.0, 0.0])) == pytest.approx(0.5, abs=0.03)
    assert paired_bootstrap(np.array([1.0, -1.0])) == 1.0  # 2 * 0.75 is capped at 1


def test_holm_caps_at_one() -> None:
    tests = [Comparison(str(i), "m", 1, 0, 0, p) for i, p in enumerate((0.6, 0.7))]
    holm(tests)
    assert [t.p_adjusted for t in tests] == [1.0, 1.0]


def test_stored_figures_round_to_four_decimals() -> None:
    c = Comparison("x", "m", 3, 100 / 3, 200 / 3, 0.5)
    d = c.to_dict(0.05, 1.0)
    assert (d["base"], d["cand"], d["effect"]) == (33.3333, 66.6667, 33.3333)
    t = _test("x", {"a": [1.0, 0.0, 0.0]}, {"a": [1.0, 1.0, 1.0]})
    assert t is not None and t.flips == [{"item_id": "a", "base": 0.3333, "cand": 1.0}]
    assert t.method == "sign-flip-exact"
    mixed = _test("x", {"a": [1.0], "b": [0.0]}, {"a": [1.0, 0.0], "b": [1.0]})
    assert mixed is not None and mixed.method == "sign-flip-exact"  # not one sample each


def test_compare_defaults(tmp_path: Path) -> None:
    run = Path(__file__).resolve().parent / "runs" / "data" / "runs_v0" / "base"
    first = sorted(p for p in run.iterdir() if p.is_dir())[0]
    out = compare(first, first)
    assert (out["alpha"], out["min_effect"]) == (0.05, 1.0)


def test_maj_at_k_counts_items_after_one_without_graded_samples() -> None:
    def rec(item: str, repeat: int, outcome: str, score: float | None, key: str | None):  # type: ignore[no-untyped-def]
        return {"item_id": item, "repeat": repeat, "outcome": outcome, "score": score,
                "vote_key": key}  # fmt: skip

    recs = [rec("1", 0, "infra_error", None, None), rec("1", 1, "infra_error", None, None),
            rec("2", 0, "scored", 1.0, "5"), rec("2", 1, "scored", 1.0, "5")]  # fmt: skip
    assert summarize_suite(recs)["maj_at_k"] == {"maj@2": 100.0}


def test_samples_file_edges(tmp_path: Path) -> None:
    assert read_samples_file(tmp_path / "none.jsonl") == ({}, 0, False)
    path = tmp_path / "s.jsonl"
    good = json.dumps({"sample_id": "a"})
    for middle in ("[1]", json.dumps({"x": 1}), ""):
        path.write_text(f"{good}\n{middle}\n{good}\n")
        with pytest.raises(RunStateError, match="line 2 is corrupt"):
            read_samples_file(path)
    path.write_text(f"\n{good}\n")  # an empty first line is corrupt too
    with pytest.raises(RunStateError, match="line 1 is corrupt"):
        read_samples_file(path)


def test_significance_is_strict_at_alpha() -> None:
    c = Comparison("x", "m", 30, 80.0, 60.0, 0.03, 0.03)
    d = c.to_dict(alpha=0.03, min_effect=5.0)
    assert d["significant"] is False and d["regression"] is False
    d = c.to_dict(alpha=0.0301, min_effect=5.0)
    assert d["significant"] is True and d["regression"] is True


def test_choice_letters_read_the_first_thousand_characters() -> None:
    from m1eval.graders.choice import choice_letter

    assert choice_letter("\\boxed{A" + " " * 998 + "B}", 4) == "A"
    assert choice_letter("\\boxed{\\text{C}}", 4) == "C"


def test_token_totals_conservative_score_and_item_order_by_hand() -> None:
    from m1eval.stats import bootstrap_ci

    recs = [
        {"item_id": "10", "repeat": 0, "outcome": "scored", "score": 1.0, "prompt_tokens": 5,
         "completion_tokens": 7, "reasoning_tokens": 3},
        {"item_id": "9", "repeat": 0, "outcome": "model_failure", "score": 0.0,
         "prompt_tokens": 4, "completion_tokens": 1, "reasoning_tokens": None},
        {"item_id": "-1", "repeat": 0, "outcome": "infra_error", "score": None},
        {"item_id": "a", "repeat": 0, "outcome": "scored", "score": 1.0},
    ]  # fmt: skip
    s = summarize_suite(recs)
    assert list(s["per_item"]) == ["-1", "9", "10", "a"]  # numbers in order, then names
    assert s["tokens"] == {"prompt": 9, "completion": 8, "reasoning": 3,
                           "mean_completion": 2.7}  # 8 tokens over 3 answered  # fmt: skip
    low, high = bootstrap_ci([1.0, 0.0, 0.0, 1.0])  # items 10, 9, -1 (infra as 0), a
    cons = s["conservative"]
    assert cons["score"] == 50.0 and cons["denominator"] == 4
    assert (cons["ci_low"], cons["ci_high"]) == (round(100 * low, 4), round(100 * high, 4))
    # a skip is left out of the score and counted as 0 in the conservative score: leaving an
    # item out can never raise a number
    empty = summarize_suite([{"item_id": "1", "repeat": 0, "outcome": "skipped", "score": None}])
    assert empty["score"] is None and empty["complete"] is False and empty["left_out"] == 1
    assert empty["conservative"] == {"score": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                                     "denominator": 1}  # fmt: skip


def test_bootstrap_interval_edges() -> None:
    import math

    from m1eval.stats import bootstrap_ci

    assert bootstrap_ci([0.7]) == (0.7, 0.7)
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    values = [0.13, 0.71, 0.42, 0.05, 0.96, 0.58, 0.33]
    assert bootstrap_ci(values) == bootstrap_ci(values)  # seeded, continuous values
    # every resample is filled: at the most extreme quantile two equal values stay equal
    assert bootstrap_ci([1.0, 1.0], confidence=0.99999) == (1.0, 1.0)
    many = np.linspace(0.0, 1.0, 1001)  # several chunks of resamples
    low, high = bootstrap_ci(many)
    assert low < 0.5 < high and high - low < 0.1


def test_a_grade_with_a_cause_names_a_cut_off_generation() -> None:
    import asyncio
    from dataclasses import replace

    from m1eval.model.types import Completion
    from m1eval.outcomes import grade_output
    from m1eval.registry import get_suite
    from m1eval.suites.base import Item, Solution

    suite = get_suite("aime24")
    item = Item("60", {"id": 60, "problem": "p", "answer": "25"})

    def graded(text: str, finish: str | None):  # type: ignore[no-untyped-def]
        c = replace(Completion.of_text(text), finish_reason=finish)
        return asyncio.run(grade_output(suite, item, Solution(c)))

    cut = graded("no box", "length")
    assert cut.error == "truncated (finish_reason=length): no \\boxed{} answer in the final answer"
    assert graded("no box", "stop").error == "no \\boxed{} answer in the final answer"
    assert graded("\\boxed{25}", "length").error is None


def test_more_answer_forms_at_their_edges() -> None:
    from m1eval.graders.math_answer import (
        MAX_VERIFY_CHARS,
        Match,
        answers_match,
        canonical_integer,
    )

    assert canonical_integer("\\ 33") == "33"
    assert canonical_integer("33X") is None and canonical_integer("X33") is None
    padded = "\\frac{66}{2}" + " " * (MAX_VERIFY_CHARS - len("\\frac{66}{2}"))
    assert len(padded) == MAX_VERIFY_CHARS and answers_match(padded, "33").correct
    assert answers_match("\\frac{1}{3}" + " " * MAX_VERIFY_CHARS, "33") == Match(False, "too-long")
    exact = "x" * MAX_NORMALIZED_CHARS
    assert vote_key(exact) == exact


def test_judging_without_output_and_program_counts() -> None:
    from m1eval.graders.lcb import Problem, grade_program, judge
    from m1eval.sandbox.local import SubprocessRunner

    assert judge(Problem(["1"], [""], None), 0, {"status": "ok"}).passed  # nothing expected
    verdict = grade_program(SubprocessRunner(), "print(0)", Problem(["1", "2"], ["0", "1"], None))
    assert (verdict.n_tests, verdict.passed, len(verdict.tests)) == (2, False, 2)


def test_metadata_and_box_bounds() -> None:
    from m1eval.graders.choice import choice_letter
    from m1eval.graders.lcb import problem_from_row

    functional = json.dumps([{"input": "[1]", "output": "2", "testtype": "functional"}])
    deep = '{"func_name": "f", "x": ' + "[" * 8 + "]" * 8 + "}"
    with pytest.raises(DataError, match=r"^metadata: "):
        problem_from_row({"public_test_cases": functional, "metadata": deep})
    ok = '{"func_name": "f", "x": ' + "[" * 6 + "]" * 6 + "}"
    assert problem_from_row({"public_test_cases": functional, "metadata": ok}).fn_name == "f"
    # only the first 1,000 characters of a box are read: a wrapper closed past them is not
    assert choice_letter("\\boxed{\\text{A" + " " * 993 + "}}", 4) is None
    assert choice_letter("\\boxed{\\text{A" + " " * 992 + "}}", 4) == "A"


def test_flips_keep_four_decimals_on_both_sides() -> None:
    t = _test("x", {"a": [1.0, 1.0, 1.0]}, {"a": [1.0, 0.0, 0.0]})
    assert t is not None and t.flips == [{"item_id": "a", "base": 1.0, "cand": 0.3333}]


def _r(item: str, repeat: int, outcome: str, score: float | None, **kw: object) -> dict:
    return {"item_id": item, "repeat": repeat, "outcome": outcome, "score": score, **kw}


def test_summary_fields_by_hand() -> None:
    from m1eval.stats import bootstrap_ci

    recs = [_r("1", 0, "scored", 1.0, truncated=True), _r("1", 1, "scored", 0.0),
            _r("1", 2, "scored", 0.0), _r("2", 0, "scored", 1.0), _r("2", 1, "scored", 1.0),
            _r("2", 2, "scored", 1.0), _r("3", 0, "scored", 1.0), _r("3", 1, "scored", 1.0),
            _r("3", 2, "model_failure", 0.0)]  # fmt: skip
    s = summarize_suite(recs)
    low, high = bootstrap_ci([1 / 3, 1.0, 2 / 3])
    assert (s["ci_low"], s["ci_high"]) == (round(100 * low, 4), round(100 * high, 4))
    assert s["ci_low"] > 0 and s["confidence"] == 0.95 and s["metric"] == "avg@3"
    assert s["per_item"]["1"]["mean_score"] == 0.333333 and s["truncation_rate"] == 0.111111
    cons = s["conservative"]
    assert (cons["ci_low"], cons["ci_high"]) == (s["ci_low"], s["ci_high"])  # no infra errors
    assert "pass_at_k" not in summarize_suite(recs, binary=False)
    single = summarize_suite([_r("1", 0, "scored", 1.0), _r("2", 0, "scored", 0.0)])
    assert "pass_at_k" not in single and "maj_at_k" not in single
    errors = summarize_suite([_r("1", 0, "infra_error", None)])
    assert (errors["score"], errors["ci_low"], errors["ci_high"]) == (None, None, None)
    nothing = summarize_suite([])
    assert nothing["metric"] == "avg@0" and nothing["score"] is None
    tokens = summarize_suite([_r("1", 0, "scored", 1.0, prompt_tokens=2, completion_tokens=4,
                                 reasoning_tokens=1)])["tokens"]  # fmt: skip
    assert tokens == {"prompt": 2, "completion": 4, "reasoning": 1, "mean_completion": 4.0}
    none = summarize_suite([_r("1", 0, "scored", 1.0)])["tokens"]
    assert none == {"prompt": None, "completion": None, "reasoning": None,
                    "mean_completion": None}  # fmt: skip
    named = summarize_suite([_r("X5", 0, "scored", 1.0), _r("3", 0, "scored", 0.0)])
    assert list(named["per_item"]) == ["3", "X5"]


def test_conservative_interval_by_hand() -> None:
    from m1eval.stats import bootstrap_ci

    recs = [_r("1", 0, "scored", 1.0), _r("1", 1, "infra_error", None),
            _r("2", 0, "scored", 1.0), _r("2", 1, "scored", 1.0),
            _r("3", 0, "scored", 1.0), _r("3", 1, "scored", 0.0)]  # fmt: skip
    cons = summarize_suite(recs)["conservative"]
    low, high = bootstrap_ci([0.5, 1.0, 0.5])
    assert (cons["ci_low"], cons["ci_high"]) == (round(100 * low, 4), round(100 * high, 4))
    assert cons["ci_low"] > 0


def test_the_smallest_possible_p_and_the_exact_range() -> None:
    mc = _test("x", {"a": [1.0], "b": [1.0], "c": [0.0]}, {"a": [0.0], "b": [0.0], "c": [1.0]})
    assert mc is not None and mc.method == "mcnemar" and mc.min_p == 2 / 8  # 3 discordant
    sf = _test("x", {"a": [0.2, 0.2], "b": [0.6, 0.6]}, {"a": [0.4, 0.4], "b": [0.4, 0.4]})
    # differences (+0.2, -0.2): every sign pattern is as extreme as mean 0: p = 1
    assert sf is not None and sf.method == "sign-flip-exact" and sf.p_value == 1.0
    assert sf.min_p == 2 / 4
    sixteen = {f"i{k}": [0.0, 1.0] for k in range(16)}
    up = {f"i{k}": [1.0, 1.0] for k in range(16)}
    t16 = _test("x", sixteen, up)
    assert t16 is not None and t16.method == "sign-flip-exact" and t16.min_p == 2 / 2**16
    t17 = _test("x", sixteen | {"j": [0.0, 1.0]}, up | {"j": [1.0, 1.0]})
    assert t17 is not None and t17.method == "paired-bootstrap" and t17.min_p == 2 / (R + 1)
    assert t17.p_value == pytest.approx(2 / (R + 1))  # every difference +0.5
    mixed = _test("x", {f"i{k}": [0.2, 0.2] for k in range(9)} | {f"j{k}": [0.6, 0.6]
                                                                 for k in range(9)},
                  {f"i{k}": [0.4, 0.4] for k in range(9)} | {f"j{k}": [0.4, 0.4]
                                                            for k in range(9)})  # fmt: skip
    # nine differences of +0.2 and nine of -0.2: no evidence either way
    assert mixed is not None and mixed.method == "paired-bootstrap" and mixed.p_value > 0.5
    at = Comparison("x", "m", 3, 0, 0, 0.25, 0.25, min_p=0.25)
    assert at.to_dict(alpha=0.25, min_effect=1.0)["decidable"] is False


def test_stratified_interval_is_seeded() -> None:
    groups = [[0.13, 0.71, 0.42, 0.05, 0.96, 0.58, 0.33], [0.21, 0.87, 0.64, 0.09, 0.5, 0.77]]
    assert stratified_bootstrap_ci(groups) == stratified_bootstrap_ci(groups)


def test_mrcr_intervals_keep_four_decimals() -> None:
    from m1eval.registry import get_suite

    recs = [
        {"item_id": k, "repeat": 0, "outcome": "scored", "score": v, "extra": {"bin": "4K-8K"}}
        for k, v in (("a", 0.123456789), ("b", 0.987654321), ("c", 0.5))
    ]
    agg = get_suite("mrcr").summarize(recs)["aggregates"]["128K"]["mean_up_to"]
    low, high = stratified_bootstrap_ci([[0.123456789, 0.987654321, 0.5]])
    assert (agg["ci_low"], agg["ci_high"]) == (round(100 * low, 4), round(100 * high, 4))
    assert agg["ci_low"] != round(100 * low, 5)  # the values carry more decimals than kept


def test_failure_causes_are_ranked_bounded_and_independent_of_record_order() -> None:
    def rec(i: int, outcome: str, error: str | None, score: float | None = 0.0,
            cause: str | None = None) -> dict:  # fmt: skip
        return {"item_id": str(i), "repeat": 0, "outcome": outcome, "score": score,
                "error": error, "cause": cause}  # fmt: skip

    recs = ([rec(i, "model_failure", "no \\boxed{} answer") for i in range(4)]
            + [rec(10 + i, "model_failure", f"cause {c}") for i, c in enumerate("bacdefg")]
            + [rec(20, "model_failure", "x" * 500), rec(21, "model_failure", None)]
            + [rec(30, "infra_error", "HTTP 500: boom (gave up after 6 attempts)", None),
               rec(32, "infra_error", "HTTP 500: boom (gave up after 3 attempts)", None),
               rec(31, "scored", None, 1.0), rec(33, "scored", None, 0.0, "wrong value"),
               rec(34, "scored", None, 0.0), rec(35, "scored", None, 0.5)])  # fmt: skip
    causes = summarize_suite(recs)["failure_causes"]
    failures = [c for c in causes if c["outcome"] == "model_failure"]
    assert failures[0] == {"cause": "no \\boxed{} answer", "n": 4, "outcome": "model_failure"}
    # ties (one each) in text order, five kept, the rest counted as "other causes"
    assert [c["cause"] for c in failures[1:]] == ["cause a", "cause b", "cause c", "cause d",
                                                  "other causes"]  # fmt: skip
    assert failures[-1]["n"] == 13 - 4 - 4  # e, f, g, the long one and the unreasoned one
    assert sum(c["n"] for c in failures) == 13
    # infra errors have causes too, their retry counts dropped so they count as one cause
    assert [c for c in causes if c["outcome"] == "infra_error"] == [
        {"cause": "HTTP 500: boom", "n": 2, "outcome": "infra_error"}]  # fmt: skip
    # graded below full credit: the suite's cause, else wrong answer / partial credit
    assert [(c["cause"], c["n"]) for c in causes if c["outcome"] == "scored"] == [
        ("partial credit", 1), ("wrong answer", 1), ("wrong value", 1)]  # fmt: skip
    assert summarize_suite(list(reversed(recs)))["failure_causes"] == causes
    long = summarize_suite([rec(20, "model_failure", "x" * 500)])["failure_causes"]
    assert long == [{"cause": "x" * 159 + "…", "n": 1, "outcome": "model_failure"}]
    assert summarize_suite([rec(21, "model_failure", None)])["failure_causes"] == [
        {"cause": "no reason recorded", "n": 1, "outcome": "model_failure"}]  # fmt: skip
    assert summarize_suite([rec(31, "scored", None, 1.0)])["failure_causes"] == []
