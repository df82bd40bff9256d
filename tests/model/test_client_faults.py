"""The client against a real local server that misbehaves on purpose (testing.stub_server)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from m1eval.model.client import ChatClient, ClientSettings
from m1eval.model.retry import RetryPolicy, parse_retry_after
from m1eval.model.types import RequestFailed
from m1eval.testing.stub_server import StubConfig, StubServer

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05)
MESSAGES = [{"role": "user", "content": "What is 7 + 5?"}]


def _settings(server: StubServer, **kw) -> ClientSettings:
    return ClientSettings(
        base_url=server.base_url, model="stub-model", retry=FAST_RETRY, stall_timeout_s=1.0, **kw
    )


async def _complete_many(settings: ClientSettings, ids: list[str]):
    async with ChatClient(settings) as client:

        async def one(sid: str):
            try:
                return await client.complete(MESSAGES, {"max_tokens": 16}, sample_id=sid)
            except RequestFailed as err:
                return err

        return await asyncio.gather(*(one(s) for s in ids))


@pytest.mark.parametrize("fault", ["http500", "http429", "drop", "malformed", "stall", "nofinish"])
def test_each_fault_is_retried_to_success(fault: str) -> None:
    config = StubConfig(fault_rate=1.0, faults=(fault,), max_faults_per_sample=1, stall_s=3.0)
    with StubServer(config) as server:
        results = asyncio.run(_complete_many(_settings(server), ["s1", "s2"]))
        stats = server.state.snapshot()
    for r in results:
        assert not isinstance(r, RequestFailed), r
        assert r.attempts == 2
        assert r.answer == r.answer.strip() and "\\boxed{" in r.answer
        assert r.reasoning == "Let me think about it step by step."
        assert r.finish_reason == "stop"
    assert stats["faults"] == {fault: 2}
    assert stats["requests"] == 4


def test_a_silence_mid_reply_is_cut_short_and_the_retry_goes_to_another_copy() -> None:
    """Once tokens flow, a copy that goes silent (hung, SIGSTOPped) is given up after the
    token gap, not the long first-token allowance; the retry carries another session key, so
    a router's consistent hash sends it elsewhere."""
    config = StubConfig(fault_rate=1.0, faults=("stall",), max_faults_per_sample=1, stall_s=5.0)
    with StubServer(config) as server:
        settings = ClientSettings(base_url=server.base_url, model="stub-model",
                                  retry=FAST_RETRY, stall_timeout_s=60.0, token_gap_s=0.5)
        started = time.perf_counter()

        async def go():
            async with ChatClient(settings) as client:
                return await client.complete(MESSAGES, {"max_tokens": 16}, sample_id="s",
                                             session_id="item-1")  # fmt: skip

        completion = asyncio.run(go())
        elapsed = time.perf_counter() - started
        sessions = list(server.state.sessions)
    assert completion.attempts == 2 and completion.finish_reason == "stop"
    assert elapsed < 4.0  # the 5 s stall was not waited out
    assert sessions == ["item-1", "item-1~2"]


def test_retries_are_bounded_and_the_cause_is_reported() -> None:
    config = StubConfig(always_fail=frozenset({"doomed"}), faults=("http500",))
    with StubServer(config) as server:
        [result] = asyncio.run(_complete_many(_settings(server), ["doomed"]))
        stats = server.state.snapshot()
    assert isinstance(result, RequestFailed)
    assert result.attempts == FAST_RETRY.max_attempts
    assert "HTTP 500" in result.cause and "gave up after 4 attempts" in result.cause
    assert stats["attempts"]["doomed"] == FAST_RETRY.max_attempts


def test_non_retryable_status_is_not_retried() -> None:
    with StubServer() as server:
        settings = ClientSettings(
            base_url=server.base_url.replace("/v1", "/nope"), model="m", retry=FAST_RETRY
        )
        [result] = asyncio.run(_complete_many(settings, ["x"]))
    assert isinstance(result, RequestFailed)
    assert result.attempts == 1 and "HTTP 404" in result.cause


def test_retry_after_is_honoured() -> None:
    config = StubConfig(
        fault_rate=1.0, faults=("http429",), max_faults_per_sample=1, retry_after_s=0.5
    )
    with StubServer(config) as server:
        start = time.perf_counter()
        [result] = asyncio.run(_complete_many(_settings(server), ["s"]))
        elapsed = time.perf_counter() - start
    assert not isinstance(result, RequestFailed)
    assert elapsed >= 0.5  # our own backoff (<= 0.05 s) alone would be far quicker


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a past date: now


def test_usage_block_is_used_when_present() -> None:
    with StubServer() as server:
        [r] = asyncio.run(_complete_many(_settings(server), ["u"]))
    # the stub's usage block, like vLLM's, has no reasoning_tokens: those are counted from
    # the stream, and the record says so
    assert r.usage_source == "server; reasoning estimated from the stream"
    assert r.reasoning_tokens is not None and r.reasoning_tokens > 0
    assert r.prompt_tokens == len("What is 7 + 5?") // 4
    assert r.ttft_s is not None and r.ttft_s <= r.latency_s


def test_parts_content_format_is_sent_as_list() -> None:
    with StubServer() as server:
        settings = _settings(server, content_format="parts")
        client = ChatClient(settings)
        payload = client.build_payload(MESSAGES, {"temperature": 1.0})
        assert payload["messages"][0]["content"] == [{"type": "text", "text": "What is 7 + 5?"}]
        assert payload["temperature"] == 1.0 and payload["stream"] is True
        [r] = asyncio.run(_complete_many(settings, ["p"]))
    assert not isinstance(r, RequestFailed)


def test_timeouts_grow_with_budget_and_prompt_size() -> None:
    s = ClientSettings(base_url="http://x/v1", model="m")
    # an 80K-token budget and a ~1M-token prompt (4 MB of JSON)
    assert s.request_timeout(81920, 4_000_000) == pytest.approx(600 + 8192 + 480)
    assert s.prefill_allowance(4_000_000) == pytest.approx(480)
    assert s.request_timeout(None) == 600


def test_error_bodies_are_parsed_whole_then_shortened() -> None:
    """vLLM's refusal sits behind other fields in its older body and runs past 200 characters;
    the message must arrive whole (the MRCR budget fit reads its numbers)."""
    from m1eval.model.client import _error_message

    message = ("This model's maximum context length is 1000000 tokens. However, you requested "
               "1031920 tokens (950000 in the messages, 81920 in the completion). Please reduce "
               "the length of the messages or completion.")  # fmt: skip
    older = json.dumps({"object": "error", "type": "BadRequestError", "param": None,
                        "code": 400, "detail": "x" * 400, "message": message})  # fmt: skip
    newer = json.dumps({"error": {"message": message, "type": "BadRequestError", "code": 400}})
    assert _error_message(older) == message == _error_message(newer)
    assert _error_message("not json\n  at all") == "not json at all"
    assert _error_message("") == "(empty body)"
    assert len(_error_message(json.dumps({"error": "y" * 5000}))) == 500


def test_an_unresolvable_host_is_named_as_such() -> None:
    import socket

    from m1eval.model.client import describe_os_error

    err = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert describe_os_error(err) == "cannot resolve the host name (Name or service not known)"
    assert describe_os_error(ConnectionRefusedError(111, "refused")) == "Connection refused"
