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
        ({"patch_successfully_applied": True, "resolved": False, "infra_failure": True,
          "infra_failure_reason": "Killed"}, ("infra_error", False, 0.0)),
    ],
)  # fmt: skip
def test_reports_map_to_outcomes(entry: dict, expected: tuple) -> None:
    r = verdict(IID, _report(**entry), "", 1800)
    assert (r.outcome, r.resolved, r.score) == expected
    assert r.report["patch_exists"] is True  # swebench's entry is kept whole
