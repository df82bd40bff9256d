"""The nightly workflow's steps (``scripts/nightly.sh``), run night after night against the
vLLM emulator: the first night is pinned as the reference, a night like it passes with no
configuration drift, a night whose server lost half its samples fails the gate and never
becomes a baseline, ``accept`` moves the reference, and ``publish`` writes the leaderboard
and the run viewer. The workflow file calls exactly these steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from m1eval.testing import vllm_emulator

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "nightly.sh"
ANSWERS = {"$7 + 5$": "12", "divisors": "9", "$2^{10}$": "24", "consecutive": "21",
           "$3^4$": "81"}  # fmt: skip


def _night(tmp: Path, url: str, night: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "M1EVAL_BASE_URL": url, "M1EVAL_MODEL": "MiniMaxAI/MiniMax-M1-80k",
           "NIGHT": night, "BASELINES": str(tmp / "baselines"), "RESULTS": str(tmp / "results"),
           "M1EVAL": str(Path(sys.executable).parent / "m1eval"),
           "NIGHTLY_RUN_ARGS": "--split smoke --repeats 2 --max-attempts 1"}  # fmt: skip
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip


def _pinned(tmp: Path, which: str) -> str:
    manifest = tmp / "baselines" / which / "aime24" / "manifest.json"
    return json.loads(manifest.read_text())["run_id"]


def test_nights_against_the_emulator(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(ANSWERS))
    good, url = vllm_emulator.spawn(tmp_path, "--answers", str(answers), "--correct-rate", "1")
    try:
        first = _night(tmp_path, url, "1", "run", "aime24")
        assert first.returncode == 0, first.stderr
        assert "first night, pinned as the reference" in first.stdout
        assert _pinned(tmp_path, "reference") == _pinned(tmp_path, "last") == "nightly-aime24-1"
        second = _night(tmp_path, url, "2", "run", "aime24")
        assert second.returncode == 0, second.stdout + second.stderr
        for name in ("reference", "last"):
            out = json.loads((tmp_path / "results" / "nightly-aime24-2" /
                              f"compare-{name}.json").read_text())  # fmt: skip
            assert out["verdict"] != "regression" and out["coverage_refused"] == []
            # the seed is fixed: two nights differ in no configuration key
            assert not any("configuration" in d or "config hash" in d for d in out["drift"])
        assert _pinned(tmp_path, "last") == "nightly-aime24-2"
        assert _pinned(tmp_path, "reference") == "nightly-aime24-1"
    finally:
        good.kill()
        good.wait()
    broken, url = vllm_emulator.spawn(tmp_path, "--answers", str(answers), "--correct-rate", "1",
                                      "--engine-error-rate", "0.5")  # fmt: skip
    try:
        third = _night(tmp_path, url, "3", "run", "aime24")
    finally:
        broken.kill()
        broken.wait()
    assert third.returncode == 4, third.stdout + third.stderr
    assert "no verdict: the graded share differs" in " ".join(third.stdout.split())
    assert "gate failed (exit 4); the baselines stay" in third.stderr
    assert _pinned(tmp_path, "last") == "nightly-aime24-2"  # the lost night is no baseline
    accepted = _night(tmp_path, url, "-", "accept", "aime24",
                      str(tmp_path / "results" / "nightly-aime24-2"))  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    assert _pinned(tmp_path, "reference") == "nightly-aime24-2"
    refused = _night(tmp_path, url, "-", "accept", "aime24", str(tmp_path / "nope"))
    assert refused.returncode == 2 and "is not a finished run" in refused.stderr
    published = _night(tmp_path, url, "-", "publish", str(tmp_path / "pub"))
    assert published.returncode == 0, published.stderr
    assert (tmp_path / "pub" / "report" / "index.html").is_file()
    assert (tmp_path / "pub" / "viewer" / "index.html").is_file()


def test_the_workflow_runs_these_steps() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    steps = flow["jobs"]["evaluate"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "scripts/nightly.sh run ${{ matrix.suite }}" in runs
    assert "scripts/nightly.sh accept" in runs
    assert "--seed" not in runs and "github.run_number" not in runs  # no seed per night
    publish = "\n".join(s.get("run", "") for s in flow["jobs"]["publish"]["steps"])
    assert "scripts/nightly.sh publish" in publish
    assert flow[True]["workflow_dispatch"]["inputs"]["accept"]["type"] == "boolean"
