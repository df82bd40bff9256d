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
