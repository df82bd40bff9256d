"""``m1eval run``: learn what the server is, plan the run, execute, grade and finish it.

The server is asked about itself before anything is written; the plan (identity, samples, run
directory) comes from :mod:`m1eval.run_plan`, the files are written by :mod:`m1eval.run_files`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from m1eval import chat_templates as templates
from m1eval.artifacts import ArtifactWriter
from m1eval.config import RunConfig
from m1eval.data import LoadedDataset
from m1eval.errors import ConfigError, EndpointError, IdentityError, ServingError
from m1eval.hashing import stable_hash
from m1eval.model.client import PROBE_HEADER, ChatClient, ClientSettings
from m1eval.model.embedded import EMBEDDED_MODEL_ID, EmbeddedServer
from m1eval.model.fingerprint import fetch_fingerprint
from m1eval.model.retry import RetryPolicy
from m1eval.preflight import Preflight, RunNeeds, one_line, run_preflight, tools_check
from m1eval.progress import RunProgress
from m1eval.protocols import Protocol
from m1eval.run_files import end_invocation, finish_run, new_manifest, start_invocation
from m1eval.run_plan import RunPlan, make_plan
from m1eval.runner import Endpoints, ExecutionStats, PlannedSample, execute, samples_to_redo
from m1eval.serving.identity import differences, identity, matches_behaviour
from m1eval.serving.replicas import replica_fingerprints
from m1eval.store import RunStore
from m1eval.suites.base import Item, RunContext, Suite
from m1eval.tokenizers import resolve_tokenizer

TOOL_PROBE_TOKENS = 1024  # the tool round trip's budget: M1 thinks before it calls


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
    stall_timeout_s: float = 900.0  # silence before the first token
    token_gap_s: float = 300.0  # silence between tokens
    api_key: str | None = None
    any_model: bool = False  # skip the check that /models lists the requested model
    max_context: int | None = None  # the served model's context window, when /models omits it
    max_context_source: str = "--max-context"
    tokenizer: str = "auto"  # for suites that measure prompts: auto, server, o200k, hf:NAME
    serving: dict[str, Any] | None = None  # the serving fingerprint, when known
    allow_endpoint_change: bool = False  # resume against a server that describes itself anew
    skip_preflight: bool = False  # ask without checking the server first (recorded)
    shard: tuple[int, int] | None = None  # (index, count): only this shard's samples
    replicas: list[str] = field(default_factory=list)  # the copies behind a router
    executor: str = "local"  # where container work runs: local or ray
    ray_address: str | None = None
    argv: list[str] | None = None


@dataclass
class RunRequest:
    """What ``m1eval run`` was asked to do, with its data loaded."""

    config: RunConfig
    suite: Suite
    protocol: Protocol
    options: ExecutionOptions
    dataset: LoadedDataset
    items: list[Item]


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
        return asyncio.run(_run(RunRequest(config, suite, protocol, options, dataset, items)))


async def _run(req: RunRequest) -> RunOutcome:
    # Reach the endpoint and plan before creating anything on disk.
    fingerprint = await _fingerprint(req)
    context = await _run_context(req, fingerprint)
    template = templates.plan(req.protocol.chat_templates, req.suite.uses_tools,
                              req.config.embedded)  # fmt: skip
    templates.check_served(template, req.protocol, req.options.serving)
    settings = _client_settings(req, template)
    fingerprint["identity"] = await identity(fingerprint, settings)
    preflight = await _preflight(req, context, template, settings, fingerprint["replicas"])
    extra: dict[str, Any] = {}
    if context.tokenizer is not None:
        extra["tokenizer"] = context.tokenizer.name
    if template is not None:
        extra["chat_template"] = {"name": template["name"], "sha256": template["sha256"]}
    plan = make_plan(req.config, req.suite, req.protocol, req.dataset, req.items, extra,
                     template, req.options.shard)  # fmt: skip
    pool = Endpoints(settings)
    context.run_dir, context.files = plan.run_dir.resolve(), ArtifactWriter(plan.run_dir)
    context.endpoints = pool.get
    if req.options.executor == "ray":
        from m1eval.cluster.ray_executor import RayExecutor

        context.executor = await asyncio.to_thread(RayExecutor, req.options.ray_address or "auto")
        context.reported["executor"] = context.executor.describe()
    try:
        await req.suite.prepare(context)
        try:
            return await _execute_plan(req, plan, fingerprint, context, settings, pool,
                                       preflight)  # fmt: skip
        finally:
            await req.suite.close()
    finally:
        await pool.close()
        if context.executor is not None:
            await context.executor.close()


async def _fingerprint(req: RunRequest) -> dict[str, Any]:
    """The server's description of itself (and of every copy behind a router); the model to
    ask, when none was named, is the first it serves."""
    config, options = req.config, req.options
    assert config.base_url is not None
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
    fingerprint["replicas"] = await replica_fingerprints(
        config.base_url, options.replicas, config.model, options.api_key, config.content_format
    )
    return fingerprint


async def _preflight(req: RunRequest, context: RunContext, template: dict[str, Any] | None,
                     settings: ClientSettings, replicas: list[dict[str, Any]]
                     ) -> Preflight:  # fmt: skip
    """The checks this run's suite needs of the server, before anything is written; a no-go
    refuses the run in one line with its fix."""
    if req.options.skip_preflight:
        return Preflight(skipped=True)
    suite, config = req.suite, req.config
    needs = RunNeeds(
        suite=suite.name, template=template,
        prompt_tokens=suite.counted_prompt_tokens(req.items, config.system_prompt)
        if suite.fits_window else None,
        budget=int(config.sampling.get("max_tokens") or 0),
        uses_tools=suite.uses_tools and not config.embedded, seeded=config.seed is not None,
        declared_template_sha256=(req.options.serving or {}).get("chat_template_sha256"),
        assumed_window=None if suite.fits_window else context.context_window,
        render_root=replicas[0]["url"] if replicas else None,  # the copies are alike
    )  # fmt: skip
    found = await run_preflight(settings, req.protocol, needs, context.served_window)
    if found.failed:
        causes = "; ".join(f"{c.name}: {one_line(c.detail)}" + (f" (fix: {c.fix})" if c.fix
                           else "") for c in found.failed)  # fmt: skip
        raise ServingError(f"{config.base_url} cannot serve this run: {causes}; nothing was "
                           "asked (--skip-preflight asks anyway, and records that)")
    return found


async def _execute_plan(
    req: RunRequest, plan: RunPlan, fingerprint: dict[str, Any], context: RunContext,
    settings: ClientSettings, pool: Endpoints, preflight: Preflight,
) -> RunOutcome:  # fmt: skip
    store = RunStore(plan.run_dir)
    done = store.open(plan.config_hash)
    try:
        changes = await _endpoint_changes(store.read_manifest() or {}, fingerprint,
                                          req.options.serving, settings) if done else []
        if changes and not req.options.allow_endpoint_change:
            raise IdentityError(
                f"{plan.run_dir} was answered by another server ({'; '.join(changes)}); its "
                "samples would be reused as if this server had answered them; use another "
                "--run-id, or pass --allow-endpoint-change to reuse them deliberately (recorded)")
        stats = ExecutionStats(requested=len(plan.planned))
        redo = samples_to_redo(plan.planned, done, req.options.retry_errors)
        if redo:
            store.drop(redo)
            for sid in redo:
                done.pop(sid)
            stats.retried_errors = len(redo)
        pending = [p for p in plan.planned if p.sample_id not in done]
        stats.reused = len(plan.planned) - len(pending)
        manifest = new_manifest(store, plan, fingerprint, serving=req.options.serving,
                                chat_template=plan.template, preflight=preflight.record(),
                                run_context=_context_record(context))  # fmt: skip
        config = req.config
        invocation = start_invocation(
            store, manifest, argv=req.options.argv, requested=len(plan.planned),
            reused=stats.reused, limit=config.limit, repeats=config.repeats,
            concurrency=config.concurrency, preflight=preflight.record()["verdict"],
            endpoint={"base_url": config.base_url,
                      "identity_sha256": stable_hash(fingerprint["identity"])},
            **({"endpoint_changes": changes, "allow_endpoint_change": True} if changes else {}),
        )  # fmt: skip
        status = "failed"
        try:
            executed = await _ask(req, plan, store, pending, stats, settings, pool)
            status = "complete"
        except ServingError:
            status = "stopped: server configuration"
            raise
        except (KeyboardInterrupt, asyncio.CancelledError):
            status = "interrupted"
            raise
        finally:
            end_invocation(store, manifest, invocation, status)
        for key in ("executed", "wall_s", "completion_tokens", "http_retries", "outcomes"):
            setattr(stats, key, getattr(executed, key))
        invocation["stats"] = stats.to_dict()
        summary = finish_run(store, plan, manifest)
        return RunOutcome(plan.run_id, plan.run_dir, summary, stats)
    finally:
        store.close()


async def _ask(
    req: RunRequest, plan: RunPlan, store: RunStore, pending: list[PlannedSample],
    stats: ExecutionStats, settings: ClientSettings, pool: Endpoints,
) -> ExecutionStats:  # fmt: skip
    """Ask for every pending sample, with the progress bar."""
    with RunProgress(req.suite.name, total=len(plan.planned), done=stats.reused,
                     enabled=req.options.progress) as bar:  # fmt: skip
        async with ChatClient(settings) as client:
            return await execute(
                pending, req.suite, client, store, req.config.concurrency,
                on_record=lambda r: bar.advance(r.outcome, r.completion_tokens),
                system_prompt=req.config.system_prompt, endpoints=pool,
                tool_probe=_tool_probe(req, settings) if req.suite.uses_tools else None,
            )  # fmt: skip


def _tool_probe(req: RunRequest, settings: ClientSettings) -> Callable[[], Awaitable[bool]]:
    """Whether the server parses M1's tool calls: the preflight's round trip, asked when a
    reply holds a tool-call block as text."""

    async def probe() -> bool:
        probing = replace(settings, headers={**settings.headers, PROBE_HEADER: "tools"})
        async with ChatClient(probing) as client:
            check = await tools_check(client, req.protocol, TOOL_PROBE_TOKENS)
        return check.status != "fail"

    return probe


def _client_settings(req: RunRequest, template: dict[str, Any] | None) -> ClientSettings:
    config, options = req.config, req.options
    assert config.base_url is not None
    return ClientSettings(
        base_url=config.base_url,
        model=config.model,
        api_key=options.api_key,
        content_format=config.content_format,
        stall_timeout_s=options.stall_timeout_s,
        token_gap_s=options.token_gap_s,
        retry=options.retry,
        max_connections=max(config.concurrency, 1),
        extra_body=config.extra_body,
        tools_chat_template=templates.per_request_text(template),
    )


def _context_record(context: RunContext) -> dict[str, Any]:
    """What the manifest keeps of the run context: the window, the tokenizer, and what the
    suite reported about its own set-up."""
    return {
        "context_window": context.context_window,
        "context_window_source": context.context_window_source,
        "served_window": context.served_window,
        "tokenizer": context.tokenizer.name if context.tokenizer is not None else None,
        **context.reported,
    }


async def _endpoint_changes(
    previous: dict[str, Any], fingerprint: dict[str, Any], serving: dict[str, Any] | None,
    settings: ClientSettings,
) -> list[str]:  # fmt: skip
    """How the server answering now differs from the one that answered the run so far: its
    identity (model card, vLLM version, template rendering, and its answers to the fixed
    prompt, asked again before a difference counts), or its serving fingerprint. The address
    alone may change (a restarted server, a router, the embedded server's free port)."""
    before = previous.get("endpoint") or {}
    changes: list[str] = []
    recorded = before.get("identity")
    if isinstance(recorded, dict):
        changes += differences(recorded, fingerprint["identity"])
        if not changes and not await matches_behaviour(settings, recorded.get("behaviour") or {}):
            changes.append("its answers differ: the fixed prompt at temperature 0 is answered "
                           "otherwise (other weights under the same name?)")  # fmt: skip
    elif before.get("hash") and before.get("hash") != fingerprint.get("hash"):
        changes.append("its /models or /version answer changed")  # a run from before identities
    old_serving = previous.get("serving")
    if old_serving and serving and stable_hash(old_serving) != stable_hash(serving):
        changes.append("its serving fingerprint changed")
    return changes


async def _run_context(req: RunRequest, fingerprint: dict[str, Any]) -> RunContext:
    """The deployment facts a suite may need: the window a prompt must fit not to be left
    out (``--max-context``, else the protocol's: never merely what the server advertises,
    which a server could shrink to drop the items it would get wrong), the window the server
    says it serves, and the tokenizer."""
    config, options = req.config, req.options
    context = RunContext(base_url=config.base_url, model=config.model,
                         budget=config.sampling.get("max_tokens"))
    served = {m.get("id"): m for m in fingerprint["models"]}
    max_model_len = (served.get(config.model) or {}).get("max_model_len")
    context.served_window = max_model_len if isinstance(max_model_len, int) else None
    if options.max_context is not None:
        context.context_window = options.max_context
        context.context_window_source = options.max_context_source
        context.served_window = context.served_window or options.max_context
    elif req.protocol.context_window is not None:
        context.context_window = req.protocol.context_window
        context.context_window_source = f"protocol {req.protocol.name}"
    if req.suite.needs_tokenizer:
        assert config.base_url is not None
        context.tokenizer = await resolve_tokenizer(
            options.tokenizer, config.base_url, config.model, options.api_key
        )
    return context


def resolve_model(model: str | None, base_url: str | None) -> tuple[str | None, bool]:
    """(model name, embedded?) from the command line; None: ask the server's /models."""
    if base_url is None:
        if model not in (None, "embedded"):
            raise ConfigError(f"--model {model} needs --base-url (or use --model embedded)")
        return EMBEDDED_MODEL_ID, True
    if model == "embedded":
        raise ConfigError("--model embedded starts its own server; drop --base-url")
    return model, False
