"""``m1eval swe-bench grade | validate-gold | build-selftest``.

A predictions file (or the gold patches) is graded as a run like any other: planned with the
run's own plan, each patch graded by the SWE-bench suite's own scoring (the official harness in
the instance's image), the records written by the store and the run finished by
:func:`m1eval.run_files.finish_run`. Its flags are the adapter's declared options.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from m1eval.commands.args import add_suite_options, positive_int, suite_options
from m1eval.errors import ConfigError

HELP = "grade SWE-bench predictions with the swebench harness"
OPTIONS = {"subset", "swe_timeout", "swe_workers"}  # the adapter's options these commands take


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import Parser

    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    for action, text in (("grade", "grade a predictions file"),
                         ("validate-gold", "grade the gold patches on this infrastructure")):
        cmd = sub.add_parser(action, help=text)
        if action == "grade":
            cmd.add_argument("--predictions", required=True, type=Path,
                             help="JSONL: instance_id, model_name_or_path, model_patch")
        cmd.add_argument("--split", help="dataset split (test; 'smoke' for the self-made one)")
        cmd.add_argument("--data-dir")
        cmd.add_argument("--instances", help="comma-separated instance ids (default: all)")
        cmd.add_argument("--results-dir", default="results")
        cmd.add_argument("--run-id")
        add_suite_options(cmd, OPTIONS)
        # the spellings these commands had before they took the adapter's options
        cmd.add_argument("--timeout", dest="swe_timeout", type=positive_int,
                         help=argparse.SUPPRESS)
        cmd.add_argument("--max-workers", dest="swe_workers", type=positive_int,
                         help=argparse.SUPPRESS)
        cmd.add_argument("--skip-missing-images", action="store_true",
                         help="grade what has an image; the rest are infra errors")
    selftest = sub.add_parser(
        "build-selftest", help="build the self-made instance's image unless it exists (from a "
        "Debian mirror with debootstrap; no container registry)")  # fmt: skip
    selftest.add_argument("--mirror", default="http://deb.debian.org/debian",
                          help="the Debian mirror debootstrap reads (default: %(default)s)")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.action == "build-selftest":
        return _build_selftest(args.mirror)
    from m1eval.registry import get_suite

    suite = get_suite("swe-bench", {k: v for k, v in suite_options(args).items()
                                    if k in OPTIONS})  # fmt: skip
    summary, run_dir, records = asyncio.run(_grade(args, suite, argv))
    for name, sub in summary["suites"]["swe-bench"]["subsets"].items():
        o = sub["outcomes"]
        print(f"{name:>7}: {sub['resolved']}/{sub['n_instances']} resolved "
              f"({(sub['score'] or 0):.1f}%)  model_failure {o['model_failure']}  "
              f"infra_error {o['infra_error']}")  # fmt: skip
    print(f"results: {run_dir}")
    if args.action == "validate-gold":
        failing = [r for r in records if not (r["score"] or 0) >= 1]
        print(f"{len(failing)} of {len(records)} gold patches do not resolve here -> "
              f"{run_dir / 'gold_failures.txt'}")  # fmt: skip
    return 0


def _build_selftest(mirror: str) -> int:
    from m1eval.sandbox.image import docker_client, image_exists
    from m1eval.testing.swebench_selftest import IMAGE, build_image

    client = docker_client()
    if image_exists(client, IMAGE):
        print(f"{IMAGE} already exists")
        return 0
    print(f"building {IMAGE}: a Debian root from {mirror} with the instance's repository "
          "(about a minute)", flush=True)  # fmt: skip
    build_image(client, mirror=mirror)
    print(f"built {IMAGE}")
    return 0


def _predictions(args: argparse.Namespace, instances: dict[str, Any], every_id: set[str]
                 ) -> tuple[dict[str, dict[str, Any]], str]:  # fmt: skip
    """The patch to grade per instance (a missing prediction is an empty patch) and the
    predictions' label."""
    from m1eval.swebench.predictions import read_predictions

    if args.action == "validate-gold":
        return {iid: {"instance_id": iid, "model_name_or_path": "gold",
                      "model_patch": row["patch"]} for iid, row in instances.items()}, "gold"
    given = {p["instance_id"]: p for p in read_predictions(args.predictions, every_id)}
    return {iid: given[iid] for iid in instances if iid in given}, str(args.predictions)


async def _grade(args: argparse.Namespace, suite: Any, argv: list[str]
                 ) -> tuple[dict[str, Any], Path, list[dict[str, Any]]]:  # fmt: skip
    from m1eval.artifacts import ArtifactWriter
    from m1eval.suites.base import RunContext

    items, dataset = suite.load(args.split, args.data_dir)
    items = _chosen(items, args.instances)
    every_id = {r["instance_id"] for r in dataset.rows(["instance_id"])}
    preds, label = _predictions(args, {i.item_id: i.row for i in items}, every_id)
    plan = _plan(args, suite, dataset, items, label, preds)
    context = RunContext(run_dir=plan.run_dir.resolve(), files=ArtifactWriter(plan.run_dir))
    await suite.prepare(context)
    try:
        if not args.skip_missing_images:
            _check_images(suite, [i.row for i in items if (preds.get(i.item_id) or {})
                                  .get("model_patch")])  # fmt: skip
        return await _grade_plan(plan, preds, label, context, argv)
    finally:
        await suite.close()


def _chosen(items: list[Any], instances: str | None) -> list[Any]:
    if not instances:
        return items
    by_id = {i.item_id: i for i in items}
    wanted = [s.strip() for s in instances.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise ConfigError(f"unknown instance id {unknown[0]!r} (or not in --subset)")
    return [by_id[w] for w in wanted]


def _plan(args: argparse.Namespace, suite: Any, dataset: Any, items: list[Any], label: str,
          preds: dict[str, dict[str, Any]]) -> Any:  # fmt: skip
    from m1eval.config import RunConfig
    from m1eval.hashing import stable_hash
    from m1eval.protocols import Protocol
    from m1eval.run_plan import make_plan

    patches = [(p["instance_id"], p["model_patch"] or "") for p in preds.values()]
    run_id = args.run_id or f"swe-bench-{args.action}-" + stable_hash(
        [label, sorted(i.item_id for i in items), [p for _, p in patches]])[:10]  # fmt: skip
    protocol = Protocol(name=f"swe-bench-{args.action}", description=f"predictions: {label}",
                        sampling={}, paper_column=None)  # fmt: skip
    config = RunConfig(
        suite=suite.name, split=args.split or suite.spec.dataset.split, protocol=protocol.name,
        model=label, base_url=None, embedded=False, sampling={}, content_format="string",
        system_prompt=None, seed=None, repeats=1, limit=None,
        concurrency=int(suite.options["swe_workers"]), results_dir=Path(args.results_dir),
        data_dir=Path(args.data_dir) if args.data_dir else None, run_id=run_id,
    )  # fmt: skip
    return make_plan(config, suite, protocol, dataset, items, {"suite_options": {
        **suite.identity(), "instances": sorted(i.item_id for i in items),
        "patches_sha256": stable_hash(sorted(patches))}})  # fmt: skip


def _check_images(suite: Any, rows: list[dict[str, Any]]) -> None:
    from m1eval.sandbox.errors import SandboxError
    from m1eval.swebench.grading import missing_images

    missing = missing_images(suite.docker(), rows)
    if missing:
        raise SandboxError(f"{len(missing)} instance image(s) missing, e.g. {missing[0]}: pull "
                           "them from the swebench namespace (or build them), or pass "
                           "--skip-missing-images")  # fmt: skip


async def _grade_plan(plan: Any, preds: dict[str, dict[str, Any]], label: str, context: Any,
                      argv: list[str]) -> tuple[dict[str, Any], Path, list[dict[str, Any]]]:
    """Grade every planned instance through the suite's scoring, then finish the run."""
    from m1eval.run_files import end_invocation, finish_run, new_manifest, start_invocation
    from m1eval.store import RunStore
    from m1eval.swebench.grading import swebench_version

    store = RunStore(plan.run_dir)
    store.open(plan.config_hash)
    try:
        store.replace_samples([])  # a regrade replaces the records it made before
        endpoint = {"base_url": None, "models": [], "version": None, "hash": None}
        manifest = new_manifest(store, plan, endpoint, swebench_version=swebench_version(),
                                run_context=dict(context.reported))  # fmt: skip
        invocation = start_invocation(store, manifest, argv=["m1eval", *argv],
                                      requested=len(plan.planned))  # fmt: skip
        status = "failed"
        try:
            records = await asyncio.gather(*(_graded(p, plan.suite, preds, context)
                                             for p in plan.planned))  # fmt: skip
            for record in records:
                store.append(record)
            status = "complete"
        finally:
            end_invocation(store, manifest, invocation, status)
        if plan.config.protocol == "swe-bench-validate-gold":
            failing = [r for r in records if not (r["score"] or 0) >= 1]
            written = context.files.write_text("text", "gold_failures.txt", "".join(
                f"{r['item_id']}\t{r['outcome']}\t{r['error'] or 'not resolved'}\n"
                for r in failing))  # fmt: skip
            manifest["artifacts"] = [written.to_dict()]
        summary = finish_run(store, plan, manifest, summary_extra={
            "swebench_version": swebench_version(), "predictions": label})  # fmt: skip
        return summary, plan.run_dir, records
    finally:
        store.close()


async def _graded(planned: Any, suite: Any, preds: dict[str, dict[str, Any]], context: Any
                  ) -> dict[str, Any]:  # fmt: skip
    """One instance's record, graded by the suite's own scoring."""
    from dataclasses import replace

    from m1eval.model.types import Completion
    from m1eval.outcomes import InfraFailure, grade_output
    from m1eval.runner import SAMPLE_DIR_CHARS, make_record
    from m1eval.suites.base import Grade, Solution

    pred = preds.get(planned.item.item_id)
    completion = replace(Completion.of_text((pred or {}).get("model_patch") or ""),
                         served_model=(pred or {}).get("model_name_or_path"))  # fmt: skip
    files = context.files.sub("samples", planned.item.item_id,
                              planned.sample_id[:SAMPLE_DIR_CHARS])  # fmt: skip
    if pred is None:
        grade: Grade | InfraFailure = Grade.failure("no prediction for this instance")
    else:
        grade = await grade_output(suite, planned.item, Solution(completion, files=files))
    if isinstance(grade, InfraFailure):
        rec = make_record(planned, suite, completion, None,
                          f"grading could not run: {grade.cause}", 0)
    else:
        rec = make_record(planned, suite, completion, grade, None, 0)
        rec.artifacts = [a.to_dict() for a in grade.artifacts]
    return rec.to_dict()
