"""What answers a run: an endpoint's identity, checked on resume, on every copy behind a router
and on merge, so that one number comes from one model.

The identity is what the server serves, not where: the model card (its id and window; not the
weights' local path), the vLLM version, the SHA-256 of its rendering of a probe conversation,
and its *behaviour*: the text of a fixed prompt at temperature 0 with a fixed seed, a few
dozen tokens. Other weights under the same name and card answer otherwise. A busy server's
greedy decoding is not always repeatable (batches change the arithmetic), so the behaviour is
recorded when two of up to three answers agree (else marked unstable and not compared), and
matched when any of up to five answers equals the recorded one: a server whose greedy answer
differs under load one time in ten is refused by chance one time in 100,000 (0.1^5).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import aiohttp

from m1eval.model.client import PROBE_HEADER, ChatClient, ClientSettings
from m1eval.model.retry import RetryPolicy
from m1eval.model.types import RequestFailed
from m1eval.serving.probe import rendered_probe

BEHAVIOUR_PROMPT = [{"role": "user", "content": "Name twelve unrelated English words, "
                     "separated by commas, and nothing else."}]  # fmt: skip
BEHAVIOUR_PARAMS = {"temperature": 0.0, "seed": 0, "max_tokens": 32}
ASKS = 3  # to record: two of up to three answers agree
MATCH_ASKS = 5  # to match: any of up to five answers equals the record
CARD_FIELDS = ("id", "max_model_len")  # what a model card says about what is served


def card_of(fingerprint: dict[str, Any], model: str) -> dict[str, Any] | None:
    card = next((m for m in fingerprint.get("models") or [] if m.get("id") == model), None)
    return None if card is None else {k: card.get(k) for k in CARD_FIELDS}


def _probe_settings(settings: ClientSettings) -> ClientSettings:
    return ClientSettings(base_url=settings.base_url, model=settings.model,
                          api_key=settings.api_key, content_format=settings.content_format,
                          retry=RetryPolicy(max_attempts=2, base_delay_s=0.5),
                          min_request_timeout_s=120.0, extra_body=settings.extra_body,
                          headers={PROBE_HEADER: "identity"})


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def _answer(client: ChatClient) -> str | None:
    try:
        c = await client.complete(BEHAVIOUR_PROMPT, dict(BEHAVIOUR_PARAMS))
    except RequestFailed:
        return None
    return f"{c.reasoning}\x00{c.answer}"


async def behaviour(settings: ClientSettings) -> dict[str, Any]:
    """The fixed prompt's answer: ``{"sha256", "stable"}`` (stable when two of up to three
    answers agree; sha256 None when the server would not answer)."""
    seen: Counter[str] = Counter()
    async with ChatClient(_probe_settings(settings)) as client:
        for _ in range(ASKS):
            text = await _answer(client)
            if text is None:
                return {"sha256": None, "stable": False}
            seen[_sha(text)] += 1
            top, count = seen.most_common(1)[0]
            if count >= 2:
                return {"sha256": top, "stable": True}
    return {"sha256": seen.most_common(1)[0][0], "stable": False}


async def matches_behaviour(settings: ClientSettings, recorded: dict[str, Any]) -> bool:
    """Whether the server still answers the fixed prompt as recorded (any of up to five
    answers; an unstable or missing record is not compared)."""
    if not recorded.get("stable") or not recorded.get("sha256"):
        return True
    async with ChatClient(_probe_settings(settings)) as client:
        for _ in range(MATCH_ASKS):
            text = await _answer(client)
            if text is not None and _sha(text) == recorded["sha256"]:
                return True
    return False


async def rendering_sha256(base_url: str, model: str, api_key: str | None) -> str | None:
    """SHA-256 of the server's rendering of the probe conversation (None: it cannot say)."""
    root = base_url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                     headers=headers) as session:  # fmt: skip
        rendered, _ = await rendered_probe(session, root, model)
    return _sha(rendered) if rendered is not None else None


async def identity(fingerprint: dict[str, Any], settings: ClientSettings) -> dict[str, Any]:
    """The identity of the model ``settings`` asks at the endpoint ``fingerprint`` describes."""
    version = fingerprint.get("version")
    return {
        "model": card_of(fingerprint, settings.model),
        "version": version.get("version") if isinstance(version, dict) else version,
        "template_probe_sha256": await rendering_sha256(settings.base_url, settings.model,
                                                        settings.api_key),
        "behaviour": await behaviour(settings),
    }


def differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two identities, besides behaviour (compared by asking)."""
    out = []
    names = {"model": "model card (id or window)", "version": "vLLM version",
             "template_probe_sha256": "chat template rendering"}  # fmt: skip
    for key, what in names.items():
        if before.get(key) != now.get(key):
            out.append(f"{what}: {_show(before.get(key))} then, {_show(now.get(key))} now")
    return out


def recorded_behaviour_differs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two recorded behaviours that are both stable and differ (nothing can be re-asked)."""
    x, y = a.get("behaviour") or {}, b.get("behaviour") or {}
    return bool(x.get("stable") and y.get("stable") and x.get("sha256") != y.get("sha256"))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "none"
    if isinstance(value, str) and len(value) == 64:
        return f"sha256 {value[:12]}"
    return str(value)
