"""LiveCodeBench's execution model (the default) against a fresh process per test
(``--lcb-exec process``), on the programs where the two disagree. The verdicts expected under
``official`` are what upstream's testing_util does with these programs (read from its code:
one compiled module per problem, stand-in stdin/stdout, ``quit`` disabled, one Solution)."""

from __future__ import annotations

import json

import pytest

from m1eval.graders.lcb import Problem, grade_program
from m1eval.sandbox.lcb_exec import wrap_stdio_program
from m1eval.sandbox.local import SubprocessRunner

RUNNER = SubprocessRunner()
DOUBLE = Problem(["21\n"], ["42\n"], None)  # print twice the input


def _status(code: str, exec_model: str, problem: Problem = DOUBLE) -> str:
    verdict = grade_program(RUNNER, code, problem, exec_model=exec_model)
    return "passed" if verdict.passed else verdict.tests[-1].status


CASES = {
    "for line in sys.stdin": (
        "import sys\nfor line in sys.stdin:\n    print(int(line) * 2)\n", "runtime_error"),
    "sys.stdout.buffer.write": (
        "import sys\nsys.stdout.buffer.write(str(int(input()) * 2).encode())\n",
        "runtime_error"),
    "open(0).read()": ("print(int(open(0).read()) * 2)\n", "runtime_error"),
    "sys.stdin.read() twice": (
        "import sys\na = sys.stdin.read()\nb = sys.stdin.read()\n"
        "print(int(a) * 2 if not b else 'again')\n", "wrong_answer"),
    "os.write(1, ...)": (
        "import os\nos.write(1, (str(int(input()) * 2) + '\\n').encode())\n", "wrong_answer"),
    "quit()": ("print(int(input()) * 2)\nquit()\n", "runtime_error"),
    "a top-level global": (
        "def bump():\n    global total\n    total += int(input()) * 2\n"
        "total = 0\nbump()\nprint(total)\n", "runtime_error"),
    "__main__ guard not last": (
        "def main():\n    print(int(input()) * 2)\n\nif __name__ == '__main__':\n    main()\n"
        "DONE = True\n", "wrong_answer"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_programs_only_a_fresh_process_accepts(name: str) -> None:
    code, official = CASES[name]
    assert _status(code, "process") == "passed"
    assert _status(code, "official") == official


@pytest.mark.parametrize(
    "code",
    [
        "print(int(input()) * 2)\n",
        "import sys\nprint(int(sys.stdin.readline()) * 2)\n",
        "import sys\nprint(int(sys.stdin.read()) * 2)\n",
        "import sys\nprint(int(sys.stdin.readlines()[0]) * 2)\n",
        "import sys\nprint(int(sys.stdin.buffer.read()) * 2)\n",
        "def main():\n    print(int(input()) * 2)\n\nif __name__ == '__main__':\n    main()\n",
        "print(int(input()) * 2)\nexit()\n",  # exit stays; SystemExit ends a test normally
        "from math import *\nimport numpy as np\nprint(np.int64(int(input())) * 2)\n",
    ],
)
def test_programs_both_models_accept(code: str) -> None:
    pytest.importorskip("numpy")
    assert _status(code, "official") == _status(code, "process") == "passed"


def test_integers_of_50000_digits_print_under_the_official_model() -> None:
    problem = Problem(["5000\n"], ["1" + "0" * 5000], None)
    code = "print(10 ** int(input()))\n"
    assert _status(code, "official", problem) == "passed"
    assert _status(code, "process", problem) == "runtime_error"  # Python's 4,300-digit default


def test_one_solution_instance_serves_every_test() -> None:
    problem = Problem(["1", "1"], ["1", "1"], "f")
    code = ("class Solution:\n    def f(self, x):\n"
            "        self.n = getattr(self, 'n', 0) + 1\n        return self.n\n")  # fmt: skip
    assert _status(code, "process", problem) == "passed"
    assert _status(code, "official", problem) == "wrong_answer"  # the second call returns 2


def test_module_state_carries_over_between_stdin_tests() -> None:
    """Imported modules are hoisted out of the wrapper, so their state persists."""
    problem = Problem(["1\n", "1\n"], ["1\n", "1\n"], None)
    code = (
        "import itertools, sys\nsys.counter = getattr(sys, 'counter', 0) + 1\nprint(sys.counter)\n"
    )
    assert _status(code, "process", problem) == "passed"
    assert _status(code, "official", problem) == "wrong_answer"


def test_compile_errors_timeouts_and_numpy_results() -> None:
    assert _status("def broken(:\n", "official") == "runtime_error"
    slow = grade_program(RUNNER, "while True:\n    pass\n", DOUBLE, timeout_s=1,
                         exec_model="official")  # fmt: skip
    assert not slow.passed and slow.tests[0].status == "timeout"
    pytest.importorskip("numpy")
    problem = Problem(["[1, 2]"], [json.dumps(3)], "total")
    code = "import numpy as np\ndef total(xs):\n    return np.int64(sum(xs))\n"
    assert _status(code, "official", problem) == "passed"


def test_wrapping_unwraps_only_a_trailing_main_guard() -> None:
    wrapped = wrap_stdio_program("import os\nx = 1\nif __name__ == '__main__':\n    print(x)\n",
                                 "IMPORTS")  # fmt: skip
    assert wrapped.startswith("IMPORTS\nimport os\ndef wrapped_function():")
    assert "print(x)" in wrapped and "__main__" not in wrapped
    assert wrap_stdio_program("def f(:", "IMPORTS") == "def f(:"


def test_the_sandbox_gives_the_same_verdicts(sandbox_pool) -> None:  # type: ignore[no-untyped-def]
    """The same agent code in the Docker sandbox: every case above, numpy included, and a
    problem left running is ended and cleaned so the next program starts clean."""
    for code, official in CASES.values():
        assert grade_program(sandbox_pool, code, DOUBLE).tests[-1].status == official
        verdict = grade_program(sandbox_pool, code, DOUBLE, exec_model="process")
        assert verdict.passed
    problem = Problem(["[1, 2]"], [json.dumps(3)], "total")
    code = "import numpy as np\ndef total(xs):\n    return np.int64(sum(xs))\n"
    assert grade_program(sandbox_pool, code, problem).passed
    leaves = "open('/tmp/left', 'w').write('x')\nprint(int(input()) * 2)\n"
    assert grade_program(sandbox_pool, leaves, DOUBLE).passed
    peek = "import os\nprint(42 if not os.path.exists('/tmp/left') else 0)\n"
    for _ in range(2):  # both workers
        assert grade_program(sandbox_pool, peek, DOUBLE).passed
