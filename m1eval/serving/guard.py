"""Every request of a run passes here: a reply that is a server-configuration error stops the
run with its fix (:class:`~m1eval.errors.ServingError`) instead of being charged to the model
or re-asked forever.

Two kinds are told apart: a refused request whose message is vLLM's own configuration error
(tool calling off, request templates untrusted, the model not served), and a tools request
answered with M1's tool-call block as text and no parsed call. The second can also be the
model's own text (a model may write anything), so it stops the run only when a probe confirms
it: the same tool round trip the preflight makes, made once; if the server parses the probe's
call, the reply was the model's and is graded as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from m1eval.errors import ServingError
from m1eval.model.client import ChatClient
from m1eval.model.types import Completion, RequestFailed
from m1eval.serving.faults import TOOL_PARSER_FIX, configuration_fault, tool_calls_as_text

ToolProbe = Callable[[], Awaitable[bool]]  # True: the server parses M1's tool calls


def stopped(meaning: str, fix: str, evidence: str) -> ServingError:
    return ServingError(f"the server cannot serve this run: {meaning} ({evidence}); fix: {fix}; "
                        "the run stopped, nothing was charged to the model: rerun the same "
                        "command after the fix to continue")  # fmt: skip


class GuardedClient:
    """A :class:`ChatClient` whose configuration faults stop the run."""

    def __init__(self, client: ChatClient, tool_probe: ToolProbe | None = None) -> None:
        self.client = client
        self.settings = client.settings
        self._tool_probe = tool_probe
        self._parser_works: bool | None = None
        self._lock = asyncio.Lock()

    @property
    def retries(self) -> int:
        return self.client.retries

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any],
                       sample_id: str | None = None, session_id: str | None = None
                       ) -> Completion:  # fmt: skip
        try:
            c = await self.client.complete(messages, params, sample_id=sample_id,
                                           session_id=session_id)  # fmt: skip
        except RequestFailed as failure:
            fault = configuration_fault(failure.status, failure.cause)
            if fault is not None:
                raise stopped(*fault, f"a request was refused: {failure.cause[:200]}") from None
            raise
        if tool_calls_as_text(c.answer, c.tool_calls, bool(params.get("tools"))) \
                and not await self.parser_works():  # fmt: skip
            raise stopped("tool calls come back as text", TOOL_PARSER_FIX,
                          "a reply held <tool_calls> and no parsed call, and so did a probe")
        return c

    async def parser_works(self) -> bool:
        """Whether the server parses M1's tool calls (the probe, made once per run)."""
        if self._tool_probe is None:
            return True
        async with self._lock:
            if self._parser_works is None:
                self._parser_works = await self._tool_probe()
        return self._parser_works
