"""Every sample that did not score 1 says why: per sample (``cause``), per run
(``failure_causes``), in the terminal, ``results show`` and the report."""

from __future__ import annotations

import json
from pathlib import Path

from m1eval.causes import exception_name, sample_cause
from m1eval.suites.mrcr import _mrcr_cause
from m1eval.suites.swe_bench import failing_tests_cause
from m1eval.suites.tau_bench import episode_cause
from m1eval.tau.env import db_difference
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import only_run_dir, read_jsonl


def test_a_server_answering_500_names_its_status_everywhere(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(fail_prompts=("",), retry_after_s=0.0)) as server:
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--limit", "2", "--repeats",
                  "1", "--base-url", server.base_url, "--model", "stub-model", "--max-attempts",
                  "2", "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    run = only_run_dir(tmp_path)
    records = read_jsonl(run / "samples.jsonl")
    assert [r["outcome"] for r in records] == ["infra_error", "infra_error"]
    assert all(r["error"].startswith("HTTP 500") and "gave up after 2 attempts" in r["error"]
               for r in records)  # fmt: skip
    cause = records[0]["cause"]
    assert cause.startswith("HTTP 500") and "attempts" not in cause  # one cause, however retried
    summary = json.loads((run / "summary.json").read_text())["suites"]["aime24"]
    assert summary["failure_causes"] == [{"cause": cause, "n": 2, "outcome": "infra_error"}]
    assert f"aime24: infra errors: 2 × {cause}" in " ".join(res.out.split()), res.out
    shown = cli("results", "show", str(run))
    assert f"aime24: infra errors: 2 × {cause}" in " ".join(shown.out.split()), shown.out


def test_sample_cause_for_every_outcome() -> None:
    def cause(outcome: str, score: float | None, error: str | None = None,
              declared: str | None = None) -> str | None:  # fmt: skip
        return sample_cause({"outcome": outcome, "score": score, "error": error,
                             "cause": declared})  # fmt: skip

    assert cause("scored", 1.0) is None
    assert cause("scored", 1.0, declared="ignored: full credit") is None
    assert cause("scored", 0.0) == "wrong answer"
    assert cause("scored", 0.25) == "partial credit"
    assert cause("scored", 0.0, declared="wrong value") == "wrong value"
    assert cause("scored", None) == "wrong answer"
    assert cause("model_failure", 0.0, "no code") == "no code"
    assert cause("model_failure", 0.0) == "no reason recorded"
    assert cause("model_failure", 0.0, "a\n  b") == "a b"  # one line
    assert cause("infra_error", None, "HTTP 503: busy (gave up after 6 attempts)") == (
        "HTTP 503: busy")
    # a model failure keeps its words: only the client's retry suffix is dropped, from infra
    assert cause("model_failure", 0.0, "x (gave up after 6 attempts)") == (
        "x (gave up after 6 attempts)")
    assert cause("skipped", None, "prompt too long") == "prompt too long"
    assert cause("infra_error", None, "e" * 400) == "e" * 159 + "…"
    # a record of an earlier version, without the field, reads the same
    assert sample_cause({"outcome": "scored", "score": 0.0}) == "wrong answer"


def test_exception_name_from_a_traceback() -> None:
    assert exception_name("Traceback (most recent call last):\n  File x\nKeyError: 3") == (
        "KeyError")
    assert exception_name("ZeroDivisionError: division by zero\n") == "ZeroDivisionError"
    assert exception_name("  File x\nsubprocess.CalledProcessError: 1") == "CalledProcessError"
    assert exception_name("RecursionError") == "RecursionError"
    assert exception_name("SystemExit: 1") == "SystemExit"
    assert exception_name("KeyboardInterrupt") == "KeyboardInterrupt"
    assert exception_name("killed by signal 9") is None
    assert exception_name("") is None and exception_name(None) is None
    # only the end of the text counts: an exception named early, then other lines
    assert exception_name("ValueError: x\nline\nline\nline") is None


def test_tau_database_difference_names_the_values() -> None:
    gold = {"orders": {"#W1": {"status": "cancelled", "items": [1, 2]}, "#W2": {"status": "ok"}},
            "users": {"u": {"name": "A"}}}  # fmt: skip
    final = {"orders": {"#W1": {"status": "pending", "items": [1, 2]}, "#W3": {"status": "new"}},
             "users": {"u": {"name": "A"}}}  # fmt: skip
    assert db_difference(gold, final) == {"n": 3, "changes": [
        {"path": "orders/#W1/status", "gold": '"cancelled"', "actual": '"pending"'},
        {"path": "orders/#W2", "gold": '{"status": "ok"}', "actual": None},
        {"path": "orders/#W3", "gold": None, "actual": '{"status": "new"}'},
    ]}  # fmt: skip
    assert db_difference(gold, gold) == {"n": 0, "changes": []}
    many = db_difference({"t": {str(i): i for i in range(50)}}, {"t": {}}, limit=3)
    assert many["n"] == 50 and [c["path"] for c in many["changes"]] == ["t/0", "t/1", "t/10"]
    long = db_difference({"k": "x" * 1000}, {"k": "y"})["changes"][0]["gold"]
    assert len(long) == 300 and long.endswith("…")


def test_tau_episode_cause() -> None:
    def cause(**summary: object) -> str:
        return episode_cause({"ended_by": "user_stop", **summary})

    assert cause(db_match=False, db_diff={"n": 2}, outputs={}) == (
        "database differs from gold (2 values)")
    assert cause(db_match=False, outputs={}) == "database differs from gold"
    assert cause(db_match=True, outputs={"10": True, "20": False, "30": False}) == (
        "2 required outputs never told the user")
    assert cause(db_match=False, db_diff={"n": 1}, outputs={"10": False}) == (
        "database differs from gold (1 values); 1 required output never told the user")
    assert episode_cause({"ended_by": "step_limit"}) == (
        "no reward: the episode ended by step_limit")
    assert episode_cause({"ended_by": "malformed_tool_call", "db_match": False}) == (
        "no reward: the episode ended by malformed_tool_call")
    assert episode_cause({}) == "no reward: the episode ended by an unknown cause"
    assert episode_cause({"ended_by": "terminate_tool", "db_match": True}) == "no reward"


def test_swe_bench_and_mrcr_causes() -> None:
    assert failing_tests_cause({"fail_to_pass_failed": 2, "pass_to_pass_failed": 1}) == (
        "FAIL_TO_PASS: 2 still failing; PASS_TO_PASS: 1 broken")
    assert failing_tests_cause({"fail_to_pass_failed": 0, "pass_to_pass_failed": 3}) == (
        "PASS_TO_PASS: 3 broken")
    assert failing_tests_cause({}) == "not resolved"
    assert _mrcr_cause(1.0, "abc", "abc") is None
    assert _mrcr_cause(0.0, "xyz", "abc") == "the answer does not start with the required prefix"
    assert _mrcr_cause(0.5, "abc def", "abc") == "partial match (the similarity ratio is below 1)"
