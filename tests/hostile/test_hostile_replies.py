"""Sheer size from a hostile server: a reply far past its budget, one streamed event without
its end, a huge non-streamed body. Each ends the request quickly with a bounded amount read
(linear time, no whole copy kept), and in a run the sample is the model's failure ("reply
exceeded its budget"), never a stored 256 MB answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

from aiohttp import web

from m1eval.model.client import ChatClient, ClientSettings, ReplyTooLong, _read_stream
from m1eval.model.types import RequestFailed
from m1eval.testing.app_thread import AppThread
from tests.conftest import only_run_dir, read_jsonl

CHUNK = json.dumps({"choices": [{"index": 0, "delta": {"content": "x" * 4000},
                                 "finish_reason": None}]})  # fmt: skip


def _hostile(kind: str) -> web.Application:
    async def models(_: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "m", "max_model_len": 1_081_920}]})

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.json()
        if request.headers.get("X-M1eval-Probe"):  # a run's probes get plain answers
            text = "fine"
            return web.json_response({"choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"content": text}}]})
        if kind == "body":  # not streamed, 64 MB
            return web.Response(body=b'{"choices": [{"message": {"content": "'
                                + b"y" * (64 << 20) + b'"}}]}', content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            if kind == "endless":  # 4,000 characters an event, as long as anyone reads
                for _ in range(100_000):
                    await resp.write(f"data: {CHUNK}\n\n".encode())
            else:  # one data line of 128 MB that never ends
                await resp.write(b"data: {\"choices\": [{\"delta\": {\"content\": \"")
                for _ in range(128):
                    await resp.write(b"z" * (1 << 20))
        except (ConnectionError, ConnectionResetError):
            pass  # the client hung up, as it should
        return resp

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return app


def _complete(url: str, max_tokens: int, stream: bool = True) -> Exception | object:
    async def go():
        async with ChatClient(ClientSettings(base_url=url, model="m")) as client:
            payload = None if stream else {"model": "m", "messages": [], "stream": False,
                                           "max_tokens": max_tokens}  # fmt: skip
            try:
                return await client.complete([{"role": "user", "content": "hi"}],
                                             {"max_tokens": max_tokens}, payload=payload)
            except RequestFailed as exc:
                return exc

    return asyncio.run(go())


def test_a_reply_far_past_its_budget_is_cut_and_failed() -> None:
    for kind, stream in (("endless", True), ("line", True), ("body", False)):
        with AppThread(_hostile(kind)) as server:
            started = time.process_time()
            result = _complete(server.base_url, 100, stream)
            cpu = time.process_time() - started
        assert isinstance(result, ReplyTooLong), (kind, result)
        assert result.cause.startswith("reply exceeded its budget") and not result.retryable
        assert cpu < 5.0, (kind, cpu)  # linear: no re-scan of what was already read


def test_framing_is_linear_in_the_bytes_read() -> None:
    """An event without its blank line, fed in 4 KiB blocks: each byte is scanned once (a
    re-split of the whole buffer per block would scan some 7 GB here)."""

    class Content:
        async def iter_any(self):
            yield b"data: " + b"a" * 100
            for _ in range(1900):  # 7.4 MiB, under the event bound
                yield b"b" * (4 << 10)
            yield b"\n\n" + b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n'

    class Response:
        content = Content()

    started = time.process_time()
    with contextlib.suppress(RequestFailed):  # not JSON: what matters is the time it took
        asyncio.run(_read_stream(Response(), 0.0))  # type: ignore[arg-type]
    assert time.process_time() - started < 2.0


def test_in_a_run_an_oversized_reply_is_the_models_failure(cli, tmp_path: Path) -> None:
    with AppThread(_hostile("endless")) as server:
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--limit", "1", "--base-url",
                  server.base_url, "--model", "m", "--results-dir", tmp_path, "--no-progress",
                  "--max-tokens", "100", "--skip-preflight")  # fmt: skip
    assert res.code == 0, res.err
    records = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert {r["outcome"] for r in records} == {"model_failure"}
    assert all(r["error"].startswith("reply exceeded its budget") for r in records)
    assert (only_run_dir(tmp_path) / "samples.jsonl").stat().st_size < 1 << 20


def test_profile_serve_stops_a_server_that_streams_past_its_ask(cli, tmp_path: Path) -> None:
    """The latency profiler reads a server it does not trust either: a stream that goes on
    past max_tokens ends that generation as failed (named), after a bounded number of
    chunks, and no measurement is reported from it."""
    with AppThread(_hostile("endless")) as server:
        started = time.monotonic()
        res = cli("profile", "serve", "--base-url", server.base_url, "--model", "m",
                  "--length", 50, "--out", tmp_path / "serve")  # fmt: skip
    assert time.monotonic() - started < 60
    assert res.code != 0 and "no generation streamed a token" in res.err
    assert "more than the 50 asked" in res.err
    assert not (tmp_path / "serve").exists()
