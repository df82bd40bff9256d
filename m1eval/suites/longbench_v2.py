"""LongBench-v2: 503 multiple-choice questions over long documents.

Prompts are the official templates byte for byte (``0shot.txt``; with ``--cot`` the two-pass
``0shot_cot.txt`` then ``0shot_cot_ans.txt``), filled in the official order. A prompt longer
than ``max_prompt_tokens`` of the served model's tokenizer keeps the first and last halves of
its token ids, as the official ``query_llm`` does. The answer is read with the official
``extract_answer``, from the final answer only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from m1eval.contract import SUITE_ROW, breakdown, headline
from m1eval.data import LoadedDataset, load_rows
from m1eval.errors import ConfigError
from m1eval.records import GRADED, INFRA_ERROR, MODEL_FAILURE
from m1eval.suites.base import AnswerSuite, Grade, Item, Solution
from m1eval.suites.options import Option
from m1eval.summary import summarize_suite

TEMPLATE_0SHOT = (
    "Please read the following text and answer the question below.\n\n<text>\n$DOC$\n</text>\n\n"
    "What is the correct answer to this question: $Q$\nChoices:\n(A) $C_A$\n(B) $C_B$\n"
    "(C) $C_C$\n(D) $C_D$\n\n"
    'Format your response as follows: "The correct answer is (insert answer here)".'
)
TEMPLATE_0SHOT_COT = (
    "Please read the following text and answer the questions below.\n\n<text>\n$DOC$\n</text>\n\n"
    "What is the correct answer to this question: $Q$\nChoices:\n(A) $C_A$\n(B) $C_B$\n"
    "(C) $C_C$\n(D) $C_D$\n\nLet\u2019s think step by step:"
)
TEMPLATE_0SHOT_COT_ANS = (
    "Please read the following text and answer the questions below.\n\n"
    "The text is too long and omitted here.\n\n"
    "What is the correct answer to this question: $Q$\nChoices:\n(A) $C_A$\n(B) $C_B$\n"
    "(C) $C_C$\n(D) $C_D$\n\nLet\u2019s think step by step: $COT$\n\n"
    "Based on the above, what is the single, most likely answer choice? "
    'Format your response as follows: "The correct answer is (insert answer here)".'
)
CATEGORIES = {
    "Overall": lambda r: True,
    "Easy": lambda r: r.get("difficulty") == "easy",
    "Hard": lambda r: r.get("difficulty") == "hard",
    "Short": lambda r: r.get("length") == "short",
    "Medium": lambda r: r.get("length") == "medium",
    "Long": lambda r: r.get("length") == "long",
}
_ANSWER_PAREN = re.compile(r"The correct answer is \(([A-D])\)")
_ANSWER_BARE = re.compile(r"The correct answer is ([A-D])")


def extract_answer(response: str) -> str | None:
    """The official ``extract_answer``: drop ``*``, then the first of two patterns."""
    response = response.replace("*", "")
    match = _ANSWER_PAREN.search(response)
    if match:
        return match.group(1)
    match = _ANSWER_BARE.search(response)
    return match.group(1) if match else None


def fill(template: str, row: dict[str, Any], context: str, cot: str | None = None) -> str:
    """Fill a template in the official order ($DOC$ first, $COT$ last)."""
    prompt = (
        template.replace("$DOC$", context.strip())
        .replace("$Q$", row["question"].strip())
        .replace("$C_A$", row["choice_A"].strip())
        .replace("$C_B$", row["choice_B"].strip())
        .replace("$C_C$", row["choice_C"].strip())
        .replace("$C_D$", row["choice_D"].strip())
    )
    return prompt.replace("$COT$", cot) if cot is not None else prompt


def truncate_middle(ids: list[int], limit: int) -> list[int]:
    """Keep the first and last halves, exactly as the official code slices them."""
    if len(ids) <= limit:
        return ids
    return ids[: limit // 2] + ids[-limit // 2 :]


class LongBenchV2Suite(AnswerSuite):
    adapter_name = "longbench_v2"
    declared_options = (
        Option("cot", False, "two-pass chain-of-thought protocol", switch="on"),
        Option("max_prompt_tokens", 120_000, "truncation limit in the served model's tokens",
               type=int, positive=True),
    )  # fmt: skip
    needs_tokenizer: ClassVar[bool] = True
    worker_transient: ClassVar[tuple[str, ...]] = ("context", "_table")

    def prompt_tokens_needed(self) -> int:
        """Contexts are cut to ``max_prompt_tokens``; the template and question add a little."""
        return int(self.options["max_prompt_tokens"]) + 1_024

    def counted_prompt_tokens(self, items: list[Item], system_prompt: str | None = None) -> int:
        """Prompts are cut to ``max_prompt_tokens`` of the served model's tokenizer before
        they are sent."""
        return min(super().counted_prompt_tokens(items, system_prompt),
                   int(self.options["max_prompt_tokens"]))  # fmt: skip

    def __init__(self, spec: Any, options: dict[str, Any] | None = None) -> None:
        super().__init__(spec, options)
        if int(self.options["max_prompt_tokens"]) < 2:
            raise ConfigError("--max-prompt-tokens must be at least 2")
        self._table: Any = None

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        dataset = load_rows(self.spec.dataset, split, data_dir)
        (self._table,) = dataset.tables
        light = [c for c in self._table.column_names if c != "context"]
        rows = [dict(row, row_index=i) for i, row in enumerate(self._table.select_columns(light))]
        return self.items(rows), dataset

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        template = TEMPLATE_0SHOT_COT if self.options["cot"] else TEMPLATE_0SHOT
        context = self._table[item.row["row_index"]]["context"]
        return [{"role": "user", "content": fill(template, item.row, context)}]

    async def finalize_messages(
        self, item: Item, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        tokenizer = self.context.tokenizer
        if tokenizer is None:
            raise ConfigError("LongBench-v2 needs a tokenizer to measure prompts")
        limit = int(self.options["max_prompt_tokens"])
        prompt = messages[-1]["content"]
        ids = await tokenizer.encode(prompt)
        info: dict[str, Any] = {"prompt_tokens_full": len(ids), "prompt_truncated": False}
        if len(ids) > limit:
            prompt = await tokenizer.decode(truncate_middle(ids, limit))
            info["prompt_truncated"] = True
            messages = [*messages[:-1], {**messages[-1], "content": prompt}]
        return messages, info

    def request_identity(self) -> dict[str, Any]:
        return {"answer_template": TEMPLATE_0SHOT_COT_ANS} if self.options["cot"] else {}

    def followup_messages(
        self, item: Item, messages: list[dict[str, Any]], first_answer: str
    ) -> list[dict[str, Any]] | None:
        if not self.options["cot"] or first_answer == "":
            return None  # an empty first pass ends the item, as in pred.py (only '')
        context = ""  # the answer template omits the document
        prompt = fill(TEMPLATE_0SHOT_COT_ANS, item.row, context, cot=first_answer.strip())
        return [*messages[:-1], {"role": "user", "content": prompt}]

    def grade(self, item: Item, answer: str, lead: str = "", reasoning: str | None = None
              ) -> Grade:  # fmt: skip
        """``extract_answer`` on the final answer. pred.py leaves out only an output that is
        exactly ``''``: here, nothing at all after the reasoning block (a request cut off
        inside its reasoning included); whitespace is an answer, and a wrong one. With
        ``reasoning`` (the completion's), the literal pred.py reading is kept beside it: the
        same rule on the content as vLLM serves M1, reasoning inline (see
        :func:`pred_py_reading`)."""
        gold = item.row["answer"]
        literal = {} if reasoning is None else pred_py_reading(gold, reasoning, lead + answer)
        if lead + answer == "":
            return Grade(MODEL_FAILURE, 0.0, gold=gold, error="empty output",
                         details={"empty_output": True, **literal})  # fmt: skip
        pred = extract_answer(answer)
        if pred is None:
            return Grade(MODEL_FAILURE, 0.0, gold=gold, details=literal or None,
                         error='no "The correct answer is (X)" in the final answer')  # fmt: skip
        return Grade.scored(1.0 if pred == gold else 0.0, extracted_answer=pred, gold=gold,
                            vote_key=pred, details=literal or None,
                            cause=None if pred == gold else "wrong choice")  # fmt: skip

    async def score(self, item: Item, solution: Solution) -> Grade:
        c = solution.completion
        return await self.bounded_grade(item, c.answer, c.answer_lead, c.reasoning)

    def truncated_details(self, item: Item, solution: Solution) -> dict[str, Any]:
        """Cut off inside its reasoning: no answer here, but the literal pred.py reading
        still sees the reasoning as the content (``<think>`` and what followed)."""
        c = solution.completion
        return pred_py_reading(item.row["answer"], c.reasoning, "", closed=False)

    def tags(self, item: Item) -> dict[str, Any]:
        return {k: item.row.get(k) for k in ("difficulty", "length", "domain", "sub_domain")}

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Overall/Easy/Hard/Short/Medium/Long in three denominators. ``score`` is the
        official one: pred.py never writes an empty output (a failed request, or a reasoning
        model cut off before its answer), so result.py's accuracy leaves those samples out;
        ``empty_as_wrong`` counts empty outputs as wrong; ``failures_as_wrong`` also counts
        failed requests (infra errors) as wrong."""
        out = {}
        for name, keep in CATEGORIES.items():
            recs = [r for r in records if keep(r.get("extra") or {})]
            graded = [r for r in recs if r["outcome"] in GRADED]
            answered = [r for r in graded if not _empty(r)]
            failed = [r for r in recs if r["outcome"] == INFRA_ERROR]
            correct = sum(float(r["score"] or 0) for r in answered)
            out[name] = {
                "score": _pct(correct, len(answered)),
                "empty_as_wrong": _pct(correct, len(graded)),
                "failures_as_wrong": _pct(correct, len(graded) + len(failed)),
                "n": len(recs),
                "n_empty": len(graded) - len(answered),
                "n_infra_error": len(failed),
            }
        rows = [
            {
                "group": k,
                "score": v["score"],
                "empty as wrong": v["empty_as_wrong"],
                "failures as wrong": v["failures_as_wrong"],
                "n": v["n"],
                "empty outputs": v["n_empty"],
                "failed requests": v["n_infra_error"],
            }
            for k, v in out.items()
        ]
        official = summarize_suite([r for r in records if not _empty(r)], binary=False)
        with_empty = summarize_suite(records, binary=False)
        literal = summarize_suite(
            [{**r, "score": _pred_py(r)[1]} for r in records
             if not (r["outcome"] in GRADED and _pred_py(r)[0])], binary=False)  # fmt: skip
        heads = [
            headline(self.name, official["score"], official["ci_low"], official["ci_high"],
                     paper_row=SUITE_ROW,
                     note="empty outputs left out, as the official pred.py/result.py do"),
            headline(f"{self.name} (empty = wrong)", with_empty["score"],
                     with_empty["ci_low"], with_empty["ci_high"],
                     note="empty outputs counted as wrong answers"),
            headline(f"{self.name} (pred.py on the served content)", literal["score"],
                     literal["ci_low"], literal["ci_high"],
                     note="a literal pred.py run on vLLM's content for M1: the reasoning "
                     "inline, the first 'The correct answer is' anywhere, only '' left out"),
        ]  # fmt: skip
        return {
            "headlines": heads,
            "breakdowns": [
                breakdown(
                    "by category",
                    [
                        "score",
                        "empty as wrong",
                        "failures as wrong",
                        "n",
                        "empty outputs",
                        "failed requests",
                    ],
                    rows,
                    note="score leaves out empty outputs and failed requests, as the "
                    "official scripts do",
                )
            ],
            "categories": out,
            "prompting": "cot" if self.options["cot"] else "0shot",
            "denominators": "score leaves out empty outputs and failed requests (official); "
            "empty_as_wrong counts empty outputs as wrong; failures_as_wrong also counts "
            "failed requests as wrong",
        }


def pred_py_reading(gold: str, reasoning: str, after: str, closed: bool = True
                    ) -> dict[str, Any]:  # fmt: skip
    """What a literal pred.py run makes of a completion served as vLLM serves MiniMax-M1 (no
    reasoning parser: the content is ``<think>reasoning</think>`` then the answer): an
    output is left out only when the whole content is ``''``; otherwise ``extract_answer``
    takes the *first* "The correct answer is" anywhere in it, the reasoning included."""
    content = after
    if reasoning:
        content = f"<think>{reasoning}</think>{after}" if closed else f"<think>{reasoning}"
    pred = extract_answer(content)
    return {"pred_py_empty": content == "", "pred_py_answer": pred,
            "pred_py_score": 1.0 if pred is not None and pred == gold else 0.0}  # fmt: skip


def _pred_py(record: dict[str, Any]) -> tuple[bool, float]:
    """(left out, score) of a sample under the literal pred.py reading; a sample graded
    without its reasoning (``m1eval grade``) reads as under the default."""
    extra = record.get("extra") or {}
    if "pred_py_empty" not in extra:
        return _empty(record), float(record["score"] or 0)
    return bool(extra["pred_py_empty"]), float(extra["pred_py_score"])


def _empty(record: dict[str, Any]) -> bool:
    """An empty output: no final answer text (a reasoning model cut off inside its thinking
    leaves none either)."""
    return record["outcome"] == MODEL_FAILURE and bool(
        (record.get("extra") or {}).get("empty_output")
    )


def _pct(correct: float, n: int) -> float | None:
    return round(100 * correct / n, 4) if n else None
