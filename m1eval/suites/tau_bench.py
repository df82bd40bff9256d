"""TAU-bench airline and retail: a tool-calling agent, a simulated user, tau-bench's reward.

Each sample is one episode (``--trials N`` episodes per task give pass^k). The user simulator
is an LLM behind its own endpoint (``--user-base-url``, ``--user-model``; the paper used
GPT-4.1), defaulting to the evaluated endpoint; its requests and tokens are counted apart from
the agent's, and its failures are infra errors. Every trajectory is an artifact of its sample
(a ``dialogue``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from m1eval import activity
from m1eval.contract import SUITE_ROW, breakdown, headline
from m1eval.data import SMOKE_SPLIT, LoadedDataset
from m1eval.errors import ConfigError
from m1eval.model.types import Completion, RequestFailed, merge_completions
from m1eval.records import GRADED, MODEL_FAILURE
from m1eval.stats import k_values, pass_hat_k
from m1eval.suites.base import Grade, Item, RunContext, Solution, SolveContext, Suite
from m1eval.suites.options import Option
from m1eval.summary import summarize_suite
from m1eval.tau.env import DomainData, load_domain
from m1eval.tau.episode import M1_SYSTEM_PROMPT, UserSimulatorError, run_episode
from m1eval.tau.user_cache import UserCache

# the smoke split: the first tasks of the domain's own data (its databases are the domain's)
SMOKE_TASKS = 3
USER_CACHE = "tau/user_cache.jsonl"  # in the run directory: a resumed episode replays it


class TauBenchSuite(Suite):
    #: the domain policy plus up to max_steps turns of tool results
    longest_prompt_tokens: ClassVar[int] = 32_768
    binary_scores: ClassVar[bool] = False
    embedded_chat_format: ClassVar[str | None] = "chatml-function-calling"
    uses_tools: ClassVar[bool] = True
    adapter_name = "tau_bench"
    declared_options = (
        Option("max_steps", 40, "step limit", type=int, positive=True),
        Option("m1_prompt", True, "without the paper's extra system prompt", switch="off",
               flag="--no-m1-prompt"),
        Option("first_tool_call_only", True, "execute every tool call of a turn", switch="off",
               flag="--all-tool-calls"),
        Option("user_base_url", None, "user simulator endpoint (default: same)",
               identity=False),
        Option("user_model", None, "user simulator model (the paper: gpt-4.1)"),
        Option("user_api_key_env", "OPENAI_API_KEY", "variable holding the simulator's key",
               identity=False),
        # tau-bench's simulator sends neither: the provider's defaults apply
        Option("user_max_tokens", None, "per user turn (default: not sent, as tau-bench)",
               type=int, positive=True),
        Option("user_temperature", None, "user simulator temperature (default: not sent, "
               "as tau-bench)", type=float, bounds=(0, 2)),
        Option("tau_malformed", "end", "a tool call whose arguments are not JSON: 'end' the "
               "episode with reward 0 (tau-bench: json.loads raises) or 'continue' with an "
               "error observation", choices=("end", "continue")),
    )  # fmt: skip

    def __init__(self, spec: Any, options: dict[str, Any] | None = None) -> None:
        super().__init__(spec, options)
        self.domain = str(spec.method.get("domain", ""))
        if self.domain not in ("airline", "retail"):
            raise ConfigError(f"suite spec {spec.path}: method.domain must be set")
        self._data: DomainData | None = None
        self._user: tuple[str, str, str | None] | None = None
        self._user_cache: UserCache | None = None
        self.user_requests = 0
        self.user_tokens = 0
        self.user_prompt_tokens = 0

    def request_identity(self) -> dict[str, Any]:
        from m1eval.tau import episode

        return {
            "m1_system_prompt": episode.M1_SYSTEM_PROMPT if self.options["m1_prompt"] else None,
            "user_system_prompt": episode.user_system_prompt("{instruction}"),
            "first_user_message": episode.FIRST_USER_MESSAGE, "stop": episode.STOP,
            "user_model": self.options["user_model"],
            "user_max_tokens": self.options["user_max_tokens"],
            "user_temperature": self.options["user_temperature"],
        }  # fmt: skip

    def not_comparable(self) -> list[str]:
        """A model under test that plays its own user sees the task's hidden instruction and
        decides when the episode ends: a run like that is not a reproduction."""
        user = self.context.reported.get("user_simulator") or {}
        if user.get("model") and user.get("model") == self.context.model \
                and user.get("base_url") == self.context.base_url:  # fmt: skip
            return [f"the user simulator is the evaluated model ({user['model']}); the "
                    "paper's is GPT-4.1 (--user-model, --user-base-url)"]
        return []

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        split = split or self.spec.dataset.split
        if split not in ("test", SMOKE_SPLIT):
            raise ConfigError(
                f"{self.name} has the splits 'test' (all tasks) and "
                f"'{SMOKE_SPLIT}' (its first {SMOKE_TASKS}), not {split!r}"
            )
        data = load_domain(self.domain, find_tau_dir(self.domain, data_dir))
        self._data = data
        digest = hashlib.sha256()
        for rel in ("wiki.md", "tools.json", "tasks_test.json"):
            digest.update((data.root / self.domain / rel).read_bytes())
        for path in sorted((data.root / self.domain / "data").glob("*.json")):
            digest.update(path.read_bytes())
        loaded = LoadedDataset(
            tables=(), repo_id=self.spec.dataset.repo_id,
            revision=self.spec.dataset.revision, split=split, source="local",
            location=str(data.root / self.domain), content_sha256=digest.hexdigest(),
            pinned_sha256=self.spec.dataset.content_sha256,
        )  # fmt: skip
        tasks = data.tasks if split == "test" else data.tasks[:SMOKE_TASKS]
        items = [Item(str(i), {"task": task}) for i, task in enumerate(tasks)]
        return items, loaded

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        assert self._data is not None
        return [{"role": "system", "content": self._data.wiki},
                {"role": "user", "content": item.row["task"]["instruction"]}]  # fmt: skip

    async def prepare(self, context: RunContext) -> None:
        await super().prepare(context)
        base_url = self.options["user_base_url"] or context.base_url
        model = self.options["user_model"] or context.model
        if not base_url or not model:
            raise ConfigError("the user simulator needs --user-base-url and --user-model")
        api_key = os.environ.get(self.options["user_api_key_env"] or "") or None
        self._user = (base_url, model, api_key)
        context.reported["user_simulator"] = {"base_url": base_url, "model": model}
        budget, temp = self.options["user_max_tokens"], self.options["user_temperature"]
        if self.not_comparable():
            print(f"{self.name}: warning: {self.not_comparable()[0]}: the run is not "
                  "comparable with the paper", file=sys.stderr)
        print(f"{self.name}: user simulator {model} at {base_url}; per-turn max_tokens "
              f"{budget if budget is not None else 'not sent (tau-bench default)'}, "
              f"temperature {temp if temp is not None else 'not sent'}; its tokens are "
              "counted in the summary (user_simulator)", file=sys.stderr)  # fmt: skip
        self._user_cache = UserCache(context.files.path(USER_CACHE) if context.files
                                     else None)  # fmt: skip

    async def solve(self, item: Item, messages: list[dict[str, Any]], ctx: SolveContext
                    ) -> Solution:  # fmt: skip
        """One episode: the agent asks the evaluated model through ``ctx``; the simulated user
        is another endpoint under the run's retry and timeout policy."""
        assert self._data is not None and self._user is not None, "prepare() first"
        user_client = await ctx.endpoint(*self._user)
        completions: list[Completion] = []
        live = {"turns": 0, "tools": 0, "user_tokens": 0}
        key = f"tau/{ctx.sample_id}"

        def show() -> None:
            activity.CURRENT.step(
                key,
                f"{self.name} task {item.item_id}: turn {live['turns']}, "
                f"{live['tools']} tool calls, user {live['user_tokens']} tok",
            )

        async def agent(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict:
            c = await ctx.ask(messages, tools=tools)
            completions.append(c)
            live["turns"] += 1
            live["tools"] += len(c.tool_calls or [])
            show()
            return {"content": c.answer, "tool_calls": c.tool_calls}

        cache = self._user_cache or UserCache(None)
        user_model = self._user[1]

        async def user(messages: list[dict[str, Any]]) -> str:
            params = {k: v for k, v in (("temperature", self.options["user_temperature"]),
                                        ("max_tokens", self.options["user_max_tokens"]))
                      if v is not None}  # fmt: skip
            key = cache.key(ctx.sample_id, user_model, params, messages)
            cached = cache.get(key)
            if cached is not None:
                return cached
            try:  # the item's routing key: its turns land on one copy behind a router
                c = await user_client.complete(messages, params, session_id=ctx.session_id)
            except RequestFailed as exc:
                raise UserSimulatorError(f"user simulator: {exc.cause}") from None
            self.user_requests += 1
            self.user_tokens += c.completion_tokens or 0
            live["user_tokens"] += c.completion_tokens or 0
            show()
            self.user_prompt_tokens += c.prompt_tokens or 0
            if c.answer.strip():
                cache.put(key, c.answer)
            return c.answer

        task = item.row["task"]
        show()
        try:
            episode = await self._episode(task, agent, user)
        finally:
            activity.CURRENT.step(key, None)
        return self._solution(item, episode, completions, ctx)

    async def _episode(self, task: Any, agent: Any, user: Any) -> Any:
        assert self._data is not None
        return await run_episode(
            self._data, task, agent, user, int(self.options["max_steps"]),
            M1_SYSTEM_PROMPT if self.options["m1_prompt"] else None,
            bool(self.options["first_tool_call_only"]), str(self.options["tau_malformed"]),
        )  # fmt: skip

    def _solution(self, item: Item, episode: Any, completions: list[Completion],
                  ctx: SolveContext) -> Solution:  # fmt: skip
        task = item.row["task"]
        summary = episode.summary()
        artifacts = []
        if ctx.files is not None:
            artifacts.append(ctx.files.write_json("dialogue", "dialogue.json", {
                "task_index": item.item_id, "task": task, **summary,
                "trajectory": episode.messages, "user_messages": episode.user_messages,
            }))  # fmt: skip
        # the episode is judged by its database and replies, never as a cut-off answer
        merged = replace(merge_completions(completions), reasoning_truncated=False)
        return Solution(merged, summary, artifacts=artifacts)

    async def score(self, item: Item, solution: Solution) -> Grade:
        """tau-bench's reward, computed when the episode ended (its summary)."""
        reward = float(solution.details["reward"])
        cause = None if reward >= 1 else episode_cause(solution.details)
        return Grade.scored(reward, cause=cause)

    def merge_summaries(self, merged: dict[str, Any], shards: list[dict[str, Any]]) -> None:
        """The user simulator's requests and tokens are counted per invocation: the shards'
        counts add up to the unsharded run's."""
        _sum_user_counters(merged, shards)

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """tau-bench's own accounting leads (``run.py``): an episode that raised (an API
        error, a context overflow, a user-simulator failure) after its retries is reward 0
        in the denominator, and pass^k is ``C(c, k) / C(num_trials, k)`` over every task.
        The retrying reading (those episodes left out, pass^k over each task's answered
        episodes) stands beside it as "answered only"."""
        ended: dict[str, int] = {}
        dropped = malformed = 0
        for r in records:
            if r["outcome"] not in GRADED:
                continue
            extra = r.get("extra") or {}
            ended[extra.get("ended_by", "?")] = ended.get(extra.get("ended_by", "?"), 0) + 1
            dropped += int(extra.get("dropped_tool_calls") or 0)
            malformed += int(extra.get("malformed_tool_calls") or 0)
        official = [r if r["outcome"] in GRADED else {**r, "outcome": MODEL_FAILURE, "score": 0.0}
                    for r in records]  # fmt: skip
        every = summarize_suite(official, binary=False)
        answered = summarize_suite(records, binary=False)
        pass_k = _pass_hat_ks(official)
        pass_k_answered = _pass_hat_ks([r for r in records if r["outcome"] in GRADED])
        raised = len(records) - sum(1 for r in records if r["outcome"] in GRADED)
        heads = [
            headline(self.name, every["score"], every["ci_low"], every["ci_high"],
                     paper_row=SUITE_ROW, note=f"tau-bench's accounting: {raised} episode(s) "
                     "that raised after their retries scored 0"),
            headline(f"{self.name} (answered only)", answered["score"], answered["ci_low"],
                     answered["ci_high"], note="episodes that raised left out (retried on "
                     "resume)"),
        ]  # fmt: skip
        return {
            "headlines": heads,
            "breakdowns": [
                breakdown("pass^k (k of the trials succeed)", ["score", "answered only"],
                          [{"group": k, "score": v, "answered only": pass_k_answered.get(k)}
                           for k, v in pass_k.items()],
                          note="score: every trial of every task, an episode that raised "
                          "counted as a failure (tau-bench); answered only: over each task's "
                          "answered episodes"),
                breakdown("how episodes ended", ["episodes"],
                          [{"group": k, "episodes": v} for k, v in sorted(ended.items())]),
            ],
            "pass_hat_k": pass_k, "pass_hat_k_answered_only": pass_k_answered,
            "episodes_raised": raised,
            "ended_by": ended, "dropped_tool_calls": dropped,
            "malformed_tool_calls": malformed,
            "user_simulator": {
                "requests": self.user_requests,
                "cache_hits": self._user_cache.hits if self._user_cache else 0,
                "prompt_tokens": self.user_prompt_tokens,
                "completion_tokens": self.user_tokens,
                **(self.context.reported.get("user_simulator") or {}),
            },
            "episode_settings": {k: self.options[k] for k in (
                "max_steps", "m1_prompt", "first_tool_call_only", "tau_malformed",
                "user_temperature", "user_max_tokens")},
        }  # fmt: skip


def _successful(reward: float) -> bool:
    """tau-bench's ``is_successful``, in its own float arithmetic."""
    return (1 - 1e-6) <= reward <= (1 + 1e-6)


def _pass_hat_ks(records: list[dict[str, Any]]) -> dict[str, float]:
    """pass^k for k up to the fewest trials any task has: per task C(c, k) / C(n, k), with n
    that task's trials here and c its successes (reward 1 within 1e-6, as tau-bench)."""
    by_task: dict[str, list[float]] = {}
    for r in records:
        by_task.setdefault(r["item_id"], []).append(float(r["score"] or 0))
    n_min = min((len(v) for v in by_task.values()), default=0)
    out = {}
    for k in k_values(n_min) if n_min else []:
        vals = [pass_hat_k(len(v), sum(1 for x in v if _successful(x)), k)
                for v in by_task.values()]  # fmt: skip
        out[f"pass^{k}"] = round(100 * sum(vals) / len(vals), 4)
    return out


def _sum_user_counters(merged: dict[str, Any], shards: list[dict[str, Any]]) -> None:
    block = merged.get("user_simulator")
    if not isinstance(block, dict):
        return
    for key in ("requests", "cache_hits", "prompt_tokens", "completion_tokens"):
        block[key] = sum(int((s.get("user_simulator") or {}).get(key) or 0) for s in shards)


def find_tau_dir(domain: str, data_dir: str | Path | None) -> Path | None:
    """``--data-dir`` itself, or a ``tau_bench`` folder in or beside it (so the HF mirror's
    ``--data-dir`` works too); None: ``M1EVAL_TAU_DIR`` or the default location."""
    if data_dir is None:
        return None
    base = Path(data_dir)
    for candidate in (base, base / "tau_bench", base.parent / "tau_bench"):
        if (candidate / domain / "wiki.md").is_file():
            return candidate
    return base


def episode_cause(summary: dict[str, Any]) -> str:
    """Why an episode earned no reward, from its summary: how it ended, or which of
    tau-bench's two checks failed (the database against the gold one, the required outputs)."""
    ended_by = summary.get("ended_by")
    if ended_by not in ("user_stop", "terminate_tool"):
        return f"no reward: the episode ended by {ended_by or 'an unknown cause'}"
    parts = []
    if summary.get("db_match") is False:
        n = (summary.get("db_diff") or {}).get("n")
        parts.append(f"database differs from gold ({n} values)" if n else
                     "database differs from gold")  # fmt: skip
    missing = sorted(k for k, v in (summary.get("outputs") or {}).items() if not v)
    if missing:
        parts.append(f"{len(missing)} required output{'s' if len(missing) > 1 else ''} "
                     "never told the user")  # fmt: skip
    return "; ".join(parts) or "no reward"
