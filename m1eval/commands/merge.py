"""``m1eval merge SHARD_DIR...``: join the shards of one run (``m1eval run --shard i/N``) into
the run an unsharded invocation would have written.

The shards must be every shard of one configuration (same config hash, same count, each index
once) and each must hold every sample of its shard. The merge plans the run again from the
recorded configuration (so sample ids and their order are the unsharded run's), writes
``samples.jsonl`` in that order, rebuilds ``summary.json`` with the same code a run uses, and
writes a manifest that keeps every shard's provenance (run directory, endpoint, invocations).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from m1eval.config import RunConfig, shard_of
from m1eval.errors import ConfigError, IdentityError
from m1eval.protocols import load_protocol
from m1eval.registry import get_suite
from m1eval.run_files import finish_run, now_iso
from m1eval.run_plan import RunPlan, recorded_plan
from m1eval.serving.identity import differences, recorded_behaviour_differs
from m1eval.store import MANIFEST, PROMPTS, SAMPLES, SUMMARY, RunStore, read_samples_file
from m1eval.suites.base import RunContext


def _manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{run_dir} is not a run directory ({MANIFEST}: {exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shard"), dict):
        raise ConfigError(f"{run_dir} is not a shard (it was not run with --shard)")
    return manifest


def _check_shards(manifests: list[dict[str, Any]], dirs: list[Path]) -> int:
    hashes = {m.get("config_hash") for m in manifests}
    if len(hashes) > 1:
        raise ConfigError("the shards come from different configurations (config hashes "
                          f"{', '.join(sorted(str(h)[:12] for h in hashes))}): merge the "
                          "shards of one run")  # fmt: skip
    counts = {m["shard"].get("count") for m in manifests}
    if len(counts) > 1:
        raise ConfigError(f"the shards split the run differently (counts {sorted(counts)})")
    count = int(counts.pop())
    seen: dict[int, Path] = {}
    for m, d in zip(manifests, dirs, strict=True):
        index = int(m["shard"].get("index"))
        if index in seen:
            raise ConfigError(f"shard {index}/{count} given twice ({seen[index]} and {d})")
        seen[index] = d
    missing = sorted(set(range(count)) - set(seen))
    if missing:
        raise ConfigError(f"shards {', '.join(f'{i}/{count}' for i in missing)} are missing")
    return count


def rebuild_config(manifest: dict[str, Any], results_dir: Path, data_dir: Path | None
                   ) -> RunConfig:  # fmt: skip
    raw = dict(manifest["config"])
    raw["results_dir"] = results_dir
    raw["data_dir"] = (
        data_dir
        if data_dir is not None
        else (Path(raw["data_dir"]) if raw.get("data_dir") else None)
    )
    return RunConfig(**raw)


def merge_shards(shard_dirs: list[Path], results_dir: Path, data_dir: Path | None = None,
                 allow_endpoint_change: bool = False) -> Path:  # fmt: skip
    """Write the merged run under ``results_dir`` and return its directory."""
    if not shard_dirs:
        raise ConfigError("name the shard run directories to merge")
    manifests = [_manifest(d) for d in shard_dirs]
    count = _check_shards(manifests, shard_dirs)
    changes = _endpoint_differences(manifests, shard_dirs)
    if changes and not allow_endpoint_change:
        raise IdentityError(f"the shards were answered by different servers ({changes[0]}); "
                            "one run must be answered by one model; merge them with "
                            "--allow-endpoint-change to join them deliberately (recorded)")
    by_index = sorted(
        zip(manifests, shard_dirs, strict=True), key=lambda md: md[0]["shard"]["index"]
    )
    first = by_index[0][0]
    plan = _plan(first, results_dir, data_dir)
    records, texts = _shard_records(by_index, count)
    lacking = [p for p in plan.planned if p.sample_id not in records]
    if lacking:
        shards = sorted({shard_of(p.sample_id, count) for p in lacking})
        raise ConfigError(f"{len(lacking)} samples are missing (shards "
                          f"{', '.join(f'{i}/{count}' for i in shards)}): rerun those shards "
                          "to finish them, then merge")  # fmt: skip
    if (plan.run_dir / MANIFEST).exists():
        raise ConfigError(f"{plan.run_dir} exists already: merge into another --results-dir")
    shard_summaries = [_shard_summary(d, plan.suite.name) for _, d in by_index]
    store = RunStore(plan.run_dir)
    store.open(plan.config_hash)  # the directory's lock, held while it is written
    try:
        store.replace_samples(texts[p.sample_id] for p in plan.planned)
        store.replace_prompts(_joined_prompts([d for _, d in by_index]))
        manifest = _merged_manifest(plan, by_index, count)
        if changes:
            manifest.update(endpoint_changes=changes, allow_endpoint_change=True)
        finish_run(store, plan, manifest,
                   adjust=lambda s: plan.suite.merge_summaries(s, shard_summaries))  # fmt: skip
    finally:
        store.close()
    return plan.run_dir


def _endpoint_differences(manifests: list[dict[str, Any]], dirs: list[Path]) -> list[str]:
    """How each shard's server differs from the first shard's (their recorded identities:
    model card, vLLM version, template rendering, answers to the fixed prompt)."""
    first = manifests[0].get("endpoint") or {}
    out = []
    for m, d in zip(manifests[1:], dirs[1:], strict=True):
        other = m.get("endpoint") or {}
        a, b = first.get("identity"), other.get("identity")
        if isinstance(a, dict) and isinstance(b, dict):
            found = differences(a, b)
            if not found and recorded_behaviour_differs(a, b):
                found = ["answers: the fixed prompt at temperature 0 was answered otherwise"]
        else:  # shards from before identities: what their servers said of themselves
            found = (["their /models or /version answers"]
                     if first.get("hash") != other.get("hash") else [])  # fmt: skip
        out += [f"{dirs[0].name} and {d.name}: {f}" for f in found]
    return out


def _plan(first: dict[str, Any], results_dir: Path, data_dir: Path | None) -> RunPlan:
    """The whole run's plan, from the recorded configuration of its first shard."""
    config = rebuild_config(first, results_dir, data_dir)
    suite = get_suite(config.suite, (first.get("identity") or {}).get("suite_options") or {})
    suite.context = RunContext(base_url=config.base_url, model=config.model,
                               reported=dict(first.get("run_context") or {}))
    protocol = load_protocol(str(first["protocol"].get("path") or first["protocol"]["name"]))
    items, dataset = suite.load(config.split, config.data_dir)
    if config.limit is not None:
        items = items[: config.limit]
    return recorded_plan(first, config, suite, protocol, dataset, items,
                         first["shard"]["run_id"])  # fmt: skip


def _shard_records(by_index: list[tuple[dict[str, Any], Path]], count: int
                   ) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Every shard's records (without and with their texts), refusing samples of another
    shard."""
    records: dict[str, dict[str, Any]] = {}
    texts: dict[str, dict[str, Any]] = {}
    for manifest, d in by_index:
        index = manifest["shard"]["index"]
        found, _, _ = read_samples_file(d / SAMPLES)
        full, _, _ = read_samples_file(d / SAMPLES, keep_text=True)
        stray = [sid for sid in found if shard_of(sid, count) != index]
        if stray:
            raise ConfigError(f"{d} holds {len(stray)} samples of other shards")
        records.update(found)
        texts.update(full)
    return records, texts


def _merged_manifest(plan: RunPlan, by_index: list[tuple[dict[str, Any], Path]], count: int
                     ) -> dict[str, Any]:  # fmt: skip
    """The first shard's manifest as the whole run's, with every shard's provenance kept."""
    first = by_index[0][0]
    manifest = {k: v for k, v in first.items() if k not in ("shard", "invocations")}
    manifest.update({
        "run_id": plan.run_id, "status": "complete" if all(
            m.get("status") == "complete" for m, _ in by_index) else "incomplete",
        "created_at": min(str(m.get("created_at")) for m, _ in by_index),
        "ended_at": max(str(m.get("ended_at")) for m, _ in by_index),
        "merged_at": now_iso(), "invocations": [],
        "shards": [{"index": m["shard"]["index"], "count": count, "run_id": m["run_id"],
                    "run_dir": str(d.resolve()), "status": m.get("status"),
                    "endpoint": m.get("endpoint"), "serving": m.get("serving"),
                    "host": m.get("host"), "git": m.get("git"),
                    "invocations": m.get("invocations")} for m, d in by_index],
    })  # fmt: skip
    return manifest


def _shard_summary(run_dir: Path, suite: str) -> dict[str, Any]:
    try:
        return json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))["suites"][suite]
    except (OSError, ValueError, KeyError):
        return {}


def _joined_prompts(dirs: list[Path]) -> list[str]:
    seen: set[str] = set()
    lines = []
    for d in dirs:
        path = d / PROMPTS
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and line not in seen:
                seen.add(line)
                lines.append(line)
    return lines


HELP = "join the shards of a run (--shard i/N) into one run"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", nargs="+", type=Path, help="the shard run directories")
    parser.add_argument("--results-dir", default="results", type=Path,
                        help="where the merged run is written")  # fmt: skip
    parser.add_argument("--data-dir", type=Path,
                        help="the dataset, if not where the shards read it")  # fmt: skip
    parser.add_argument("--allow-endpoint-change", action="store_true",
                        help="join shards answered by servers that differ (recorded)")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    out = merge_shards(list(args.shards), args.results_dir, args.data_dir,
                       args.allow_endpoint_change)
    print(f"merged {len(args.shards)} shards: {out}")
    return 0
