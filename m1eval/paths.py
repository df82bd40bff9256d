"""Where the project's declarative files live, in a checkout and in an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {name}/ folder of m1eval")


def suites_dir() -> Path:
    """Folder of suite manifests (``suites/*.yaml``); ``M1EVAL_SUITES_DIR`` overrides it."""
    override = os.environ.get("M1EVAL_SUITES_DIR")
    return Path(override) if override else _find("suites")


def protocols_dir() -> Path:
    """Folder of run protocols (``protocols/*.yaml``); ``M1EVAL_PROTOCOLS_DIR`` overrides it."""
    override = os.environ.get("M1EVAL_PROTOCOLS_DIR")
    return Path(override) if override else _find("protocols")


def vllm_profiles_dir() -> Path:
    """Folder of vLLM serving profiles (``vllm_profiles/*.yaml``)."""
    return _find("vllm_profiles")


def lm_eval_tasks_dir() -> Path:
    """Folder of the bundled lm-evaluation-harness task YAMLs (``lm_eval_tasks/``)."""
    return _find("lm_eval_tasks")


def smoke_data_dir() -> Path:
    """The package's own small ``smoke`` splits, laid out like a Hugging Face mirror."""
    return _PACKAGE / "smoke_data"


def cache_dir() -> Path:
    """Machine-wide cache for derived data (token counts); ``M1EVAL_CACHE_DIR`` overrides it."""
    override = os.environ.get("M1EVAL_CACHE_DIR")
    base = Path(override) if override else Path(os.environ.get("XDG_CACHE_HOME", "~/.cache"))
    return (base if override else base / "m1eval").expanduser()
