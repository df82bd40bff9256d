"""The vocabulary shared by every suite adapter."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from m1eval.artifacts import Artifact, ArtifactWriter
from m1eval.data import LoadedDataset, load_rows
from m1eval.errors import ConfigError, DataError
from m1eval.model.types import Completion, merge_completions
from m1eval.records import MODEL_FAILURE, SCORED
from m1eval.suite_specs import SuiteSpec
from m1eval.suites.options import Option


@dataclass(frozen=True)
class Item:
    """One benchmark item; ``item_id`` is the dataset's own identifier, as a string.

    ``row`` holds the fields a suite needs to grade and group the item; suites with very large
    fields (long-context prompts) keep those out of ``row`` and read them on demand.
    """

    item_id: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Grade:
    outcome: str  # SCORED or MODEL_FAILURE; infra errors never reach a grader
    score: float
    extracted_answer: str | None = None
    gold: str | None = None
    vote_key: str | None = None  # answers with the same key are one vote in maj@k
    error: str | None = None
    details: dict[str, Any] | None = None
    artifacts: tuple[Artifact, ...] = ()  # files grading left (a harness's logs)
    # why it did not score 1, as a short class (m1eval.causes); None: derived from the error
    cause: str | None = None

    @classmethod
    def failure(cls, error: str, gold: str | None = None, cause: str | None = None) -> Grade:
        return cls(MODEL_FAILURE, 0.0, gold=gold, error=error, cause=cause)

    @classmethod
    def scored(cls, score: float, **kw: Any) -> Grade:
        return cls(SCORED, score, **kw)


@dataclass
class Solution:
    """What solving an item produced: the (merged) completion whose ``answer`` is graded,
    structured details stored with the sample (an episode's summary, stage products), and the
    artifacts solving wrote. ``files`` is where this sample's artifacts go (the runner sets it;
    grading writes there too)."""

    completion: Completion
    details: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    files: ArtifactWriter | None = None


class Endpoint(Protocol):
    """Something that answers chat requests (the run's client, or another endpoint)."""

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any],
                       sample_id: str | None = None,
                       session_id: str | None = None) -> Completion: ...  # fmt: skip


@dataclass
class SolveContext:
    """What a solver may use: the sample's identity and sampling, a way to ask the evaluated
    model, and other endpoints (a user simulator, a judge) under the run's retry and timeout
    policy. Nothing else of the run is visible to a suite."""

    sample_id: str
    sampling: dict[str, Any]
    asker: Endpoint
    endpoints: Callable[[str, str, str | None], Awaitable[Endpoint]]
    files: ArtifactWriter | None = None  # this sample's artifact folder in the run directory
    session_id: str | None = None  # one per item: a router keeps an item's requests together

    async def ask(self, messages: list[dict[str, Any]], **extra: Any) -> Completion:
        """Ask the evaluated model, with the sample's sampling (``extra`` adds to it)."""
        return await self.asker.complete(messages, {**self.sampling, **extra},
                                         sample_id=self.sample_id,
                                         session_id=self.session_id)  # fmt: skip

    async def endpoint(self, base_url: str, model: str, api_key: str | None = None) -> Endpoint:
        """Another chat endpoint, opened once per run and closed with it."""
        return await self.endpoints(base_url, model, api_key)


@dataclass
class RunContext:
    """What a suite may know about the run and the deployment it is run against, and where it
    reports what it set up (``reported``: its sandbox, harness version, user simulator; kept
    in the run manifest's ``run_context``)."""

    run_dir: Path | None = None
    base_url: str | None = None  # the evaluated endpoint
    model: str | None = None
    # tokens a prompt must fit not to be left out: --max-context, or the protocol's window
    context_window: int | None = None
    context_window_source: str | None = None
    served_window: int | None = None  # what the server advertises (max_model_len)
    budget: int | None = None  # the generation budget (max_tokens) of every request
    tokenizer: Any = None  # m1eval.tokenizers.Tokenizer, for suites that truncate prompts
    # where container work runs: None is this host; else m1eval.cluster.ray_executor's
    executor: Any = None
    # another chat endpoint (a judge) under the run's retry and timeout policy
    endpoints: Callable[[str, str, str | None], Awaitable[Endpoint]] | None = None
    files: ArtifactWriter | None = None  # run-level artifacts and suite state
    reported: dict[str, Any] = field(default_factory=dict)

    async def endpoint(self, base_url: str, model: str, api_key: str | None = None) -> Endpoint:
        if self.endpoints is None:
            raise RuntimeError("this run opens no other endpoint (prepare() without one)")
        return await self.endpoints(base_url, model, api_key)


COUNTED_ITEMS = 3  # the longest items (by characters) whose prompts a preflight counts
MESSAGE_MARKUP_TOKENS = 3  # a chat template's role markers per message, at the least


def adapter_classes() -> list[type[Suite]]:
    """Every imported :class:`Suite` subclass that names an adapter (the one subclass walk)."""
    found, stack = [], list(Suite.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.adapter_name:
            found.append(cls)
    return found


class Suite(ABC):
    """A benchmark: rows to items, an item to chat messages, a solution to a grade.

    A suite is graded through one call, :meth:`score`; a suite whose grade depends on the final
    answer text only derives from :class:`AnswerSuite` and writes a plain ``grade``.
    """

    #: the ``adapter:`` name manifests use for this class (found without a registry edit)
    adapter_name: ClassVar[str | None] = None
    #: whether summary metrics for binary scores (pass@k, maj@k) make sense
    binary_scores: ClassVar[bool] = True
    #: the options this suite reads, declared once (the command line is built from them)
    declared_options: ClassVar[tuple[Option, ...]] = ()
    #: name -> default, derived from ``declared_options``
    option_defaults: ClassVar[dict[str, Any]] = {}
    #: whether prompts must be measured with the served model's tokenizer
    needs_tokenizer: ClassVar[bool] = False
    #: whether :meth:`export` writes anything (the run then reads its answers back once)
    exports: ClassVar[bool] = False
    #: llama.cpp chat format the embedded server needs for this suite (tool calling)
    embedded_chat_format: ClassVar[str | None] = None
    #: whether the suite's requests carry tools (the protocol's "tools" chat template)
    uses_tools: ClassVar[bool] = False
    #: the longest prompt the suite sends, in tokens (the server's window must hold it plus
    #: the generation budget); short single-question prompts by default
    longest_prompt_tokens: ClassVar[int] = 4_096

    #: whether every prompt asked must fit the server's window with the whole budget (the
    #: run's preflight refuses a window too small); False for a suite with its own per-item
    #: window policy (MRCR skips or fits the budget per item, and counts what it did)
    fits_window: ClassVar[bool] = True

    def prompt_tokens_needed(self) -> int:
        """The longest prompt this suite, with its options, sends (``m1eval doctor``)."""
        return self.longest_prompt_tokens

    def counted_prompt_tokens(self, items: list[Item], system_prompt: str | None = None) -> int:
        """A lower bound of the longest first request this run sends, counted by the harness
        (o200k tokens of the message texts of the longest items by characters, plus a few
        tokens of chat markup per message): a window smaller than it plus the budget refuses
        every such request for sure."""
        from m1eval.tokenizers import o200k_count

        def texts(item: Item) -> list[str]:
            messages = self.build_messages(item)
            if system_prompt:
                messages = [{"role": "system", "content": system_prompt}, *messages]
            return [m["content"] if isinstance(m.get("content"), str) else "" for m in messages]

        longest = sorted(items, key=lambda i: sum(map(len, texts(i))))[-COUNTED_ITEMS:]
        return max((sum(o200k_count(t) + MESSAGE_MARKUP_TOKENS for t in texts(i))
                    for i in longest), default=0)  # fmt: skip

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.option_defaults = {o.name: o.default for o in cls.declared_options}

    def __init__(self, spec: SuiteSpec, options: dict[str, Any] | None = None) -> None:
        self.spec = spec
        declared = {o.name: o for o in self.declared_options}
        given = {k: v for k, v in (options or {}).items() if v is not None}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
            owners = sorted({cls.family() for cls in adapter_classes()
                             if any(o.name in unknown for o in cls.declared_options)})  # fmt: skip
            where = f": it applies to {', '.join(owners)} only" if owners else ""
            raise ConfigError(f"{flags} does not apply to suite {spec.name}{where}")
        from_spec = {k: spec.method[k] for k in declared if k in spec.method}
        self.options: dict[str, Any] = {**self.option_defaults, **from_spec, **given}
        for name, value in self.options.items():
            if value is not None:
                declared[name].check(value)
        self.context = RunContext()

    @classmethod
    def family(cls) -> str:
        """How messages name the suites this adapter runs."""
        return f"{cls.adapter_name} suites"

    @property
    def name(self) -> str:
        return self.spec.name

    # -- data ------------------------------------------------------------------------------

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        """Load the dataset and turn its rows into items (suites with huge rows override this)."""
        dataset = load_rows(self.spec.dataset, split, data_dir)
        return self.items(dataset.rows()), dataset

    def items(self, rows: list[dict[str, Any]]) -> list[Item]:
        field_name = self.spec.dataset.id_field
        if field_name is None:
            raise DataError(f"{self.name}: the spec names no dataset.id_field")
        items = [Item(str(row[field_name]), row) for row in rows]
        seen: set[str] = set()
        for item in items:
            if item.item_id in seen:
                raise DataError(f"{self.name}: duplicate item id {item.item_id!r} in the dataset")
            seen.add(item.item_id)
        return items

    # -- run-time preparation ----------------------------------------------------------------

    async def prepare(self, context: RunContext) -> None:
        """Receive what the deployment tells about itself before anything is asked."""
        self.context = context

    def identity(self) -> dict[str, Any]:
        """What besides the prompt decides this suite's answers (part of the config hash)."""
        return {o.name: self.options[o.name] for o in self.declared_options if o.identity}

    def not_comparable(self) -> list[str]:
        """Why this run's set-up departs from the paper's beyond the data (a model under test
        that also plays the user or the judge); each reason makes it not comparable."""
        return []

    def request_identity(self) -> dict[str, Any]:
        """What shapes the requests beyond the first rendered messages: the templates of
        follow-up requests, a scaffold's prompts and settings, an agent's system prompt, a
        user simulator's model and prompt. It is part of every sample's identity, so editing
        any of it re-asks exactly the samples whose requests it shapes."""
        return {}

    # -- one item --------------------------------------------------------------------------

    @abstractmethod
    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        """The chat messages for ``item`` (content as plain strings)."""

    def skip_reason(self, item: Item) -> str | None:
        """Why ``item`` is not to be asked at all under the suite's length policy, if it isn't."""
        return None

    async def finalize_messages(
        self, item: Item, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Last changes before sending (e.g. truncation), and what to record about them."""
        return messages, {}

    def followup_messages(
        self, item: Item, messages: list[dict[str, Any]], first_answer: str
    ) -> list[dict[str, Any]] | None:
        """A second request built from the first answer (the content after the reasoning
        block, as the server returned it), or None (two-pass protocols)."""
        return None

    async def solve(
        self, item: Item, messages: list[dict[str, Any]], ctx: SolveContext
    ) -> Solution:
        """Produce the sample's answer: by default one request, plus the suite's follow-up
        request when it has one (two-pass protocols). Multi-request suites (an agent loop, a
        scaffold) override this and ask only through ``ctx``."""
        first = await ctx.ask(messages)
        if first.reasoning_truncated:
            return Solution(first)
        # the content after the reasoning, its separator included
        followup = self.followup_messages(item, messages, first.answer_lead + first.answer)
        if followup is None:
            return Solution(first)
        second = await ctx.ask(followup)
        return Solution(merge_completions([first, second]), {"first_pass_answer": first.answer})

    @abstractmethod
    async def score(self, item: Item, solution: Solution) -> Grade:
        """Grade a solution (its answer has the reasoning removed). Raise
        :class:`~m1eval.errors.InfraFault` only for failures proven independent of the output;
        anything else raised is the output's failure (:mod:`m1eval.outcomes`)."""

    async def close(self) -> None:
        """Release what :meth:`prepare` acquired (sandbox workers, ...)."""
        return None

    def truncated_details(self, item: Item, solution: Solution) -> dict[str, Any]:
        """Details kept with a sample cut off before its answer (it is not graded): a suite
        with a second reading of its outputs records that reading's view here."""
        return {}

    def tags(self, item: Item) -> dict[str, Any]:
        """Fields stored with every sample of ``item`` for breakdowns (difficulty, bin, ...)."""
        return {}

    def merge_summaries(self, merged: dict[str, Any], shards: list[dict[str, Any]]) -> None:
        """Fold into a merged run's summary what its shards counted outside their records
        (``m1eval merge``); nothing by default."""
        return None

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Suite-specific summary sections (breakdowns, headline aggregates)."""
        return {}

    def export(self, records: list[dict[str, Any]], files: ArtifactWriter) -> list[Artifact]:
        """Write the run's answers in a benchmark's own exchange format (for instance
        SWE-bench's ``predictions.jsonl``), from the records with their answers; nothing by
        default. Called once the run's summary is written; returns what it wrote."""
        return []


class AnswerSuite(Suite):
    """A suite graded from the final answer text alone, by a plain function, which runs in a
    grader worker with a time limit (:mod:`m1eval.graders.bounded`): the answer is the
    model's, and may be built to make a grader slow."""

    #: whether ``grade`` runs in a grader worker (it needs only the item and the options)
    grade_in_worker: ClassVar[bool] = True
    #: attributes a grader worker does not need (data tables, the run's context)
    worker_transient: ClassVar[tuple[str, ...]] = ("context",)
    #: seconds one grading may take (m1eval.graders.bounded.GRADE_TIMEOUT_S)
    grade_timeout_s: ClassVar[float] = 60.0

    @abstractmethod
    def grade(self, item: Item, answer: str) -> Grade:
        """Grade the final answer text (reasoning already removed)."""

    async def score(self, item: Item, solution: Solution) -> Grade:
        return await self.bounded_grade(item, solution.completion.answer)

    async def bounded_grade(self, item: Item, *args: Any) -> Grade:
        """``grade(item, *args)`` off the event loop, in a worker within its time limit."""
        import asyncio

        from m1eval.graders.bounded import call_bounded

        if not self.grade_in_worker:
            return await asyncio.to_thread(self.grade, item, *args)
        return await asyncio.to_thread(call_bounded, self, "grade", item, *args,
                                       timeout_s=self.grade_timeout_s)  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        """What a grader worker gets: the suite without its run-time state."""
        import pickle

        state = {}
        for key, value in self.__dict__.items():
            if key in self.worker_transient:
                continue
            try:
                pickle.dumps(value)
            except Exception:  # a client, a lock, an open file: not the grader's
                continue
            state[key] = value
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("context", RunContext())
