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
import pickle
import zlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from m1eval.errors import DataError

TIMEOUT_S = 6


class _PlainDataUnpickler(pickle.Unpickler):
    """Admits only what pickle builds without importing anything (str, bytes, lists, dicts...).

    LiveCodeBench stores large private test sets as base64(zlib(pickle(json string))); a
    downloaded pickle is never given the chance to import and call arbitrary objects.
    """

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from test data")


def decode_test_cases(raw: str) -> list[dict[str, Any]]:
    """Test cases from their JSON form, or from the compressed base64/zlib/pickle form."""
    if not raw:
        return []
    try:
        cases = json.loads(raw)
    except json.JSONDecodeError:
        try:
            payload = _PlainDataUnpickler(
                io.BytesIO(zlib.decompress(base64.b64decode(raw.encode("utf-8"))))
            ).load()
        except (pickle.UnpicklingError, zlib.error, ValueError, EOFError) as exc:
            raise DataError(f"undecodable test cases: {exc}") from None
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8")
        cases = json.loads(payload) if isinstance(payload, str) else payload
    if not isinstance(cases, list):
        raise DataError("test cases are not a list")
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
        if dg is None or dw is None or dg != dw:
            return False
    return True


def call_result_matches(result_json: str, expected: str) -> bool:
    try:
        got = json.loads(result_json)
        want = json.loads(expected)
    except (json.JSONDecodeError, TypeError):
        return False
    return bool(got == want)


@dataclass
class TestVerdict:
    passed: bool
    status: str  # ok, wrong_answer, runtime_error, timeout, output_limit, killed, ...
    seconds: float | None = None
    error: str | None = None


@dataclass
class ProgramVerdict:
    passed: bool
    n_tests: int
    tests: list[TestVerdict] = field(default_factory=list)

    @property
    def first_failure(self) -> TestVerdict | None:
        return next((t for t in self.tests if not t.passed), None)

    def summary(self) -> dict[str, Any]:
        fail = self.first_failure
        return {
            "tests_run": len(self.tests),
            "tests_total": self.n_tests,
            "tests_passed": sum(t.passed for t in self.tests),
            "first_failure": None if fail is None else {
                "test": self.tests.index(fail), "status": fail.status,
                "error": (fail.error or "")[-500:] or None,
            },
        }  # fmt: skip


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
    tests = decode_test_cases(row.get("public_test_cases") or "") + decode_test_cases(
        row.get("private_test_cases") or ""
    )
    metadata = row.get("metadata") or "{}"
    meta = json.loads(metadata) if isinstance(metadata, str) else dict(metadata)
    functional = any(t.get("testtype") == "functional" for t in tests)
    fn_name = meta.get("func_name") if functional else None
    if functional and not fn_name:
        raise DataError("a functional problem without metadata.func_name")
    return Problem([t["input"] for t in tests], [t["output"] for t in tests], fn_name)


def judge(problem: Problem, index: int, result: dict[str, Any]) -> TestVerdict:
    status = result.get("status", "agent_error")
    seconds = result.get("seconds")
    if status != "ok":
        return TestVerdict(False, status, seconds, result.get("error"))
    if problem.mode == "call":
        ok = call_result_matches(result.get("result", ""), problem.outputs[index])
    else:
        ok = stdout_matches(result.get("stdout", ""), problem.outputs[index])
    return TestVerdict(ok, "ok" if ok else "wrong_answer", seconds)


def grade_program(runner: Any, code: str, problem: Problem, timeout_s: float = TIMEOUT_S
                  ) -> ProgramVerdict:  # fmt: skip
    """Run ``code`` on every test through ``runner`` (a sandbox pool or the subprocess
    grader), stopping at the first failing test."""
    verdicts: list[TestVerdict] = []

    def accept(i: int, result: dict[str, Any]) -> bool:
        verdict = judge(problem, i, result)
        verdicts.append(verdict)
        return verdict.passed

    base = {"code": code, "mode": problem.mode, "fn_name": problem.fn_name,
            "timeout_s": timeout_s}  # fmt: skip
    runner.run_program(base, problem.inputs, accept)
    passed = len(verdicts) == len(problem.inputs) and all(v.passed for v in verdicts)
    return ProgramVerdict(passed, len(problem.inputs), verdicts)
