"""The run's guard over every reply, with a scripted client (mocked: the case needs replies a
healthy server cannot be made to give): a model that writes M1's tool-call block as text
itself, on a server whose parser works, is graded as the model's text (the probe says the
server is fine, and is asked once per run); a refused request that is not a configuration
error stays a request failure."""

from __future__ import annotations

import asyncio

import pytest

from m1eval.errors import ServingError
from m1eval.model.types import Completion, RequestFailed
from m1eval.serving.guard import GuardedClient

TOOLS = {"tools": [{"type": "function", "function": {"name": "f"}}]}


class Scripted:
    def __init__(self, replies: list) -> None:
        self.replies, self.settings, self.retries = replies, None, 0

    async def complete(self, messages, params, sample_id=None, session_id=None):
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def _text(answer: str) -> Completion:
    return Completion.of_text(answer)


def test_a_model_writing_tool_text_on_a_working_server_is_graded_as_its_own() -> None:
    probes = []

    async def probe() -> bool:
        probes.append(1)
        return True

    crafted = _text("<tool_calls>\n{not json}\n</tool_calls>")
    guard = GuardedClient(Scripted([crafted, crafted]), probe)  # type: ignore[arg-type]
    assert asyncio.run(guard.complete([], TOOLS)) is crafted
    assert asyncio.run(guard.complete([], TOOLS)) is crafted
    assert probes == [1]  # one probe per run, whatever the model writes


def test_tool_text_on_a_server_without_the_parser_stops_the_run() -> None:
    async def probe() -> bool:
        return False

    guard = GuardedClient(Scripted([_text("<tool_calls>{}</tool_calls>")]), probe)  # type: ignore[arg-type]
    with pytest.raises(ServingError, match="tool calls come back as text"):
        asyncio.run(guard.complete([], TOOLS))
    plain = GuardedClient(Scripted([_text("<tool_calls>{}</tool_calls>")]), probe)  # type: ignore[arg-type]
    assert asyncio.run(plain.complete([], {})).answer.startswith("<tool_calls>")  # no tools sent


def test_only_configuration_errors_stop_the_run() -> None:
    other = RequestFailed("HTTP 400: This model's maximum context length is 4096 tokens",
                          retryable=False, status=400)  # fmt: skip
    guard = GuardedClient(Scripted([other]))  # type: ignore[arg-type]
    with pytest.raises(RequestFailed):
        asyncio.run(guard.complete([], {}))
    refused = RequestFailed('HTTP 400: "auto" tool choice requires --enable-auto-tool-choice '
                            "and --tool-call-parser to be set", retryable=False, status=400)
    with pytest.raises(ServingError, match=r"tool calling is off.*fix: start vLLM with"):
        asyncio.run(GuardedClient(Scripted([refused])).complete([], TOOLS))  # type: ignore[arg-type]
    server_error = RequestFailed("HTTP 500: The model `x` does not exist.", retryable=True,
                                 status=500)  # fmt: skip
    with pytest.raises(RequestFailed):  # only a refusal (4xx) can be a configuration error
        asyncio.run(GuardedClient(Scripted([server_error])).complete([], {}))  # type: ignore[arg-type]
