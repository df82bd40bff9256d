"""Replies that say the server is configured wrong for the run, not that the model failed.

A server-configuration error is the deployment's fault: charged to the model it would lower the
score, and left as an infra error it would be re-asked forever. ``m1eval run`` stops at the
first one with its fix (and ``m1eval doctor`` and the run's preflight name the same fixes).
"""

from __future__ import annotations

import re

from m1eval.errors import IdentityError, ServingError

__all__ = ["IdentityError", "ServingError", "configuration_fault", "tool_calls_as_text"]

TOOL_PARSER_FIX = "start vLLM with --enable-auto-tool-choice --tool-call-parser minimax"
TRUST_TEMPLATE_FIX = "start vLLM with --trust-request-chat-template"
MODEL_FIX = ("name a model the server's /v1/models lists (--model; for a judge or a user "
             "simulator, --judge-model or --user-model)")

# (what the server says, what it means, the fix): vLLM's own messages (0.23's
# serve/render/serving.py and openai/engine/serving.py; the same words since 0.10)
_FAULTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"tool choice requires --enable-auto-tool-choice"),
     "tool calling is off", TOOL_PARSER_FIX),
    (re.compile(r"--trust-request-chat-template is not set"),
     "the server refuses the request's chat template", TRUST_TEMPLATE_FIX),
    (re.compile(r"The model `[^`]{0,200}` does not exist"),
     "the server does not serve the model", MODEL_FIX),
    (re.compile(r"tool_choice=.{0,60} requires --tool-call-parser to be set"),
     "the server has no tool parser for the tool choice sent", TOOL_PARSER_FIX),
)  # fmt: skip


def configuration_fault(status: int | None, message: str) -> tuple[str, str] | None:
    """``(what it means, its fix)`` when a refused request is a server-configuration error."""
    if status not in (400, 404, 422):
        return None
    for pattern, meaning, fix in _FAULTS:
        if pattern.search(message):
            return meaning, fix
    return None


def tool_calls_as_text(answer: str, tool_calls: list | None, tools_sent: bool) -> bool:
    """A tools request whose reply holds M1's tool-call block as text and no parsed call: the
    server's tool parser did not read it (or the model wrote the block itself, which only a
    probe can tell apart)."""
    return tools_sent and not tool_calls and "<tool_calls>" in answer
