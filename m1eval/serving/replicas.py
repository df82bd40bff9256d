"""Several copies of the model behind one router: find them, fingerprint each, refuse copies
that would not answer alike.

m1eval talks to one ``--base-url`` (the router). The copies behind it are the ``--replica URL``
the user lists, or the router's own worker list (vllm-router's ``/list_workers``). Each copy's
identity (:mod:`m1eval.serving.identity`) is taken: what it serves (its model card's id and
window, not the weights' local path), which vLLM it is, how it renders a probe conversation,
and how it answers a fixed prompt at temperature 0. Any difference between copies would mix two
models in one run, so the run is refused before anything is asked. A copy that cannot be
reached is named with the way out (``--replica`` with the live copies).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from m1eval.errors import EndpointError, IdentityError
from m1eval.model.client import ClientSettings
from m1eval.model.fingerprint import fetch_fingerprint
from m1eval.serving.identity import behaviour, card_of, differences, rendering_sha256


def _root(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


async def router_workers(base_url: str, api_key: str | None = None) -> list[str]:
    """The copies a router lists (vllm-router ``GET /list_workers`` -> ``{"urls": [...]}``);
    empty when the server is not such a router."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
                    session.get(f"{_root(base_url)}/list_workers") as resp):  # fmt: skip
            if resp.status != 200:
                return []
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return []
    urls = body.get("urls") if isinstance(body, dict) else None
    return [str(u) for u in urls if isinstance(u, str)] if isinstance(urls, list) else []


async def describe_replica(url: str, model: str, api_key: str | None = None,
                           content_format: str = "string") -> dict[str, Any]:  # fmt: skip
    try:
        fp = await fetch_fingerprint(_root(url) + "/v1", api_key)
    except EndpointError as err:
        raise EndpointError(f"replica {_root(url)}: {err}; name the live copies with "
                            "--replica URL (repeatable)") from None
    version = fp.get("version")
    settings = ClientSettings(base_url=_root(url) + "/v1", model=model, api_key=api_key,
                              content_format=content_format)  # fmt: skip
    card = card_of(fp, model)
    return {
        "url": _root(url),
        "model": card,
        "version": version.get("version") if isinstance(version, dict) else version,
        "template_probe_sha256": await rendering_sha256(settings.base_url, model, api_key),
        "behaviour": await behaviour(settings) if card is not None else None,
        "fingerprint_hash": fp["hash"],
    }


def check_alike(replicas: list[dict[str, Any]], model: str) -> None:
    """Refuse copies that differ in what they serve, their vLLM, their template or their
    answers."""
    for r in replicas:
        if r["model"] is None:
            raise EndpointError(f"replica {r['url']} does not serve {model}")
    first = replicas[0]
    for r in replicas[1:]:
        found = differences(first, r)
        x, y = first.get("behaviour") or {}, r.get("behaviour") or {}
        if not found and x.get("stable") and y.get("stable") and x["sha256"] != y["sha256"]:
            found = ["answers: the fixed prompt at temperature 0 answers otherwise"]
        if found:
            raise IdentityError(f"replicas differ ({first['url']} and {r['url']}): "
                                f"{found[0]}; one run must be answered by one model")


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, str) and len(value) == 64:
        return f"sha256 {value[:12]}"
    return str(value)


async def replica_fingerprints(base_url: str, listed: list[str], model: str,
                               api_key: str | None = None, content_format: str = "string"
                               ) -> list[dict[str, Any]]:  # fmt: skip
    """Every copy's description (none when there is one server and no router), checked to
    be alike."""
    urls = sorted(set(listed or await router_workers(base_url, api_key)))
    if not urls:
        return []
    replicas = await asyncio.gather(*(describe_replica(u, model, api_key, content_format)
                                      for u in urls))  # fmt: skip
    check_alike(list(replicas), model)
    return list(replicas)
