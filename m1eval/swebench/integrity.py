"""What a patch cannot buy in a SWE-bench verdict: checks around the official harness, whose
verdict stands unless one of them contradicts it.

A patch runs inside the tests it is graded by, so the test log is partly its own writing.
swebench keeps the last status its log parser sees per test; a patch that prints pytest's
``PASSED tests/...::test_x`` after the run (an ``atexit`` hook) would turn a failure into a
pass. Three rules close the routes we know of:

- **test infrastructure**: a patch that adds or changes ``conftest.py``, ``pytest.ini``,
  ``sitecustomize.py``, ``usercustomize.py`` or a ``.pth`` file (what Python or pytest load
  by themselves) is not graded: a model failure, named. No gold patch of SWE-bench Verified
  touches one of them;
- **status after the summary**: pytest prints a test's status before its session summary
  line (``=== 4 passed in 0.01s ===``); a status line of a FAIL_TO_PASS or PASS_TO_PASS test
  after the first such line (and before the harness's end marker) was not pytest's: the
  verdict is ``model_failure: forged test output``;
- **cannot run, from evidence**: a test command that the environment cannot start is an
  infra error only when the test command's own exit status (the harness's ``Test Exit
  Code`` line, the last one) is 126 or 127 *and* the tests fail to start the same way without
  the patch on the same image; otherwise the patch made them unrunnable (a model failure).

Residual: a patch that rewrites pytest's reporting from inside the test process at import time
(before any status is printed) can still print a consistent, false log; repositories tested by
other runners (Django's, SymPy's) get the first and third rule only.
"""

from __future__ import annotations

import json
import re
from typing import Any

INFRA_FILES = ("conftest.py", "pytest.ini", "sitecustomize.py", "usercustomize.py")
UNRUNNABLE_CODES = (126, 127)
_DIFF_FILE = re.compile(r"^(?:diff --git a/\S+ b/|\+\+\+ b/)(\S+)", re.M)
_EXIT = re.compile(r"^>>>>> Test Exit Code: (\d{1,3})\s*$", re.M)
_SUMMARY = re.compile(r"^=+ .*\bin \d+(?:\.\d+)?s\b.*=+\s*$", re.M)
_STATUS = re.compile(r"^(PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED)\s+(\S+)", re.M)


def infra_files(patch: str) -> list[str]:
    """The test-infrastructure files a patch adds or changes."""
    found = []
    for path in dict.fromkeys(_DIFF_FILE.findall(patch)):
        name = path.rsplit("/", 1)[-1]
        if name in INFRA_FILES or name.endswith(".pth"):
            found.append(path)
    return found


def exit_code(test_output: str) -> int | None:
    """The test command's exit status as the eval script reported it (its last report)."""
    found = _EXIT.findall(test_output)
    return int(found[-1]) if found else None


def graded_tests(instance: dict[str, Any]) -> list[str]:
    """The FAIL_TO_PASS and PASS_TO_PASS tests of an instance row (JSON lists or lists)."""
    out: list[str] = []
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        value = instance.get(key) or []
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = []
        out += [str(t) for t in value if isinstance(t, str)]
    return out


def forged_status(test_output: str, tests: list[str]) -> str | None:
    """A graded test's status line printed after pytest's own session summary (the first
    one), before the harness's end marker: the test that was forged, if any."""
    from swebench.harness.constants import END_TEST_OUTPUT

    summary = _SUMMARY.search(test_output)
    if summary is None:
        return None
    end = test_output.find(END_TEST_OUTPUT, summary.end())
    tail = test_output[summary.end() : end if end >= 0 else len(test_output)]
    wanted = set(tests)
    for m in _STATUS.finditer(tail):
        name = m.group(2)
        if name in wanted:
            return f"{m.group(1)} {name}"
    return None
