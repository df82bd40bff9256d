"""Stable content hashes: canonical JSON in, hex digest out."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any


def _default(obj: Any) -> Any:
    # Arrow hands timestamps back as datetime objects and binary columns as bytes.
    if isinstance(obj, _dt.datetime | _dt.date):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.hex()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def canonical_json(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default
    )


def stable_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON form of ``obj``."""
    # surrogatepass: a lone surrogate in model text hashes (identically for valid text)
    return hashlib.sha256(canonical_json(obj).encode("utf-8", "surrogatepass")).hexdigest()
