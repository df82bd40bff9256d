"""The chat templates MiniMax-M1 is served with, shipped in the package and rendered as vLLM
renders them.

``minimax_m1`` is the plain layout every text suite is prompted with; ``minimax_m1_tools``
adds the tool list, tool-call turns and tool results (TAU-bench). A vLLM profile names a
template and the launcher passes its absolute path; a protocol says which template each kind of
request is rendered with, and the run manifest records the name and SHA-256 of each.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from m1eval.errors import ConfigError

TEMPLATES_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.jinja"))


def template_path(name: str) -> Path:
    """The absolute path of a shipped template, by name (``minimax_m1``)."""
    path = TEMPLATES_DIR / f"{name}.jinja"
    if not path.is_file():
        raise ConfigError(f"unknown chat template '{name}' (shipped: {', '.join(available())})")
    return path


def template_text(name: str) -> str:
    return template_path(name).read_text(encoding="utf-8")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe(name: str) -> dict[str, str]:
    """What a manifest records of a shipped template: its name and SHA-256."""
    return {"name": name, "sha256": text_sha256(template_text(name))}


class TemplateRefused(ValueError):
    """The template raised (``raise_exception``) or could not render the conversation."""


def _raise(message: str) -> None:
    raise TemplateRefused(message)


def _tojson(value: Any, indent: int | None = None) -> str:
    # as Hugging Face templates see it: no HTML escaping, non-ASCII kept
    return json.dumps(value, ensure_ascii=False, indent=indent)


@functools.lru_cache(maxsize=32)
def _compile(text: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])  # fmt: skip
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    return env.from_string(text)


def render(text: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
           add_generation_prompt: bool = True) -> str:  # fmt: skip
    """The prompt a template makes of a conversation, as a Hugging Face tokenizer (and so vLLM)
    renders it; :class:`TemplateRefused` when the template refuses the conversation."""
    try:
        return _compile(text).render(messages=messages, tools=tools,
                                     add_generation_prompt=add_generation_prompt)  # fmt: skip
    except TemplateRefused:
        raise
    except (TemplateError, TypeError, AttributeError) as exc:
        raise TemplateRefused(f"{type(exc).__name__}: {exc}") from None


def plan(chat_templates: dict[str, str], uses_tools: bool, embedded: bool
         ) -> dict[str, Any] | None:  # fmt: skip
    """Which shipped template a suite's requests are rendered with and how it reaches the
    server: the server's default (its ``--chat-template``) for text suites, sent per request
    for suites whose requests carry tools. None when the protocol names no templates or the
    server is the embedded model (llama.cpp renders with its own chat format)."""
    if embedded or not chat_templates:
        return None
    if uses_tools and "tools" in chat_templates:
        name = chat_templates["tools"]
        return {**describe(name), "delivered": "per request (chat_template)"}
    if "default" not in chat_templates:
        return None
    name = chat_templates["default"]
    return {**describe(name), "delivered": "server default (--chat-template)"}


def per_request_text(planned: dict[str, Any] | None) -> str | None:
    """The template text to send with each tools request, when the plan says so."""
    if planned is None or not planned["delivered"].startswith("per request"):
        return None
    return template_text(planned["name"])


def check_served(planned: dict[str, Any] | None, protocol: Any,
                 serving: dict[str, Any] | None) -> None:  # fmt: skip
    """Refuse a run whose server (its serving fingerprint) renders with another default
    template than the protocol's: every prompt would differ from the one recorded."""
    served = (serving or {}).get("chat_template_sha256")
    default = (getattr(protocol, "chat_templates", None) or {}).get("default")
    if planned is None or served is None or default is None:
        return
    expected = describe(default)
    if served != expected["sha256"]:
        name = (serving or {}).get("chat_template_name") or (serving or {}).get("chat_template")
        raise ConfigError(
            f"the server's chat template ({name}, sha256 {served[:12]}) is not "
            f"protocol {protocol.name}'s {default} (sha256 "
            f"{expected['sha256'][:12]}): serve with the profile's template"
        )
