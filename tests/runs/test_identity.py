"""Sample identity covers everything that shapes a suite's requests: editing a prompt re-asks
exactly the samples whose requests it shapes, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from m1eval.registry import get_suite
from m1eval.runner import plan_samples
from m1eval.swebench import scaffold
from m1eval.tau import episode
from m1eval.testing.stub_server import StubConfig, StubServer


def ids(suite_name: str, options: dict | None = None, split: str | None = "smoke") -> list[str]:
    suite = get_suite(suite_name, options)
    items, _ = suite.load(split, None)
    planned = plan_samples(suite, items[:3], 2, "m", {"temperature": 1.0}, seed=0)
    return [p.sample_id for p in planned]


def test_scaffold_prompts_are_part_of_swe_bench_samples(monkeypatch) -> None:
    before = {s: ids(s) for s in ("swe-bench", "aime24", "mrcr")}
    for name in ("FILES_PROMPT", "ELEMENTS_PROMPT", "REPAIR_PROMPT"):
        with monkeypatch.context() as m:
            m.setattr(scaffold, name, getattr(scaffold, name) + " Be brief.")
            after = ids("swe-bench")
            assert not set(after) & set(before["swe-bench"]), name  # every instance re-asked
            assert ids("aime24") == before["aime24"] and ids("mrcr") == before["mrcr"]
    with monkeypatch.context() as m:
        m.setattr(scaffold, "TOP_FILES", scaffold.TOP_FILES + 1)
        assert not set(ids("swe-bench")) & set(before["swe-bench"])
    assert ids("swe-bench") == before["swe-bench"]  # and back
    assert ids("swe-bench", {"patch_samples": 2}) != before["swe-bench"]


def test_agent_and_user_simulator_prompts_are_part_of_tau_samples(monkeypatch) -> None:
    tau = get_suite("tau-bench-retail")
    try:
        tau.load(None, None)
    except Exception as exc:
        pytest.skip(f"tau-bench data not found: {exc}")
    before = ids("tau-bench-retail", split=None)
    plain = ids("tau-bench-retail", {"m1_prompt": False}, split=None)
    aime = ids("aime24")
    with monkeypatch.context() as m:
        m.setattr(episode, "M1_SYSTEM_PROMPT", episode.M1_SYSTEM_PROMPT + " Be brief.")
        assert not set(ids("tau-bench-retail", split=None)) & set(before)
        # episodes run without the extra prompt do not depend on it
        assert ids("tau-bench-retail", {"m1_prompt": False}, split=None) == plain
    with monkeypatch.context() as m:
        original = episode.user_system_prompt
        m.setattr(episode, "user_system_prompt", lambda i: original(i) + "\n- Be terse.")
        assert not set(ids("tau-bench-retail", split=None)) & set(before)
        assert not set(ids("tau-bench-retail", {"m1_prompt": False}, split=None)) & set(plain)
    assert ids("tau-bench-retail", {"user_model": "gpt-4.1"}, split=None) != before
    assert ids("aime24") == aime


def test_editing_the_second_pass_template_reasks_only_cot_runs(cli, tmp_path: Path,
                                                              monkeypatch) -> None:  # fmt: skip
    from m1eval.suites import longbench_v2

    def run(results: Path, *extra: str) -> int:
        with StubServer(StubConfig(correct_rate=1.0)) as server:
            res = cli("run", "--suite", "longbench-v2", "--split", "smoke", "--base-url",
                      server.base_url, "--model", "stub-model", "--results-dir", results,
                      "--repeats", "1", "--no-progress", "--tokenizer", "o200k",
                      *extra)  # fmt: skip
            assert res.code == 0, res.err
            return server.state.requests

    first_cot, first_plain = run(tmp_path / "cot", "--cot"), run(tmp_path / "plain")
    assert first_cot == 2 * first_plain > 0  # two passes per sample
    assert run(tmp_path / "cot", "--cot") == 0 and run(tmp_path / "plain") == 0  # resumed
    monkeypatch.setattr(
        longbench_v2,
        "TEMPLATE_0SHOT_COT_ANS",
        longbench_v2.TEMPLATE_0SHOT_COT_ANS.replace("correct", "right"),
    )
    assert run(tmp_path / "cot", "--cot") == first_cot  # every CoT sample asked again
    assert run(tmp_path / "plain") == 0  # the 0-shot samples never used that template
