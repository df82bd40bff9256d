"""The README's main job, end to end on the real embedded llama.cpp server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from m1eval.model.embedded import EMBEDDED_MODEL_ID, free_port
from m1eval.records import OUTCOMES
from m1eval.results import load
from tests.conftest import (
    assert_scores_are_the_graders,
    embedded_available,
    only_run_dir,
    read_jsonl,
)

pytestmark = [
    pytest.mark.skipif(not embedded_available(), reason="embedded model not installed"),
    pytest.mark.slow,
]


def test_smoke_run_embedded_end_to_end(cli, shared_hf: Path, tmp_path: Path) -> None:
    args = [
        "run",
        "--suite",
        "aime24",
        "--model",
        "embedded",
        "--limit",
        "2",
        "--repeats",
        "2",
        "--max-tokens",
        "48",
        "--data-dir",
        shared_hf,
        "--results-dir",
        tmp_path,
        "--seed",
        "1",
    ]
    res = cli(*args)  # fmt: skip
    assert res.code in (0, 4), res.err
    run = only_run_dir(tmp_path)
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 4
    assert {s["item_id"] for s in samples} == {"60", "61"}
    for s in samples:
        assert s["outcome"] in OUTCOMES
        assert s["served_model"] == EMBEDDED_MODEL_ID
        assert s["finish_reason"] in ("stop", "length")
        assert s["completion_tokens"] and s["completion_tokens"] <= 48
        assert s["seed"] is not None
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["dataset"]["matches_pin"] is True
    assert manifest["endpoint"]["models"][0]["id"] == EMBEDDED_MODEL_ID
    assert manifest["packages"]["llama-cpp-python"]
    summary = json.loads((run / "summary.json").read_text())["suites"]["aime24"]
    assert summary["n_samples"] == 4 and summary["metric"] == "avg@2"
    assert summary["ci_low"] <= summary["score"] <= summary["ci_high"]
    assert_scores_are_the_graders("aime24", run, "train", shared_hf)
    assert "aime24" in res.out and "results:" in res.out
    assert "is the embedded demo model" in res.out  # a 0.0 is explained, not a mystery
    assert f"next: m1eval report {run}" in res.out  # the command that opens its report
    # the same command again asks nothing
    again = cli(*args)
    assert "4 reused, 0 asked" in again.out
    assert len(load(run)) == 4


def test_smoke_mrcr_on_embedded(cli, tmp_path: Path) -> None:
    res = cli("run", "--suite", "mrcr", "--split", "smoke", "--limit", "1", "--max-tokens", "32",
              "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    [sample] = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert sample["outcome"] in ("scored", "model_failure")
    assert sample["extra"]["bin"] == "4K-8K"
    assert sample["served_model"] == EMBEDDED_MODEL_ID
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())["suites"]["mrcr"]
    assert list(summary["bins"]) == ["4K-8K"]
    assert_scores_are_the_graders("mrcr", only_run_dir(tmp_path), "smoke")
    assert "4K-8K" in res.out and "128K" in res.out


def test_mrcr_over_length_on_embedded(cli, tmp_path: Path) -> None:
    # the embedded context window (8192) is the policy's input; --max-context overrides it
    res = cli("run", "--suite", "mrcr", "--split", "smoke", "--max-context", "4096",
              "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    assert res.code == 4, res.err  # items left out: the run is incomplete
    samples = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert [s["outcome"] for s in samples] == ["skipped", "skipped"]


def test_longbench_smoke_on_embedded_with_server_tokenizer(cli, tmp_path: Path) -> None:
    res = cli("run", "--suite", "longbench-v2", "--split", "smoke", "--max-tokens", "24",
              "--max-prompt-tokens", "80", "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["run_context"]["tokenizer"] == f"server:llama.cpp:{EMBEDDED_MODEL_ID}"
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 4 and all(s["extra"]["prompt_truncated"] for s in samples)
    cats = json.loads((run / "summary.json").read_text())["suites"]["longbench-v2"]["categories"]
    assert cats["Overall"]["n"] == 4 and cats["Easy"]["n"] == 2 and cats["Long"]["n"] == 1


def test_serve_embedded_in_foreground() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "m1eval.cli", "serve", "embedded", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1/models"
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the server is healthy
        assert first.startswith(f"serving {EMBEDDED_MODEL_ID} at http://127.0.0.1:{port}/v1")
        with urllib.request.urlopen(url) as resp:
            assert EMBEDDED_MODEL_ID in resp.read().decode()
    finally:
        os.kill(proc.pid, signal.SIGINT)  # the foreground process only: it must stop its child
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in err
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
