"""The AIME grader against hand-checked cases."""

from __future__ import annotations

import pytest

from m1eval.graders.math_answer import (
    answers_match,
    extract_last_boxed,
    parse_integer,
    vote_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{204}.", "204"),
        ("first \\boxed{1} then \\boxed{2}", "2"),  # the last box counts
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # nested braces
        ("\\fbox{33}", "33"),
        ("answer: \\boxed 42", "42"),
        ("no box here", None),
        ("cut off \\boxed{12", None),  # unbalanced: generation stopped inside the box
        ("\\boxed{7} and a stray \\boxed", "7"),
        ("$\\boxed{025}$", "025"),
        # the last *complete, non-empty* box: mentions, empty boxes and cut-off boxes are
        # passed over for an earlier answer
        ("so \\boxed{33}, formatted with \\boxed as requested.", "33"),
        ("\\boxed{33} and then \\boxed{}", "33"),
        ("\\boxed{33} \\boxed{ }", "33"),
        ("\\boxed{33}, and finally \\boxed{4", "33"),
        ("\\boxed{}", None),
        ("\\boxed -7", "-7"),
    ],
)
def test_extract_last_boxed(text: str, expected: str | None) -> None:
    assert extract_last_boxed(text) == expected


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("025", 25),
        (" 25 ", 25),
        ("$073$", 73),
        ("\\text{116}", 116),
        ("90^\\circ", 90),
        ("1,000", 1000),
        ("25.", 25),
        ("-3", -3),
        ("\\frac{1}{2}", None),
        ("x = 5", None),
        ("2.5", None),
        # correct answers in decorated forms
        ("\\text{33}.", 33),
        ("\\mathbf{33}.", 33),
        ("1 000", 1000),
        ("1\\,000", 1000),
        ("1{,}000", 1000),
        ("33,", 33),
        ("\\underline{33}", 33),
        ("33 \\pmod{1000}", 33),
        ("33 \\pmod {1000}", 33),
        ("\\textbf{\\underline{33}}", 33),
        # not one integer
        ("1 00", None),
        ("12 345 6", None),
        ("\\approx 33", None),
    ],
)
def test_parse_integer(answer: str, value: int | None) -> None:
    assert parse_integer(answer) == value


def test_leading_zeros_compare_equal() -> None:
    assert answers_match("25", "025") == answers_match("025", "25")
    assert answers_match("25", "025").correct
    assert answers_match("25", "025").method == "integer"
    assert not answers_match("26", "025").correct


def test_math_verify_fallback_for_non_integer_forms() -> None:
    m = answers_match("\\frac{50}{3}", "\\frac{50}{3}")
    assert m.correct and m.method == "math-verify"
    assert answers_match("\\dfrac{100}{6}", "\\frac{50}{3}").correct
    assert not answers_match("\\frac{50}{4}", "\\frac{50}{3}").correct
    # "x = 25" is not an integer literal; math-verify reads the right-hand side.
    assert answers_match("x = 25", "25").correct


def test_vote_key_merges_equal_integers() -> None:
    assert vote_key("025") == vote_key("25") == vote_key("$25$")
    assert vote_key("26") != vote_key("25")


@pytest.mark.parametrize(
    ("answer", "correct", "method"),
    [
        # a hedge or a relation does not state the answer: wrong, deliberately
        ("\\approx 33", False, "hedged"),
        ("1033 \\equiv 33", False, "hedged"),
        ("33 \\equiv 1033", False, "hedged"),
        ("x < 34", False, "hedged"),
        # decorations that keep the value
        ("\\text{33}.", True, "integer"),
        ("33 \\pmod{1000}", True, "integer"),
        ("1 033", False, "integer"),
    ],
)
def test_hedges_and_decorations(answer: str, correct: bool, method: str) -> None:
    m = answers_match(answer, "33")
    assert (m.correct, m.method) == (correct, method)


def test_votes_use_the_value() -> None:
    """33, 033, 33.0, \\frac{66}{2} and 66/2 are one vote; \\frac{1}{2} votes with 0.5."""
    keys = {vote_key(a) for a in ("33", "033", "33.0", "33.00", "\\frac{66}{2}",
                                  "\\dfrac{66}{2}", "66/2", "\\text{33}.")}  # fmt: skip
    assert keys == {"33"}
    assert vote_key("-\\frac{4}{2}") == "-2"
    assert vote_key("\\frac{1}{2}") == vote_key("0.5") == "value:1/2"
    assert vote_key("33.5") != vote_key("33")
    assert vote_key("1/0") == "value:zoo"  # sympy: complex infinity  # no division by zero


def test_aime_grade_every_field() -> None:
    from m1eval.registry import get_suite
    from m1eval.suites.base import Grade, Item

    suite = get_suite("aime24")
    item = Item("60", {"id": 60, "problem": "p", "answer": " 025 "})
    assert suite.grade(item, "so \\boxed{ 25 }.") == Grade(
        "scored",
        1.0,
        extracted_answer="25",
        gold="025",
        vote_key="25",
        details={"match": "integer"},
    )
    assert suite.grade(item, "\\boxed{\\frac{50}{2}}") == Grade(
        "scored",
        1.0,
        extracted_answer="\\frac{50}{2}",
        gold="025",
        vote_key="25",
        details={"match": "math-verify"},
    )
    assert suite.grade(item, "\\boxed{\\approx 25}") == Grade(
        "scored",
        0.0,
        extracted_answer="\\approx 25",
        gold="025",
        vote_key="\\approx 25",
        details={"match": "hedged"},
        cause="wrong value",
    )
    assert suite.grade(item, "no box") == Grade(
        "model_failure", 0.0, gold="025", error="no \\boxed{} answer in the final answer"
    )
    assert suite.grade(item, "\\boxed{ }") == suite.grade(item, "no box")
    messages = suite.build_messages(Item("61", {"problem": "  Find x.  ", "answer": "1"}))
    assert messages == [{"role": "user", "content": "Find x.\nPlease reason step by step, "
                         "and put your final answer within \\boxed{}."}]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "canonical"),
    [
        ("90^{\\circ}", "90"), ("90^\\circ", "90"), ("50\\%", "50"), ("50%", "50"),
        ("33\\!", "33"), ("1\\ 000", "1000"), ("3\\,3", "33"), ("-0", "0"), ("000", "0"),
        ("+5", "5"), ("-05", "-5"), ("$$7$$", "7"), ("7;", "7"), ("  \\text{ 8 } ", "8"),
    ],
)  # fmt: skip
def test_every_decoration_and_sign(answer: str, canonical: str) -> None:
    from m1eval.graders.math_answer import canonical_integer

    assert canonical_integer(answer) == canonical


def test_length_bounds_are_where_they_say() -> None:
    from m1eval.graders.math_answer import MAX_NORMALIZED_CHARS, canonical_integer

    assert parse_integer("9" * 4000) == int("9" * 4000)
    assert parse_integer("9" * 4001) is None  # past 4,000 digits: no int()
    edge = "$" + "1" * (MAX_NORMALIZED_CHARS - 2) + "$"
    assert canonical_integer(edge) == "1" * (MAX_NORMALIZED_CHARS - 2)  # cleaned up
    assert canonical_integer(edge + " ") is None  # one more character: taken as it is
    assert canonical_integer("1" * (MAX_NORMALIZED_CHARS + 5)) == "1" * (MAX_NORMALIZED_CHARS + 5)


def test_vote_keys_of_long_and_fractional_answers() -> None:
    from m1eval.graders.math_answer import MAX_NORMALIZED_CHARS, integer_value

    long = "x" * (MAX_NORMALIZED_CHARS + 1)
    assert vote_key(long).startswith("sha256:") and vote_key(long) != vote_key(long + "y")
    assert vote_key("\\text{x}") == "expr:x"
    assert integer_value("7/0") is None and integer_value("1" * 1001 + "/1") is None
    assert integer_value("-6/3") == "-2" and integer_value("\\tfrac{9}{3}") == "3"
    assert integer_value("2.50") is None and integer_value("4.000") == "4"


# answers grading reads as 33 (math-verify), written the way models write them
FORMS_OF_33 = ["x = 33", "(33)", "{33}", "\\sqrt{1089}", "33 \\text{ degrees}", "n=33",
               "\\displaystyle 33", "\\left(33\\right)", "\\frac{99}{3}", "033"]  # fmt: skip


@pytest.mark.parametrize("answer", FORMS_OF_33)
def test_a_correct_answer_votes_with_the_gold(answer: str) -> None:
    """maj@k counts what grading counts: every answer graded equal to 33 is one vote with
    ``33``, whichever form it takes."""
    from m1eval.registry import get_suite
    from m1eval.suites.base import Item

    suite = get_suite("aime24")
    item = Item("x", {"problem": "p", "answer": "33"})
    grade = suite.grade(item, f"\\boxed{{{answer}}}")
    plain = suite.grade(item, "\\boxed{33}")
    assert grade.score == plain.score == 1.0
    assert grade.vote_key == plain.vote_key == "33"
    assert vote_key(answer) == "33"  # without the gold too: its value is 33


def test_wrong_answers_of_one_value_vote_together_and_never_with_the_gold() -> None:
    from m1eval.registry import get_suite
    from m1eval.suites.base import Item

    suite = get_suite("aime24")
    item = Item("x", {"problem": "p", "answer": "33"})
    keys = {suite.grade(item, f"\\boxed{{{a}}}").vote_key for a in ("34", "x = 34", "(34)")}
    assert keys == {"34"}
    assert vote_key("\\frac{1}{2}") == vote_key("0.5") != vote_key("\\frac{1}{3}")
    # a hedge is wrong and votes as its text, apart from the value it hedges about
    hedged = suite.grade(item, "\\boxed{\\approx 33}")
    assert hedged.score == 0.0 and hedged.vote_key != "33"
    # whatever an answer's value, one graded wrong never joins the gold's vote
    assert vote_key("33", "33", correct=False) != vote_key("33", "33", correct=True)


def test_maj_at_k_counts_every_form_of_the_right_answer() -> None:
    """Five samples: three forms of 33 (right), two of 34. maj@5 is 100: the three forms
    are one vote of three against two (split apart they lose to 34's two)."""
    from m1eval.registry import get_suite
    from m1eval.suites.base import Item
    from m1eval.summary import summarize_suite

    suite = get_suite("aime24")
    item = Item("x", {"problem": "p", "answer": "33"})
    answers = ["34", "x = 33", "34", "\\sqrt{1089}", "\\left(33\\right)"]
    records = []
    for repeat, answer in enumerate(answers):
        g = suite.grade(item, f"\\boxed{{{answer}}}")
        records.append({"item_id": "x", "repeat": repeat, "outcome": g.outcome,
                        "score": g.score, "vote_key": g.vote_key})  # fmt: skip
    s = summarize_suite(records)
    assert s["maj_at_k"]["maj@5"] == 100.0


def test_the_vote_follows_the_grade_not_the_text(monkeypatch) -> None:
    """Whatever value an answer's text reads as, grading decides its vote: graded right, the
    gold's vote; graded wrong, never the gold's (marked apart)."""
    from m1eval.graders.math_answer import Match
    from m1eval.registry import get_suite
    from m1eval.suites.base import Item

    suite = get_suite("aime24")
    item = Item("x", {"problem": "p", "answer": "33"})
    monkeypatch.setattr("m1eval.suites.aime.answers_match", lambda p, g: Match(True, "stub"))
    assert suite.grade(item, "\\boxed{34}").vote_key == "33"
    monkeypatch.setattr("m1eval.suites.aime.answers_match", lambda p, g: Match(False, "stub"))
    assert suite.grade(item, "\\boxed{033}").vote_key == "graded wrong: 33"
    assert suite.grade(item, "\\boxed{34}").vote_key == "34"
    assert vote_key("anything", "33", correct=True) == "33"
    assert vote_key("33", "33", correct=False) == "graded wrong: 33"
    assert vote_key("33", None, correct=True) == "33"
    assert vote_key("x = 34", None, correct=True) == "34"  # no gold: the value


def test_unreadable_answers_vote_as_their_text() -> None:
    from m1eval.graders.math_answer import MAX_VERIFY_CHARS

    assert vote_key("???") == "???"  # math-verify reads nothing
    assert vote_key("}{") == "}{"
    long = "a+" * (MAX_VERIFY_CHARS // 2 - 1) + "bb"  # exactly MAX_VERIFY_CHARS: still read
    assert len(long) == MAX_VERIFY_CHARS and vote_key(long).startswith("expr:")
    longer = long + "+b"
    assert vote_key(longer) == longer  # past the bound: its text


def test_a_decimal_votes_as_the_exact_rational_it_writes() -> None:
    """math-verify's value of a decimal is that decimal, read exactly: 1.4142135623730951
    is not sqrt(2) and 2.71828... is not e (a vote key must not merge answers that grade
    differently)."""
    from m1eval.graders.math_answer import _math_verify_value

    assert _math_verify_value("1.4142135623730951") == "value:14142135623730951/10000000000000000"
    assert _math_verify_value("3.14159265358979") == "value:314159265358979/100000000000000"
    assert _math_verify_value("x = 33") == "33" and _math_verify_value("y") == "expr:y"


def test_a_pathological_answer_is_not_equal_within_the_parse_limit() -> None:
    """On the main thread math-verify's own limits apply (5 s to parse, 5 s to compare): an
    answer built to make sympy work for minutes is "not equal" within seconds."""
    import time

    from m1eval.graders.math_answer import _math_verify

    started = time.monotonic()
    assert _math_verify("3^{100000000}", "1") is False
    assert time.monotonic() - started < 30


@pytest.mark.timeout(60)
def test_a_value_too_large_to_compute_votes_as_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """``2^{2^{40}}`` is a number sympy would write out in full (137 GB of digits): its vote
    key is its text after the value's time limit, not a grader stuck until it is killed (the
    grade would then be a timeout, and the answer's cause not "wrong value")."""
    import signal
    import time

    from m1eval.graders import math_answer

    monkeypatch.setattr(math_answer, "VALUE_TIMEOUT_S", 1.0)
    def caller_alarm(*_: object) -> None:
        raise AssertionError("still grading after 50 s")

    previous = signal.signal(signal.SIGALRM, caller_alarm)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, 50)  # a caller's alarm (pytest-timeout's)
    try:
        start = time.monotonic()
        assert vote_key("2^{2^{40}}") == "2^{2^{40}}"
        assert time.monotonic() - start < 15
        assert 30 < signal.getitimer(signal.ITIMER_REAL)[0] < 50  # kept, less the time spent
    finally:
        signal.setitimer(signal.ITIMER_REAL, outer)
        signal.signal(signal.SIGALRM, previous)
    assert vote_key("(1+\\sqrt{2})^{4} + (1-\\sqrt{2})^{4}") == "34"  # quick values still read
