"""One model per number, and a server that can serve the protocol: against the vLLM emulator,
each deployment fault is refused before anything is asked (the run's preflight, exit 6) or
stops the run at its first sign (exit 6), and a run is never answered by two servers (resume,
merge: exit 7), each in one line with its fix; healthy servers run, recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from m1eval.testing.vllm_emulator import EmulatorConfig, VllmEmulator
from tests.conftest import only_run_dir, read_jsonl

TAU = Path(os.environ["M1EVAL_TAU_DIR"])
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
needs_tau = pytest.mark.skipif(not (TAU / "retail").exists(), reason="tau-bench data missing")


def _run(cli, url: str, results: Path, suite: str = "aime24", *extra: str):
    data = ["--data-dir", TAU] if suite.startswith("tau") else []
    return cli("run", "--suite", suite, "--split", "smoke", "--base-url", url, "--results-dir",
               results, "--no-progress", "--retry-base-delay", "0.1", *data, *extra)  # fmt: skip


def _refused(res, code: int, *says: str) -> None:
    assert res.code == code, res.err
    errors = [line for line in res.err.splitlines() if line.startswith("m1eval: error:")]
    assert len(errors) == 1 and res.err.rstrip().endswith(errors[0]), res.err  # one line
    for text in says:
        assert text in errors[0], res.err


@pytest.mark.parametrize(("config", "suite", "extra", "says"), [
    (EmulatorConfig(tool_parser="hermes"), "tau-bench-retail", (),
     ("tools: the call came back as text", "--tool-call-parser minimax")),
    (EmulatorConfig(tool_parser=None), "tau-bench-retail", (),
     ("tools: tool calling is off", "--enable-auto-tool-choice")),
    (EmulatorConfig(trust_request_chat_template=False), "tau-bench-retail", (),
     ("the server refuses request templates", "--trust-request-chat-template")),
    (EmulatorConfig(chat_template=CHATML), "aime24", (),
     ("template: minimax_m1 (server default): the server renders the probe otherwise",
      "--chat-template")),
    (EmulatorConfig(max_model_len=4096), "aime24", (),
     ("window: max_model_len 4,096 <", "81,920-token budget",
      "serve with --max-model-len", "or lower the budget to --max-tokens")),
    (EmulatorConfig(honour_seed=False), "aime24", ("--seed", "7"),
     ("seed: two requests with seed 1234 answered differently", "drop --seed")),
])  # fmt: skip
def test_a_server_that_cannot_serve_the_protocol_is_refused_before_anything_is_asked(
        cli, tmp_path: Path, config: EmulatorConfig, suite: str, extra: tuple,
        says: tuple) -> None:  # fmt: skip
    if suite.startswith("tau") and not (TAU / "retail").exists():
        pytest.skip("tau-bench data missing")
    with VllmEmulator(config) as server:
        res = _run(cli, server.base_url, tmp_path / "r", suite, *extra)
        assert server.emulator.requests == 0  # no sample was asked
    _refused(res, 6, "cannot serve this run", *says)
    assert not (tmp_path / "r").exists()  # nothing written


def test_a_healthy_server_runs_and_the_preflight_is_recorded(cli, tmp_path: Path) -> None:
    with VllmEmulator(EmulatorConfig(max_model_len=4096)) as server:
        res = _run(cli, server.base_url, tmp_path, "aime24", "--max-tokens", "2048", "--seed",
                   "7")  # fmt: skip
    assert res.code == 0, res.err
    manifest = json.loads((only_run_dir(tmp_path) / "manifest.json").read_text())
    pre = manifest["preflight"]
    assert pre["verdict"] == "go" and pre["template"] == "verified"
    assert {c["name"]: c["status"] for c in pre["checks"]} == {
        "window": "ok", "template": "ok", "seed": "ok"}
    assert pre["seconds"] < 60
    assert manifest["invocations"][-1]["preflight"] == "go"
    identity = manifest["endpoint"]["identity"]
    assert identity["behaviour"]["stable"] and identity["template_probe_sha256"]
    assert "root" not in identity["model"]


def test_skip_preflight_is_recorded_and_a_configuration_fault_stops_the_run(
        cli, tmp_path: Path) -> None:  # fmt: skip
    """Past the preflight, the first reply that is a configuration error stops the run: not an
    infra error re-asked forever, not the model's failure; the fix comes with it, the rerun
    after the fix goes on."""
    if not (TAU / "retail").exists():
        pytest.skip("tau-bench data missing")
    with VllmEmulator(EmulatorConfig(tool_parser=None)) as server:
        res = _run(cli, server.base_url, tmp_path, "tau-bench-retail", "--skip-preflight")
    _refused(res, 6, "tool calling is off", "--enable-auto-tool-choice", "nothing was charged")
    run = only_run_dir(tmp_path)
    assert not read_jsonl(run / "samples.jsonl")  # no sample recorded, none charged
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["preflight"]["verdict"] == "skipped"
    assert manifest["invocations"][-1]["status"] == "stopped: server configuration"
    with VllmEmulator(EmulatorConfig()) as fixed:
        again = _run(cli, fixed.base_url, tmp_path, "tau-bench-retail")
    assert again.code == 0, again.err
    assert {r["outcome"] for r in read_jsonl(run / "samples.jsonl")} <= {"scored",
                                                                       "model_failure"}


@needs_tau
def test_tool_calls_as_text_stop_the_run_once_a_probe_confirms_it(cli, tmp_path: Path) -> None:
    with VllmEmulator(EmulatorConfig(tool_parser="hermes")) as server:
        res = _run(cli, server.base_url, tmp_path, "tau-bench-retail", "--skip-preflight")
    _refused(res, 6, "tool calls come back as text", "--tool-call-parser minimax",
             "and so did a probe")  # fmt: skip
    assert not read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")


def test_a_judge_model_the_server_does_not_serve_stops_the_run(cli, tmp_path: Path) -> None:
    with VllmEmulator(EmulatorConfig()) as server:
        res = _run(cli, server.base_url, tmp_path, "simpleqa", "--judge-model", "gpt-4.1")
    _refused(res, 6, "the server does not serve the model", "The model `gpt-4.1` does not exist",
             "--judge-model")
    assert not read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")


def test_other_weights_under_the_same_name_never_inherit_a_sample(cli, tmp_path: Path) -> None:
    """Same card, window, version and template; only the answers differ: refused (exit 7),
    reused only with --allow-endpoint-change, which is recorded. The same weights at another
    address resume, recorded per invocation."""
    with VllmEmulator(EmulatorConfig()) as first:
        assert _run(cli, first.base_url, tmp_path, "aime24", "--limit", "2").code == 0
    run = only_run_dir(tmp_path)
    before = (run / "samples.jsonl").read_text()
    with VllmEmulator(EmulatorConfig(weights="another-finetune")) as other:
        res = _run(cli, other.base_url, tmp_path, "aime24", "--limit", "2")
        _refused(res, 7, "answered by another server", "its answers differ",
                 "--allow-endpoint-change")  # fmt: skip
        assert other.emulator.requests == 0
        assert (run / "samples.jsonl").read_text() == before
        allowed = _run(cli, other.base_url, tmp_path, "aime24", "--limit", "2",
                       "--allow-endpoint-change")  # fmt: skip
        assert allowed.code == 0, allowed.err
        assert other.emulator.requests == 0  # reused, deliberately
    last = json.loads((run / "manifest.json").read_text())["invocations"][-1]
    assert last["allow_endpoint_change"] is True
    assert any("answers differ" in c for c in last["endpoint_changes"])
    with VllmEmulator(EmulatorConfig(weights="another-finetune")) as moved:  # the same weights
        res = _run(cli, moved.base_url, tmp_path, "aime24", "--limit", "2")
        assert res.code == 0, res.err
        assert moved.emulator.requests == 0
    invocations = json.loads((run / "manifest.json").read_text())["invocations"]
    assert invocations[-1]["endpoint"]["base_url"] == moved.base_url
    assert "endpoint_changes" not in invocations[-1]
    assert len({i["endpoint"]["base_url"] for i in invocations}) == 3


def test_the_same_server_under_load_still_resumes(cli, tmp_path: Path) -> None:
    """A busy server whose greedy answers differ one time in three (batch arithmetic) is still
    the same server: the fixed prompt is asked again before a difference counts."""
    config = EmulatorConfig(greedy_noise=0.33, noise_seed=11)
    with VllmEmulator(config) as server:
        assert _run(cli, server.base_url, tmp_path, "aime24", "--limit", "2").code == 0
        manifest = json.loads((only_run_dir(tmp_path) / "manifest.json").read_text())
        assert manifest["endpoint"]["identity"]["behaviour"]["stable"]  # so it is compared
        for _ in range(4):
            res = _run(cli, server.base_url, tmp_path, "aime24", "--limit", "2")
            assert res.code == 0, res.err
        assert server.emulator.requests == 2 * 32  # every later invocation reused them all


def test_shards_answered_by_two_servers_never_merge_without_the_flag(cli, tmp_path: Path) -> None:
    args = ("--limit", "2", "--repeats", "2")
    with VllmEmulator(EmulatorConfig()) as a:
        assert _run(cli, a.base_url, tmp_path / "s", "aime24", *args, "--shard", "0/2").code == 0
    old = EmulatorConfig(version="0.10.2", max_model_len=131_072)
    with VllmEmulator(old) as b:
        assert _run(cli, b.base_url, tmp_path / "s", "aime24", *args, "--shard", "1/2").code == 0
    shards = sorted((tmp_path / "s").iterdir())
    res = cli("merge", *shards, "--results-dir", tmp_path / "m")
    _refused(res, 7, "answered by different servers", "--allow-endpoint-change")
    assert not (tmp_path / "m").exists()
    res = cli("merge", *shards, "--results-dir", tmp_path / "m", "--allow-endpoint-change")
    assert res.code == 0, res.err
    manifest = json.loads((only_run_dir(tmp_path / "m") / "manifest.json").read_text())
    assert manifest["allow_endpoint_change"] is True
    assert any("vLLM version" in c for c in manifest["endpoint_changes"])
