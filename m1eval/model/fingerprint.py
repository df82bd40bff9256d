"""What served the numbers: the endpoint's own description of itself."""

from __future__ import annotations

from typing import Any

import aiohttp

from m1eval.errors import EndpointError
from m1eval.hashing import stable_hash
from m1eval.model.client import describe_os_error


async def fetch_fingerprint(
    base_url: str, api_key: str | None = None, timeout_s: float = 30.0
) -> dict[str, Any]:
    """Query ``/models`` (required) and vLLM's ``/version`` (when present).

    Raises :class:`EndpointError` when the endpoint cannot be reached or does not answer
    ``/models`` like an OpenAI-compatible server: failing here, before any run directory is
    created, leaves nothing half-written.
    """
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            async with session.get(f"{base}/models") as resp:
                if resp.status != 200:
                    raise EndpointError(
                        f"{base}/models answered HTTP {resp.status}; is this an "
                        "OpenAI-compatible server (base URL usually ends in /v1)?"
                    )
                try:
                    models = await resp.json(content_type=None)
                except ValueError:
                    raise EndpointError(f"{base}/models did not return JSON") from None
            version = None
            root = base[: -len("/v1")] if base.endswith("/v1") else base
            try:
                async with session.get(f"{root}/version") as resp:
                    if resp.status == 200:
                        version = await resp.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError):
                version = None
    except aiohttp.ClientConnectorError as exc:
        reason = describe_os_error(exc.os_error)
        raise EndpointError(f"cannot reach model server at {base}: {reason}") from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise EndpointError(
            f"cannot reach model server at {base}: {exc or type(exc).__name__}"
        ) from None
    data = models.get("data") if isinstance(models, dict) else None
    if not isinstance(data, list):
        raise EndpointError(f"{base}/models returned no 'data' list")
    served = [
        {k: m.get(k) for k in ("id", "root", "max_model_len", "owned_by") if k in m}
        for m in data
        if isinstance(m, dict)
    ]
    fingerprint: dict[str, Any] = {"base_url": base, "models": served, "version": version}
    fingerprint["hash"] = stable_hash({"models": served, "version": version})
    return fingerprint
