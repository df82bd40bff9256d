"""The resolved configuration of a run, and the hashes that identify runs and samples."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from m1eval.errors import ConfigError
from m1eval.hashing import stable_hash
from m1eval.protocols import CONTENT_FORMATS, SAMPLING_KEYS, Protocol
from m1eval.suite_specs import SuiteSpec

EMBEDDED = "embedded"


@dataclass
class RunConfig:
    """Everything that decides what a run asks and how it grades, plus how it executes.

    :meth:`identity` holds the part that changes answers (and so the config hash and the
    sample ids); ``limit``, ``repeats``, ``concurrency`` and the paths only decide how much
    is run and how fast, so a run can be extended or resumed under the same identity.
    """

    suite: str
    split: str
    protocol: str
    model: str
    base_url: str | None
    embedded: bool
    sampling: dict[str, Any]
    content_format: str
    system_prompt: str | None
    seed: int | None
    repeats: int
    limit: int | None
    concurrency: int
    results_dir: Path
    data_dir: Path | None
    run_id: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    def identity(self, dataset_sha256: str, manifest_sha256: str) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "split": self.split,
            "protocol": self.protocol,
            "model": self.model,
            "sampling": self.sampling,
            "content_format": self.content_format,
            "system_prompt": self.system_prompt,
            "seed": self.seed,
            "extra_body": self.extra_body,
            "dataset_sha256": dataset_sha256,
            "suite_manifest_sha256": manifest_sha256,
        }

    def resolved_run_id(self, config_hash: str) -> str:
        if self.run_id:
            return self.run_id
        return f"{slug(self.suite)}-{slug(self.model)}-{self.protocol}-{config_hash[:8]}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["results_dir"] = str(self.results_dir)
        out["data_dir"] = str(self.data_dir) if self.data_dir else None
        return out


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-").lower() or "model"


def validate_run_id(run_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", run_id):
        raise ConfigError(
            f"invalid --run-id {run_id!r}: use letters, digits, '.', '_' and '-' (max 128)"
        )
    return run_id


def resolve_sampling(
    spec: SuiteSpec, protocol: Protocol, overrides: dict[str, Any]
) -> dict[str, Any]:
    """Suite protocol < harness config < command line."""
    sampling = {k: spec.method[k] for k in SAMPLING_KEYS if k in spec.method}
    sampling.update(protocol.sampling)
    sampling.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("temperature", "top_p", "min_p", "presence_penalty", "top_k"):
        if key in sampling and (isinstance(sampling[key], bool)
                                or not isinstance(sampling[key], int | float)):  # fmt: skip
            raise ConfigError(f"{key} must be a number, got {sampling[key]!r}")
    # the ranges OpenAI-compatible servers accept (vLLM refuses others with a 400 per sample)
    if "temperature" in sampling and not 0 <= sampling["temperature"] <= 2:
        raise ConfigError(f"temperature must be between 0 and 2, got {sampling['temperature']}")
    if "top_p" in sampling and not 0 < sampling["top_p"] <= 1:
        raise ConfigError(f"top_p must be in (0, 1], got {sampling['top_p']}")
    if "min_p" in sampling and not 0 <= sampling["min_p"] <= 1:
        raise ConfigError(f"min_p must be between 0 and 1, got {sampling['min_p']}")
    if "presence_penalty" in sampling and not -2 <= sampling["presence_penalty"] <= 2:
        raise ConfigError(f"presence_penalty must be between -2 and 2, "
                          f"got {sampling['presence_penalty']}")  # fmt: skip
    top_k = sampling.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or top_k < -1):
        raise ConfigError(f"top_k must be -1 (off), 0 (off) or a positive integer, got {top_k}")
    mt = sampling.get("max_tokens")
    if mt is not None and (not isinstance(mt, int) or mt < 1):
        raise ConfigError(f"max_tokens must be a positive integer, got {mt!r}")
    return sampling


def check_content_format(fmt: str) -> str:
    if fmt not in CONTENT_FORMATS:
        raise ConfigError(f"content format must be one of {', '.join(CONTENT_FORMATS)}")
    return fmt


def sample_id(
    suite: str, item_id: str, repeat: int, model: str, sampling: dict[str, Any],
    prompt_sha256: str, request_sha256: str | None = None,
) -> str:  # fmt: skip
    """Identity of one sample: what was asked (the rendered messages' hash, and the hash of
    whatever else shapes the suite's requests), of which model, how."""
    key = {
        "suite": suite,
        "item_id": item_id,
        "repeat": repeat,
        "model": model,
        "sampling": sampling,
        "prompt_sha256": prompt_sha256,
    }
    if request_sha256 is not None:  # suites with one plain request keep their old ids
        key["request_sha256"] = request_sha256
    return stable_hash(key)[:32]


def per_sample_seed(seed: int | None, item_id: str, repeat: int) -> int | None:
    """A distinct, reproducible seed for each (item, repeat) derived from the run seed."""
    if seed is None:
        return None
    return int(stable_hash([seed, item_id, repeat])[:8], 16) & 0x7FFFFFFF


def parse_shard(text: str) -> tuple[int, int]:
    """``i/N`` (0 <= i < N) from ``--shard``."""
    match = re.fullmatch(r"(\d{1,6})/(\d{1,6})", text.strip())
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise ConfigError(f"--shard {text!r}: use i/N with 0 <= i < N, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def shard_of(sample_id_: str, count: int) -> int:
    """The shard a sample belongs to: a fixed function of its id, so every shard of a run,
    on any machine, agrees on the split without talking to the others."""
    return int(sample_id_[:16], 16) % count


def shard_run_id(run_id: str, index: int, count: int) -> str:
    return f"{run_id}-shard-{index}of{count}"
