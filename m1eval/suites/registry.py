"""Suite name -> adapter. A new suite is one adapter module plus one manifest."""

from __future__ import annotations

from typing import Any

from m1eval.errors import ConfigError
from m1eval.manifests import SuiteManifest, load_manifest
from m1eval.suites.aime import AimeSuite
from m1eval.suites.base import Suite
from m1eval.suites.livecodebench import LiveCodeBenchSuite
from m1eval.suites.longbench_v2 import LongBenchV2Suite
from m1eval.suites.mrcr import MrcrSuite
from m1eval.suites.swe_bench import SweBenchSuite
from m1eval.suites.tau_bench import TauBenchSuite

ADAPTERS: dict[str, type[Suite]] = {
    "aime": AimeSuite,
    "mrcr": MrcrSuite,
    "longbench_v2": LongBenchV2Suite,
    "livecodebench": LiveCodeBenchSuite,
    "swe_bench": SweBenchSuite,
    "tau_bench": TauBenchSuite,
}


def get_suite(
    name_or_manifest: str | SuiteManifest, options: dict[str, Any] | None = None
) -> Suite:
    if isinstance(name_or_manifest, str) and name_or_manifest.startswith("lm-eval:"):
        from m1eval.lmeval.suite import LmEvalSuite

        return LmEvalSuite(name_or_manifest, options)
    lm_eval_only = {k: v for k, v in (options or {}).items()
                    if k in ("lm_eval_include", "num_fewshot") and v is not None}  # fmt: skip
    if lm_eval_only:
        flags = ", ".join("--" + k.replace("_", "-") for k in lm_eval_only)
        raise ConfigError(f"{flags} applies to lm-eval:<task> suites only")
    options = {k: v for k, v in (options or {}).items()
               if k not in ("lm_eval_include", "num_fewshot")}  # fmt: skip
    manifest = (
        name_or_manifest
        if isinstance(name_or_manifest, SuiteManifest)
        else load_manifest(name_or_manifest)
    )
    adapter = ADAPTERS.get(manifest.adapter)
    if adapter is None:
        raise ConfigError(
            f"suite manifest {manifest.path}: unknown adapter '{manifest.adapter}' "
            f"(known: {', '.join(sorted(ADAPTERS))})"
        )
    return adapter(manifest, options)
