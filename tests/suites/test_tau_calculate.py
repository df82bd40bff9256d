"""tau-bench's ``calculate`` tool: ours walks the AST instead of calling ``eval``, and must
give the official string for every expression. The reference below is the tool's rule
(check the characters, ``eval`` with no builtins, ``round(float(...), 2)``, ``Error: {e}``),
run here on expressions that cannot blow up (no ``**``)."""

from __future__ import annotations

import random
import warnings

import pytest

from m1eval.tau.calculate import calculate

ALPHABET = "0123456789+-*/(). "


def official(expression: str) -> str:
    if not all(char in ALPHABET for char in expression):
        return "Error: invalid characters in expression"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "'int' object is not callable" SyntaxWarning
            return str(round(float(eval(expression, {"__builtins__": None}, {})), 2))
    except Exception as e:
        return f"Error: {e}"


@pytest.mark.parametrize("expression", [
    "()", " ", "", " 1 + 2", "\t3", "((()))", "()+1", "-()", "()*2", "2*()", "()/()", "()+()",
    "+()", "(1)(2)", "1(2)", "(1)(1/0)", "...", ".../2", "()()", "1/0", "7 // 2", "1.5 * 2",
    "2**3", "()**2", "2**()", "(1,2)", "01", "00", ".5", "5.", "1..2", "-(-3)", "10/3",
    "3.3(*56)", "()(*())", "()(*1)", "...(*1)", "1(*(), 1/0)", "1(*1, 1/0)", "1(1/0, *1)",
    "1(**2)", "1(**())", "1(*(),*2)", "1(2, **3)", "-1(*2)", "(1+2)(*3)", "1.(*2)", "1(**2, *3)",
    "1(*2, **3)", "1(*(), **3)",
])  # fmt: skip
def test_edge_cases_give_the_official_string(expression: str) -> None:
    assert calculate(expression) == official(expression)


def test_random_expressions_give_the_official_string() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(20_000):
        expression = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 9)))
        if "**" in expression:
            continue
        assert calculate(expression) == official(expression), expression
        checked += 1
    assert checked > 15_000


def test_powers_past_float_range_are_refused_without_computing_them() -> None:
    assert calculate("9**9**9") == "Error: int too large to convert to float"
    assert calculate("2**10") == official("2**10") == "1024.0"


def test_the_size_bounds_sit_where_they_are_documented() -> None:
    """Integer intermediates of up to 65,536 bits are computed (their quotient is official);
    one bit more is refused with the error the official tool would reach only for results it
    could not turn into a float. Expressions of up to 10,000 characters are evaluated."""
    from m1eval.tau.calculate import MAX_EXPRESSION_CHARS

    # products: bit lengths summing to 65,538 pass, 65,539 are refused
    assert calculate("2**32767*2**32769/2**65535") == official("2**32767*2**32769/2**65535")
    assert calculate("2**32767*2**32769/2**65535") == "2.0"
    assert calculate("2**32768*2**32769/2**65536") == "Error: int too large to convert to float"
    # powers: 2**65536 passes ((2 - 1) bits * 65536), 2**65537 is refused
    assert calculate("2**65536/2**65535") == "2.0"
    assert calculate("2**65537/2**65536") == "Error: int too large to convert to float"
    # a power of a large base, even to the first power
    big = "((2**32768-1)*(2**32770-1))"  # 65,538 bits, allowed as a product
    assert calculate(f"{big}/2**65535") == official(f"{big}/2**65535") == "8.0"
    assert calculate(f"{big}**1/2**65535") == "Error: int too large to convert to float"
    assert calculate("1**100000") == "1.0" and calculate("7**0") == "1.0"
    zeros = "0" * MAX_EXPRESSION_CHARS
    assert calculate(zeros) == official(zeros) == "0.0"
    assert calculate(zeros + "0") == f"Error: expression longer than {MAX_EXPRESSION_CHARS} " \
        "characters"  # fmt: skip
