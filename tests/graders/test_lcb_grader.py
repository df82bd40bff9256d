"""LiveCodeBench grading semantics against hand-checked cases and upstream edge cases.

These run programs through the unsandboxed subprocess runner (same agent, same verdicts) so
that the grader's rules are tested without Docker; test_sandbox.py runs them in containers.
"""

from __future__ import annotations

import base64
import json
import pickle
import tempfile
import zlib

import pytest

from m1eval.errors import DataError
from m1eval.graders.lcb import (
    Problem,
    call_result_matches,
    decode_test_cases,
    extract_code,
    grade_program,
    problem_from_row,
    stdout_matches,
)
from m1eval.sandbox.local import SubprocessRunner

RUNNER = SubprocessRunner()


def _compressed(tests: list[dict]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def test_decode_plain_and_compressed_test_cases() -> None:
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert decode_test_cases(json.dumps(tests)) == tests
    assert decode_test_cases(_compressed(tests)) == tests
    assert decode_test_cases("") == []


def test_compressed_test_cases_cannot_run_code() -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    payload = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(DataError, match=r"refusing to load builtins\.print"):
        decode_test_cases(payload)


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("```python\nprint(1)\n```", "print(1)"),
        ("first\n```python\nprint(1)\n```\nthen\n```python\nprint(2)\n```\n", "print(2)"),
        ("no code", ""),
        ("```python\nunclosed", ""),
    ],
)
def test_extract_last_fenced_block(answer: str, code: str) -> None:
    assert extract_code(answer) == code


@pytest.mark.parametrize(
    ("output", "expected", "ok"),
    [
        ("5\n", "5", True),
        ("5   \n\n", "5\n", True),  # trailing whitespace and blank lines
        ("  1 2  \n3", "1 2\n3", True),
        ("0.50", "0.5", True),  # Decimal-equal
        ("1.0 2", "1 2.00", True),
        ("1e2", "100", True),  # Decimal('1e2') == 100
        ("1  2", "1 2", True),  # tokens compared as Decimals
        ("YES", "yes", False),
        ("1\n2", "1 2", False),  # line counts differ
        # per-line strip, on lines no number can decide
        ("abc   \nxyz", "abc\nxyz", True),
        ("yes\n  no maybe\t", "yes\nno maybe", True),
        ("yes\nno  maybe", "yes\nno maybe", False),  # inner spaces are not collapsed
        # extra or missing lines after a correct prefix
        ("YES\nextra", "YES", False),
        ("5\n6", "5", False),
        ("YES", "YES\nNO", False),
        ("\n\nYES\n\n", "YES", True),  # only the ends are stripped
        ("YES\n\nNO", "YES\nNO", False),  # an inner blank line is a line
        ("0.333333", "0.333334", False),  # no tolerance: exact Decimals
        ("", "0", False),
    ],
)
def test_stdout_comparison(output: str, expected: str, ok: bool) -> None:
    assert stdout_matches(output, expected) is ok


def test_call_comparison() -> None:
    assert call_result_matches("[1, 2]", "[1, 2]")
    assert not call_result_matches("[1, 2]", "[2, 1]")
    assert call_result_matches("true", "1")  # Python ==: True == 1
    assert not call_result_matches("1.0000001", "1")
    assert not call_result_matches("garbage", "1")


def _stdio(outputs: list[str], inputs: list[str]) -> Problem:
    return Problem(inputs, outputs, None)


def test_stdio_program_reads_stdin_buffer() -> None:
    problem = _stdio(["3\n", "7\n"], ["1 2\n", "3 4\n"])
    code = "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a + b)"
    verdict = grade_program(RUNNER, code, problem)
    assert verdict.passed and len(verdict.tests) == 2


def test_stops_at_first_failing_test() -> None:
    problem = _stdio(["1", "999", "3"], ["1", "2", "3"])
    verdict = grade_program(RUNNER, "print(input())", problem)
    assert not verdict.passed
    assert [t.status for t in verdict.tests] == ["ok", "wrong_answer"]
    assert verdict.summary()["first_failure"]["test"] == 1


def test_host_runner_leaves_no_scratch_behind(tmp_path, monkeypatch) -> None:
    """The unsandboxed runner's scratch directory goes with the program, files and all."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None
    try:
        code = "open('left.txt', 'w').write('x')\nprint(input())"
        assert grade_program(SubprocessRunner(), code, _stdio(["1"], ["1"])).passed
    finally:
        tempfile.tempdir = None
    assert list(tmp_path.iterdir()) == []


def test_import_block_is_prepended_and_exit_is_not_failure() -> None:
    # no imports written: LiveCodeBench's import block provides gcd and sys
    code = "a, b = map(int, input().split())\nprint(gcd(a, b))\nsys.exit(3)"
    assert grade_program(RUNNER, code, _stdio(["6"], ["12 18"])).passed


def test_main_guard_runs() -> None:
    code = "def main():\n    print(int(input()) * 2)\n\nif __name__ == '__main__':\n    main()"
    assert grade_program(RUNNER, code, _stdio(["4"], ["2"])).passed


def test_call_based_with_starter_code_and_tuples() -> None:
    row = {
        "public_test_cases": json.dumps([{"input": "[1, 2]\n3", "output": "[3, [1, 2]]",
                                          "testtype": "functional"}]),
        "private_test_cases": _compressed([{"input": "[]\n0", "output": "[0, []]",
                                            "testtype": "functional"}]),
        "metadata": json.dumps({"func_name": "pack"}),
    }  # fmt: skip
    problem = problem_from_row(row)
    assert problem.mode == "call" and problem.fn_name == "pack" and len(problem.inputs) == 2
    # a top-level tuple counts as a list, as upstream; a nested one is a tuple, and a tuple
    # is not equal to a list: upstream compares the objects, not their JSON
    top_level = (
        "class Solution:\n"
        "    def pack(self, nums: List[int], k: int):\n"
        "        return (sum(nums) + k - k, list(nums))\n"
    )
    nested = top_level.replace("list(nums)", "tuple(nums)")
    for exec_model in ("official", "process"):
        verdict = grade_program(RUNNER, top_level, problem, exec_model=exec_model)
        assert verdict.passed, verdict.tests
        verdict = grade_program(RUNNER, nested, problem, exec_model=exec_model)
        assert not verdict.passed and verdict.tests[0].status == "wrong_answer"


def test_runtime_error_and_timeout_are_failures() -> None:
    problem = _stdio(["1"], ["1"])
    crash = grade_program(RUNNER, "raise ValueError('boom')", problem)
    assert not crash.passed and crash.tests[0].status == "runtime_error"
    assert "ValueError: boom" in crash.tests[0].error
    slow = grade_program(RUNNER, "import time\ntime.sleep(5)", problem, timeout_s=1)
    assert not slow.passed and slow.tests[0].status == "timeout"


def test_functional_problem_needs_func_name() -> None:
    row = {"public_test_cases": json.dumps([{"input": "1", "output": "1",
                                             "testtype": "functional"}]),
           "private_test_cases": "", "metadata": "{}"}  # fmt: skip
    with pytest.raises(DataError, match="func_name"):
        problem_from_row(row)


def test_judge_every_field() -> None:
    from m1eval.graders.lcb import TestVerdict, judge

    stdio = Problem(["1\n", "2\n"], ["2\n", "3\n"], None)
    call = Problem(["[1]"], ["[1, 2]"], "f")
    assert judge(stdio, 1, {"status": "ok", "stdout": "3", "seconds": 0.5}) == TestVerdict(
        True, "ok", 0.5
    )
    assert judge(stdio, 0, {"status": "ok", "stdout": "3", "seconds": 0.5}) == TestVerdict(
        False, "wrong_answer", 0.5, actual="3"
    )
    assert judge(stdio, 0, {"status": "ok"}) == TestVerdict(False, "wrong_answer", None, actual="")
    # what the program gave is kept, bounded (it is the model's, of any size)
    big = judge(stdio, 0, {"status": "ok", "stdout": "9" * 5000}).actual
    assert big == "9" * 2000 + "… [3,000 more characters]"
    assert judge(call, 0, {"status": "ok", "result": "[1, 2]", "seconds": 1.0}) == TestVerdict(
        True, "ok", 1.0
    )
    assert judge(call, 0, {"status": "ok", "stdout": "[1, 2]"}).status == "wrong_answer"
    assert judge(call, 0, {"status": "ok", "result": "[2, 1]"}).actual == "[2, 1]"
    # a returned value is shown as Python writes it, not in the sandbox's encoding
    assert judge(call, 0, {"status": "ok", "result": '{"t": [{"i": "0x3"}, "a"]}'}).actual == (
        "(3, 'a')")
    assert judge(call, 0, {"status": "ok", "result": "{bad"}).actual == "{bad"  # as it came
    big = '{"i": "0x' + "f" * 5000 + '"}'  # past Python's digit limit for repr: as it came
    assert judge(call, 0, {"status": "ok", "result": big}).actual == big[:2000] + (
        f"… [{len(big) - 2000:,} more characters]")
    assert judge(stdio, 0, {"status": "timeout", "seconds": 6.0, "error": "t"}) == TestVerdict(
        False, "timeout", 6.0, "t"
    )
    assert judge(stdio, 0, {}) == TestVerdict(False, "agent_error", None, None)


def test_program_verdict_summary_every_field() -> None:
    from m1eval.graders.lcb import ProgramVerdict, TestVerdict

    v = ProgramVerdict(
        False, 4, [TestVerdict(True, "ok"), TestVerdict(False, "runtime_error", 0.1, "x" * 600)]
    )
    assert v.summary() == {"tests_run": 2, "tests_total": 4, "tests_passed": 1,
                           "first_failure": {"test": 1, "status": "runtime_error",
                                             "error": "x" * 500}}  # fmt: skip
    ok = ProgramVerdict(True, 1, [TestVerdict(True, "ok")])
    assert ok.summary() == {"tests_run": 1, "tests_total": 1, "tests_passed": 1,
                            "first_failure": None}  # fmt: skip
    quiet = ProgramVerdict(False, 1, [TestVerdict(False, "wrong_answer")])
    assert quiet.summary()["first_failure"] == {"test": 0, "status": "wrong_answer",
                                                "error": None}  # fmt: skip
    # with the problem: the failing test's input and expected output beside what it gave
    problem = Problem(["1\n", "2\n" * 3000], ["2\n", "3\n"], None)
    wrong = ProgramVerdict(False, 2, [TestVerdict(True, "ok"),
                                      TestVerdict(False, "wrong_answer", 0.1, actual="4")])
    assert wrong.summary(problem)["first_failure"] == {
        "test": 1, "status": "wrong_answer", "error": None,
        "input": "2\n" * 1000 + "… [4,000 more characters]", "expected": "3\n", "actual": "4"}
    first = ProgramVerdict(False, 2, [TestVerdict(False, "timeout", 6.0, "t")])
    assert first.summary(problem)["first_failure"] == {
        "test": 0, "status": "timeout", "error": "t", "input": "1\n", "expected": "2\n",
        "actual": None}  # fmt: skip


def test_program_verdict_cause_names_the_first_failure() -> None:
    from m1eval.graders.lcb import ProgramVerdict, TestVerdict

    def cause(*tests: TestVerdict, passed: bool = False, n: int = 3) -> str | None:
        return ProgramVerdict(passed, n, list(tests)).cause()

    ok = TestVerdict(True, "ok")
    assert cause(ok, ok, ok, passed=True) is None
    assert cause(ok, TestVerdict(False, "wrong_answer")) == "wrong answer"
    assert cause(TestVerdict(False, "timeout")) == "time limit exceeded"
    assert cause(TestVerdict(False, "output_limit")) == "output limit exceeded"
    trace = 'Traceback (most recent call last):\n  File "<string>", line 3\nValueError: bad'
    raised = TestVerdict(False, "runtime_error", error=trace)
    assert cause(ok, raised) == "runtime error: ValueError"
    assert cause(TestVerdict(False, "runtime_error", error="numpy.linalg.LinAlgError: x")) == (
        "runtime error: LinAlgError")
    assert cause(TestVerdict(False, "runtime_error", error="Killed")) == "runtime error"
    assert cause(TestVerdict(False, "runtime_error")) == "runtime error"
    assert cause(TestVerdict(False, "sandbox_killed")) == "sandbox killed"
    assert cause(ok, n=3) == "not every test ran"  # stopped early without a failing test


def test_problem_from_row_every_field() -> None:
    from m1eval.errors import DataError
    from m1eval.graders.lcb import problem_from_row

    public = json.dumps([{"input": "1", "output": "2", "testtype": "stdin"}])
    private = _compressed([{"input": "3", "output": "4", "testtype": "stdin"}])
    p = problem_from_row({"public_test_cases": public, "private_test_cases": private})
    assert (p.inputs, p.outputs, p.fn_name, p.mode) == (["1", "3"], ["2", "4"], None, "stdio")
    functional = json.dumps([{"input": "[1]", "output": "2", "testtype": "functional"}])
    p = problem_from_row({"public_test_cases": functional,
                          "metadata": json.dumps({"func_name": "solve"})})  # fmt: skip
    assert (p.fn_name, p.mode) == ("solve", "call")
    p = problem_from_row({"public_test_cases": public, "metadata": {"func_name": "ignored"}})
    assert p.fn_name is None  # stdin problems call nothing
    for meta, why in (
        ("[1]", r"^metadata is not a JSON object$"),
        ("{", r"^metadata: "),
        (
            json.dumps({"func_name": "not an id"}),
            r"^a functional problem without a valid metadata\.func_name$",
        ),
    ):
        with pytest.raises(DataError, match=why):
            problem_from_row({"public_test_cases": functional, "metadata": meta})
    assert problem_from_row({}).inputs == []
    for bad, why in ((json.dumps({"a": 1}), "not a list"), (json.dumps([{"input": 1}]),
                     "test case 0"), (123, "not a string")):  # fmt: skip
        with pytest.raises(DataError, match=why):
            problem_from_row({"public_test_cases": bad})
