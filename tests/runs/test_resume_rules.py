"""What a resumed run asks again, outcome by outcome."""

from __future__ import annotations

import pytest

from m1eval.runner import PlannedSample, samples_to_redo
from m1eval.suites.base import Item

OUTCOMES = ("scored", "model_failure", "infra_error", "skipped")


def _planned(n: int) -> list[PlannedSample]:
    return [PlannedSample(f"s{i}", Item(str(i), {}), 0, {}, "sha") for i in range(n)]


@pytest.mark.parametrize(
    ("retry_errors", "asked_again"),
    [(True, {"s2", "s3"}), (False, {"s3"})],
)
def test_only_skips_and_infra_errors_are_asked_again(retry_errors: bool,
                                                     asked_again: set[str]) -> None:  # fmt: skip
    planned = _planned(5)  # s4 never finished: it is pending, not "asked again"
    done = {f"s{i}": {"outcome": o} for i, o in enumerate(OUTCOMES)}
    done["s9"] = {"outcome": "infra_error"}  # not in this plan (another --limit): left alone
    assert set(samples_to_redo(planned, done, retry_errors)) == asked_again


def test_order_follows_the_plan() -> None:
    planned = _planned(4)[::-1]
    done = {p.sample_id: {"outcome": "skipped"} for p in planned}
    assert samples_to_redo(planned, done, True) == ["s3", "s2", "s1", "s0"]
