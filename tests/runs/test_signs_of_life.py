"""Long work shows signs of life: while no sample finishes (a long prefill, an agent's
episode), progress still says what is in flight, every few seconds in logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from m1eval.activity import Activity
from m1eval.testing.stub_server import spawn


def test_a_slow_first_token_shows_as_prefill_in_the_log(tmp_path: Path) -> None:
    stub, url = spawn(tmp_path, "--delay", "3")
    try:
        res = subprocess.run(
            [sys.executable, "-m", "m1eval.cli", "run", "--suite", "aime24", "--split",
             "smoke", "--base-url", url, "--model", "stub-model", "--limit", "1",
             "--repeats", "1", "--results-dir", str(tmp_path / "r")],
            capture_output=True, text=True, timeout=120,
            env={**__import__("os").environ, "M1EVAL_LOG_INTERVAL_S": "0.5"},
        )  # fmt: skip
    finally:
        stub.kill()
    assert res.returncode == 0, res.stderr
    beats = [line for line in res.stderr.splitlines() if "0/1 samples" in line]
    assert len(beats) >= 2  # lines while nothing had finished
    assert any("now: 1 prefilling (longest" in line for line in beats)


def test_activity_bookkeeping() -> None:
    a = Activity()
    assert a.describe() == "idle"
    r1, r2 = a.request_started(), a.request_started()
    assert a.describe().startswith("2 prefilling")
    a.first_token(r1)
    assert a.describe().startswith("1 prefilling") and "1 generating" in a.describe()
    a.request_ended(r1)
    a.request_ended(r2)  # ended before its first token (an error): no longer prefilling
    assert a.describe() == "idle" and a.generating == 0
    a.step("tau/1", "tau task 1: turn 3, 2 tool calls, user 40 tok")
    a.step("tau/2", "tau task 2: turn 1, 0 tool calls, user 0 tok")
    a.step("swe/x", "x: checkout + scaffold")
    assert a.describe(limit=2) == ("tau task 2: turn 1, 0 tool calls, user 0 tok · "
                                   "x: checkout + scaffold · +1 more")  # fmt: skip
    a.step("tau/1", None)
    assert "+1 more" not in a.describe(limit=2)
