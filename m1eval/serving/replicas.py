"""Several copies of the model behind one router: find them, fingerprint each, refuse copies
that would not answer alike.

m1eval talks to one ``--base-url`` (the router). The copies behind it are the ``--replica URL``
the user lists, or the router's own worker list (vllm-router's ``/list_workers``). Each copy
is asked what it serves (``/v1/models``), which vLLM it is (``/version``) and how it renders a
probe conversation (``/tokenize`` + ``/detokenize``); any difference between copies — another
model revision or window, another vLLM, another template — would mix two models in one run,
so the run is refused before anything is asked.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiohttp

from m1eval.errors import EndpointError
from m1eval.model.fingerprint import fetch_fingerprint
from m1eval.serving.probe import rendered_probe

COMPARED = ("model", "version", "template_probe_sha256")


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


async def describe_replica(url: str, model: str, api_key: str | None = None) -> dict[str, Any]:
    fp = await fetch_fingerprint(_root(url) + "/v1", api_key)
    card = next((m for m in fp["models"] if m.get("id") == model), None)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                     headers=headers) as session:  # fmt: skip
        rendered, _ = await rendered_probe(session, _root(url), model)
    version = fp.get("version")
    probe_sha = hashlib.sha256(rendered.encode()).hexdigest() if rendered is not None else None
    return {
        "url": _root(url),
        "model": card,
        "version": version.get("version") if isinstance(version, dict) else version,
        "template_probe_sha256": probe_sha,
        "fingerprint_hash": fp["hash"],
    }


def check_alike(replicas: list[dict[str, Any]], model: str) -> None:
    """Refuse copies that differ in what they serve, their vLLM or their template."""
    for r in replicas:
        if r["model"] is None:
            raise EndpointError(f"replica {r['url']} does not serve {model}")
    first = replicas[0]
    for r in replicas[1:]:
        for key in COMPARED:
            if r[key] != first[key]:
                what = {"model": "model (id, revision or window)", "version": "vLLM version",
                        "template_probe_sha256": "chat template"}[key]  # fmt: skip
                raise EndpointError(
                    f"replicas differ in {what}: {first['url']} has {_show(first[key])}, "
                    f"{r['url']} has {_show(r[key])}; one run must be answered by one model"
                )


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, str) and len(value) == 64:
        return f"sha256 {value[:12]}"
    return str(value)


async def replica_fingerprints(base_url: str, listed: list[str], model: str,
                               api_key: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Every copy's description (none when there is one server and no router), checked to
    be alike."""
    urls = sorted(set(listed or await router_workers(base_url, api_key)))
    if not urls:
        return []
    replicas = await asyncio.gather(*(describe_replica(u, model, api_key) for u in urls))
    check_alike(list(replicas), model)
    return list(replicas)
