"""LiveCodeBench code generation, graded by running the programs in the Docker sandbox.

Data: the raw ``test*.jsonl`` files of ``livecodebench/code_generation_lite`` (its loading
script no longer runs under ``datasets`` >= 4); ``release_v6`` is test.jsonl .. test6.jsonl.
Problems are kept if ``start_date <= contest_date <= end_date`` (the paper's window by default).
Prompts are the official chat style; the last fenced block of the final answer is the program.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from m1eval import activity
from m1eval.contract import GROUP_COLUMNS, breakdown, group_rows
from m1eval.data import SMOKE_SPLIT, LoadedDataset, load_rows
from m1eval.errors import ConfigError, DataError, InfraFault
from m1eval.graders.lcb import TIMEOUT_S, extract_code, grade_program, problem_from_row
from m1eval.records import MODEL_FAILURE
from m1eval.sandbox.pool import WORKER_FAILURES
from m1eval.suites.base import Grade, Item, RunContext, Solution, Suite
from m1eval.suites.options import Option
from m1eval.summary import summarize_groups

SYSTEM_MESSAGE = (
    "You are an expert Python programmer. You will be given a question (problem specification) "
    "and will generate a correct Python program that matches the specification and passes all "
    "tests."
)
FORMAT_WITH_STARTER_CODE = (
    "You will use the following starter code to write the solution to the problem and enclose "
    "your code within delimiters."
)
FORMAT_WITHOUT_STARTER_CODE = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not "
    "directly test on the sample inputs). Enclose your code within delimiters as follows. "
    "Ensure that when the python program runs, it reads the inputs, runs the algorithm and "
    "writes output to STDOUT."
)
RELEASE_FILES = {
    f"release_v{n}": ["test.jsonl"] + [f"test{i}.jsonl" for i in range(2, n + 1)]
    for n in range(1, 7)
}
LIGHT_COLUMNS = ["question_id", "question_title", "question_content", "platform", "contest_id",
                 "contest_date", "starter_code", "difficulty"]  # fmt: skip


def user_prompt(question_content: str, starter_code: str) -> str:
    prompt = f"### Question:\n{question_content}\n\n"
    if starter_code:
        prompt += f"### Format: {FORMAT_WITH_STARTER_CODE}\n"
        prompt += f"```python\n{starter_code}\n```\n\n"
    else:
        prompt += f"### Format: {FORMAT_WITHOUT_STARTER_CODE}\n"
        prompt += "```python\n# YOUR CODE HERE\n```\n\n"
    prompt += "### Answer: (use the provided format with backticks)\n\n"
    return prompt


def _date(text: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        raise ConfigError(f"{what} must be a date like 2024-08-01, got {text!r}") from None


class LiveCodeBenchSuite(Suite):
    #: a problem statement, its examples and starter code
    longest_prompt_tokens: ClassVar[int] = 8_192
    adapter_name = "livecodebench"
    declared_options = (
        Option("release", "release_v6", "release to read", choices=tuple(RELEASE_FILES)),
        Option("start_date", "2024-08-01", "first contest date"),
        Option("end_date", "2025-05-01", "last contest date"),
        Option("sandbox_workers", None, "sandbox containers (default: CPU count)",
               type=int, positive=True, identity=False),
        Option("lcb_exec", "official", "how programs run: 'official' (LiveCodeBench's own "
               "model: compiled once per problem, called per test with stand-in stdin/stdout) "
               "or 'process' (a fresh process per test with real file descriptors)",
               choices=("official", "process")),
        Option("sandbox_output_mb", 4, "output cap per test in MiB; more fails the test",
               type=int, positive=True),
    )  # fmt: skip

    def __init__(self, spec: Any, options: dict[str, Any] | None = None) -> None:
        super().__init__(spec, options)
        self._start = _date(self.options["start_date"], "--start-date")
        self._end = _date(self.options["end_date"], "--end-date")
        self._table: Any = None
        self._pool: Any = None
        self._remote: Any = None  # the Ray executor's per-node pools

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        split = split or self.spec.dataset.split
        files = ["smoke.jsonl"] if split == SMOKE_SPLIT else RELEASE_FILES[self.options["release"]]
        dataset = load_rows(self.spec.dataset, split, data_dir, file_groups={"all": files})
        (self._table,) = dataset.tables
        items = []
        for i, row in enumerate(self._table.select_columns(LIGHT_COLUMNS)):
            when = _date(row["contest_date"], "contest_date")
            if self._start <= when <= self._end:
                items.append(Item(str(row["question_id"]), {**row, "row_index": i}))
        if not items:
            raise DataError(
                f"no LiveCodeBench problem dated {self.options['start_date']} .. "
                f"{self.options['end_date']} in {self.options['release']} ({split})"
            )
        return items, dataset

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        row = item.row
        return [
            {"role": "system", "content": SYSTEM_MESSAGE},
            {"role": "user", "content": user_prompt(row["question_content"],
                                                    row.get("starter_code") or "")},
        ]  # fmt: skip

    async def prepare(self, context: RunContext) -> None:
        await super().prepare(context)
        from m1eval.sandbox.pool import SandboxLimits, SandboxPool

        limits = SandboxLimits(max_output_bytes=int(self.options["sandbox_output_mb"]) << 20)
        if context.executor is not None:  # one pool per Docker node of the cluster
            self._remote = await asyncio.to_thread(
                context.executor.programs, int(self.options["sandbox_workers"]), limits
            )
            context.reported["sandbox"] = {"workers_per_node": self.options["sandbox_workers"],
                                        "nodes": len(self._remote.actors),
                                        "limits": limits.__dict__}  # fmt: skip
            return
        pool = SandboxPool(self.options["sandbox_workers"], limits=limits)
        self._pool = await asyncio.to_thread(pool.start)
        context.reported["sandbox"] = {"image": pool.image, "workers": pool.size,
                                    "limits": pool.limits.__dict__}  # fmt: skip

    async def close(self) -> None:
        if self._remote is not None:
            await asyncio.to_thread(self._remote.close)
            self._remote = None
        if self._pool is not None:
            await asyncio.to_thread(self._pool.close)
            self._pool = None

    async def score(self, item: Item, solution: Solution) -> Grade:
        """The program in the last fenced block, run on every test in the sandbox."""
        code = extract_code(solution.completion.answer)
        if not code.strip():
            return Grade.failure("no fenced code block in the final answer",
                                 cause="no code block")
        if self._pool is None and self._remote is None:
            raise RuntimeError("the sandbox is not started (prepare() was not called)")
        row = self._table[item.row["row_index"]]
        try:  # the dataset's fault, whatever the program: not evidence about the model
            problem = problem_from_row(row)
        except DataError as exc:
            raise InfraFault(f"test data of {item.item_id}: {exc}") from None
        exec_model = str(self.options["lcb_exec"])
        key = f"lcb/{item.item_id}/{id(code)}"
        activity.CURRENT.step(key, f"{item.item_id}: {len(problem.inputs)} tests in the sandbox")
        try:
            if self._remote is not None:
                verdict = await self._remote.grade(code, problem, TIMEOUT_S, exec_model)
            else:
                verdict = await asyncio.to_thread(grade_program, self._pool, code, problem,
                                                  exec_model=exec_model)  # fmt: skip
        finally:
            activity.CURRENT.step(key, None)
        fail = verdict.first_failure
        why = None
        if fail is not None and fail.status in WORKER_FAILURES:  # it broke its sandbox
            why = f"the program broke its sandbox worker ({fail.status}): {fail.error or ''}"
        elif fail is not None and fail.status == "output_limit":
            why = f"output limit: {fail.error or 'more output than the sandbox keeps'}"
        if why is not None:
            return Grade(MODEL_FAILURE, 0.0, extracted_answer=code, error=why[:400],
                         details=verdict.summary(problem), cause=verdict.cause())  # fmt: skip
        return Grade.scored(
            1.0 if verdict.passed else 0.0,
            extracted_answer=code,
            vote_key=None,
            details=verdict.summary(problem),
            cause=verdict.cause(),
        )

    def tags(self, item: Item) -> dict[str, Any]:
        return {"difficulty": item.row.get("difficulty"), "platform": item.row.get("platform"),
                "contest_date": str(item.row.get("contest_date"))}  # fmt: skip

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        by = summarize_groups(records, key=lambda r: (r.get("extra") or {}).get("difficulty"))
        ordered = {k: by[k] for k in ("easy", "medium", "hard") if k in by}
        return {
            "breakdowns": [
                breakdown(
                    "by difficulty", GROUP_COLUMNS, group_rows(ordered), record_key="difficulty"
                )
            ],
            "by_difficulty": ordered,
            "window": [self.options["start_date"], self.options["end_date"]],
            "release": self.options["release"],
        }
