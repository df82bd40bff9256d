"""A suite that asks more than one request is a solver: it asks the evaluated model and any
other endpoint only through its context, under the run's retry policy, and returns its answer
with structured details. The runner stays ignorant of which suite it runs."""

from __future__ import annotations

import asyncio
from typing import Any

from m1eval.model.client import ChatClient, ClientSettings
from m1eval.model.retry import RetryPolicy
from m1eval.model.types import merge_completions
from m1eval.registry import get_suite
from m1eval.runner import Endpoints, plan_samples, run_sample
from m1eval.suites.aime import AimeSuite
from m1eval.suites.base import Item, Solution, SolveContext
from m1eval.testing.stub_server import StubConfig, StubServer

ANSWERS = {"$7 + 5$": "12", "divisors": "9", "$2^{10}$": "24", "consecutive": "21", "3^4": "81"}


class AskTwice(AimeSuite):
    """Asks the evaluated model, then a second endpoint (a stand-in for a judge)."""

    adapter_name = None  # a test double, not a registered adapter
    judge_url = ""

    async def solve(self, item: Item, messages: list[dict[str, Any]], ctx: SolveContext
                    ) -> Solution:  # fmt: skip
        first = await ctx.ask(messages)
        judge = await ctx.endpoint(self.judge_url, "stub-model")
        second = await judge.complete(messages, {"temperature": 0.0}, sample_id=ctx.sample_id)
        return Solution(merge_completions([first, second]), {"judge_said": second.answer})


def test_a_solver_uses_other_endpoints_under_the_run_policy() -> None:
    suite = AskTwice(get_suite("aime24").spec)
    items, _ = suite.load("smoke", None)
    policy = RetryPolicy(max_attempts=4, base_delay_s=0.01)
    with StubServer(StubConfig(answers=ANSWERS, correct_rate=1.0, reasoning=False)) as model, \
            StubServer(StubConfig(answers=ANSWERS, correct_rate=1.0, reasoning=False,
                                  fault_rate=1.0, faults=("http500",),
                                  max_faults_per_sample=1)) as judge:  # fmt: skip
        suite.judge_url = judge.base_url
        planned = plan_samples(suite, items, 1, "stub-model", {"temperature": 1.0}, seed=0)

        async def go() -> list[Any]:
            settings = ClientSettings(base_url=model.base_url, model="stub-model", retry=policy)
            async with ChatClient(settings) as client:
                endpoints = Endpoints(settings)
                try:
                    return [await run_sample(p, suite, client, endpoints=endpoints)
                            for p in planned]  # fmt: skip
                finally:
                    assert endpoints.retries >= len(planned)  # the judge's 500s were retried
                    await endpoints.close()

        records = asyncio.run(go())
        judge_requests = judge.state.requests
    assert [r.outcome for r in records] == ["scored"] * len(items)
    assert all(r.score == 1.0 for r in records)
    assert all("\\boxed{" in r.extra["judge_said"] for r in records)
    assert all(r.attempts >= 3 for r in records)  # one model attempt, the judge's two
    assert judge_requests == 2 * len(items)


def test_the_runner_names_no_suite() -> None:
    import re
    from pathlib import Path

    import m1eval.runner

    text = Path(m1eval.runner.__file__).read_text().lower()
    for word in ("swe-bench", "swe_bench", "tau", "mrcr", "longbench", "aime"):
        assert not re.search(rf"\b{word}\b", text), word
    assert "getattr(suite" not in text  # no capability probing either
