"""Suite name -> adapter. A new suite is one adapter module plus one spec.

Adapters are found, not listed: every module of :mod:`m1eval.suites` (and the lm-eval
bridge, which sits above the suites it extends) is imported once and each :class:`Suite`
subclass with an ``adapter_name`` is registered under it, so a spec's ``adapter:`` names a
class without any edit here. The command line's suite options come from the same classes.
The registry sits above both packages, so neither imports it.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from m1eval.errors import ConfigError
from m1eval.suite_specs import SuiteSpec, load_suite_spec
from m1eval.suites.base import Suite, adapter_classes
from m1eval.suites.options import Option

EXTRA_MODULES = ("m1eval.lmeval.suite",)


@cache
def adapters() -> dict[str, type[Suite]]:
    """``adapter name -> class`` for every adapter module that imports."""
    import m1eval.suites as package

    names = [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    for module in (*names, *EXTRA_MODULES):
        importlib.import_module(module)
    found: dict[str, type[Suite]] = {}
    for cls in adapter_classes():
        if cls.adapter_name and cls.__module__.startswith("m1eval."):
            found.setdefault(cls.adapter_name, cls)
    return found


def all_options() -> list[tuple[Option, str]]:
    """Every declared suite option once, with the adapters that read it (for the CLI)."""
    seen: dict[str, tuple[Option, list[str]]] = {}
    for name, cls in sorted(adapters().items()):
        for opt in cls.declared_options:
            seen.setdefault(opt.name, (opt, []))[1].append(name)
    return [(opt, ", ".join(owners)) for opt, owners in seen.values()]


def get_suite(name_or_manifest: str | SuiteSpec, options: dict[str, Any] | None = None) -> Suite:
    if isinstance(name_or_manifest, str) and name_or_manifest.startswith("lm-eval:"):
        from m1eval.lmeval.suite import LmEvalSuite

        return LmEvalSuite(name_or_manifest, options)
    spec = (
        name_or_manifest
        if isinstance(name_or_manifest, SuiteSpec)
        else load_suite_spec(name_or_manifest)
    )
    adapter = adapters().get(spec.adapter)
    if adapter is None or spec.adapter == "lm_eval":
        raise ConfigError(
            f"suite spec {spec.path}: unknown adapter '{spec.adapter}' "
            f"(known: {', '.join(sorted(a for a in adapters() if a != 'lm_eval'))})"
        )
    return adapter(spec, options)
