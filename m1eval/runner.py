"""The runner: expand items x repeats, skip what is already answered, ask for the rest.

It knows nothing of any benchmark (the suite adapter builds messages and grades) and nothing
of HTTP (the client does). Every planned sample ends as exactly one record in the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from m1eval.config import per_sample_seed, sample_id
from m1eval.hashing import stable_hash
from m1eval.model.client import ChatClient
from m1eval.model.types import Completion, RequestFailed
from m1eval.records import INFRA_ERROR, SampleRecord
from m1eval.store import RunStore
from m1eval.suites.base import Grade, Item, Suite


@dataclass(frozen=True)
class PlannedSample:
    sample_id: str
    item: Item
    repeat: int
    messages: list[dict[str, Any]]
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
    for item in items:
        messages = suite.build_messages(item)
        if system_prompt:
            messages = [{"role": "system", "content": system_prompt}, *messages]
        prompt_sha = stable_hash(messages)
        for repeat in range(repeats):
            params = dict(sampling)
            s = per_sample_seed(seed, item.item_id, repeat)
            if s is not None:
                params["seed"] = s
            sid = sample_id(suite.name, item.item_id, repeat, model, params, messages)
            planned.append(PlannedSample(sid, item, repeat, messages, params, prompt_sha))
    return planned


def grade_completion(suite: Suite, item: Item, completion: Completion) -> Grade:
    """Grade the final answer; a cut-off generation with no answer is a model failure."""
    if completion.reasoning_truncated:
        return Grade.failure("truncated: the reasoning never closed, so there is no final answer")
    grade = suite.grade(item, completion.answer)
    if grade.error and completion.finish_reason == "length":
        return Grade(
            grade.outcome, grade.score, grade.extracted_answer, grade.gold, grade.vote_key,
            f"truncated (finish_reason=length): {grade.error}", grade.details,
        )  # fmt: skip
    return grade


def make_record(
    planned: PlannedSample,
    suite: Suite,
    completion: Completion | None,
    grade: Grade | None,
    error: str | None,
    attempts: int | None,
) -> SampleRecord:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rec = SampleRecord(
        sample_id=planned.sample_id,
        suite=suite.name,
        item_id=planned.item.item_id,
        repeat=planned.repeat,
        outcome=INFRA_ERROR if grade is None else grade.outcome,
        score=None if grade is None else grade.score,
        prompt_sha256=planned.prompt_sha256,
        seed=planned.sampling.get("seed"),
        finished_at=now,
        error=error,
        attempts=attempts,
    )
    if grade is not None:
        rec.extracted_answer = grade.extracted_answer
        rec.gold = grade.gold
        rec.vote_key = grade.vote_key
        rec.error = grade.error
        if grade.details:
            rec.extra = dict(grade.details)
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
    return rec


async def execute(
    pending: list[PlannedSample],
    suite: Suite,
    client: ChatClient,
    store: RunStore,
    concurrency: int,
    on_record: Callable[[SampleRecord], None] | None = None,
) -> ExecutionStats:
    """Ask the model for every pending sample with at most ``concurrency`` in flight."""
    stats = ExecutionStats()
    queue: asyncio.Queue[PlannedSample] = asyncio.Queue()
    for p in pending:
        queue.put_nowait(p)
    started = time.perf_counter()

    async def worker() -> None:
        while True:
            try:
                planned = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await _run_one(planned, suite, client)
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
        stats.http_retries = client.retries
    return stats


async def _run_one(planned: PlannedSample, suite: Suite, client: ChatClient) -> SampleRecord:
    try:
        completion = await client.complete(
            planned.messages, planned.sampling, sample_id=planned.sample_id
        )
    except RequestFailed as failure:
        return make_record(planned, suite, None, None, failure.cause, failure.attempts)
    try:
        grade = grade_completion(suite, planned.item, completion)
    except Exception as exc:  # a grader crash is the harness's fault, not the model's
        rec = make_record(planned, suite, completion, None, None, completion.attempts)
        rec.error = f"grader error: {type(exc).__name__}: {exc}"
        return rec
    return make_record(planned, suite, completion, grade, None, completion.attempts)
