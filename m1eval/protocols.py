"""Run protocols (``protocols/*.yaml``): sampling and message format per model setup.

A protocol is what the paper varied between model columns: the thinking budget (max_tokens),
sampling, and how messages are shaped for the model's chat template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from m1eval.chat_templates import template_path
from m1eval.errors import ConfigError
from m1eval.paths import protocols_dir

CONTENT_FORMATS = ("string", "parts")
TEMPLATE_ROLES = ("default", "tools")
SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "top_k", "min_p", "presence_penalty")


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    sampling: dict[str, Any]
    content_format: str = "string"
    system_prompt: str | None = None
    paper_column: str | None = None
    tokenizer: str = "auto"  # for suites that measure prompts: auto, server, o200k, hf:NAME
    # shipped chat template per kind of request: "default" (the server's) and "tools"
    chat_templates: dict[str, str] = field(default_factory=dict)
    # the context window the protocol is served with (prompt + budget, tokens): what a prompt
    # must fit, by the harness's own count, not to be left out as too long
    context_window: int | None = None
    path: Path | None = field(default=None, compare=False)


def available_protocols() -> list[str]:
    return sorted(p.stem for p in protocols_dir().glob("*.yaml"))


def load_protocol(name_or_path: str) -> Protocol:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and not path.is_file():
        raise ConfigError(f"no protocol file {path} (a protocol is a known name or a .yaml "
                          f"file; known: {', '.join(available_protocols()) or 'none'})")
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = protocols_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            known = ", ".join(available_protocols()) or "none"
            raise ConfigError(f"unknown protocol '{name_or_path}' (known protocols: {known})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"malformed YAML in {path}{where}: {problem}") from None
    except (RecursionError, ValueError) as exc:
        raise ConfigError(f"unreadable protocol {path}: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"harness config {path} must be a mapping")
    sampling = raw.get("sampling") or {}
    if not isinstance(sampling, dict):
        raise ConfigError(f"harness config {path}: 'sampling' must be a mapping")
    unknown = sorted(set(sampling) - set(SAMPLING_KEYS))
    if unknown:
        raise ConfigError(f"harness config {path}: unknown sampling keys {unknown}")
    fmt = raw.get("content_format", "string")
    if fmt not in CONTENT_FORMATS:
        raise ConfigError(f"harness config {path}: content_format must be one of {CONTENT_FORMATS}")
    templates = raw.get("chat_templates") or {}
    if not isinstance(templates, dict) or set(templates) - set(TEMPLATE_ROLES):
        raise ConfigError(f"harness config {path}: chat_templates takes "
                          f"{', '.join(TEMPLATE_ROLES)}")  # fmt: skip
    for name in templates.values():
        template_path(str(name))
    window = raw.get("context_window")
    if window is not None and (not isinstance(window, int) or isinstance(window, bool)
                               or window < 1):  # fmt: skip
        raise ConfigError(f"harness config {path}: context_window must be a positive integer")
    return Protocol(
        name=str(raw.get("name") or path.stem),
        description=str(raw.get("description") or ""),
        sampling=dict(sampling),
        content_format=fmt,
        system_prompt=raw.get("system_prompt"),
        paper_column=raw.get("paper_column"),
        tokenizer=str(raw.get("tokenizer") or "auto"),
        chat_templates={k: str(v) for k, v in templates.items()},
        context_window=window,
        path=path,
    )
