"""``m1eval swe-bench grade | validate-gold | build-selftest``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from m1eval.config import RunConfig
from m1eval.errors import ConfigError
from m1eval.evaluate import build_summary, run_manifest, suite_spec_sha
from m1eval.fsutil import atomic_write_text
from m1eval.hashing import stable_hash
from m1eval.protocols import Protocol
from m1eval.records import MODEL_FAILURE, SampleRecord
from m1eval.store import RunStore
from m1eval.swebench.grading import InstanceResult, grade_predictions, swebench_version
from m1eval.swebench.predictions import read_predictions


def swe_bench_command(args: argparse.Namespace) -> int:
    if args.action == "build-selftest":
        from m1eval.sandbox.image import docker_client, image_exists
        from m1eval.testing.swebench_selftest import IMAGE, build_image

        client = docker_client()
        if image_exists(client, IMAGE):
            print(f"{IMAGE} already exists")
            return 0
        print(f"building {IMAGE}: a Debian root from {args.mirror} with the instance's "
              "repository (about a minute)", flush=True)  # fmt: skip
        build_image(client, mirror=args.mirror)
        print(f"built {IMAGE}")
        return 0
    from m1eval.suites import get_suite

    suite = get_suite("swe-bench", {"subset": args.subset})
    items, dataset = suite.load(args.split, args.data_dir)
    instances = {i.item_id: i.row for i in items}
    if args.instances:
        wanted = [s.strip() for s in args.instances.split(",") if s.strip()]
        unknown = [w for w in wanted if w not in instances]
        if unknown:
            raise ConfigError(f"unknown instance id {unknown[0]!r} (or not in --subset)")
        instances = {w: instances[w] for w in wanted}
    if args.action == "grade":
        every_id = {r["instance_id"] for r in dataset.rows(["instance_id"])}
        predictions = [p for p in read_predictions(args.predictions, every_id)
                       if p["instance_id"] in instances]  # fmt: skip
        label = str(args.predictions)
    else:
        predictions = [{"instance_id": iid, "model_name_or_path": "gold",
                        "model_patch": row["patch"]} for iid, row in instances.items()]  # fmt: skip
        label = "gold"
    run_id = (
        args.run_id
        or f"swe-bench-{args.action}-"
        + stable_hash([label, sorted(instances), [p["model_patch"] for p in predictions]])[:10]
    )
    run_dir = Path(args.results_dir) / run_id
    results = grade_predictions(
        instances, predictions, run_id, run_dir / "harness", args.max_workers, args.timeout,
        allow_missing_images=args.skip_missing_images,
    )  # fmt: skip
    records = _records(instances, predictions, results)
    summary = _write_run(args, suite, dataset, run_id, run_dir, label, records)
    _print(summary["suites"]["swe-bench"], run_dir)
    if args.action == "validate-gold":
        failing = [r for r in records if not (r["score"] or 0) >= 1]
        lines = [f"{r['item_id']}\t{r['outcome']}\t{r['error'] or 'not resolved'}"
                 for r in failing]  # fmt: skip
        atomic_write_text(run_dir / "gold_failures.txt", "".join(x + "\n" for x in lines))
        print(f"{len(failing)} of {len(records)} gold patches do not resolve here "
              f"-> {run_dir / 'gold_failures.txt'}")  # fmt: skip
    return 0


def _write_run(
    args: argparse.Namespace, suite: Any, dataset: Any, run_id: str, run_dir: Path,
    label: str, records: list[dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """The graded predictions as a run like any other: through the store, with the run
    manifest and summary builders every run uses (so every reader can read it)."""
    protocol = Protocol(name=f"swe-bench-{args.action}", description=f"predictions: {label}",
                        sampling={}, paper_column=None)  # fmt: skip
    config = RunConfig(
        suite=suite.name, split=args.split or suite.spec.dataset.split,
        protocol=protocol.name, model=label, base_url=None, embedded=False, sampling={},
        content_format="string", system_prompt=None, seed=None, repeats=1, limit=None,
        concurrency=args.max_workers, results_dir=Path(args.results_dir),
        data_dir=Path(args.data_dir) if args.data_dir else None, run_id=run_id,
    )  # fmt: skip
    identity = config.identity(dataset.content_sha256, suite_spec_sha(suite.spec))
    identity["suite_options"] = {**suite.identity(), "timeout": args.timeout,
                                 "instances": sorted(r["item_id"] for r in records)}  # fmt: skip
    config_hash = stable_hash(identity)
    store = RunStore(run_dir)
    done = store.open(config_hash)
    try:
        store.drop(list(done))  # a regrade replaces the records it made before
        for record in records:
            store.append(record)
        endpoint = {"base_url": None, "models": [], "version": None, "hash": None}
        manifest = run_manifest(store, run_id, config, config_hash, identity, suite.spec,
                                protocol, dataset, endpoint)  # fmt: skip
        manifest["swebench_version"] = swebench_version()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        manifest["invocations"].append({
            "started_at": now, "ended_at": now, "argv": ["m1eval", "swe-bench", args.action],
            "requested": len(records), "status": "complete"})  # fmt: skip
        manifest["status"], manifest["ended_at"] = "complete", now
        summary = build_summary(run_id, config_hash, config, suite, protocol, dataset, records)
        summary["swebench_version"], summary["predictions"] = swebench_version(), label
        store.write_summary(summary)
        manifest["summary_sha256"] = stable_hash(summary)
        store.write_manifest(manifest)
    finally:
        store.close()
    return summary


def _records(
    instances: dict[str, dict[str, Any]],
    predictions: list[dict[str, Any]],
    results: list[InstanceResult],
) -> list[dict[str, Any]]:
    by_id = {r.instance_id: r for r in results}
    patches = {p["instance_id"]: p for p in predictions}
    out = []
    for iid in instances:
        pred = patches.get(iid)
        res = by_id.get(iid)
        patch = (pred or {}).get("model_patch") or ""
        rec = SampleRecord(
            sample_id=stable_hash([iid, patch])[:32], suite="swe-bench", item_id=iid, repeat=0,
            outcome=res.outcome if res else MODEL_FAILURE,
            score=(res.score if res and res.outcome != "infra_error" else None) if res else 0.0,
            answer=patch, error=(res.error if res else "no prediction for this instance"),
            served_model=(pred or {}).get("model_name_or_path"),
            extra={"report": res.report if res else {}, "log_dir": res.log_dir if res else None},
        )  # fmt: skip
        out.append(rec.to_dict())
    return out


def _print(s: dict[str, Any], run_dir: Path) -> None:
    for name, sub in s["subsets"].items():
        o = sub["outcomes"]
        print(f"{name:>7}: {sub['resolved']}/{sub['n_instances']} resolved "
              f"({(sub['score'] or 0):.1f}%)  model_failure {o['model_failure']}  "
              f"infra_error {o['infra_error']}")  # fmt: skip
    print(f"results: {run_dir}")
