"""Small questions to a server that are not completions: how it renders a conversation."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

PROBE_MESSAGES = [
    {"role": "system", "content": "You are a careful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
]


async def post_json(session: aiohttp.ClientSession, url: str, body: dict[str, Any]
                    ) -> tuple[int, Any]:  # fmt: skip
    async with session.post(url, json=body) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


def error_text(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(body.get("message") or err)
    return str(body)[:300]


async def rendered_probe(session: aiohttp.ClientSession, root: str, model: str,
                         extra: dict[str, Any] | None = None
                         ) -> tuple[str | None, str | None]:  # fmt: skip
    """(the prompt the server renders of the probe conversation, or why it cannot say):
    ``/tokenize`` the messages, then ``/detokenize`` the tokens (vLLM)."""
    try:
        status, tok = await post_json(session, f"{root}/tokenize",
                                      {"model": model, "messages": PROBE_MESSAGES,
                                       **(extra or {})})  # fmt: skip
        if status == 404:
            return None, "the server has no /tokenize"
        if status != 200 or not isinstance(tok, dict) or "tokens" not in tok:
            return None, f"/tokenize answered HTTP {status}: {error_text(tok)}"
        status, detok = await post_json(
            session, f"{root}/detokenize", {"model": model, "tokens": tok["tokens"]}
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        return None, f"/tokenize failed: {exc or type(exc).__name__}"
    if status != 200 or not isinstance(detok, dict) or "prompt" not in detok:
        return None, f"/detokenize answered HTTP {status}"
    return str(detok["prompt"]), None
