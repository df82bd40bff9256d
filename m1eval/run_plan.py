"""A run's plan: what it asks (its identity and samples), what it is called and where it lives.

Every command that produces a run (``run``, ``merge``, ``swe-bench grade``, ``swe-bench
validate-gold``) makes one :class:`RunPlan` and ends through :func:`m1eval.run_files.finish_run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.config import RunConfig, shard_of, shard_run_id, validate_run_id
from m1eval.data import LoadedDataset
from m1eval.hashing import stable_hash
from m1eval.protocols import Protocol
from m1eval.runner import PlannedSample, plan_samples
from m1eval.suite_specs import spec_sha256
from m1eval.suites.base import Item, Suite


@dataclass
class RunPlan:
    config: RunConfig
    suite: Suite
    protocol: Protocol
    dataset: LoadedDataset
    items: list[Item]
    identity: dict[str, Any]  # what the config hash is taken over
    config_hash: str
    run_id: str
    planned: list[PlannedSample]
    template: dict[str, Any] | None = None  # the chat template sent, when the protocol names one
    shard: dict[str, Any] | None = None  # {"index", "count", "run_id" of the whole run}

    @property
    def run_dir(self) -> Path:
        return self.config.results_dir / self.run_id


def make_plan(
    config: RunConfig,
    suite: Suite,
    protocol: Protocol,
    dataset: LoadedDataset,
    items: list[Item],
    identity_extra: dict[str, Any] | None = None,
    template: dict[str, Any] | None = None,
    shard: tuple[int, int] | None = None,
) -> RunPlan:
    """The plan of a run: identity (the configuration, the suite's options, then
    ``identity_extra``), its hash, the run id, and the samples (only shard ``(i, N)``'s)."""
    identity = config.identity(dataset.content_sha256, spec_sha256(suite.spec))
    identity["suite_options"] = suite.identity()
    identity.update(identity_extra or {})
    config_hash = stable_hash(identity)
    run_id = validate_run_id(config.resolved_run_id(config_hash))
    planned = plan_samples(suite, items, config.repeats, config.model, config.sampling,
                           config.seed, config.system_prompt)  # fmt: skip
    shard_info = None
    if shard is not None:
        index, count = shard
        planned = [p for p in planned if shard_of(p.sample_id, count) == index]
        shard_info = {"index": index, "count": count, "run_id": run_id}
        run_id = validate_run_id(shard_run_id(run_id, index, count))
    return RunPlan(config, suite, protocol, dataset, items, identity, config_hash, run_id,
                   planned, template, shard_info)  # fmt: skip


def recorded_plan(
    manifest: dict[str, Any],
    config: RunConfig,
    suite: Suite,
    protocol: Protocol,
    dataset: LoadedDataset,
    items: list[Item],
    run_id: str,
) -> RunPlan:
    """The plan of a run as its manifest recorded it (identity and hash as written then; the
    samples planned again from the configuration), for ``m1eval merge``."""
    planned = plan_samples(suite, items, config.repeats, config.model, config.sampling,
                           config.seed, config.system_prompt)  # fmt: skip
    return RunPlan(config, suite, protocol, dataset, items, dict(manifest.get("identity") or {}),
                   str(manifest["config_hash"]), validate_run_id(run_id), planned,
                   manifest.get("chat_template"))  # fmt: skip
