"""``m1eval run`` end to end against a real local server that injects faults.

The stub (m1eval.testing.stub_server) is a real HTTP server speaking the OpenAI protocol; it is
used instead of the embedded model where a test needs faults on demand, deterministic answers
and a count of the requests it received.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from m1eval.results import load
from m1eval.testing.stub_server import FAULTS, StubConfig, StubServer, spawn
from tests.conftest import only_run_dir, read_jsonl

SMOKE_ANSWERS = {"$7 + 5$": "12", "divisors": "9", "$2^{10}$": "24", "consecutive": "21"}


def _run_args(server_url: str, results: Path, *extra: str) -> list[str]:
    return [
        "run", "--suite", "aime24", "--split", "smoke", "--base-url", server_url,
        "--model", "stub-model", "--results-dir", str(results), "--no-progress",
        "--retry-base-delay", "0.01", "--stall-timeout", "1", "--max-tokens", "64", *extra,
    ]  # fmt: skip


def test_faults_every_sample_accounted_exactly_once(cli, tmp_path: Path) -> None:
    config = StubConfig(
        fault_rate=0.6, max_faults_per_sample=2, stall_s=2.5, answers=SMOKE_ANSWERS,
        fail_prompts=("What is $3^4$",),
    )  # fmt: skip
    with StubServer(config) as server:
        res = cli(*_run_args(server.base_url, tmp_path, "--repeats", "4", "--max-attempts", "3"))
        stats = server.state.snapshot()
    assert res.code == 4, res.err  # infra errors remain: exit 4
    run = only_run_dir(tmp_path)
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 20
    assert len({s["sample_id"] for s in samples}) == 20  # no duplicates
    assert {(s["item_id"], s["repeat"]) for s in samples} == {
        (str(i), r) for i in range(1, 6) for r in range(4)
    }
    by_outcome = {o: [s for s in samples if s["outcome"] == o] for o in
                  ("scored", "model_failure", "infra_error")}  # fmt: skip
    # item 5 always fails at the server; every other sample got through within 3 attempts
    assert {s["item_id"] for s in by_outcome["infra_error"]} == {"5"}
    assert all("HTTP 500" in s["error"] for s in by_outcome["infra_error"])
    assert len(by_outcome["scored"]) == 16
    # retries were bounded, and faults of several kinds were actually injected
    assert max(stats["attempts"].values()) <= 3
    assert len(set(stats["faults"]) & set(FAULTS)) >= 3
    summary = json.loads((run / "summary.json").read_text())["suites"]["aime24"]
    assert summary["outcomes"] == {
        "scored": 16, "model_failure": 0, "infra_error": 4, "skipped": 0,
    }  # fmt: skip
    assert summary["complete"] is False and summary["n_items_graded"] == 4


def test_rerun_retries_infra_errors_only(cli, tmp_path: Path) -> None:
    failing = StubConfig(answers=SMOKE_ANSWERS, fail_prompts=("What is $3^4$",))
    with StubServer(failing) as server:
        first = cli(*_run_args(server.base_url, tmp_path, "--repeats", "2", "--max-attempts", "2"))
    assert first.code == 4
    healthy = StubConfig(answers=SMOKE_ANSWERS)
    with StubServer(healthy) as server:
        # another port, same identity: the endpoint URL is not part of what a sample is
        second = cli(*_run_args(server.base_url, tmp_path, "--repeats", "2"))
        stats = server.state.snapshot()
    assert second.code == 0, second.err
    assert stats["requests"] == 2  # only item 5's two samples were asked again
    samples = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert len(samples) == 10 and all(s["outcome"] == "scored" for s in samples)


def test_rerun_keeps_model_failures(cli, tmp_path: Path) -> None:
    """A model failure is the model's answer: a rerun must not ask again (re-sampling until a
    sample passes would raise the score), even when the server now answers well."""
    unanswering = StubConfig(answers=SMOKE_ANSWERS, unanswered_prompts=("What is $3^4$",))
    with StubServer(unanswering) as server:
        first = cli(*_run_args(server.base_url, tmp_path, "--repeats", "2"))
    assert first.code == 0, first.err
    run = only_run_dir(tmp_path)
    before = json.loads((run / "summary.json").read_text())["suites"]["aime24"]
    assert before["outcomes"]["model_failure"] == 2
    # the summary says why they failed
    assert "aime24: model failures: 2 × no \\boxed{} answer in the final answer\n" in first.out
    with StubServer(StubConfig(answers=SMOKE_ANSWERS, correct_rate=1.0)) as server:
        second = cli(*_run_args(server.base_url, tmp_path, "--repeats", "2"))
        stats = server.state.snapshot()
    assert second.code == 0, second.err
    assert stats["requests"] == 0
    after = json.loads((run / "summary.json").read_text())["suites"]["aime24"]
    assert after["outcomes"] == before["outcomes"] and after["score"] == before["score"]


def test_results_load_dataframe(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(answers=SMOKE_ANSWERS)) as server:
        assert cli(*_run_args(server.base_url, tmp_path, "--repeats", "3")).code == 0
    df = load(tmp_path / "*")
    assert len(df) == 15
    assert {"run_id", "model", "protocol", "config_hash", "item_id", "repeat", "outcome",
            "score", "answer", "reasoning", "finish_reason"} <= set(df.columns)  # fmt: skip
    assert set(df["model"]) == {"stub-model"}
    per_item = df.groupby("item_id")["score"].mean()
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    # score in percent, as the summary's; grade as samples.jsonl stores it
    assert per_item.mean() == pytest.approx(summary["suites"]["aime24"]["score"])
    assert (df["score"] == 100 * df["grade"]).all()


def _start_stub_process(tmp_path: Path, delay: float) -> tuple[subprocess.Popen, str]:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(SMOKE_ANSWERS))
    return spawn(tmp_path, "--delay", str(delay), "--answers", str(answers))


def _stub_stats(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url.replace("/v1", "/stats")) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_kill_9_then_resume_matches_uninterrupted_run(cli, tmp_path: Path) -> None:
    stub, url = _start_stub_process(tmp_path, delay=0.15)
    try:
        interrupted = tmp_path / "interrupted"
        args = _run_args(url, interrupted, "--repeats", "8", "--concurrency", "2")
        proc = subprocess.Popen(
            [sys.executable, "-m", "m1eval.cli", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        samples_path = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list(interrupted.glob("*/samples.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 10:
                samples_path = found[0]
                break
            time.sleep(0.02)
        assert samples_path is not None, "run made no progress"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = {json.loads(x)["sample_id"] for x in samples_path.read_text().splitlines()
                    if x.endswith("}")}  # fmt: skip
        assert 10 <= len(finished) < 40
        # the manifest still says running; every reader says interrupted, with a partial score
        run_dir = samples_path.parent
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"
        listed = cli("results", "list", "--results-dir", interrupted)
        assert "interrupted" in listed.out and "(partial)" in listed.out, listed.out
        shown = " ".join(cli("results", "show", str(run_dir)).out.split())
        assert "status: interrupted" in shown and f"over {len(finished)} of 40 samples" in shown
        assert set(load(run_dir)["run_status"]) == {"interrupted"}
        before = len(_stub_stats(url)["log"])

        resumed = cli(*args)
        assert resumed.code == 0, resumed.err
        asked_again = [sid for sid, _ in _stub_stats(url)["log"][before:]]
        assert not set(asked_again) & finished  # nothing already answered was asked again
        assert len(asked_again) == 40 - len(finished)

        clean = tmp_path / "clean"
        assert cli(*_run_args(url, clean, "--repeats", "8", "--concurrency", "2")).code == 0
    finally:
        stub.kill()
        stub.wait()
    a = (only_run_dir(interrupted) / "summary.json").read_text()
    b = (only_run_dir(clean) / "summary.json").read_text()
    assert a == b
    samples = read_jsonl(only_run_dir(interrupted) / "samples.jsonl")
    assert len(samples) == 40 == len({s["sample_id"] for s in samples})
    manifest = json.loads((only_run_dir(interrupted) / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert [i["status"] for i in manifest["invocations"]] == ["killed", "complete"]


def test_unlisted_model_is_refused_before_anything_is_written(cli, tmp_path: Path) -> None:
    with StubServer() as server:
        args = _run_args(server.base_url, tmp_path / "r")
        args[args.index("stub-model")] = "MiniMaxAI/MiniMax-M1-80k"
        res = cli(*args)
    assert res.code == 3
    assert "model 'MiniMaxAI/MiniMax-M1-80k' is not served" in res.err
    assert not (tmp_path / "r").exists()


def test_ctrl_c_saves_progress_and_says_how_to_resume(tmp_path: Path) -> None:
    stub, url = _start_stub_process(tmp_path, delay=0.2)
    try:
        args = _run_args(url, tmp_path / "res", "--repeats", "8", "--concurrency", "1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "m1eval.cli", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list((tmp_path / "res").glob("*/samples.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 3:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        stub.kill()
        stub.wait()
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1].startswith("m1eval: interrupted")
    assert "Traceback" not in err
    run = only_run_dir(tmp_path / "res")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert not (run / "summary.json").exists()  # no summary of a partial run
    assert 3 <= len(read_jsonl(run / "samples.jsonl")) < 40


def test_results_list_and_show(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(answers=SMOKE_ANSWERS, correct_rate=1.0)) as server:
        assert cli(*_run_args(server.base_url, tmp_path, "--repeats", "2")).code == 0
    run = only_run_dir(tmp_path)
    listed = cli("results", "list", "--results-dir", tmp_path)
    assert listed.code == 0 and run.name in listed.out and "complete" in listed.out
    shown = cli("results", "show", run.name, "--results-dir", tmp_path, "--items")
    assert shown.code == 0
    # items 1-4 are answered correctly every time; item 5 is not in the stub's answer key
    assert "80.0 avg@2" in shown.out and "None" not in shown.out
    assert "split smoke (" in shown.out
    assert "no content pin to check" in shown.out
    as_json = json.loads(cli("results", "show", str(run), "--json").out)
    assert as_json["summary"]["suites"]["aime24"]["per_item"]["1"]["mean_score"] == 1.0
    missing = cli("results", "show", "nope", "--results-dir", tmp_path)
    assert missing.code == 2 and "no run 'nope'" in missing.err


def test_resuming_against_another_server_refuses(cli, tmp_path: Path) -> None:
    """The same command pointed at a different server serving a model of the same name (here:
    another context length) must not pass the first server's answers off as its own."""
    args = ("run", "--suite", "aime24", "--split", "smoke", "--model", "stub-model",
            "--repeats", "2", "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    with StubServer(StubConfig()) as first:
        assert cli(*args, "--base-url", first.base_url).code == 0
    with StubServer(StubConfig(max_model_len=200_000)) as second:
        refused = cli(*args, "--base-url", second.base_url)
        assert refused.code == 7 and "answered by another server" in refused.err, refused.err
        assert "model card (id or window)" in refused.err
        assert refused.err.count("\n") == 1
        assert second.state.requests == 0
        allowed = cli(*args, "--base-url", second.base_url, "--allow-endpoint-change")
        assert allowed.code == 0, allowed.err
        assert second.state.requests == 0  # reused, deliberately


def test_run_status_comes_from_its_owner(tmp_path: Path) -> None:
    """A manifest that says running is read as interrupted when its owner process is gone
    (or its process id now belongs to a process started later), as running while it runs,
    and as running on another host where this one cannot tell."""
    import socket

    from m1eval.results import read_manifest
    from m1eval.run_status import owner, process_start

    gone = subprocess.Popen(["true"])
    gone.wait()

    def status(host: dict) -> dict:
        (tmp_path / "manifest.json").write_text(json.dumps({"status": "running", "host": host}))
        m = read_manifest(tmp_path)
        return {"status": m["status"], "recorded": m.get("status_recorded")}

    me = owner()
    assert me["pid"] == os.getpid() and me["pid_start"] == process_start(os.getpid()) > 0
    assert status(me) == {"status": "running", "recorded": None}
    assert status({**me, "pid": gone.pid}) == {"status": "interrupted", "recorded": "running"}
    assert status({**me, "pid_start": me["pid_start"] - 1})["status"] == "interrupted"  # reused
    assert status({**me, "hostname": "elsewhere"})["status"] == "running on elsewhere"
    assert status({"pid": gone.pid})["status"] == "running"  # an older manifest: no host name
    assert status({})["status"] == "running"
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "complete",
                                                        "host": {**me, "pid": gone.pid}}))
    assert read_manifest(tmp_path)["status"] == "complete"  # only a running run is checked
    assert socket.gethostname() == me["hostname"]


def test_dataset_line_names_what_is_known() -> None:
    from m1eval.terminal import dataset_line

    assert dataset_line({"repo_id": "o/d", "revision": "abc", "split": "test", "source": "hub",
                         "content_sha256": "f" * 64, "matches_pin": True}) == (
        "dataset o/d@abc split test (hub, sha256 ffffffffffff, matches the pinned content)")
    assert dataset_line({"repo_id": "o/d", "split": "test", "matches_pin": False}) == (
        "dataset o/d (no revision pinned) split test (sha256 unknown, DIFFERS from the pinned "
        "content)")
    assert dataset_line({}) == (
        "dataset ? (no revision pinned) split ? (sha256 unknown, no content pin to check)")
