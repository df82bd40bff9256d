"""``m1eval run``: resolve the configuration, then plan, execute, grade and summarize a run."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from m1eval import __version__
from m1eval import chat_templates as templates
from m1eval.config import RunConfig, shard_of, shard_run_id, validate_run_id
from m1eval.contract import SUITE_ROW, comparability, headline
from m1eval.data import LoadedDataset
from m1eval.errors import ConfigError, EndpointError, RunStateError
from m1eval.hashing import stable_hash
from m1eval.model.client import ChatClient, ClientSettings
from m1eval.model.embedded import EMBEDDED_MODEL_ID, EmbeddedServer
from m1eval.model.fingerprint import fetch_fingerprint
from m1eval.model.retry import RetryPolicy
from m1eval.progress import RunProgress
from m1eval.protocols import Protocol
from m1eval.provenance import git_state, package_versions
from m1eval.runner import ExecutionStats, execute, plan_samples, samples_to_redo
from m1eval.serving.replicas import replica_fingerprints
from m1eval.store import RunStore, read_samples_file
from m1eval.suite_specs import SuiteSpec
from m1eval.suites.base import RunContext, Suite
from m1eval.summary import summarize_suite
from m1eval.tokenizers import resolve_tokenizer


@dataclass
class RunOutcome:
    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    stats: ExecutionStats


@dataclass
class ExecutionOptions:
    """How a run executes; none of it changes an answer."""

    progress: bool = True
    retry_errors: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stall_timeout_s: float = 900.0
    api_key: str | None = None
    any_model: bool = False  # skip the check that /models lists the requested model
    max_context: int | None = None  # the served model's context window, when /models omits it
    max_context_source: str = "--max-context"
    tokenizer: str = "auto"  # for suites that measure prompts: auto, server, o200k, hf:NAME
    serving: dict[str, Any] | None = None  # the serving fingerprint, when known
    allow_endpoint_change: bool = False  # resume against a server that describes itself anew
    shard: tuple[int, int] | None = None  # (index, count): only this shard's samples
    replicas: list[str] = field(default_factory=list)  # the copies behind a router
    executor: str = "local"  # where container work runs: local or ray
    ray_address: str | None = None
    argv: list[str] | None = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_evaluation(
    config: RunConfig,
    suite: Suite,
    protocol: Protocol,
    options: ExecutionOptions,
) -> RunOutcome:
    items, dataset = suite.load(config.split, config.data_dir)
    if config.limit is not None:
        items = items[: config.limit]
    server = EmbeddedServer(chat_format=suite.embedded_chat_format) if config.embedded else None
    with server if server is not None else contextlib.nullcontext():
        if server is not None:
            config.base_url = server.base_url
            if options.max_context is None:
                options.max_context = server.n_ctx
                options.max_context_source = "embedded server n_ctx"
        assert config.base_url is not None
        return asyncio.run(_run(config, suite, protocol, dataset, items, options))


async def _run(
    config: RunConfig,
    suite: Suite,
    protocol: Protocol,
    dataset: LoadedDataset,
    items: list,
    options: ExecutionOptions,
) -> RunOutcome:
    assert config.base_url is not None
    # Reach the endpoint before creating anything on disk.
    fingerprint = await fetch_fingerprint(config.base_url, options.api_key)
    if not config.model:
        served = [m.get("id") for m in fingerprint["models"] if m.get("id")]
        if not served:
            raise EndpointError(f"{config.base_url}/models lists no model; pass --model")
        config.model = served[0]
    served_ids = [m.get("id") for m in fingerprint["models"]]
    if served_ids and config.model not in served_ids and not options.any_model:
        listed = ", ".join(str(s) for s in served_ids[:5]) + (" …" if len(served_ids) > 5 else "")
        raise EndpointError(
            f"model '{config.model}' is not served at {config.base_url} (it serves: {listed}); "
            "pass --any-model if the server accepts names it does not list"
        )
    replicas = await replica_fingerprints(config.base_url, options.replicas, config.model,
                                          options.api_key)  # fmt: skip
    fingerprint["replicas"] = replicas
    context = await _run_context(config, suite, fingerprint, options)
    if options.executor == "ray":
        from m1eval.cluster.ray_executor import RayExecutor

        context.executor = await asyncio.to_thread(RayExecutor, options.ray_address or "auto")
        context.notes["executor"] = context.executor.describe()
    try:
        await suite.prepare(context)
        try:
            return await _run_prepared(
                config, suite, protocol, dataset, items, options, fingerprint, context
            )
        finally:
            await suite.close()
    finally:
        if context.executor is not None:
            await context.executor.close()


async def _run_prepared(
    config: RunConfig,
    suite: Suite,
    protocol: Protocol,
    dataset: LoadedDataset,
    items: list,
    options: ExecutionOptions,
    fingerprint: dict[str, Any],
    context: RunContext,
) -> RunOutcome:
    assert config.base_url is not None
    manifest_sha = suite_spec_sha(suite.spec)
    identity = config.identity(dataset.content_sha256, manifest_sha)
    identity["suite_options"] = suite.identity()
    if context.tokenizer is not None:
        identity["tokenizer"] = context.tokenizer.name
    template = templates.plan(protocol.chat_templates, suite.uses_tools, config.embedded)
    templates.check_served(template, protocol, options.serving)
    if template is not None:
        identity["chat_template"] = {"name": template["name"], "sha256": template["sha256"]}
    config_hash = stable_hash(identity)
    run_id = validate_run_id(config.resolved_run_id(config_hash))
    planned = plan_samples(
        suite, items, config.repeats, config.model, config.sampling, config.seed,
        config.system_prompt,
    )  # fmt: skip
    shard = None
    if options.shard is not None:
        index, count = options.shard
        planned = [p for p in planned if shard_of(p.sample_id, count) == index]
        shard = {"index": index, "count": count, "run_id": run_id}
        run_id = validate_run_id(shard_run_id(run_id, index, count))
    run_dir = config.results_dir / run_id
    context.notes["run_dir"] = str(run_dir.resolve())

    store = RunStore(run_dir)
    done = store.open(config_hash)
    try:
        if done and not options.allow_endpoint_change:
            _check_same_endpoint(store.read_manifest() or {}, fingerprint, options.serving,
                                 run_dir)  # fmt: skip
        stats = ExecutionStats(requested=len(planned))
        retry_ids = samples_to_redo(planned, done, options.retry_errors)
        if retry_ids:
            store.drop(retry_ids)
            for sid in retry_ids:
                done.pop(sid)
            stats.retried_errors = len(retry_ids)
        pending = [p for p in planned if p.sample_id not in done]
        stats.reused = len(planned) - len(pending)

        started_at = now_iso()
        manifest = run_manifest(
            store, run_id, config, config_hash, identity, suite.spec, protocol, dataset,
            fingerprint,
        )  # fmt: skip
        manifest["serving"] = options.serving
        manifest["chat_template"] = template
        if shard is not None:
            manifest["shard"] = shard
        manifest["run_context"] = {
            "context_window": context.context_window,
            "context_window_source": context.context_window_source,
            "tokenizer": context.tokenizer.name if context.tokenizer is not None else None,
            **context.notes,
        }
        invocation: dict[str, Any] = {
            "started_at": started_at,
            "argv": options.argv,
            "requested": len(planned),
            "reused": stats.reused,
            "limit": config.limit,
            "repeats": config.repeats,
            "concurrency": config.concurrency,
            "status": "running",
        }
        manifest["invocations"].append(invocation)
        manifest["status"] = "running"
        store.write_manifest(manifest)

        settings = ClientSettings(
            base_url=config.base_url,
            model=config.model,
            api_key=options.api_key,
            content_format=config.content_format,
            stall_timeout_s=options.stall_timeout_s,
            retry=options.retry,
            max_connections=max(config.concurrency, 1),
            extra_body=config.extra_body,
            tools_chat_template=templates.per_request_text(template),
        )
        status = "failed"
        try:
            with RunProgress(
                f"{suite.name}", total=len(planned), done=stats.reused, enabled=options.progress
            ) as bar:
                async with ChatClient(settings) as client:
                    executed = await execute(
                        pending, suite, client, store, config.concurrency,
                        on_record=lambda r: bar.advance(r.outcome, r.completion_tokens),
                        system_prompt=config.system_prompt,
                    )  # fmt: skip
            status = "complete"
        except (KeyboardInterrupt, asyncio.CancelledError):
            status = "interrupted"
            raise
        finally:
            invocation["ended_at"] = now_iso()
            invocation["status"] = status
            manifest["status"] = status
            manifest["ended_at"] = invocation["ended_at"]
            store.write_manifest(manifest)

        for key in ("executed", "wall_s", "completion_tokens", "http_retries", "outcomes"):
            setattr(stats, key, getattr(executed, key))
        invocation["stats"] = stats.to_dict()
        records = _final_records(store, planned)
        summary = build_summary(run_id, config_hash, config, suite, protocol, dataset, records)
        store.write_summary(summary)
        manifest["summary_sha256"] = stable_hash(summary)
        store.write_manifest(manifest)
        if suite.exports:
            suite.export(_final_records(store, planned, keep_text=True), run_dir)
        return RunOutcome(run_id, run_dir, summary, stats)
    finally:
        store.close()


def _check_same_endpoint(
    previous: dict[str, Any], fingerprint: dict[str, Any], serving: dict[str, Any] | None,
    run_dir: Path,
) -> None:  # fmt: skip
    """Refuse to reuse samples answered by a server that describes itself differently: another
    /models answer (model id, root or revision, context length) or /version, or another
    serving fingerprint (model revision, vLLM version, template). The address alone may
    change (a restarted server, a router, the embedded server's free port)."""
    before = previous.get("endpoint") or {}
    if not before:
        return
    changes = []
    if before.get("hash") and before.get("hash") != fingerprint.get("hash"):
        changes.append("its /models or /version answer changed")
    old_serving = previous.get("serving")
    if old_serving and serving and stable_hash(old_serving) != stable_hash(serving):
        changes.append("its serving fingerprint changed")
    if changes:
        raise RunStateError(
            f"{run_dir} was answered by another server ({'; '.join(changes)}); its samples "
            "would be reused as if this server had answered them; use another --run-id, or "
            "pass --allow-endpoint-change to reuse them deliberately"
        )


def _final_records(store: RunStore, planned: list, keep_text: bool = False
                   ) -> list[dict[str, Any]]:  # fmt: skip
    records, _, _ = read_samples_file(store.samples_path, keep_text=keep_text)
    return [records[p.sample_id] for p in planned if p.sample_id in records]


def build_summary(
    run_id: str,
    config_hash: str,
    config: RunConfig,
    suite: Suite,
    protocol: Protocol,
    dataset: LoadedDataset,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """``summary.json``: deterministic in the sample records (no timings, no timestamps)."""
    column = protocol.paper_column
    suite_summary = summarize_suite(records, binary=suite.binary_scores)
    suite_summary.update(suite.summarize(records))
    rows = suite.spec.paper.get("rows") or {}
    for name, aggregate in (suite_summary.get("aggregates") or {}).items():
        aggregate["paper"] = (rows.get(name) or {}).get(column) if column else None
    suite_summary["paper"] = {
        "column": column,
        "score": suite.spec.paper_scores.get(column) if column else None,
        "metric": suite.spec.paper.get("metric"),
    }
    heads = suite_summary.get("headlines") or [headline(
        suite.name, suite_summary["score"], suite_summary["ci_low"], suite_summary["ci_high"],
        paper_row=SUITE_ROW)]  # fmt: skip
    for h in heads:
        row = h.pop("paper_row", None)
        if row == SUITE_ROW:
            h["paper"] = suite_summary["paper"]["score"]
        elif row is not None:
            h["paper"] = (rows.get(row) or {}).get(column) if column else None
    suite_summary["headlines"] = heads
    suite_summary.setdefault("breakdowns", [])
    suite_summary["comparable"] = comparability(
        config.split, suite.spec.dataset.split, config.limit, dataset.matches_pin,
        config.repeats, suite.spec.method.get("repeats"),
    )  # fmt: skip
    suite_summary["dataset"] = {
        "repo_id": dataset.repo_id,
        "split": dataset.split,
        "content_sha256": dataset.content_sha256,
        "matches_pin": dataset.matches_pin,
    }
    return {
        "run_id": run_id,
        "config_hash": config_hash,
        "model": config.model,
        "protocol": config.protocol,
        "suites": {suite.name: suite_summary},
    }


def run_manifest(
    store: RunStore,
    run_id: str,
    config: RunConfig,
    config_hash: str,
    identity: dict[str, Any],
    suite_manifest: SuiteSpec,
    protocol: Protocol,
    dataset: LoadedDataset,
    fingerprint: dict[str, Any],
) -> dict[str, Any]:
    previous = store.read_manifest() or {}
    return {
        "run_id": run_id,
        "m1eval_version": __version__,
        "status": previous.get("status", "new"),
        "created_at": previous.get("created_at", now_iso()),
        "ended_at": previous.get("ended_at"),
        "config_hash": config_hash,
        "identity": identity,
        "config": config.to_dict(),
        "suite": {
            "name": suite_manifest.name,
            "title": suite_manifest.title,
            "manifest_path": str(suite_manifest.path),
            "manifest_sha256": identity["suite_manifest_sha256"],
            "deviations": list(suite_manifest.deviations),
        },
        "protocol": {
            "name": protocol.name,
            "path": str(protocol.path),
            "paper_column": protocol.paper_column,
        },
        "dataset": dataset.describe(),
        "endpoint": fingerprint,
        "packages": package_versions(),
        "git": git_state(),
        "host": {"pid": os.getpid(), "python": sys.executable},
        "invocations": [_settled(i) for i in previous.get("invocations", [])],
    }


async def _run_context(
    config: RunConfig, suite: Suite, fingerprint: dict[str, Any], options: ExecutionOptions
) -> RunContext:
    """The deployment facts a suite may need: its context window and its tokenizer."""
    context = RunContext()
    context.notes["base_url"] = config.base_url
    context.notes["model"] = config.model
    served = {m.get("id"): m for m in fingerprint["models"]}
    max_model_len = (served.get(config.model) or {}).get("max_model_len")
    if options.max_context is not None:
        context.context_window = options.max_context
        context.context_window_source = options.max_context_source
    elif isinstance(max_model_len, int):
        context.context_window = max_model_len
        context.context_window_source = "server max_model_len"
    if suite.needs_tokenizer:
        assert config.base_url is not None
        context.tokenizer = await resolve_tokenizer(
            options.tokenizer, config.base_url, config.model, options.api_key
        )
    return context


def _settled(invocation: dict[str, Any]) -> dict[str, Any]:
    """An earlier invocation still marked running died without cleaning up (we hold the lock)."""
    if invocation.get("status") == "running":
        return {**invocation, "status": "killed"}
    return invocation


def suite_spec_sha(manifest: SuiteSpec) -> str:
    if manifest.path is None:
        raise ConfigError(f"suite {manifest.name} has no manifest file")
    return hashlib.sha256(manifest.path.read_bytes()).hexdigest()


def resolve_model(model: str | None, base_url: str | None) -> tuple[str | None, bool]:
    """(model name, embedded?) from the command line; None: ask the server's /models."""
    if base_url is None:
        if model not in (None, "embedded"):
            raise ConfigError(f"--model {model} needs --base-url (or use --model embedded)")
        return EMBEDDED_MODEL_ID, True
    if model == "embedded":
        raise ConfigError("--model embedded starts its own server; drop --base-url")
    return model, False
