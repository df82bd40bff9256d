"""LiveCodeBench grading semantics, host side.

What runs where: the program runs in the sandbox (:mod:`m1eval.sandbox`), one fresh process per
test, with LiveCodeBench's import block prepended; the comparison with the expected output
runs here, on the host, so expected outputs never enter the sandbox.

- call-based (LeetCode): ``Solution().fn(*[json.loads(line) for line in input])``, tuples
  become lists, exact ``==`` with ``json.loads(expected)``;
- stdin/stdout: the whole output and each line are stripped; line counts must match; a line
  matches if equal, or if all its whitespace-separated tokens are equal as ``Decimal``;
- 6 s per test, public then private tests, stop at the first failure; a program passes only if
  every test passes.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import re
import zlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from m1eval import boundedjson
from m1eval.causes import exception_name
from m1eval.errors import DataError

TIMEOUT_S = 6
DEFAULT_MAX_TEST_DATA_MB = 256
CASES_MAX_DEPTH = 8
RESULT_MAX_DEPTH = 200  # nesting of a call-based return value the host will read back
MAX_INT_DIGITS = 50_000  # upstream's int/str digit limit
# the hex digits of the largest integer an expected output can hold (50,000 decimal digits)
_MAX_HEX_DIGITS = 41_600


class _PlainDataUnpickler(pickle.Unpickler):
    """Admits only what pickle builds without importing anything (str, bytes, lists, dicts...).

    LiveCodeBench stores large private test sets as base64(zlib(pickle(json string))); a
    downloaded pickle is never given the chance to import and call arbitrary objects.
    """

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from test data")


def max_test_data_bytes() -> int:
    """Cap on one field of test data once decompressed (``M1EVAL_MAX_TEST_DATA_MB``)."""
    return int(os.environ.get("M1EVAL_MAX_TEST_DATA_MB", DEFAULT_MAX_TEST_DATA_MB)) << 20


def _inflate(data: bytes, limit: int) -> bytes:
    """zlib-decompress ``data``, refusing output beyond ``limit`` bytes (a zip bomb)."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise DataError(f"compressed test cases expand beyond {limit >> 20} MiB")
    return out + inflater.flush()


def _unpack(raw: str, limit: int) -> Any:
    """The compressed form: base64, then zlib (capped), then a pickle of one JSON string."""
    try:
        packed = _inflate(base64.b64decode(raw.encode("utf-8")), limit)
        payload = _PlainDataUnpickler(io.BytesIO(packed)).load()
    except (pickle.UnpicklingError, zlib.error, ValueError, EOFError, TypeError, IndexError,
            KeyError, AttributeError, RecursionError, MemoryError) as exc:  # fmt: skip
        raise DataError(f"undecodable test cases: {type(exc).__name__}: {exc}"[:300]) from None
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", "replace")
    if not isinstance(payload, str):
        raise DataError(f"compressed test cases hold a {type(payload).__name__}, not a string")
    try:
        return boundedjson.loads(payload, max_depth=CASES_MAX_DEPTH, max_chars=limit)
    except boundedjson.JSONBoundsError as exc:
        raise DataError(f"undecodable test cases: {exc}") from None


def decode_test_cases(raw: str) -> list[dict[str, Any]]:
    """Test cases from their JSON form, or from the compressed base64/zlib/pickle form.

    LiveCodeBench's form is ``json.loads(pickle.loads(zlib.decompress(b64decode(raw))))``:
    the pickle holds one JSON string. Anything else (containers, which can share references
    and explode when walked) is refused, and so is a field that inflates past the cap.
    """
    if not raw:
        return []
    if not isinstance(raw, str):
        raise DataError(f"test cases are a {type(raw).__name__}, not a string")
    limit = max_test_data_bytes()
    try:
        cases = boundedjson.loads(raw, max_depth=CASES_MAX_DEPTH, max_chars=limit)
    except boundedjson.JSONBoundsError:
        cases = _unpack(raw, limit)
    if not isinstance(cases, list):
        raise DataError("test cases are not a list")
    for i, case in enumerate(cases):
        if not (isinstance(case, dict) and isinstance(case.get("input"), str)
                and isinstance(case.get("output"), str)):  # fmt: skip
            raise DataError(f"test case {i} is not an object with string input and output")
    return cases


def extract_code(answer: str) -> str:
    """The last fenced block: the lines between the last two lines that contain ```."""
    lines = answer.split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1 : fences[-1]])


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except (InvalidOperation, ValueError):
        return None


def stdout_matches(output: str, expected: str) -> bool:
    got, want = _stripped_lines(output), _stripped_lines(expected)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        if g == w:
            continue
        dg, dw = _decimals(g), _decimals(w)
        if dg is None or dw is None or not _decimals_equal(dg, dw):
            return False
    return True


def _decimals_equal(got: list[Decimal], want: list[Decimal]) -> bool:
    """``got == want``; a comparison Decimal refuses (a signalling NaN) is a mismatch, as the
    exception it raises fails the test in LiveCodeBench's own grader."""
    try:
        return got == want
    except (InvalidOperation, ArithmeticError):
        return False


def call_result_matches(result_json: str, expected: str) -> bool:
    """Whether the program's return value equals the expected one, as Python's ``==`` on the
    objects (upstream compares the returned object with the JSON-loaded expected value): a
    nested tuple is not a list, ``1 == 1.0 == True``. The value arrives in the sandbox's
    encoding (``lcb_exec.encode_value``) and is the model's: one that cannot be read back
    within bounds does not match."""
    try:
        got = decode_value(boundedjson.loads(result_json, max_depth=2 * RESULT_MAX_DEPTH + 2))
        want = load_expected(expected)
    except (ValueError, TypeError, RecursionError, KeyError, IndexError, ArithmeticError):
        return False
    try:
        # numpy: ``==`` is elementwise; upstream's ``if not result`` raises (a runtime error)
        # unless one element is left, which ``.item(0)`` reads
        return bool(got == want)
    except (RecursionError, ArithmeticError, ValueError, TypeError):
        return False


def readable_result(result_json: Any) -> str:
    """A returned value as Python writes it (``[1, 2]``, ``(3, 'a')``), for a reader; the
    sandbox's encoding as it came where it cannot be read back within bounds."""
    try:
        value = decode_value(boundedjson.loads(str(result_json),
                                               max_depth=2 * RESULT_MAX_DEPTH + 2))  # fmt: skip
        return repr(value)[: 2 * SHOWN_CHARS]
    except (ValueError, TypeError, RecursionError, KeyError, IndexError, ArithmeticError):
        return str(result_json)


def _json_int(text: str) -> int:
    """An integer of the expected output, at upstream's digit limit (50,000: its grader sets
    ``sys.set_int_max_str_digits(50000)``; a longer one fails to load there too)."""
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits} digits in the expected output")
    return int(text) if digits <= 4000 else int(Decimal(text))


def load_expected(expected: str) -> Any:
    """``json.loads`` of a call-based test's expected output, as upstream loads it."""
    return json.loads(expected, parse_int=_json_int)


class _Opaque:
    """A returned object of a type JSON values never equal (a set, an instance, ...)."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


_INT_HEX = re.compile(r"-?0x[0-9a-f]+")


def decode_value(value: Any) -> Any:
    """The objects ``lcb_exec.encode_value`` describes: ``{"i": hex}`` an int, ``{"f": hex}``
    a float, ``{"D": text}`` a Decimal, ``{"q": [num, den]}`` a Fraction, ``{"nd": ...}`` a
    numpy array, ``{"t": [...]}`` a tuple, ``{"d": [[k, v], ...]}`` a dict, ``{"o": type}`` an
    object equal to nothing; plain JSON otherwise."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    [(tag, body)] = value.items()
    if tag == "i":
        if not (isinstance(body, str) and len(body) <= _MAX_HEX_DIGITS + 3
                and _INT_HEX.fullmatch(body)):  # fmt: skip
            raise ValueError("bad integer")
        return int(body, 16)
    if tag == "nd":
        return _ndarray(body)
    if tag == "D":
        if not (isinstance(body, str) and len(body) <= 4 * _MAX_HEX_DIGITS):
            raise ValueError("bad decimal")
        return Decimal(body)
    if tag == "q":
        num, den = (decode_value({"i": part}) for part in body)
        return Fraction(num, den)
    if tag == "f":
        return float.fromhex(body) if "x" in str(body) else float(body)
    if tag == "t":
        return tuple(decode_value(v) for v in body)
    if tag == "d":
        return {_hashable(decode_value(k)): decode_value(v) for k, v in body}
    if tag == "o":
        return _Opaque()
    raise ValueError(f"unknown tag {tag!r}")


def _ndarray(body: Any) -> Any:
    """A numpy array the program returned, rebuilt from its shape, dtype and elements (one
    too large to send back equals nothing)."""
    import numpy as np

    if not isinstance(body, dict) or body.get("flat") is None:
        return _Opaque()
    shape = [int(n) for n in body["shape"]]
    flat = [decode_value(v) for v in body["flat"]]
    # the dtype is the model's to write: only numeric and boolean kinds of at most 16 bytes are
    # taken (a "V1000000000" or "U100000000" would allocate gigabytes per element); anything
    # else is inferred from the elements, which the reply's size bounds
    try:
        dtype = np.dtype(str(body.get("dtype")))
        safe = dtype.kind in "biufc" and dtype.itemsize <= 16
    except TypeError:
        safe = False
    try:
        return np.array(flat, dtype=dtype if safe else None).reshape(shape)
    except (TypeError, ValueError):
        return np.array(flat, dtype=object).reshape(shape)


def _hashable(key: Any) -> Any:
    return key if not isinstance(key, (list, dict)) else _Opaque()


@dataclass
class TestVerdict:
    passed: bool
    status: str  # ok, wrong_answer, runtime_error, timeout, output_limit, killed, ...
    seconds: float | None = None
    error: str | None = None
    actual: str | None = None  # what the program gave, where it gave a wrong answer (bounded)


SHOWN_CHARS = 2_000  # of a failing test's input, expected and actual output, in its record


def shown(text: str | None, limit: int = SHOWN_CHARS) -> str | None:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters]"


STATUS_CAUSES = {
    "wrong_answer": "wrong answer",
    "timeout": "time limit exceeded",
    "output_limit": "output limit exceeded",
}


@dataclass
class ProgramVerdict:
    passed: bool
    n_tests: int
    tests: list[TestVerdict] = field(default_factory=list)

    @property
    def first_failure(self) -> TestVerdict | None:
        return next((t for t in self.tests if not t.passed), None)

    def summary(self, problem: Problem | None = None) -> dict[str, Any]:
        """Counts and the first failing test: its status and error, and with ``problem`` its
        input and expected output beside what the program gave (each bounded)."""
        fail = self.first_failure
        first = None
        if fail is not None:
            index = self.tests.index(fail)
            first = {"test": index, "status": fail.status,
                     "error": (fail.error or "")[-500:] or None}  # fmt: skip
            if problem is not None and index < len(problem.inputs):
                first["input"] = shown(problem.inputs[index])
                first["expected"] = shown(problem.outputs[index])
                first["actual"] = fail.actual
        return {
            "tests_run": len(self.tests),
            "tests_total": self.n_tests,
            "tests_passed": sum(t.passed for t in self.tests),
            "first_failure": first,
        }

    def cause(self) -> str | None:
        """The first failing test's status as a short class (``runtime error: ValueError``)."""
        fail = self.first_failure
        if fail is None:
            return None if self.passed else "not every test ran"
        if fail.status == "runtime_error":
            name = exception_name(fail.error)
            return f"runtime error: {name}" if name else "runtime error"
        return STATUS_CAUSES.get(fail.status, fail.status.replace("_", " "))


@dataclass(frozen=True)
class Problem:
    """What grading needs: the tests, and how the program is called."""

    inputs: list[str]
    outputs: list[str]
    fn_name: str | None  # set: call-based; None: stdin/stdout

    @property
    def mode(self) -> str:
        return "call" if self.fn_name else "stdio"


def problem_from_row(row: dict[str, Any]) -> Problem:
    """The tests of a dataset row; :class:`DataError` for a row that is not in the schema."""
    tests = decode_test_cases(row.get("public_test_cases") or "") + decode_test_cases(
        row.get("private_test_cases") or ""
    )
    metadata = row.get("metadata") or "{}"
    try:
        meta = boundedjson.loads(metadata, max_depth=8) if isinstance(metadata, str) else metadata
    except boundedjson.JSONBoundsError as exc:
        raise DataError(f"metadata: {exc}") from None
    if not isinstance(meta, dict):
        raise DataError("metadata is not a JSON object")
    functional = any(t.get("testtype") == "functional" for t in tests)
    fn_name = meta.get("func_name") if functional else None
    if functional and not (isinstance(fn_name, str) and fn_name.isidentifier()):
        raise DataError("a functional problem without a valid metadata.func_name")
    return Problem([t["input"] for t in tests], [t["output"] for t in tests], fn_name)


def judge(problem: Problem, index: int, result: dict[str, Any]) -> TestVerdict:
    status = result.get("status", "agent_error")
    seconds = result.get("seconds")
    if status != "ok":
        return TestVerdict(False, status, seconds, result.get("error"))
    got = result.get("result", "") if problem.mode == "call" else result.get("stdout", "")
    if problem.mode == "call":
        ok = call_result_matches(got, problem.outputs[index])
    else:
        ok = stdout_matches(got, problem.outputs[index])
    if ok:
        return TestVerdict(True, "ok", seconds)
    shown_as = readable_result(got) if problem.mode == "call" else str(got)
    return TestVerdict(False, "wrong_answer", seconds, actual=shown(shown_as))


def grade_program(runner: Any, code: str, problem: Problem, timeout_s: float = TIMEOUT_S,
                  exec_model: str = "official") -> ProgramVerdict:  # fmt: skip
    """Run ``code`` on every test through ``runner`` (a sandbox pool or the subprocess
    grader), stopping at the first failing test. ``exec_model``: ``official`` runs the
    problem as LiveCodeBench does (one process, compiled once, stand-in standard streams;
    see ``m1eval/sandbox/lcb_exec.py``), ``process`` a fresh process per test."""
    verdicts: list[TestVerdict] = []

    def accept(i: int, result: dict[str, Any]) -> bool:
        verdict = judge(problem, i, result)
        verdicts.append(verdict)
        return verdict.passed

    base = {"code": code, "mode": problem.mode, "fn_name": problem.fn_name,
            "timeout_s": timeout_s, "exec": exec_model}  # fmt: skip
    runner.run_program(base, problem.inputs, accept)
    # a verdict past the last test is the clean-up's: it can only fail the program
    passed = len(verdicts) >= len(problem.inputs) and all(v.passed for v in verdicts)
    return ProgramVerdict(passed, len(problem.inputs), verdicts)
