"""The streaming reader splits server-sent events in bulk: the result must not depend on how
the socket cuts the bytes (mid-line, mid-JSON, between CR and LF), on line endings, on
comments and keep-alives, or on multi-line data fields."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m1eval.model.client import _read_stream
from m1eval.model.types import RequestFailed


def _event(delta: dict, finish: str | None = None) -> str:
    return (
        "data: "
        + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        + "\n\n"
    )


STREAM = ("".join([
    ": keep-alive comment\n\n",
    _event({"role": "assistant", "content": ""}),
    _event({"content": "<think>Let me"}),
    _event({"content": " see.</think>The ünïcode answer"}),
    "event: ignored-name\n" + _event({"content": " is 42"}),
    # one event whose data spans two lines (joined with a newline, per the SSE spec)
    'data: {"choices": [{"index": 0, "delta": {"content": "!"},\ndata: "finish_reason": null}]}'
    "\n\n",
    _event({}, "stop"),
    'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 6}}\n\n',
    "data: [DONE]\n\n",
])).encode()  # fmt: skip


class _Content:
    def __init__(self, blocks: list[bytes]) -> None:
        self.blocks = blocks

    async def iter_any(self):
        for block in self.blocks:
            yield block


class _Response:
    def __init__(self, blocks: list[bytes]) -> None:
        self.content = _Content(blocks)


def _read(blocks: list[bytes]):
    return asyncio.run(_read_stream(_Response(blocks), 0.0))  # type: ignore[arg-type]


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def test_whole_stream() -> None:
    c = _read([STREAM])
    assert c.reasoning == "Let me see."
    assert c.answer == "The ünïcode answer is 42!"
    assert c.finish_reason == "stop" and c.completion_tokens == 6 and c.prompt_tokens == 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
       st.sampled_from(["\n", "\r\n", "\r"]))  # fmt: skip
def test_any_cut_and_any_line_ending_reads_the_same(cuts: list[int], eol: str) -> None:
    data = STREAM.decode().replace("\n", eol).encode()
    c = _read(_cut(data, cuts))
    assert (c.answer, c.reasoning, c.finish_reason, c.completion_tokens) == (
        "The ünïcode answer is 42!",
        "Let me see.",
        "stop",
        6,
    )


def test_byte_by_byte() -> None:
    c = _read([STREAM[i : i + 1] for i in range(len(STREAM))])
    assert c.answer == "The ünïcode answer is 42!"


def test_a_stream_cut_short_is_retryable() -> None:
    head = STREAM[: STREAM.index(b"event: ignored")]  # at an event boundary
    with pytest.raises(RequestFailed, match="before the reply was complete") as err:
        _read([head])
    assert err.value.retryable
    mid_json = STREAM[: STREAM.index(b"is 42")]  # the connection dropped inside an event
    with pytest.raises(RequestFailed, match="malformed JSON") as err:
        _read([mid_json])
    assert err.value.retryable
    no_finish = STREAM.replace(b'"finish_reason": "stop"', b'"finish_reason": null')
    with pytest.raises(RequestFailed, match="without a finish_reason"):
        _read([no_finish])


def test_last_event_without_its_blank_line_still_counts() -> None:
    c = _read([STREAM.removesuffix(b"data: [DONE]\n\n")])
    assert c.finish_reason == "stop" and c.completion_tokens == 6


def test_what_orjson_refuses_is_read_as_the_standard_library_reads_it() -> None:
    from m1eval.model.client import _loads

    with pytest.raises(RequestFailed, match="expected a JSON object"):
        _loads(b"NaN")  # json reads a float; not an event
    assert _loads(b'{"x": NaN}')["x"] != 0  # json's NaN, which orjson refuses
    with pytest.raises(RequestFailed, match="malformed JSON"):
        _loads(b'{"choices": [')
