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


def test_retries_name_their_status_in_the_log(tmp_path: Path) -> None:
    """A server answering HTTP 500: while requests back off, the log says so and why, and the
    ETA is not a number made up before any sample ended. The failures carry a Retry-After of
    0.8 s, so each of the three backoffs lasts at least that long (with full jitter alone, all
    three could end before the first log line was due)."""
    stub, url = spawn(tmp_path, "--fail-prompt", "", "--fail-retry-after", "0.8")
    try:
        res = subprocess.run(
            [sys.executable, "-m", "m1eval.cli", "run", "--suite", "aime24", "--split",
             "smoke", "--base-url", url, "--model", "stub-model", "--limit", "1",
             "--repeats", "1", "--max-attempts", "4", "--results-dir", str(tmp_path / "r")],
            capture_output=True, text=True, timeout=120,
            env={**__import__("os").environ, "M1EVAL_LOG_INTERVAL_S": "0.3"},
        )  # fmt: skip
    finally:
        stub.kill()
    assert res.returncode == 4, res.stderr  # the one sample is an infra error: incomplete
    beats = [line for line in res.stderr.splitlines() if "0/1 samples" in line]
    assert beats and all("eta unknown until a sample ends" in line for line in beats)
    # at least 2.4 s of backoff logged every 0.3 s: an interval below the bar's 1 s refresh is
    # honoured (woken once a second, the log would have 2 or 3 of these lines)
    assert len(beats) >= 5, beats
    assert "nan" not in res.stderr
    assert any("retries" in line and "(HTTP 500 ×" in line for line in beats), beats
    assert any("waiting to retry after HTTP 500" in line for line in beats), beats
    assert "infra errors: 1 × HTTP 500" in " ".join(res.stdout.split()), res.stdout


def test_retry_bookkeeping() -> None:
    a = Activity()
    assert a.retried() == ""
    t1, t2 = a.backoff_started("HTTP 500"), a.backoff_started("HTTP 500")
    t3 = a.backoff_started("HTTP 429")
    assert a.describe() == "3 waiting to retry after HTTP 500"
    assert a.retried() == "retries 3 (HTTP 500 ×2, HTTP 429 ×1)"
    a.backoff_started("connection refused")
    assert a.retried() == "retries 4 (HTTP 500 ×2, HTTP 429 ×1, …)"
    for t in (t1, t2, t3):
        a.backoff_ended(t)
    assert a.describe() == "1 waiting to retry after connection refused"


def test_retry_label() -> None:
    from m1eval.model.client import retry_label
    from m1eval.model.types import RequestFailed

    assert retry_label(RequestFailed("HTTP 503: busy", retryable=True, status=503)) == "HTTP 503"
    assert retry_label(RequestFailed("server sent nothing for 30 s", retryable=True)) == (
        "server sent nothing for 30 s")
    assert retry_label(RequestFailed("malformed JSON from server: 'x'", retryable=True)) == (
        "malformed JSON from server")
    assert retry_label(RequestFailed("", retryable=True)) == "a failed attempt"


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
