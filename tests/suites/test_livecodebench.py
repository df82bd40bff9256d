"""``m1eval run --suite livecodebench`` end to end: stub model answers, sandboxed grading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m1eval.graders.lcb import extract_code
from m1eval.registry import get_suite
from m1eval.suites.livecodebench import SYSTEM_MESSAGE, user_prompt
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import embedded_available, only_run_dir, read_jsonl

ANSWERS = {
    "Print A + B": "Here it is.\n```python\na, b = map(int, input().split())\nprint(a + b)\n```",
    "largest element": "```python\nclass Solution:\n    def largest(self, nums):\n"
                       "        return min(nums)\n```",  # wrong on purpose
    "divided by 2": "```python\nimport sys\nd = sys.stdin.buffer.read().split()\n"
                    "for x in d[1:]:\n    print(int(x) / 2)\n```",
}  # fmt: skip


def test_prompt_is_the_official_chat_style() -> None:
    suite = get_suite("livecodebench")
    items, _ = suite.load("smoke", None)
    system, user = suite.build_messages(items[0])
    assert system == {"role": "system", "content": SYSTEM_MESSAGE}
    assert user["content"].startswith("### Question:\nYou are given two integers A and B.")
    assert "```python\n# YOUR CODE HERE\n```\n\n### Answer: (use the provided format with " \
           "backticks)\n\n" in user["content"]  # fmt: skip
    with_starter = user_prompt("Q", "class Solution:\n    pass")
    assert "### Format: You will use the following starter code" in with_starter
    assert "```python\nclass Solution:\n    pass\n```\n\n### Answer:" in with_starter


def test_window_filters_by_contest_date() -> None:
    items, _ = get_suite("livecodebench").load("smoke", None)
    assert [i.item_id for i in items] == ["smoke_abc001_a", "smoke_lc_9001", "smoke_abc002_b"]
    wider, _ = get_suite("livecodebench", {"start_date": "2023-01-01"}).load("smoke", None)
    assert len(wider) == 4


def test_run_grades_in_the_sandbox(cli, sandbox_pool, tmp_path: Path) -> None:
    config = StubConfig(answers=ANSWERS, correct_rate=1.0)
    with StubServer(config) as server:
        res = cli("run", "--suite", "livecodebench", "--split", "smoke", "--repeats", "2",
                  "--base-url", server.base_url, "--model", "stub-model", "--results-dir",
                  tmp_path, "--no-progress", "--sandbox-workers", "2")  # fmt: skip
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    samples = read_jsonl(run / "samples.jsonl")
    scores = {s["item_id"]: s["score"] for s in samples}
    assert scores == {"smoke_abc001_a": 1.0, "smoke_lc_9001": 0.0, "smoke_abc002_b": 1.0}
    wrong = next(s for s in samples if s["item_id"] == "smoke_lc_9001")
    assert wrong["extra"]["first_failure"]["status"] == "wrong_answer"
    assert wrong["extra"]["tests_run"] == 1 and wrong["extra"]["tests_total"] == 3
    # why: the failing test's input and expected output beside what the program returned
    first = wrong["extra"]["first_failure"]
    assert (first["input"], first["expected"], first["actual"]) == ("[3, 1, 4]", "4", "1")
    assert wrong["cause"] == "wrong answer"
    assert {s["cause"] for s in samples if s["score"] == 1.0} == {None}
    # the program graded is the answer's last fenced block; programs cast no votes
    assert all(s["extracted_answer"] == extract_code(s["answer"]) and s["extracted_answer"]
               for s in samples)  # fmt: skip
    assert {s.get("vote_key") for s in samples} == {None}
    summary = json.loads((run / "summary.json").read_text())["suites"]["livecodebench"]
    assert summary["pass_at_k"]["pass@1"] == summary["score"]
    assert summary["by_difficulty"]["medium"]["score"] == 0.0
    assert summary["by_difficulty"]["easy"]["score"] == 100.0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["run_context"]["sandbox"]["workers"] == 2


def test_every_failure_has_its_cause(cli, sandbox_pool, tmp_path: Path) -> None:
    """A run where programs raise, loop and answer wrong says so, per sample and per run."""
    answers = {
        "Print A + B": "```python\nraise ValueError('no parser for this input')\n```",
        "largest element": ANSWERS["largest element"],
        "divided by 2": "```python\nwhile True:\n    pass\n```",
    }
    with StubServer(StubConfig(answers=answers, correct_rate=1.0)) as server:
        res = cli("run", "--suite", "livecodebench", "--split", "smoke", "--repeats", "1",
                  "--base-url", server.base_url, "--model", "stub-model", "--results-dir",
                  tmp_path, "--no-progress", "--sandbox-workers", "2")  # fmt: skip
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    samples = {s["item_id"]: s for s in read_jsonl(run / "samples.jsonl")}
    assert {k: s["cause"] for k, s in samples.items()} == {
        "smoke_abc001_a": "runtime error: ValueError",
        "smoke_lc_9001": "wrong answer",
        "smoke_abc002_b": "time limit exceeded",
    }
    raised = samples["smoke_abc001_a"]["extra"]["first_failure"]
    assert raised["status"] == "runtime_error" and "no parser for this input" in raised["error"]
    assert (raised["input"], raised["expected"], raised["actual"]) == ("2 3\n", "5\n", None)
    summary = json.loads((run / "summary.json").read_text())["suites"]["livecodebench"]
    assert summary["failure_causes"] == [
        {"cause": c, "n": 1, "outcome": "scored"}
        for c in ("runtime error: ValueError", "time limit exceeded", "wrong answer")]
    out = " ".join(res.out.split())
    assert ("livecodebench: below full credit: 1 × runtime error: ValueError; "
            "1 × time limit exceeded; 1 × wrong answer") in out, res.out


def test_sandbox_failure_is_an_infra_error(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with StubServer(StubConfig(answers=ANSWERS, correct_rate=1.0)) as server:
        res = cli("run", "--suite", "livecodebench", "--split", "smoke", "--repeats", "1",
                  "--base-url", server.base_url, "--model", "stub-model", "--results-dir",
                  tmp_path / "r", "--no-progress")  # fmt: skip
    assert res.code == 5
    assert res.err.startswith("m1eval: error: cannot reach the Docker daemon")
    assert not (tmp_path / "r").exists()  # nothing half-written


@pytest.mark.slow
def test_smoke_embedded_model_through_the_sandbox(cli, sandbox_pool, tmp_path: Path) -> None:
    if not embedded_available():
        pytest.skip("embedded model not installed")
    res = cli("run", "--suite", "livecodebench", "--split", "smoke", "--repeats", "1",
              "--max-tokens", "256", "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    samples = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert len(samples) == 3
    assert all(s["outcome"] in ("scored", "model_failure") for s in samples)
    # values: the code graded is the answer's last fenced block, and a sample scores 1 exactly
    # when every test ran and passed
    for s in samples:
        if s["outcome"] == "scored":
            assert s["extracted_answer"] == extract_code(s["answer"])
            e = s["extra"]
            all_passed = e["tests_run"] == e["tests_total"] == e["tests_passed"]
            assert s["score"] == (1.0 if all_passed else 0.0)
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    scores = [s["score"] or 0.0 for s in samples if s["outcome"] != "infra_error"]
    assert summary["suites"]["livecodebench"]["score"] == pytest.approx(
        100 * sum(scores) / len(scores)
    )


def test_a_program_that_floods_its_output_is_told_so(cli, sandbox_pool, tmp_path: Path) -> None:
    answers = {"Print A + B": "```python\nwhile True:\n    print('x' * 65536)\n```"}
    with StubServer(StubConfig(answers=answers, correct_rate=1.0)) as server:
        res = cli("run", "--suite", "livecodebench", "--split", "smoke", "--repeats", "1",
                  "--limit", "1", "--base-url", server.base_url, "--model", "stub-model",
                  "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    [sample] = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert sample["score"] == 0.0 and sample["extra"]["first_failure"]["status"] == "output_limit"
    assert sample["outcome"] == "model_failure" and sample["error"].startswith("output limit: ")
