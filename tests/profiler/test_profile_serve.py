"""``m1eval profile serve`` against real servers: the vLLM emulator given a latency model
(its tokens are paced by a known schedule, so the measured slope and ratio have a right
answer) and the embedded llama.cpp server (a real softmax model: its decode slows with
position)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from m1eval.testing.vllm_emulator import spawn
from tests.conftest import embedded_available

MODEL = "MiniMaxAI/MiniMax-M1-80k"
BASE_S = 0.010
SLOPE_S = 5e-5  # per position: 10 ms at the start, 25 ms at position 300
LENGTH = 300


@pytest.fixture
def emulators(tmp_path: Path):
    growing, growing_url = spawn(tmp_path, "--token-latency", f"{BASE_S},{SLOPE_S}")
    flat, flat_url = spawn(tmp_path, "--token-latency", f"{BASE_S}")
    try:
        yield growing_url, flat_url
    finally:
        for proc in (growing, flat):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_emulated_latency_models_give_back_their_slope_and_ratio(cli, tmp_path: Path,
                                                                 emulators) -> None:  # fmt: skip
    growing_url, flat_url = emulators
    out = tmp_path / "serve"
    got = cli("profile", "serve", "--base-url", growing_url, "--model", MODEL,
              "--baseline-url", flat_url, "--length", LENGTH, "--buckets", 6,
              "--concurrency", "1,2", "--out", out)  # fmt: skip
    assert got.code == 0, got.err
    result = json.loads((out / "serve.json").read_text())
    assert result["settings"]["length"] == LENGTH
    for level in result["target"]["levels"]:
        assert level["ok"] == level["generations"] == max(1, level["concurrency"])
        assert level["generated_min"] == level["generated_max"] == LENGTH  # ignore_eos
        slope = level["slope"]
        assert slope["s_per_token"] == pytest.approx(SLOPE_S, rel=0.10)
        assert slope["verdict"] == "rising"
    for level in result["baseline"]["levels"]:
        # flat: the fitted change over the whole generation is within 10% of the base
        assert abs(level["slope"]["s_per_token"]) * LENGTH < 0.10 * BASE_S
        assert level["slope"]["verdict"] != "rising" or level["slope"]["rise_pct"] < 10
    for ratio in result["ratio"]:
        for bucket in ratio["buckets"]:
            middle = (bucket["lo"] + bucket["hi"]) / 2
            modelled = (BASE_S + SLOPE_S * middle) / BASE_S
            assert bucket["ratio_p50"] == pytest.approx(modelled, rel=0.10)
    assert (out / "serve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    assert len(traces) == 2 * (1 + 2)  # both endpoints, 1 + 2 generations
    assert {t["endpoint"] for t in traces} == {"target", "baseline"}
    assert result["target"]["fingerprint"]["models"][0]["id"] == MODEL
    assert "ITL with position" in got.out and "rising" in got.out


def test_a_wrong_model_or_a_dead_endpoint_is_one_line(cli, tmp_path: Path, emulators) -> None:
    growing_url, _ = emulators
    wrong = cli("profile", "serve", "--base-url", growing_url, "--model", "nope",
                "--length", 10, "--out", tmp_path / "x")  # fmt: skip
    assert wrong.code == 3 and "does not serve model 'nope'" in wrong.err
    assert "Traceback" not in wrong.err and not (tmp_path / "x").exists()
    dead = cli("profile", "serve", "--base-url", "http://127.0.0.1:9/v1", "--model", MODEL,
               "--length", 10, "--out", tmp_path / "y")  # fmt: skip
    assert dead.code == 3 and "cannot reach" in dead.err
    bad = cli("profile", "serve", "--base-url", growing_url, "--model", MODEL,
              "--concurrency", "1,x", "--out", tmp_path / "z")  # fmt: skip
    assert bad.code != 0 and "--concurrency" in bad.err


def test_projection_is_overlaid_from_a_latency_result(cli, tmp_path: Path, emulators) -> None:
    growing_url, flat_url = emulators
    h200 = Path(__file__).resolve().parents[2] / "benchmarks/results/attention_latency_h200.json"
    out = tmp_path / "serve"
    got = cli("profile", "serve", "--base-url", growing_url, "--model", MODEL,
              "--baseline-url", flat_url, "--length", 40, "--buckets", 4,
              "--projection", h200, "--out", out)  # fmt: skip
    assert got.code == 0, got.err
    result = json.loads((out / "serve.json").read_text())
    proj = result["projection"]
    assert proj["device"] == "NVIDIA H200" and len(proj["rows"]) == 4
    assert all(0 < row["ratio"] < 1 for row in proj["rows"])
    assert "kernel projection ratio" in got.out
    # the report shows it: tables in Markdown and HTML, the plot beside the others
    run = Path(__file__).resolve().parents[1] / "runs/data/runs_v1"
    report = cli("report", run / "aime24-minimaxai-minimax-m1-80k-m1-80k-0b1426d5",
                 "--serve", out / "serve.json", "--out", tmp_path / "report")  # fmt: skip
    assert report.code == 0, report.err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Live endpoint latency" in md and "ITL with position" in md
    assert "kernel projection ratio (attention only)" in md
    assert (tmp_path / "report" / "plots" / "serve.png").is_file()
    html = (tmp_path / "report" / "index.html").read_text()
    assert 'id="serve"' in html and f"at {growing_url}" in html
    refused = cli("report", run / "aime24-minimaxai-minimax-m1-80k-m1-80k-0b1426d5",
                  "--serve", h200, "--out", tmp_path / "r2")  # fmt: skip
    assert refused.code != 0 and "not a profile serve result" in refused.err
    assert not (tmp_path / "r2").exists()


@pytest.mark.embedded
@pytest.mark.slow
def test_embedded_llama_cpp_decode_slows_with_position(cli, tmp_path: Path) -> None:
    """A real measurement: ``--model embedded`` starts SmolLM2 on llama.cpp (softmax
    attention over a growing cache) and bans its end-of-sequence tokens; over 1,500
    generated tokens the median inter-token latency rises with position."""
    if not embedded_available():
        pytest.skip("embedded model not installed (run scripts/setup.sh)")
    out = tmp_path / "serve"
    got = cli("profile", "serve", "--model", "embedded", "--length", 1500, "--buckets", 6,
              "--out", out)  # fmt: skip
    assert got.code == 0, got.err
    result = json.loads((out / "serve.json").read_text())
    level = result["target"]["levels"][0]
    assert level["generated_min"] == 1500  # the end-of-sequence tokens were banned
    assert level["slope"]["verdict"] == "rising", level["slope"]
    first, last = level["buckets"][0], level["buckets"][-1]
    assert last["p50_s"] > first["p50_s"]
    assert result["target"]["fingerprint"]["models"][0]["id"] == "smollm2-135m-instruct"


def test_generations_that_stop_early_are_said_loudly(cli, tmp_path: Path) -> None:
    """A server that ignores ignore_eos (the project's stub server answers its scripted
    reply and stops): the short generations are shown and warned about, not passed off as
    a latency curve over the asked length."""
    from m1eval.testing.stub_server import StubConfig, StubServer

    with StubServer(StubConfig(correct_rate=1.0)) as server:
        got = cli("profile", "serve", "--base-url", server.base_url, "--model", "stub-model",
                  "--length", 400, "--buckets", 4, "--out", tmp_path / "serve")  # fmt: skip
    assert got.code == 0, got.err
    level = json.loads((tmp_path / "serve" / "serve.json").read_text())["target"]["levels"][0]
    assert 0 < level["generated_max"] < 400
    assert "warning: target at concurrency 1: some generations stopped at" in " ".join(
        got.out.split())  # fmt: skip
