"""How swebench's answer about one instance becomes our outcome, case by case, on the strings
and report shapes swebench 5 writes (no Docker needed: the end-to-end gradings of these cases
are in test_swebench.py)."""

from __future__ import annotations

import pytest

from m1eval.swebench.grading import verdict

IID = "octo__repo-1"


@pytest.fixture(autouse=True)
def _needs_swebench(swebench_extra: None) -> None:
    """Every case reads swebench's own constants."""


def _report(**entry: object) -> tuple[str, dict]:
    return IID, {IID: {"patch_is_None": False, "patch_exists": True, **entry}}


def test_a_patch_that_does_not_apply_is_the_models() -> None:
    from swebench.harness.constants import APPLY_PATCH_FAIL

    log = f"...\n{APPLY_PATCH_FAIL}:\nerror: patch failed: a.py:3\n"
    r = verdict(IID, None, log, 1800)
    assert (r.outcome, r.resolved, r.error) == ("model_failure", False, "patch does not apply")


def test_tests_that_run_out_of_time_are_scored_zero() -> None:
    log = "Test runtime: 20.01 seconds\nTest timed out after 20 seconds.\n"
    r = verdict(IID, None, log, 20)
    assert (r.outcome, r.resolved, r.score) == ("scored", False, 0.0)
    assert r.error == "tests timed out after 20 s"


def test_anything_else_that_stops_swebench_early_is_infra() -> None:
    r = verdict(IID, None, "Building image\nError building image: no space left\n\n", 1800)
    assert (r.outcome, r.resolved) == ("infra_error", False)
    assert r.error == "swebench: Error building image: no space left"
    assert verdict(IID, None, "", 1800).error == "swebench: no log"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"patch_successfully_applied": True, "resolved": True}, ("scored", True, 1.0)),
        ({"patch_successfully_applied": True, "resolved": False}, ("scored", False, 0.0)),
        ({"patch_successfully_applied": False, "resolved": False},
         ("model_failure", False, 0.0)),
        # swebench's flag is advisory: unresolved, in the denominator (a log ending in
        # "Killed" may be the patch's own doing)
        ({"patch_successfully_applied": False, "resolved": False, "infra_failure": True,
          "infra_failure_reason": "out_of_memory"}, ("scored", False, 0.0)),
    ],
)  # fmt: skip
def test_reports_map_to_outcomes(entry: dict, expected: tuple) -> None:
    r = verdict(IID, _report(**entry), "", 1800)
    assert (r.outcome, r.resolved, r.score) == expected
    assert r.report["patch_exists"] is True  # swebench's entry is kept whole


def _test_output(body: str, code: int | None = None) -> str:
    """An eval script's output around ``body``; the test command's exit status as the script
    reports it (127 when bash could not find it, 126 when it could not run it)."""
    from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT

    if code is None:
        code = 127 if "not found" in body else 126 if "Permission denied" in body else 0
    return (f"+ git apply ...\n+ : '{START_TEST_OUTPUT}'\n{body}\n+ "
            f"SWEBENCH_TEST_EXIT_CODE={code}\n+ : '{END_TEST_OUTPUT}'\n"
            f"+ echo '>>>>> Test Exit Code: {code}'\n>>>>> Test Exit Code: {code}\n")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("/eval.sh: line 12: pytest: command not found",
         "the environment cannot run the tests: pytest: command not found"),
        ("/eval.sh: line 9: ./runtests.py: Permission denied",
         "the environment cannot run the tests: ./runtests.py: Permission denied"),
    ],
)  # fmt: skip
def test_a_test_command_the_environment_cannot_start_is_infra(body: str, error: str) -> None:
    """Only from evidence: the command's own exit status (127, 126) and the same failure on
    the image without the patch; a patch that makes the tests unstartable is the model's."""
    entry = {"patch_successfully_applied": False, "resolved": False}
    out = _test_output(body)
    code = 127 if "not found" in body else 126
    r = verdict(IID, _report(**entry), "", 1800, test_output=out, baseline=code)
    assert (r.outcome, r.error) == ("infra_error", error + " (without the patch too)")
    mine = verdict(IID, _report(**entry), "", 1800, test_output=out, baseline=0)
    assert mine.outcome == "model_failure" and "could not start with this patch" in mine.error
    unknown = verdict(IID, _report(**entry), "", 1800, test_output=out, baseline=None)
    assert unknown.outcome == "model_failure"  # no evidence: never left out of the score
    # the words alone, with the tests' real exit status, are nothing: the tests ran
    words = verdict(IID, _report(**entry), "", 1800, test_output=_test_output(body, code=1),
                    baseline=code)  # fmt: skip
    assert words.outcome == "model_failure" and "could not start" not in (words.error or "")


def test_the_same_words_from_the_tests_themselves_are_not_infra() -> None:
    """Outside the test-output markers (the eval script's set-up), or printed by a test, the
    words decide nothing: the tests ran."""
    entry = {"patch_successfully_applied": True, "resolved": False}
    printed = "FAILED tests/test_a.py::test_x - AssertionError: x: command not found"
    r = verdict(IID, _report(**entry), "", 1800, test_output=_test_output(printed, code=1))
    assert r.outcome == "scored"
    before = "/eval.sh: line 3: conda: command not found\n" + _test_output("1 passed")
    assert verdict(IID, _report(**entry), "", 1800, test_output=before).outcome == "scored"


def test_every_field_of_every_verdict() -> None:
    """Whole results compared, so that no field (the instance id, the log folder, the cause)
    can go astray unnoticed."""
    from swebench.harness.constants import APPLY_PATCH_FAIL

    from m1eval.swebench.grading import InstanceResult

    d = "/logs/x"
    assert verdict(IID, None, f"{APPLY_PATCH_FAIL}:\n", 60, d) == InstanceResult(
        IID, "model_failure", False, "patch does not apply", log_dir=d
    )
    assert verdict(IID, None, "Test timed out after 60 seconds.", 60, d) == InstanceResult(
        IID, "scored", False, "tests timed out after 60 s", log_dir=d
    )
    long_line = "E" * 400
    assert verdict(IID, None, f"a\n{long_line}\n  \n", 60, d) == InstanceResult(
        IID, "infra_error", False, "swebench: " + "E" * 300, log_dir=d
    )
    entry = {"patch_successfully_applied": True, "resolved": True}
    assert verdict(IID, (IID, {IID: entry}), "", 60, d) == InstanceResult(
        IID, "scored", True, None, entry, d
    )
    flagged = {"patch_successfully_applied": False, "resolved": False, "infra_failure": True}
    assert verdict(IID, (IID, {IID: flagged}), "", 60, d) == InstanceResult(
        IID,
        "scored",
        False,
        "unresolved; swebench flags a likely environment failure (environment failure)",
        flagged,
        d,
    )
    named = {**flagged, "infra_failure_reason": "out_of_memory"}
    assert verdict(IID, (IID, {IID: named}), "", 60, d).error == (
        "unresolved; swebench flags a likely environment failure (out_of_memory)"
    )
    not_run = {"patch_successfully_applied": False, "resolved": False}
    assert verdict(IID, (IID, {IID: not_run}), "", 60, d) == InstanceResult(
        IID, "model_failure", False, "no test results (patch or tests did not run)", not_run, d
    )
    unrunnable = _test_output("/eval.sh: line 7: tox: command not found")
    assert verdict(IID, (IID, {IID: entry}), "", 60, d, unrunnable, baseline=127) == \
        InstanceResult(IID, "infra_error", False, "the environment cannot run the tests: tox: "
                       "command not found (without the patch too)", entry, d)  # fmt: skip
    assert verdict(IID, (IID, {IID: entry}), "", 60, d, unrunnable, baseline=1) == \
        InstanceResult(IID, "model_failure", False, "the tests could not start with this "
                       "patch (tox: command not found); without it they do (exit status 1)",
                       entry, d)  # fmt: skip


def test_only_the_first_test_output_section_is_read_for_an_unstartable_command() -> None:
    """The words count between the first start marker and the first end marker after it:
    not before the start (set-up), not after the end (tear-down), not in a later section,
    and a log that begins with the marker is read too."""
    from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT

    from m1eval.swebench.grading import _unrunnable_test_command as unrunnable

    msg = "/eval.sh: line 5: pytest: command not found"
    assert unrunnable(f"{START_TEST_OUTPUT}\n{msg}\n{END_TEST_OUTPUT}\n") == \
        "pytest: command not found"  # fmt: skip
    assert unrunnable(f"{msg}\n{END_TEST_OUTPUT}\n") is None  # no start marker
    # a second start marker (bash -x echoes it) does not hide the first section
    assert unrunnable(f"{START_TEST_OUTPUT}\n{msg}\n{START_TEST_OUTPUT}\nok\n{END_TEST_OUTPUT}\n"
                      ) == "pytest: command not found"  # fmt: skip
    # after the first end marker: tear-down, not the tests (also with a second end marker)
    after = f"{START_TEST_OUTPUT}\nok\n{END_TEST_OUTPUT}\n{msg}\n"
    assert unrunnable(after) is None
    assert unrunnable(after + f"{END_TEST_OUTPUT}\n") is None
    # an end marker before the start is not the section's end
    assert unrunnable(f"{END_TEST_OUTPUT}\n{START_TEST_OUTPUT}\n{msg}\n{END_TEST_OUTPUT}\n") == \
        "pytest: command not found"  # fmt: skip
    # no end marker at all: to the end of the log
    assert unrunnable(f"x\n{START_TEST_OUTPUT}\n{msg}\n") == "pytest: command not found"
    # ... its last character included (a log cut off with no newline)
    assert unrunnable(f"x\n{START_TEST_OUTPUT}\n{msg}") == "pytest: command not found"


def test_forged_output_is_found_only_for_the_graded_tests() -> None:
    """A graded test's status printed after pytest's summary is forged; the same line for a
    test that is not graded decides nothing."""
    entry = {"patch_successfully_applied": True, "resolved": True}
    body = ("tests/test_a.py::test_x FAILED\n===== 1 failed in 0.12s =====\n"
            "PASSED tests/test_a.py::test_x")  # fmt: skip
    out = _test_output(body, code=0)
    forged = verdict(IID, _report(**entry), "", 1800, test_output=out,
                     tests=["tests/test_a.py::test_x"])  # fmt: skip
    assert forged.outcome == "model_failure" and forged.score == 0.0
    assert forged.error == ("forged test output: 'PASSED tests/test_a.py::test_x' printed "
                            "after pytest's own summary")  # fmt: skip
    other = verdict(IID, _report(**entry), "", 1800, test_output=out,
                    tests=["tests/test_b.py::test_y"])  # fmt: skip
    assert other.outcome == "scored" and other.resolved
    assert verdict(IID, _report(**entry), "", 1800, test_output=out).outcome == "scored"
