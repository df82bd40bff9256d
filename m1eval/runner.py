"""The runner: expand items x repeats, skip what is already answered, ask for the rest.

It knows nothing of any benchmark (the suite adapter builds messages and grades) and nothing
of HTTP (the client does). Every planned sample ends as exactly one record in the store.
Prompts are not held between planning and asking: a plan keeps each prompt's hash, and the
messages are rebuilt when the sample is asked, so a run over 1M-token prompts needs memory
for the prompts in flight only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from m1eval.artifacts import ArtifactWriter
from m1eval.causes import sample_cause
from m1eval.config import per_sample_seed, sample_id
from m1eval.errors import M1EvalError, ServingError
from m1eval.hashing import stable_hash
from m1eval.model.client import ChatClient, ClientSettings, ReplyTooLong
from m1eval.model.types import Completion, RequestFailed
from m1eval.outcomes import InfraFailure, describe, grade_output
from m1eval.records import INFRA_ERROR, SKIPPED, SampleRecord
from m1eval.serving.guard import GuardedClient, ToolProbe
from m1eval.store import RunStore
from m1eval.suites.base import Grade, Item, SolveContext, Suite

SAMPLE_ARTIFACTS = "samples"  # the run directory's folder of per-sample artifacts
SAMPLE_DIR_CHARS = 12  # samples/<item>/<sample id prefix>/

# A request the server refuses (a bad request, too long, unprocessable) is answered, not lost:
# a refusal is the sample's failure, never a skip. Only the harness's own count against the
# window it assumes leaves an item out (Suite.skip_reason); configuration errors stop the run
# first (m1eval.serving.guard), and failures that say nothing of the request (5xx, timeouts)
# are infra errors, asked again.
REFUSED = (400, 413, 422)


@dataclass(frozen=True)
class PlannedSample:
    sample_id: str
    item: Item
    repeat: int
    sampling: dict[str, Any]
    prompt_sha256: str


@dataclass
class ExecutionStats:
    requested: int = 0
    reused: int = 0
    executed: int = 0
    retried_errors: int = 0
    wall_s: float = 0.0
    completion_tokens: int = 0
    http_retries: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["tokens_per_s"] = round(self.completion_tokens / self.wall_s, 2) if self.wall_s else None
        d["samples_per_s"] = round(self.executed / self.wall_s, 3) if self.wall_s else None
        return d


def item_session(suite: str, item_id: str) -> str:
    """The routing key of an item's requests (header-safe whatever the item id holds)."""
    return "item-" + stable_hash([suite, item_id])[:20]


def request_messages(suite: Suite, item: Item, system_prompt: str | None) -> list[dict[str, Any]]:
    messages = suite.build_messages(item)
    if system_prompt:
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return messages


def plan_samples(
    suite: Suite,
    items: list[Item],
    repeats: int,
    model: str,
    sampling: dict[str, Any],
    seed: int | None,
    system_prompt: str | None = None,
) -> list[PlannedSample]:
    planned = []
    shaping = suite.request_identity()
    request_sha = stable_hash(shaping) if shaping else None
    for item in items:
        prompt_sha = stable_hash(request_messages(suite, item, system_prompt))
        for repeat in range(repeats):
            params = dict(sampling)
            s = per_sample_seed(seed, item.item_id, repeat)
            if s is not None:
                params["seed"] = s
            sid = sample_id(suite.name, item.item_id, repeat, model, params, prompt_sha,
                            request_sha)  # fmt: skip
            planned.append(PlannedSample(sid, item, repeat, params, prompt_sha))
    return planned


def samples_to_redo(
    planned: list[PlannedSample], done: dict[str, dict[str, Any]], retry_errors: bool
) -> list[str]:
    """The finished samples a resumed run asks again. Skips are a policy decision and are
    always made again; infra errors are not evidence and are asked again unless
    ``--keep-errors``; scored samples and model failures are the model's answers and are
    never asked again (re-asking failures would sample until they pass)."""
    again = {SKIPPED, INFRA_ERROR} if retry_errors else {SKIPPED}
    return [p.sample_id for p in planned
            if p.sample_id in done and done[p.sample_id].get("outcome") in again]  # fmt: skip


def make_record(
    planned: PlannedSample,
    suite: Suite,
    completion: Completion | None,
    grade: Grade | None,
    error: str | None,
    attempts: int | None,
    outcome: str = INFRA_ERROR,
) -> SampleRecord:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rec = SampleRecord(
        sample_id=planned.sample_id,
        suite=suite.name,
        item_id=planned.item.item_id,
        repeat=planned.repeat,
        outcome=outcome if grade is None else grade.outcome,
        score=None if grade is None else grade.score,
        prompt_sha256=planned.prompt_sha256,
        seed=planned.sampling.get("seed"),
        finished_at=now,
        error=error,
        attempts=attempts,
        extra=dict(suite.tags(planned.item)),
        tags=dict(suite.tags(planned.item)),
    )
    if grade is not None:
        rec.extracted_answer = grade.extracted_answer
        rec.gold = grade.gold
        rec.vote_key = grade.vote_key
        rec.error = grade.error
        rec.cause = grade.cause
        if grade.details:
            rec.extra.update(grade.details)
    if completion is not None:
        for key in (
            "answer", "reasoning", "finish_reason", "prompt_tokens", "completion_tokens",
            "reasoning_tokens", "usage_source", "ttft_s", "latency_s", "attempts",
            "served_model",
        ):  # fmt: skip
            setattr(rec, key, getattr(completion, key))
        rec.truncated = completion.truncated
        if rec.ttft_s is not None:
            rec.ttft_s = round(rec.ttft_s, 4)
        rec.latency_s = round(completion.latency_s, 4)
    rec.cause = sample_cause({"outcome": rec.outcome, "score": rec.score, "cause": rec.cause,
                              "error": rec.error})  # fmt: skip
    return rec


async def execute(
    pending: list[PlannedSample],
    suite: Suite,
    client: ChatClient,
    store: RunStore,
    concurrency: int,
    on_record: Callable[[SampleRecord], None] | None = None,
    system_prompt: str | None = None,
    endpoints: Endpoints | None = None,
    tool_probe: ToolProbe | None = None,
) -> ExecutionStats:
    """Ask the model for every pending sample with at most ``concurrency`` in flight; other
    endpoints (a user simulator, a judge) come from ``endpoints`` (closed here). A reply that
    is a server-configuration error stops the run (:mod:`m1eval.serving.guard`; ``tool_probe``
    confirms tool calls that came back as text)."""
    stats = ExecutionStats()
    queue: asyncio.Queue[PlannedSample] = asyncio.Queue()
    for p in pending:
        queue.put_nowait(p)
    started = time.perf_counter()

    endpoints = endpoints or Endpoints(client.settings)
    guarded = GuardedClient(client, tool_probe)
    files = ArtifactWriter(store.run_dir.resolve(), SAMPLE_ARTIFACTS)

    async def worker() -> None:
        while True:
            try:
                planned = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await run_sample(planned, suite, guarded, system_prompt, store.log_prompt,
                                      endpoints, files)  # fmt: skip
            store.append(record.to_dict())
            stats.executed += 1
            stats.completion_tokens += record.completion_tokens or 0
            stats.outcomes[record.outcome] = stats.outcomes.get(record.outcome, 0) + 1
            if on_record is not None:
                on_record(record)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(pending))))]
    try:
        await asyncio.gather(*workers)
    finally:
        for w in workers:
            w.cancel()
        stats.wall_s = round(time.perf_counter() - started, 3)
        stats.http_retries = client.retries + endpoints.retries
        await endpoints.close()
    return stats


class Endpoints:
    """Other chat endpoints a solver asks for (a user simulator, a judge): opened once per
    run with the run's retry, timeout and connection settings, closed with it."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self._open: dict[tuple[str, str, str | None], GuardedClient] = {}
        self._lock = asyncio.Lock()

    async def get(self, base_url: str, model: str, api_key: str | None = None) -> GuardedClient:
        key = (base_url, model, api_key)
        async with self._lock:
            if key not in self._open:
                settings = replace(self.settings, base_url=base_url, model=model,
                                   api_key=api_key, content_format="string",
                                   extra_body={})  # fmt: skip
                self._open[key] = GuardedClient(await ChatClient(settings).__aenter__())
            return self._open[key]

    @property
    def retries(self) -> int:
        return sum(c.retries for c in self._open.values())

    async def close(self) -> None:
        for guarded in self._open.values():
            await guarded.client.__aexit__(None, None, None)
        self._open.clear()


async def run_sample(
    planned: PlannedSample,
    suite: Suite,
    client: ChatClient | GuardedClient,
    system_prompt: str | None = None,
    log_prompt: Callable[[str, list[dict[str, Any]]], None] | None = None,
    endpoints: Endpoints | None = None,
    files: ArtifactWriter | None = None,
) -> SampleRecord:
    """Solve one sample through the suite's solver and grade it under the outcome rule;
    ``log_prompt`` receives the messages as sent (after any truncation); the sample's
    artifacts go to its own folder under ``files``."""
    item = planned.item
    reason = suite.skip_reason(item)
    if reason is not None:
        return make_record(planned, suite, None, None, reason, 0, outcome=SKIPPED)
    messages = request_messages(suite, item, system_prompt)
    if stable_hash(messages) != planned.prompt_sha256:
        return make_record(
            planned, suite, None, None,
            "prompt changed between planning and asking (non-deterministic prompt builder)", 0,
        )  # fmt: skip
    try:
        messages, prepared = await suite.finalize_messages(item, messages)
    except Exception as exc:  # a tokenizer endpoint that fails is an infra error
        return make_record(planned, suite, None, None, f"preparing the prompt: {exc}", 0)
    if log_prompt is not None:
        log_prompt(planned.prompt_sha256, messages)
    pool = endpoints or Endpoints(client.settings)
    own = files.sub(item.item_id, planned.sample_id[:SAMPLE_DIR_CHARS]) if files else None
    ctx = SolveContext(
        planned.sample_id,
        dict(planned.sampling),
        client,
        pool.get,
        own,
        session_id=item_session(suite.name, item.item_id),
    )
    try:
        solution = await suite.solve(item, messages, ctx)
    except RequestFailed as failure:
        # the server's answer to what the run sent, or a reply past its budget: the sample's
        if failure.status in REFUSED or isinstance(failure, ReplyTooLong):
            refused = Grade.failure(failure.cause if isinstance(failure, ReplyTooLong) else
                                    f"the server refused the request: {failure.cause}")
            return make_record(planned, suite, None, refused, None, failure.attempts)
        return make_record(planned, suite, None, None, failure.cause, failure.attempts)
    except ServingError:  # the deployment's fault: the run stops, nothing is recorded
        raise
    except M1EvalError as exc:  # classified by the harness: checkout, image, simulator
        return make_record(planned, suite, None, None, f"could not solve: {describe(exc)}", 0)
    except Exception as exc:  # the outcome rule: the output's failure
        failure = Grade.failure(f"solving failed on the model's output: {describe(exc)}",
                                cause=f"solving failed on the model's output: {type(exc).__name__}")
        return make_record(planned, suite, None, failure, None, 0)
    finally:
        if endpoints is None:
            await pool.close()
    completion = solution.completion
    solution.files = solution.files or own
    grade = await grade_output(suite, item, solution)
    if isinstance(grade, InfraFailure):  # proven independent of the output: asked again later
        rec = make_record(planned, suite, completion, None,
                          f"grading could not run: {grade.cause}", completion.attempts)
        rec.artifacts = [a.to_dict() for a in solution.artifacts]
        return rec
    rec = make_record(planned, suite, completion, grade, None, completion.attempts)
    rec.extra.update(prepared)
    rec.extra.update(solution.details)
    rec.artifacts = [a.to_dict() for a in (*solution.artifacts, *grade.artifacts)]
    return rec
