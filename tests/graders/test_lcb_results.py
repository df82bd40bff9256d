"""Call-based results read back on the host: each encoding ``lcb_exec.encode_value`` writes
decodes to an object whose ``==`` with the expected JSON value is Python's (and numpy's), and
expected values load at upstream's 50,000-digit limit."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from m1eval.graders.lcb import _MAX_HEX_DIGITS, MAX_INT_DIGITS, call_result_matches, load_expected
from m1eval.sandbox.lcb_exec import encode_value


def _matches(value: object, expected: str) -> bool:
    return call_result_matches(json.dumps(encode_value(value)), expected)


@pytest.mark.parametrize(("value", "expected", "equal"), [
    (0.1 + 0.2, "0.30000000000000004", True),
    (0.1 + 0.2, "0.3", False),  # every float bit crosses
    (float("inf"), "1e999", True),
    ((1, 2), "[1, 2]", True),  # a top-level tuple is compared as a list by the caller
    ([(1, 2)], "[[1, 2]]", False),  # a nested tuple is not a list
    ({"a": (1,)}, '{"a": [1]}', False),
    ({"a": [1]}, '{"a": [1]}', True),
    (Decimal("1.5"), "1.5", True),  # Decimal == float, exactly
    (Decimal("0.1"), "0.1", False),  # Decimal("0.1") != the float 0.1
    (Decimal("3"), "3", True),
    (__import__("fractions").Fraction(3, 2), "1.5", True),
    (__import__("fractions").Fraction(1, 3), "0.3333333333333333", False),
    (__import__("fractions").Fraction(4, 2), "2", True),
    (np.array([5]), "5", True),  # one element: numpy's == then .item(0)
    (np.array([5]), "[5]", True),
    (np.array([[5]]), "[[5]]", True),
    (np.array(5), "5", True),  # 0-d
    (np.array([5]), "6", False),
    (np.array([5, 6]), "[5, 6]", False),  # the official "ambiguous truth value" error
    (np.array([5]), "[5, 6]", False),
    (np.array([1.5]), "1.5", True),
    (np.array(["ab"]), '"ab"', True),
    (np.int64(7), "7", True),
    (np.float32(0.5), "0.5", True),
    (np.bool_(True), "true", True),
    ({1, 2}, "[1, 2]", False),  # a set equals no JSON value
])  # fmt: skip
def test_results_compare_as_python_compares_them(value: object, expected: str,
                                                 equal: bool) -> None:  # fmt: skip
    if isinstance(value, tuple):
        value = list(value)
    assert _matches(value, expected) is equal


def test_expected_integers_load_at_upstreams_digit_limit() -> None:
    big = "7" * 5000  # past Python's default 4,300 digits
    assert load_expected(big) == int(__import__("decimal").Decimal(big))
    assert _matches(int(__import__("decimal").Decimal(big)), big)
    assert not _matches(int(__import__("decimal").Decimal(big)) + 1, big)
    edge = "9" * MAX_INT_DIGITS  # exactly the limit loads
    assert load_expected(edge) % 10 == 9
    with pytest.raises(ValueError, match="50001 digits"):
        load_expected("9" * (MAX_INT_DIGITS + 1))
    assert load_expected("[-12, 4000]") == [-12, 4000]
    assert load_expected("-" + "1" * 4500) < 0


def test_result_integers_are_read_up_to_the_largest_expected_one() -> None:
    """An integer of 50,000 digits has 41,524 hex digits: results up to the bound are read,
    longer ones (no expected value can equal them) are a mismatch, never an error."""
    big = 10**49_999
    hex_digits = len(hex(big)) - 2
    assert hex_digits <= _MAX_HEX_DIGITS
    assert call_result_matches(json.dumps({"i": hex(big)}), "1" + "0" * 49_999)
    longest = "0x" + "f" * (_MAX_HEX_DIGITS + 1)
    assert call_result_matches(json.dumps({"i": longest}), "1") is False
    at_bound = "0x" + "1" + "0" * (_MAX_HEX_DIGITS)  # 3 + bound characters: read
    assert call_result_matches(json.dumps({"i": at_bound}), str(0)) is False
    assert call_result_matches(json.dumps({"i": "0x" + "1" * (_MAX_HEX_DIGITS + 2)}),
                               "1") is False  # fmt: skip


def test_undecodable_results_are_mismatches() -> None:
    for raw in ('{"i": "12"}', '{"i": 5}', '{"zz": 1}', '{"D": 5}', '{"q": ["0x1"]}',
                '{"nd": {"shape": [2], "flat": null}}', "not json"):  # fmt: skip
        assert call_result_matches(raw, "12") is False
    assert call_result_matches('{"D": "' + "1" * 200_000 + '"}', "1") is False
    assert call_result_matches('{"q": ["0x1", "0x0"]}', "1") is False  # a zero denominator
    # a dtype that would allocate gigabytes is not taken: the elements decide
    huge = '{"nd": {"shape": [1], "dtype": "V1000000000", "flat": [{"i": "0x5"}]}}'
    assert call_result_matches(huge, "5") is True
    huge_text = '{"nd": {"shape": [1], "dtype": "<U100000000", "flat": ["ab"]}}'
    assert call_result_matches(huge_text, '"ab"') is True
    assert call_result_matches('{"nd": {"shape": [7], "flat": [{"i": "0x5"}]}}', "5") is False
    assert call_result_matches('{"i": "12"}', "18") is False  # not 0x-prefixed: refused
    assert call_result_matches('{"i": "0x12"}', "18") is True
