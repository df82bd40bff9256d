"""Every suite's smoke split against each supported vLLM release's wire format.

No vLLM runs here: :mod:`m1eval.testing.vllm_emulator` answers as vLLM 0.10.2, 0.12.0 and
0.23.0 do (chunk shapes, reasoning fields, the minimax tool parser's deltas, usage chunks,
refusal bodies), read from each release's code. The runs are real: the CLI, the client, the
graders and the store, with the M1 protocol and its chat templates.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from m1eval import chat_templates as templates
from m1eval.artifacts import KINDS
from m1eval.hashing import stable_hash
from m1eval.model.client import ChatClient, ClientSettings
from m1eval.model.types import Completion, RequestFailed
from m1eval.run_format import FORMAT
from m1eval.suites.mrcr import fitted_budget
from m1eval.testing.vllm_emulator import RELEASES, EmulatorConfig, VllmEmulator
from tests.conftest import assert_scores_are_the_graders, only_run_dir, read_jsonl

SUITES = ("aime24", "aime25", "gpqa-diamond", "livecodebench", "longbench-v2", "mrcr",
          "simpleqa", "swe-bench", "tau-bench-airline", "tau-bench-retail")  # fmt: skip
GRADED_FROM_ANSWER = ("aime24", "aime25", "gpqa-diamond", "longbench-v2", "mrcr")
TAU = Path(os.environ["M1EVAL_TAU_DIR"])
M1 = EmulatorConfig().model_id  # the model the emulated server serves (others are a 404)
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]}}}]  # fmt: skip


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


def _post(url: str, body: dict[str, Any]) -> tuple[int, str]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _complete(settings: ClientSettings, messages: list[dict[str, Any]],
              params: dict[str, Any]) -> Completion:  # fmt: skip
    async def go() -> Completion:
        async with ChatClient(settings) as client:
            return await client.complete(messages, params)

    return asyncio.run(go())


def _events(stream: str) -> list[dict[str, Any]]:
    out = []
    for block in stream.split("\n\n"):
        if block.startswith("data: ") and block != "data: [DONE]":
            out.append(json.loads(block[6:]))
    assert stream.rstrip().endswith("data: [DONE]")
    return out


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("release", RELEASES)
def test_smoke_split_of_every_suite(cli, tmp_path: Path, release: str, suite: str) -> None:
    """The run finishes with every sample accounted for, graded as the suite's grader grades
    the recorded answers; usage is the server's (reasoning estimated from the inline
    ``<think>``, which M1 sends in content); the chat template each request was rendered with
    is the protocol's, recorded in the manifest; TAU's tool calls round-trip."""
    if suite.startswith("tau") and not (TAU / "airline").exists():
        pytest.skip(f"tau-bench data not found at {TAU}")
    config = EmulatorConfig(version=release, record_bodies=True)
    with VllmEmulator(config) as server:
        res = cli("run", "--suite", suite, "--split", "smoke", "--base-url", server.base_url,
                  "--protocol", "m1-80k", "--results-dir", tmp_path, "--no-progress",
                  *(["--data-dir", TAU] if suite.startswith("tau") else []))  # fmt: skip
        bodies = server.emulator.bodies
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    if suite in GRADED_FROM_ANSWER:
        records = assert_scores_are_the_graders(suite, run, "smoke")
    else:  # graded in a sandbox or from an episode: every sample once, the summary their mean
        records = read_jsonl(run / "samples.jsonl")
        per_item: dict[str, list[float]] = {}
        for r in records:
            per_item.setdefault(r["item_id"], []).append(float(r["score"] or 0.0))
        summary = json.loads((run / "summary.json").read_text())["suites"][suite]
        assert summary["score"] == pytest.approx(
            100 * sum(sum(v) / len(v) for v in per_item.values()) / len(per_item), abs=1e-3
        )
    assert len({r["sample_id"] for r in records}) == len(records) > 0
    assert all(r["outcome"] in ("scored", "model_failure") for r in records)
    for r in records:
        assert r["prompt_tokens"] > 0 and r["completion_tokens"] > 0
        assert r["usage_source"] == "server; reasoning estimated from the stream"
        assert r["served_model"] == "MiniMaxAI/MiniMax-M1-80k"
    manifest = json.loads((run / "manifest.json").read_text())
    summary_file = json.loads((run / "summary.json").read_text())
    assert manifest["format"] == summary_file["format"] == FORMAT
    assert manifest["summary_sha256"] == stable_hash(summary_file)
    for r in records:  # every artifact a sample declares is a file of its kind in the run
        kinds = {a["kind"] for a in r["artifacts"]}
        assert kinds <= set(KINDS) and all((run / a["path"]).is_file() for a in r["artifacts"])
        if suite.startswith("tau"):
            assert kinds == {"dialogue"}
        elif suite == "swe-bench":
            assert {"json", "diff"} <= kinds
        else:
            assert kinds == set()
    tools = suite.startswith("tau")
    why = summary_file["suites"][suite]["comparable"]["why"]
    # a model under test that plays its own user (or judge) is no reproduction of the paper
    assert ("user simulator is the evaluated model" in why) == tools
    assert ("judge is the evaluated model" in why) == (suite == "simpleqa")
    expected = "minimax_m1_tools" if tools else "minimax_m1"
    assert manifest["chat_template"] == {
        **templates.describe(expected),
        "delivered": (
            "per request (chat_template)" if tools else "server default (--chat-template)"
        ),
    }
    agent = [b for b in bodies if b.get("tools")]
    assert all(b["chat_template"] == templates.template_text(expected) for b in agent)
    assert not any("chat_template" in b for b in bodies if not b.get("tools"))
    if tools:
        assert agent, "TAU asked the model without tools"
        called = [m for r in records for m in _trajectory(run, r) if m.get("tool_calls")]
        assert called and all(c["tool_calls"][0]["id"].startswith("chatcmpl-tool-")
                              for c in called)  # fmt: skip
    else:
        # the recorded usage is the server's (summed over an agent's requests; a judge's
        # requests, SimpleQA's, are not the evaluated model's)
        usages = [u for b, u in zip(bodies, server.emulator.usages, strict=True)
                  if "Grade the predicted answer" not in json.dumps(b["messages"])]  # fmt: skip
        assert (len(usages) < len(bodies)) == (suite == "simpleqa")
        for key in ("prompt_tokens", "completion_tokens"):
            assert sum(r[key] for r in records) == sum(u[key] for u in usages)


def _trajectory(run: Path, record: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a in record["artifacts"]:
        if a["kind"] == "dialogue":
            out += json.loads((run / a["path"]).read_text())["trajectory"]
    return out


@pytest.mark.parametrize("release", RELEASES)
def test_chunk_shapes_per_release(release: str) -> None:
    """The role chunk, token chunks, the end-of-sequence chunk and the usage chunk, field by
    field as each release serialises them."""
    with VllmEmulator(EmulatorConfig(version=release)) as server:
        status, text = _post(server.base_url + "/chat/completions", {
            "model": M1, "messages": [{"role": "user", "content": "2+2?"}], "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": 100})  # fmt: skip
    assert status == 200
    events = _events(text)
    role, first, last, usage = events[0], events[1], events[-2], events[-1]
    reasoning_copy = {"reasoning_content": None} if release == "0.12.0" else {}
    assert role["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": "",
                                                      **reasoning_copy},
                                "logprobs": None, "finish_reason": None}]  # fmt: skip
    assert role["prompt_token_ids"] is None and ("prompt_text" in role) == (release == "0.23.0")
    assert first["choices"][0] == {
        "index": 0,
        "delta": {"content": "<think>", **reasoning_copy},
        "logprobs": None,
        "finish_reason": None,
        "token_ids": None,
    }
    assert "prompt_token_ids" not in first and "usage" not in first
    assert last["choices"][0]["delta"] == {"content": "", **reasoning_copy}
    assert last["choices"][0]["finish_reason"] == "stop" and "stop_reason" in last["choices"][0]
    assert usage["choices"] == [] and set(usage["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    }
    tokens = len(events) - 3 + 1  # one chunk per text token, plus the end-of-sequence token
    assert usage["usage"]["completion_tokens"] == tokens


@pytest.mark.parametrize("release", RELEASES)
def test_reasoning_field_per_release(release: str) -> None:
    """With a reasoning parser the thought streams as ``reasoning_content`` (0.10), as both
    fields (0.12) or as ``reasoning`` (0.23); the client reads each into ``reasoning`` and
    keeps it out of the answer. M1 itself has no parser: ``<think>`` is inline in content."""
    config = EmulatorConfig(version=release, reasoning_parser=True)
    with VllmEmulator(config) as server:
        _, text = _post(server.base_url + "/chat/completions", {
            "model": M1, "messages": [{"role": "user", "content": "2+2?"}], "stream": True,
            "max_tokens": 100})  # fmt: skip
        c = _complete(
            ClientSettings(server.base_url, M1),
            [{"role": "user", "content": "2+2?"}],
            {"max_tokens": 100},
        )
    keys = {k for e in _events(text) for k in e["choices"][0]["delta"]} if text else set()
    expected = {"0.10.2": {"reasoning_content"}, "0.12.0": {"reasoning", "reasoning_content"},
                "0.23.0": {"reasoning"}}[release]  # fmt: skip
    assert keys - {"role", "content"} == expected
    assert c.reasoning == "Let me think about it step by step."
    assert c.answer.startswith("The answer is") and "<think>" not in c.answer


@pytest.mark.parametrize("release", RELEASES)
def test_tool_calls_per_release(release: str) -> None:
    """The minimax parser's deltas: the name whole with its id, then the arguments in pieces;
    the client joins them into one call whose arguments parse; finish_reason tool_calls."""
    with VllmEmulator(EmulatorConfig(version=release)) as server:
        settings = ClientSettings(
            server.base_url, M1, tools_chat_template=templates.template_text("minimax_m1_tools")
        )
        c = _complete(
            settings,
            [{"role": "user", "content": "Weather in Paris?"}],
            {"max_tokens": 200, "tools": TOOLS},
        )
    assert c.finish_reason == "tool_calls"
    [call] = c.tool_calls or []
    assert call["function"]["name"] == "get_weather" and call["id"].startswith("chatcmpl-tool-")
    assert json.loads(call["function"]["arguments"]) == {"location": "probe"}


@pytest.mark.parametrize("release", RELEASES)
def test_over_length_refusals_per_release(release: str) -> None:
    """Each release's 400 for prompt + max_tokens over the window, as the client records it,
    and the budget MRCR's ``--mrcr-overflow fit`` derives from it."""
    with VllmEmulator(EmulatorConfig(version=release, max_model_len=400)) as server:
        settings = ClientSettings(server.base_url, M1)
        prompt = [{"role": "user", "content": "word " * 200}]  # 1,000 chars: ~257 tokens
        with pytest.raises(RequestFailed) as over_budget:
            _complete(settings, prompt, {"max_tokens": 300})
        with pytest.raises(RequestFailed) as over_window:
            _complete(settings, [{"role": "user", "content": "word " * 400}], {"max_tokens": 10})
    failure = over_budget.value
    assert failure.status == 400 and not failure.retryable and failure.attempts == 1
    assert "maximum context length is 400 tokens" in failure.cause
    fitted = fitted_budget(failure, 300)
    assert fitted is not None and 100 < fitted < 300
    assert fitted_budget(over_window.value, 10) is None  # the prompt alone is too long
    if release == "0.23.0":
        assert "you requested 300 output tokens and your prompt contains" in failure.cause
    else:
        assert failure.cause.startswith("HTTP 400: 'max_tokens' or 'max_completion_tokens' is "
                                        "too large: 300.")  # fmt: skip


@pytest.mark.parametrize("release", RELEASES)
def test_continuous_usage_stats(release: str) -> None:
    """``continuous_usage_stats`` puts a running usage on every chunk."""
    with VllmEmulator(EmulatorConfig(version=release)) as server:
        _, text = _post(
            server.base_url + "/chat/completions",
            {
                "model": M1,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True, "continuous_usage_stats": True},
            },
        )
    events = _events(text)
    running = [e["usage"]["completion_tokens"] for e in events]
    assert all("usage" in e for e in events) and running[0] == 0
    assert running == sorted(running) and running[-1] == running[-2]


@pytest.mark.parametrize("release", RELEASES)
def test_side_endpoints(release: str) -> None:
    """/v1/models with max_model_len, /version, /health, and /tokenize of chat messages
    rendered with the server's template, which /detokenize gives back."""
    with VllmEmulator(EmulatorConfig(version=release, max_model_len=4096)) as server:
        root = server.base_url.removesuffix("/v1")
        models = json.loads(_get(server.base_url + "/models")[1])
        assert models["object"] == "list"
        [card] = models["data"]
        assert card["max_model_len"] == 4096 and card["owned_by"] == "vllm"
        assert json.loads(_get(root + "/version")[1]) == {"version": release}
        assert _get(root + "/health") == (200, b"")
        messages = [{"role": "user", "content": "Hello"}]
        _, tok = _post(root + "/tokenize", {"model": M1, "messages": messages})
        tokenized = json.loads(tok)
        assert tokenized["count"] == len(tokenized["tokens"])
        assert tokenized["max_model_len"] == 4096
        _, detok = _post(root + "/detokenize", {"model": M1, "tokens": tokenized["tokens"]})
    assert json.loads(detok)["prompt"] == templates.render(
        templates.template_text("minimax_m1"), messages
    )


def test_request_templates_need_trust_from_0_11() -> None:
    """vLLM 0.11+ refuses a per-request chat_template unless the server trusts them."""
    body = {"model": M1, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5,
            "chat_template": templates.template_text("minimax_m1_tools")}  # fmt: skip
    for release in RELEASES:
        config = EmulatorConfig(version=release, trust_request_chat_template=False)
        with VllmEmulator(config) as server:
            status, text = _post(server.base_url + "/chat/completions", body)
        assert (status == 200) == (release == "0.10.2"), (release, text)
        if status != 200:
            assert "--trust-request-chat-template is not set" in text


def test_plain_template_refuses_tool_turns_as_a_400() -> None:
    """The plain template has no tool turns: a TAU conversation sent without the tools
    template is refused (the tools template renders it)."""
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]  # fmt: skip
    with VllmEmulator(EmulatorConfig()) as server:
        status, text = _post(
            server.base_url + "/chat/completions",
            {"model": M1, "messages": messages, "tools": TOOLS},
        )
        assert status == 400 and "minimax_m1_tools" in text
        status, _ = _post(
            server.base_url + "/chat/completions",
            {
                "model": M1,
                "messages": messages,
                "tools": TOOLS,
                "chat_template": templates.template_text("minimax_m1_tools"),
            },
        )
        assert status == 200


def test_a_server_with_another_template_is_refused_before_the_run(cli, tmp_path: Path) -> None:
    """A serving fingerprint whose template is not the protocol's default: every prompt would
    differ from the one the manifest records, so the run is refused and nothing written."""
    fingerprint = tmp_path / "serving.json"
    fingerprint.write_text(
        json.dumps(
            {
                "server": "vllm",
                "chat_template": "/x/other.jinja",
                "chat_template_name": "other",
                "chat_template_sha256": "ab" * 32,
            }
        )
    )
    with VllmEmulator(EmulatorConfig()) as server:
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url",
                  server.base_url, "--serving-fingerprint", fingerprint, "--results-dir",
                  tmp_path / "r", "--no-progress")  # fmt: skip
        assert server.emulator.requests == 0
    assert res.code == 2 and not (tmp_path / "r").exists()
    assert res.err.strip() == (
        "m1eval: error: the server's chat template (other, sha256 abababababab) is not "
        f"protocol m1-80k's minimax_m1 (sha256 {templates.describe('minimax_m1')['sha256'][:12]}"
        "): serve with the profile's template"
    )


def test_mrcr_scores_what_m1_answered_after_its_separator(cli, tmp_path: Path) -> None:
    """MiniMax-M1 has no reasoning parser on vLLM: its content is ``<think>…</think>\\n\\n``
    then the answer. A server answering every MRCR item exactly scores 100 by default; the
    card's byte-literal reading of the content field (the separator kept) scores 0, and is
    reported beside it."""
    from m1eval.registry import get_suite

    items, _ = get_suite("mrcr").load("smoke", None)
    answers = {i.row["random_string_to_prepend"]: i.row["answer"] for i in items}
    config = EmulatorConfig(answers=answers, correct_rate=1.0, think_separator="\n\n")
    with VllmEmulator(config) as server:
        res = cli("run", "--suite", "mrcr", "--split", "smoke", "--base-url", server.base_url,
                  "--protocol", "m1-80k", "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    records = read_jsonl(run / "samples.jsonl")
    assert records and all(r["outcome"] == "scored" and r["score"] == 1.0 for r in records)
    assert all(r["extra"]["score_whitespace_kept"] == 0.0 for r in records)
    summary = json.loads((run / "summary.json").read_text())["suites"]["mrcr"]
    heads = {h["name"]: h["score"] for h in summary["headlines"]}
    assert summary["score"] == heads["mrcr"] == 100.0
    assert heads["mrcr (whitespace kept)"] == 0.0
    assert summary["reading"] == "answer after the reasoning"
