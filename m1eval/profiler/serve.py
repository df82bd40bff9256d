"""Latency of a live endpoint over long generations, the way the efficiency claim is stated:
stream generations of up to L tokens at chosen concurrency levels, time every chunk's
arrival, and hand the traces to ``serve_stats``.

Generations must run to L tokens for positions to mean anything, so requests carry vLLM's
``ignore_eos`` (other servers ignore an unknown field) and, where given, a ``logit_bias``
that bans the end-of-sequence tokens (llama.cpp honours it). Where the server streams
``continuous_usage_stats`` (vLLM), each chunk's token count is the server's own; otherwise a
chunk with text is one token (llama.cpp streams one token per chunk). Nothing a server
sends is trusted for size: an event longer than the client's bound ends that generation as
failed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from m1eval.errors import EndpointError
from m1eval.model.client import MAX_EVENT_BYTES, describe_os_error
from m1eval.profiler.serve_stats import Trace, summarize_level

EXTRA_TOKENS = 16  # past max_tokens a server may count (an end-of-sequence token), no more
DEFAULT_PROMPT = ("Write a very long story about a lighthouse keeper and the ships she sees. "
                  "Keep going; do not stop.")  # fmt: skip


@dataclass
class ServeSettings:
    base_url: str
    model: str
    length: int = 1024
    concurrency: tuple[int, ...] = (1,)
    generations: int = 1  # at least this many per level (and at least the level)
    buckets: int = 10
    prompt: str = DEFAULT_PROMPT
    api_key: str | None = None
    ban_tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    request_timeout_s: float = 3600.0
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model, "stream": True, "max_tokens": self.length,
            "temperature": self.temperature, "ignore_eos": True,
            "messages": [{"role": "user", "content": self.prompt}],
            "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        }  # fmt: skip
        if self.ban_tokens:
            body["logit_bias"] = {str(t): -100 for t in self.ban_tokens}
        body.update(self.extra)
        return body


def _chunk_tokens(event: dict[str, Any], so_far: int) -> tuple[int, str | None]:
    """(tokens so far after this chunk, its finish reason)."""
    usage = event.get("usage") or {}
    finish = None
    has_text = False
    for choice in event.get("choices") or ():
        delta = choice.get("delta") or {}
        has_text = has_text or bool(delta.get("content") or delta.get("reasoning_content")
                                    or delta.get("reasoning") or delta.get("tool_calls"))
        finish = choice.get("finish_reason") or finish
    counted = usage.get("completion_tokens")
    if isinstance(counted, int) and not isinstance(counted, bool) and counted >= so_far:
        if not event.get("choices"):  # the closing usage chunk: no new token arrived
            return so_far, finish
        return counted, finish
    return so_far + (1 if has_text else 0), finish


async def stream_one(session: aiohttp.ClientSession, settings: ServeSettings,
                     level_start: float) -> Trace:  # fmt: skip
    """One generation's chunk arrivals (errors are recorded in the trace, not raised)."""
    url = settings.base_url.rstrip("/") + "/chat/completions"
    trace = Trace(started_s=time.perf_counter() - level_start)
    sent = time.perf_counter()
    tokens = 0
    try:
        async with session.post(url, json=settings.payload()) as resp:
            if resp.status != 200:
                text = (await resp.content.read(2000)).decode("utf-8", "replace")
                trace.error = f"HTTP {resp.status}: {' '.join(text.split())[:300]}"
                return trace
            buf = bytearray()
            scan = 0  # bytes already searched for an event boundary: each is scanned once
            async for block in resp.content.iter_any():
                now = time.perf_counter() - sent
                buf += block.replace(b"\r\n", b"\n")
                last = buf.rfind(b"\n\n", scan)
                if last < 0:
                    scan = max(0, len(buf) - 1)
                    if len(buf) > MAX_EVENT_BYTES:
                        trace.error = f"a streamed event longer than {MAX_EVENT_BYTES:,} bytes"
                        return trace
                    continue
                events = bytes(buf[:last]).split(b"\n\n")
                del buf[: last + 2]
                scan = max(0, len(buf) - 1)
                for raw in events:
                    data = b"".join(line[5:].strip() for line in raw.split(b"\n")
                                    if line.startswith(b"data:"))  # fmt: skip
                    if not data or data == b"[DONE]":
                        continue
                    event = json.loads(data)
                    if not isinstance(event, dict):
                        continue
                    if event.get("error"):
                        trace.error = f"server error in stream: {str(event['error'])[:300]}"
                        return trace
                    usage = event.get("usage") or {}
                    if isinstance(usage.get("prompt_tokens"), int):
                        trace.prompt_tokens = usage["prompt_tokens"]
                    new, finish = _chunk_tokens(event, tokens)
                    if new > settings.length + EXTRA_TOKENS:  # a reply is bounded by its ask
                        trace.error = (f"the server streamed {new:,} tokens, more than the "
                                       f"{settings.length:,} asked")  # fmt: skip
                        return trace
                    if new > tokens:
                        tokens = new
                        trace.arrivals.append((tokens, now))
                    trace.finish_reason = finish or trace.finish_reason
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        trace.error = f"{type(exc).__name__}: {str(exc)[:300]}"
    if trace.error is None and trace.finish_reason is None:
        trace.error = "stream ended without a finish_reason"
    return trace


async def measure_level(settings: ServeSettings, concurrency: int,
                        on_done: Callable[[Trace], None] | None = None
                        ) -> tuple[list[Trace], float]:  # fmt: skip
    """max(generations, concurrency) generations, ``concurrency`` of them in flight."""
    count = max(settings.generations, concurrency)
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers,
                                     connector=connector) as session:  # fmt: skip
        start = time.perf_counter()

        async def one() -> Trace:
            async with gate:
                trace = await stream_one(session, settings, start)
            if on_done is not None:
                on_done(trace)
            return trace

        traces = await asyncio.gather(*(one() for _ in range(count)))
        wall = time.perf_counter() - start
    return list(traces), wall


def _progress(label: str, total: int) -> Callable[[Trace], None]:
    done = [0]

    def report(trace: Trace) -> None:
        done[0] += 1
        what = trace.error or (f"{trace.tokens:,} tokens, TTFT "
                               f"{(trace.ttft_s or 0):.3f} s, {trace.finish_reason}")  # fmt: skip
        print(f"{label}: generation {done[0]}/{total}: {what}", file=sys.stderr, flush=True)

    return report


async def check_endpoint(base_url: str, model: str, api_key: str | None) -> dict[str, Any]:
    """The endpoint's fingerprint; a one-line error when it cannot serve ``model``."""
    from m1eval.model.fingerprint import fetch_fingerprint

    fp = await fetch_fingerprint(base_url, api_key)
    ids = [m.get("id") for m in fp.get("models") or []]
    if model not in ids:
        raise EndpointError(f"{base_url} does not serve model {model!r} (it serves: "
                            f"{', '.join(map(str, ids)) or 'nothing'}); pass --model")  # fmt: skip
    return fp


def measure(settings: ServeSettings, label: str = "target"
            ) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[Trace]]]:  # fmt: skip
    """(fingerprint, one summary per concurrency level, the traces per level)."""
    try:
        fingerprint = asyncio.run(check_endpoint(settings.base_url, settings.model,
                                                 settings.api_key))  # fmt: skip
    except aiohttp.ClientConnectorError as exc:  # pragma: no cover - fetch_fingerprint maps
        raise EndpointError(f"cannot reach {settings.base_url}: "
                            f"{describe_os_error(exc.os_error)}") from None  # fmt: skip
    levels, traces = [], []
    for c in settings.concurrency:
        count = max(settings.generations, c)
        got, wall = asyncio.run(measure_level(settings, c, _progress(f"{label} c={c}", count)))
        levels.append(summarize_level(c, got, wall, settings.length, settings.buckets,
                                      settings.seed))  # fmt: skip
        traces.append(got)
    return fingerprint, levels, traces
