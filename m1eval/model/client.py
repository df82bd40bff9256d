"""Async client for OpenAI-compatible chat completions (vLLM, llama.cpp, hosted APIs).

One streaming request per sample. Streaming keeps an 80K-token generation alive through
proxies, gives time-to-first-token, and lets a stalled server be detected by silence rather
than by a multi-hour total timeout. Failures are classified once, here: 429, 5xx, timeouts,
dropped connections and malformed replies are retried with backoff; anything else (a 400, a
401) is final.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from m1eval import activity, boundedjson
from m1eval.model.reasoning import CLOSE, split_reasoning
from m1eval.model.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after
from m1eval.model.types import Completion, RequestFailed

SAMPLE_ID_HEADER = "X-M1eval-Sample-Id"
# on requests that are not samples (a run's preflight and identity probes): servers ignore it;
# the test servers keep such requests out of their sample counts
PROBE_HEADER = "X-M1eval-Probe"
# the routing key a router's consistent-hash policy reads (vllm-router: x-session-id): every
# request of one item (its repeats, an episode's turns) lands on one copy and reuses its
# prefix cache
SESSION_HEADER = "X-Session-Id"


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    model: str
    api_key: str | None = None
    content_format: str = "string"  # "string" or "parts" (a list of {"type": "text"} parts)
    connect_timeout_s: float = 30.0
    # Silence allowed before the first streamed event (a queue, then prefill: a 1M-token
    # prompt on a busy server takes minutes) ...
    stall_timeout_s: float = 900.0
    # ... and between two events once tokens flow: a generating server never pauses this
    # long (a preempted sequence waits seconds), a hung copy does
    token_gap_s: float = 300.0
    # Whole-request deadline grows with the budget: 80K tokens at a slow 10 tok/s is 2.2 h.
    min_request_timeout_s: float = 600.0
    seconds_per_token: float = 0.1
    # Prefill of a long prompt happens before the first byte comes back: both the silence
    # allowed and the deadline grow with the prompt (a 1M-token prompt is ~4 MB of JSON).
    prefill_seconds_per_mb: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_connections: int = 512
    extra_body: dict[str, Any] = field(default_factory=dict)
    # the chat template (its text) sent with every request that carries tools, for servers
    # whose default template has no tool turns (vLLM's per-request ``chat_template``)
    tools_chat_template: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request
    # a reply's text is bounded by its budget: a token is rarely more than a dozen characters,
    # so 64 per token (plus slack) is generous; more is the reply's failure, not kept
    reply_chars_per_token: int = 64
    reply_slack_chars: int = 1 << 16
    reply_max_chars: int = 64 << 20

    def request_timeout(self, max_tokens: int | None, prompt_bytes: int = 0) -> float:
        return (
            self.min_request_timeout_s
            + self.seconds_per_token * (max_tokens or 0)
            + self.prefill_allowance(prompt_bytes)
        )

    def reply_cap(self, max_tokens: int | None) -> int:
        """The most characters of reply (text and reasoning) a request may bring back."""
        if not max_tokens:
            return self.reply_max_chars
        return min(self.reply_max_chars, self.reply_chars_per_token * int(max_tokens)
                   + self.reply_slack_chars)  # fmt: skip

    def prefill_allowance(self, prompt_bytes: int) -> float:
        return self.prefill_seconds_per_mb * prompt_bytes / 1e6


def shape_content(messages: list[dict[str, Any]], content_format: str) -> list[dict[str, Any]]:
    """Shape message content for the server: plain strings, or lists of text parts."""
    if content_format == "string":
        return messages
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            m = {**m, "content": [{"type": "text", "text": content}]}
        out.append(m)
    return out


class ChatClient:
    """Use as ``async with ChatClient(settings) as client: await client.complete(...)``."""

    def __init__(self, settings: ClientSettings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        self.retries = 0

    async def __aenter__(self) -> ChatClient:
        s = self.settings
        headers = {"Content-Type": "application/json", **s.headers}
        if s.api_key:
            headers["Authorization"] = f"Bearer {s.api_key}"
        connector = aiohttp.TCPConnector(limit=s.max_connections, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=s.connect_timeout_s, sock_read=s.stall_timeout_s
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers, raise_for_status=False
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def url(self) -> str:
        return self.settings.base_url.rstrip("/") + "/chat/completions"

    def build_payload(
        self, messages: list[dict[str, Any]], sampling: dict[str, Any]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.settings.model,
            "messages": shape_content(messages, self.settings.content_format),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        payload.update({k: v for k, v in sampling.items() if v is not None})
        payload.update(self.settings.extra_body)
        if payload.get("tools") and self.settings.tools_chat_template is not None:
            payload["chat_template"] = self.settings.tools_chat_template
        return payload

    async def complete(
        self,
        messages: list[dict[str, Any]],
        sampling: dict[str, Any],
        *,
        sample_id: str | None = None,
        payload: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Completion:
        """Run one chat completion with retries; raise :class:`RequestFailed` when exhausted."""
        body = payload if payload is not None else self.build_payload(messages, sampling)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {SAMPLE_ID_HEADER: sample_id} if sample_id else {}
        if session_id:
            headers[SESSION_HEADER] = session_id
        policy = self.settings.retry
        deadline = self.settings.request_timeout(sampling.get("max_tokens"), len(data))
        stall = self.settings.stall_timeout_s + self.settings.prefill_allowance(len(data))
        max_chars = self.settings.reply_cap(sampling.get("max_tokens"))
        attempt = 0
        while True:
            attempt += 1
            if session_id and attempt > 1:
                # a retry after a stall or a dropped connection goes to another copy: a
                # router's consistent hash reads the session key (one request loses its
                # prefix-cache locality, not the item)
                headers[SESSION_HEADER] = f"{session_id}~{attempt}"
            try:
                async with asyncio.timeout(deadline):
                    completion = await self._attempt(data, headers, stall, max_chars)
                completion.attempts = attempt
                return completion
            except RequestFailed as failure:
                error = failure
            except aiohttp.ServerTimeoutError:
                error = RequestFailed(
                    f"server sent nothing for {stall:.0f} s",
                    retryable=True,
                )
            except TimeoutError:
                error = RequestFailed(f"no complete reply within {deadline:.0f} s", retryable=True)
            except (aiohttp.ClientError, ConnectionError) as exc:
                error = RequestFailed(_describe_connection_error(exc), retryable=True)
            if not error.retryable or attempt >= policy.max_attempts:
                error.attempts = attempt
                if error.retryable:
                    error.cause = f"{error.cause} (gave up after {attempt} attempts)"
                raise error
            self.retries += 1
            waiting = activity.CURRENT.backoff_started(retry_label(error))
            try:
                await asyncio.sleep(policy.delay(attempt, error.retry_after, self._rng))
            finally:
                activity.CURRENT.backoff_ended(waiting)

    async def _attempt(
        self, data: bytes, headers: dict[str, str] | None, stall_s: float,
        max_chars: int | None = None,
    ) -> Completion:
        assert self._session is not None, "use ChatClient as an async context manager"
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.settings.connect_timeout_s, sock_read=stall_s
        )
        request = activity.CURRENT.request_started()
        try:
            return await self._post(data, headers, timeout, started, request, max_chars)
        finally:
            activity.CURRENT.request_ended(request)

    async def _post(self, data: bytes, headers: dict[str, str] | None,
                    timeout: aiohttp.ClientTimeout, started: float, request: int,
                    max_chars: int | None = None) -> Completion:  # fmt: skip
        assert self._session is not None
        async with self._session.post(
            self.url, data=data, headers=headers, timeout=timeout
        ) as resp:
            if resp.status != 200:
                # the whole (bounded) body is parsed, then the message is shortened: a body cut
                # first is broken JSON and loses the server's words
                body = await resp.content.read(ERROR_BODY_BYTES)
                text = body.decode("utf-8", "replace")
                raise RequestFailed(
                    f"HTTP {resp.status}: {_error_message(text)}",
                    retryable=resp.status in RETRYABLE_STATUS,
                    retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                    status=resp.status,
                )
            ctype = resp.headers.get("Content-Type", "")
            if "text/event-stream" in ctype:
                return await _read_stream(resp, started, request, self.settings.token_gap_s,
                                          max_chars)  # fmt: skip
            limit = 4 * (max_chars or 0) + MAX_EVENT_BYTES
            parts, size = [], 0
            async for part in resp.content.iter_chunked(1 << 20):
                size += len(part)
                if size > limit:
                    raise ReplyTooLong(f"a reply body longer than {limit:,} bytes")
                parts.append(part)
            return _read_json(b"".join(parts), started, max_chars)


def retry_label(error: RequestFailed) -> str:
    """Why a request is retried, short enough to count: ``HTTP 503``, ``server sent
    nothing for 30 s``, ``connection refused``."""
    if error.status is not None:
        return f"HTTP {error.status}"
    return " ".join(error.cause.split(":")[0].split())[:48] or "a failed attempt"


class _Accumulator:
    """Collects streamed deltas and turns them into a :class:`Completion`."""

    __slots__ = (
        "chars",
        "content",
        "content_deltas",
        "finish_reason",
        "max_chars",
        "reasoning",
        "reasoning_deltas",
        "served_model",
        "started",
        "tool_calls",
        "ttft",
        "usage",
    )

    def __init__(self, started: float, max_chars: int | None = None) -> None:
        self.started = started
        self.max_chars = max_chars
        self.chars = 0
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.content_deltas = 0
        self.reasoning_deltas = 0
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.ttft: float | None = None
        self.served_model: str | None = None
        self.tool_calls: dict[int, dict[str, Any]] = {}

    def add(self, event: dict[str, Any]) -> None:
        if "error" in event and not event.get("choices"):
            raise RequestFailed(
                f"server error in stream: {_error_message(json.dumps(event['error']))}",
                retryable=True,
            )
        if event.get("usage"):
            self.usage = event["usage"]
        if self.served_model is None:
            self.served_model = event.get("model")
        for choice in event.get("choices") or ():
            delta = choice.get("delta") or choice.get("message") or {}
            text = delta.get("content")
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if text:
                self.content.append(text)
                self.content_deltas += 1
                self.chars += len(text)
            if thought:
                self.reasoning.append(thought)
                self.reasoning_deltas += 1
                self.chars += len(thought)

            for call in delta.get("tool_calls") or ():
                self._add_tool_call(call)
            if (text or thought or delta.get("tool_calls")) and self.ttft is None:
                self.ttft = time.perf_counter() - self.started
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def check_size(self) -> None:
        if self.max_chars is not None and self.chars > self.max_chars:
            raise ReplyTooLong(f"more than {self.max_chars:,} characters of reply")

    def _add_tool_call(self, call: dict[str, Any]) -> None:
        """Streamed tool calls arrive in pieces keyed by index; whole ones have no index."""
        index = call.get("index", len(self.tool_calls))
        slot = self.tool_calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if call.get("id"):
            slot["id"] = call["id"]
        fn = call.get("function") or {}
        if fn.get("name"):
            slot["function"]["name"] += fn["name"]
        args = fn.get("arguments")
        if args:
            text = args if isinstance(args, str) else json.dumps(args)
            slot["function"]["arguments"] += text
            self.chars += len(text)

    def finish(self) -> Completion:
        content = "".join(self.content)
        split = split_reasoning(content, "".join(self.reasoning))
        usage = self.usage or {}
        details = usage.get("completion_tokens_details") or {}
        if usage.get("completion_tokens") is not None:
            source = "server"
            completion_tokens = usage.get("completion_tokens")
            reasoning_tokens = details.get("reasoning_tokens")
        else:
            # No usage block (llama.cpp's server): servers stream one token per delta.
            source = "stream"
            completion_tokens = self.content_deltas + self.reasoning_deltas
            reasoning_tokens = None
        if reasoning_tokens is None:
            # Not reported by the server: estimated as one token per streamed reasoning delta,
            # and the record says so
            reasoning_tokens = self.reasoning_deltas + _deltas_before_close(self.content)
            if source == "server":
                source = "server; reasoning estimated from the stream"
        return Completion(
            answer=split.answer,
            reasoning=split.reasoning,
            finish_reason=self.finish_reason,
            reasoning_truncated=split.unclosed,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=completion_tokens,
            reasoning_tokens=reasoning_tokens,
            usage_source=source,
            ttft_s=self.ttft,
            latency_s=time.perf_counter() - self.started,
            attempts=1,
            served_model=self.served_model,
            tool_calls=[self.tool_calls[i] for i in sorted(self.tool_calls)] or None,
            answer_lead=split.lead,
        )


def _deltas_before_close(deltas: list[str]) -> int:
    """Number of content deltas up to and including the one that closes ``</think>``."""
    joined = "".join(deltas)
    end = joined.rfind(CLOSE)
    if end < 0:
        return 0 if not joined.lstrip().startswith("<think>") else len(deltas)
    end += len(CLOSE)
    seen = 0
    for i, d in enumerate(deltas):
        seen += len(d)
        if seen >= end:
            return i + 1
    return len(deltas)


async def _next_within(blocks: Any, gap_s: float) -> bytes:
    """The next block, or a retryable failure after ``gap_s`` of silence mid-reply."""
    try:
        async with asyncio.timeout(gap_s):
            return await anext(blocks)
    except aiohttp.ServerTimeoutError:
        raise
    except TimeoutError:
        raise RequestFailed(f"server went silent for {gap_s:.0f} s mid-reply",
                            retryable=True) from None


async def _read_stream(resp: aiohttp.ClientResponse, started: float,
                       request: int | None = None, token_gap_s: float | None = None,
                       max_chars: int | None = None) -> Completion:  # fmt: skip
    """Server-sent events, read in whatever blocks the socket gives and split in bulk (one
    await per block, not per line): the reader's CPU per streamed token bounds how many
    model copies one driver can keep up with. Each byte is scanned for event boundaries once
    (a huge event without its blank line costs linear time, and past MAX_EVENT_BYTES ends the
    reply), the reply's text is bounded by ``max_chars``, and once tokens flow,
    ``token_gap_s`` of silence is a stalled server (retried)."""
    acc = _Accumulator(started, max_chars)
    done = False
    buf = bytearray()
    scan = 0  # where the next search for an event boundary starts
    cr = False  # a block ended with CR: its LF may come with the next one
    seen = 0
    live = activity.CURRENT
    blocks = resp.content.iter_any().__aiter__()
    while True:
        try:
            block = await (_next_within(blocks, token_gap_s) if seen and token_gap_s
                           else anext(blocks))  # fmt: skip
        except StopAsyncIteration:
            break
        if cr:
            block, cr = b"\r" + block, False
        if b"\r" in block:  # CRLF or CR line ends: one form for the split below
            if block.endswith(b"\r"):
                block, cr = block[:-1], True
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if buf:  # the rest of an event: scan only what is new
            buf += block
            last = buf.rfind(b"\n\n", scan)
            data = bytes(buf[:last]) if last >= 0 else b""
            if last >= 0:
                del buf[: last + 2]
        else:  # the usual case: whole events in the block, split where they lie
            last = block.rfind(b"\n\n")
            data = block[:last] if last >= 0 else b""
            buf += block[last + 2 :] if last >= 0 else block
        scan = max(0, len(buf) - 1)
        if len(buf) > MAX_EVENT_BYTES:
            raise ReplyTooLong(f"a streamed event longer than {MAX_EVENT_BYTES:,} bytes")
        if last < 0:
            continue
        events = data.split(b"\n\n")
        for event in events:
            if _add_event(acc, event):
                done = True
                break
        acc.check_size()
        deltas = acc.content_deltas + acc.reasoning_deltas
        if deltas > seen:  # the display's live token count
            if not seen and request is not None:
                live.first_token(request)
            live.streamed_tokens += deltas - seen
            seen = deltas
        if done:
            break
    if not done and bytes(buf).strip(b"\r\n"):
        done = _add_event(acc, bytes(buf))
    if acc.finish_reason is None:
        # Every OpenAI-compatible server ends a reply with a finish_reason; a stream without
        # one was cut short (a restart, a proxy timeout, an interrupted request).
        why = "without a finish_reason" if done else "before the reply was complete"
        raise RequestFailed(f"stream ended {why}", retryable=True)
    return acc.finish()


def _add_event(acc: _Accumulator, event: bytes) -> bool:
    """Feed one event's data to ``acc``; True at ``[DONE]``."""
    if event.startswith(b"data:") and b"\n" not in event:  # the usual one-line event
        payload = event[5:].lstrip()
    else:
        lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
        if not lines:
            return False  # comments, event names, keep-alives
        payload = b"\n".join(lines)
    if payload == b"[DONE]":
        return True
    acc.add(_loads(payload))
    return False


def _read_json(body: bytes, started: float, max_chars: int | None = None) -> Completion:
    acc = _Accumulator(started, max_chars)
    acc.add(_loads(body))
    acc.check_size()
    if acc.finish_reason is None:
        raise RequestFailed("reply has no finish_reason", retryable=True)
    return acc.finish()


def _loads(payload: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        event = _loads_slow(payload)  # what orjson refuses and json reads: NaN, huge integers
    if not isinstance(event, dict):
        raise RequestFailed("malformed reply: expected a JSON object", retryable=True)
    return event


def _loads_slow(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):  # JSON, UTF-8, nesting, digits past the limit
        snippet = payload[:80].decode("utf-8", "replace")
        raise RequestFailed(f"malformed JSON from server: {snippet!r}", retryable=True) from None


ERROR_BODY_BYTES = 64 * 1024  # an error body read past this is the server's problem
MAX_EVENT_BYTES = 8 * 1024 * 1024  # one streamed event: a token's chunk is some 300 bytes


class ReplyTooLong(RequestFailed):
    """A reply beyond its budget (text far past ``max_tokens``, or an event without end): the
    model's (or its server's) doing, graded a model failure, never kept whole in memory."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"reply exceeded its budget: {cause}", retryable=False)
ERROR_MESSAGE_CHARS = 500  # vLLM's longest refusal (context length) is about 250


def _error_message(text: str) -> str:
    """The server's message from an error body (OpenAI's ``{"error": {"message": ...}}`` or
    anything else), on one line, at most ``ERROR_MESSAGE_CHARS`` characters."""
    try:
        obj = boundedjson.loads(text, max_depth=16)
    except (ValueError, RecursionError):
        return " ".join(text.split())[:ERROR_MESSAGE_CHARS] or "(empty body)"
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            err = err.get("message") or err
        obj = err
    return " ".join(str(obj).split())[:ERROR_MESSAGE_CHARS]


def describe_os_error(err: OSError | None) -> str:
    """'Connection refused' rather than asyncio's 'Connect call failed (...)'."""
    if err is None:
        return "connection failed"
    if isinstance(err, socket.gaierror) or (err.errno is not None and err.errno < 0):
        # getaddrinfo's codes are negative: os.strerror reads them as "Unknown error -2"
        return f"cannot resolve the host name ({err.strerror or 'name resolution failed'})"
    if err.errno:
        return os.strerror(err.errno)
    return err.strerror or str(err) or type(err).__name__


def _describe_connection_error(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({describe_os_error(exc.os_error)})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection mid-reply"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "connection dropped mid-stream"
    text = str(exc) or type(exc).__name__
    return f"connection error: {text}"
