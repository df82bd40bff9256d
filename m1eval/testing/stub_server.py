"""A scripted OpenAI-compatible server for fault-injection tests and overhead benchmarks.

It answers ``/v1/chat/completions`` (streaming or not) after a fixed delay, with a reply that
is a pure function of the request's sample id (header ``X-M1eval-Sample-Id``), so two runs of
the same plan get the same answers. Faults are injected per (sample id, attempt) from a seeded
hash: HTTP 500, HTTP 429 with Retry-After, a connection dropped mid-stream, malformed JSON, a
stall longer than the client's patience, and a stream that ends without a finish_reason.
Each sample gets at most ``max_faults_per_sample`` faults, so a client with more attempts
than that always finishes it; ids listed in ``always_fail`` fail every attempt.

Run it as a process (``python -m m1eval.testing.stub_server --port 0 --port-file F``) when the
client under test must not share its CPU or must survive a ``kill -9`` of the client.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from m1eval.testing.app_thread import AppThread, serve_forever, spawn_module

FAULTS = ("http500", "http429", "drop", "malformed", "stall", "nofinish")
SAMPLE_HEADER = "X-M1eval-Sample-Id"
PROBE_HEADER = "X-M1eval-Probe"  # a run's preflight or identity probe, not a sample


def _unit(*parts: object) -> float:
    """A reproducible number in [0, 1) from the given parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class StubConfig:
    delay_s: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    max_faults_per_sample: int = 2
    always_fail: frozenset[str] = frozenset()
    fail_prompts: tuple[str, ...] = ()  # requests whose prompt contains one of these always fail
    # prompts containing one of these get a reply with no final answer (a model failure)
    unanswered_prompts: tuple[str, ...] = ()
    stall_s: float = 5.0
    retry_after_s: float = 0.05
    # a Retry-After on the failures of fail_prompts: a backoff of known length (None: no header)
    fail_retry_after_s: float | None = None
    seed: int = 0
    # prompt substring -> correct final answer; a sample answers correctly when its hash says so
    answers: dict[str, str] = field(default_factory=dict)
    correct_rate: float = 0.5
    reasoning: bool = True
    # what follows "</think>" before the answer (MiniMax-M1 on vLLM writes "\n\n")
    think_separator: str = ""
    chunks: int = 3
    model_id: str = "stub-model"
    max_model_len: int | None = 1_081_920  # what a server sized for M1's protocols reports
    max_prompt_chars: int | None = None  # longer prompts get vLLM's 400 "maximum context length"
    record_bodies: bool = False  # keep every request body (tests that inspect what was sent)
    # vLLM's own check of prompt + max_tokens against max_model_len, on the stub's token
    # count (stub_prompt_tokens), with vLLM's wording
    token_window: int | None = None


class StubState:
    def __init__(self, config: StubConfig) -> None:
        self.config = config
        self.attempts: Counter[str] = Counter()
        self.requests = 0  # chat requests of samples (not a run's probes)
        self.probes = 0  # a run's preflight and identity probes (PROBE_HEADER)
        self.faults_injected: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []  # (sample id, "ok" or fault name)
        self.sessions: list[str | None] = []  # each sample request's X-Session-Id
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "attempts": dict(self.attempts),
                "faults": dict(self.faults_injected),
                "log": list(self.log),
            }


def reply_text(config: StubConfig, sample_id: str, prompt: str) -> str:
    """The deterministic reply for one sample."""
    if any(p in prompt for p in config.unanswered_prompts):
        return "<think>Hmm.</think>I am not sure." if config.reasoning else "I am not sure."
    gold = next((a for key, a in config.answers.items() if key in prompt), None)
    correct = _unit(config.seed, sample_id, "correct") < config.correct_rate
    if gold is not None and not gold.lstrip("-").isdigit():
        answer = gold if correct else gold[: len(gold) // 2]  # free text (MRCR): verbatim or cut
    else:
        if gold is None:
            value = int(_unit(config.seed, sample_id, "value") * 1000)
        else:
            value = int(gold) if correct else int(gold) + 1
        answer = f"The answer is \\boxed{{{value}}}."
    if config.reasoning:
        return f"<think>Let me think about it step by step.</think>{config.think_separator}{answer}"
    return answer


def choose_fault(config: StubConfig, sample_id: str, attempt: int) -> str | None:
    if sample_id in config.always_fail:
        return config.faults[attempt % len(config.faults)]
    if attempt > config.max_faults_per_sample or config.fault_rate <= 0:
        return None
    if _unit(config.seed, sample_id, attempt, "fault?") >= config.fault_rate:
        return None
    return config.faults[int(_unit(config.seed, sample_id, attempt, "which") * len(config.faults))]


def stub_prompt_tokens(body: dict[str, Any]) -> int:
    """The stub's token count of a request's prompt: one token per four characters."""
    return len(_prompt_text(body)) // 4 + 1


def _window_refusal(config: StubConfig, body: dict[str, Any]) -> str | None:
    if config.token_window is None:
        return None
    window, prompt = config.token_window, stub_prompt_tokens(body)
    completion = int(body.get("max_tokens") or 0)
    head = f"This model's maximum context length is {window} tokens. However, you requested "
    if prompt > window:
        return head + f"{prompt} tokens in the messages, Please reduce the length of the messages."
    if prompt + completion > window:
        return head + (f"{prompt + completion} tokens ({prompt} in the messages, {completion} "
                       "in the completion). Please reduce the length of the messages or "
                       "completion.")  # fmt: skip
    return None


def _prompt_text(body: dict[str, Any]) -> str:
    parts = []
    for m in body.get("messages") or []:
        c = m.get("content")
        if isinstance(c, str):
            parts.append(c)
        elif isinstance(c, list):
            parts.extend(p.get("text", "") for p in c if isinstance(p, dict))
    return "\n".join(parts)


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    event = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def make_app(state: StubState) -> web.Application:
    config = state.config

    async def models(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": config.model_id, "object": "model"}
                    | ({"max_model_len": config.max_model_len} if config.max_model_len else {})
                ],
            }
        )

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(state.snapshot())

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        sample_id = request.headers.get(SAMPLE_HEADER, "")
        if request.headers.get(PROBE_HEADER):  # answered, never counted as a sample
            with state.lock:
                state.probes += 1
            return await _probe_reply(config, body)
        with state.lock:
            state.requests += 1
            state.sessions.append(request.headers.get("X-Session-Id"))
            state.attempts[sample_id] += 1
            attempt = state.attempts[sample_id]
        fault = choose_fault(config, sample_id, attempt)
        failing_prompt = any(s in _prompt_text(body) for s in config.fail_prompts)
        if failing_prompt:
            fault = "http500"
        if config.record_bodies:
            with state.lock:
                state.bodies.append(body)
        if (
            config.max_prompt_chars is not None
            and len(_prompt_text(body)) > config.max_prompt_chars
        ):
            message = (
                f"This model's maximum context length is {config.max_model_len} tokens. However, "
                "you requested more tokens in the messages. Please reduce the length."
            )
            return web.json_response({"error": {"message": message}}, status=400)
        refusal = _window_refusal(config, body)
        if refusal is not None:
            return web.json_response({"error": {"message": refusal}}, status=400)
        with state.lock:
            state.log.append((sample_id, fault or "ok"))
            if fault:
                state.faults_injected[fault] += 1
        if config.delay_s:
            await asyncio.sleep(config.delay_s)
        if fault == "http500":
            headers = {}
            if config.fail_retry_after_s is not None and failing_prompt:
                headers["Retry-After"] = str(config.fail_retry_after_s)
            return web.json_response({"error": {"message": "injected failure"}}, status=500,
                                     headers=headers)  # fmt: skip
        if fault == "http429":
            return web.json_response(
                {"error": {"message": "rate limited"}},
                status=429,
                headers={"Retry-After": str(config.retry_after_s)},
            )
        text = reply_text(config, sample_id, _prompt_text(body))
        prompt_tokens = max(1, len(_prompt_text(body)) // 4)
        completion_tokens = max(1, len(text) // 4)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "model": config.model_id,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        try:
            await resp.prepare(request)
            await resp.write(_chunk(config.model_id, {"role": "assistant"}))
            n = max(1, config.chunks)
            size = -(-len(text) // n)
            pieces = [text[i : i + size] for i in range(0, len(text), size)]
            for i, piece in enumerate(pieces):
                if fault == "drop" and i == len(pieces) // 2:
                    assert request.transport is not None
                    request.transport.close()  # connection reset mid-stream
                    return resp
                if fault == "malformed" and i == len(pieces) // 2:
                    await resp.write(b'data: {"choices": [{"delta": {"content": "x"\n\n')
                    continue
                if fault == "stall" and i == len(pieces) // 2:
                    await asyncio.sleep(config.stall_s)
                await resp.write(_chunk(config.model_id, {"content": piece}))
            if fault != "nofinish":
                await resp.write(_chunk(config.model_id, {}, "stop"))
                if (body.get("stream_options") or {}).get("include_usage"):
                    event = {"id": "chatcmpl-stub", "choices": [], "usage": usage}
                    await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp
        except ConnectionResetError:
            return resp  # the client hung up (it timed out on a stall): nothing to send

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def _probe_reply(config: StubConfig, body: dict[str, Any]) -> web.Response:
    """A probe's answer: deterministic in its messages and seed (as a greedy or seeded vLLM
    request is), in the shape the request asked for."""
    key = "probe:" + json.dumps([body.get("messages"), body.get("seed")], sort_keys=True)
    text = reply_text(config, key, _prompt_text(body))
    usage = {"prompt_tokens": 1, "completion_tokens": max(1, len(text) // 4),
             "total_tokens": 1 + max(1, len(text) // 4)}  # fmt: skip
    if not body.get("stream"):
        return web.json_response({"id": "chatcmpl-probe", "object": "chat.completion",
                                  "model": config.model_id, "usage": usage, "choices": [
                                      {"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": text}}]})
    events = [_chunk(config.model_id, {"role": "assistant"}),
              _chunk(config.model_id, {"content": text}), _chunk(config.model_id, {}, "stop"),
              b"data: " + json.dumps({"id": "chatcmpl-probe", "choices": [],
                                      "usage": usage}).encode() + b"\n\n",
              b"data: [DONE]\n\n"]  # fmt: skip
    return web.Response(body=b"".join(events), content_type="text/event-stream")


class StubServer(AppThread):
    """Run the stub in a background thread of this process: ``with StubServer(cfg) as s:``."""

    def __init__(self, config: StubConfig | None = None) -> None:
        self.state = StubState(config or StubConfig())
        super().__init__(make_app(self.state))

    def __enter__(self) -> StubServer:
        super().__enter__()
        return self


def spawn(workdir: Path, *args: str, timeout_s: float = 20.0) -> tuple[subprocess.Popen, str]:
    """Start the stub as a separate process; return it and its base URL once it listens."""
    return spawn_module("m1eval.testing.stub_server", workdir, args, timeout_s=timeout_s)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--faults", default=",".join(FAULTS))
    p.add_argument("--max-faults-per-sample", type=int, default=2)
    p.add_argument("--stall", type=float, default=5.0)
    p.add_argument("--answers", type=Path, help="JSON: prompt substring -> answer")
    p.add_argument("--fail-prompt", action="append", default=[], help="always fail these")
    p.add_argument("--fail-retry-after", type=float, default=None,
                   help="send this Retry-After (seconds) with the --fail-prompt failures")
    p.add_argument("--no-reasoning", action="store_true")
    p.add_argument("--chunks", type=int, default=3)
    args = p.parse_args(argv)
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = set(faults) - set(FAULTS)
    if unknown:
        p.error(f"unknown faults {sorted(unknown)}")
    config = StubConfig(
        delay_s=args.delay,
        fault_rate=args.fault_rate,
        faults=faults,
        max_faults_per_sample=args.max_faults_per_sample,
        stall_s=args.stall,
        answers=json.loads(args.answers.read_text()) if args.answers else {},
        fail_prompts=tuple(args.fail_prompt),
        fail_retry_after_s=args.fail_retry_after,
        reasoning=not args.no_reasoning,
        chunks=args.chunks,
    )
    state = StubState(config)

    serve_forever(make_app(state), "127.0.0.1", args.port, args.port_file, "stub server")


if __name__ == "__main__":
    main()
