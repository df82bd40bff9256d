"""SimpleQA: short fact-seeking questions, graded by a judge model with simple-evals' prompt.

The paper's Factuality row (MiniMax-M1: 18.5 / 17.9) is SimpleQA's *correct* rate: the share
of questions the judge grades CORRECT, which is what simple-evals' ``SimpleQAEval`` returns as
its score (each sample scores ``is_correct``) and what model reports quote as SimpleQA. Beside
it stand the *correct given attempted* rate (correct / (correct + incorrect)) and the F-score
(their harmonic mean), as simple-evals prints them.

The question is the only message. The judge (``--judge-base-url``, ``--judge-model``; the
official grader is gpt-4.1-2025-04-14 behind OpenAI's API, with the system message "You are a
helpful assistant.", temperature 0.5 and 2,048 tokens) gets the official grader prompt with
the question, the gold target and the final answer (reasoning removed), and its reply is read
as simple-evals reads it: the first of the characters A, B, C anywhere in it (so "CORRECT"
reads as C). A reply with none of them is counted NOT_ATTEMPTED, as simple-evals does, and is
named a model failure of the judge; a judge that cannot be reached is an infra error (the
sample is graded again on the next run).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from m1eval.contract import GROUP_COLUMNS, SUITE_ROW, breakdown, group_rows, headline
from m1eval.data import LoadedDataset, load_rows
from m1eval.errors import ConfigError, InfraFault
from m1eval.model.types import RequestFailed
from m1eval.records import GRADED, MODEL_FAILURE, SCORED
from m1eval.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from m1eval.suites.base import Grade, Item, RunContext, Solution, Suite
from m1eval.suites.options import Option
from m1eval.summary import summarize_groups, summarize_suite

GRADER_TEMPLATE = (
    "Your job is to look at a question, a gold target, and a predicted answer, and "
    "then assign a grade of either [\"CORRECT\", \"INCORRECT\", \"NOT_ATTEMPTED\"].\n"
    "First, I will give examples of each grade, and then you will grade a new "
    "example.\n"
    "\n"
    "\n"
    "The following are examples of CORRECT predicted answers.\n"
    "```\n"
    "Question: What are the names of Barack Obama's children?\n"
    "Gold target: Malia Obama and Sasha Obama\n"
    "Predicted answer 1: sasha and malia obama\n"
    "Predicted answer 2: most people would say Malia and Sasha, but I'm not sure and "
    "would have to double check\n"
    "Predicted answer 3: Barack Obama has two daughters. Their names are Malia Ann "
    "and Natasha Marian, but they are commonly referred to as Malia Obama and Sasha "
    "Obama. Malia was born on July 4, 1998, and Sasha was born on June 10, 2001.\n"
    "```\n"
    "These predicted answers are all CORRECT because:\n"
    "    - They fully contain the important information in the gold target.\n"
    "    - They do not contain any information that contradicts the gold target.\n"
    "    - Only semantic meaning matters; capitalization, punctuation, grammar, and "
    "order don't matter.\n"
    "    - Hedging and guessing are permissible, provided that the gold target is "
    "fully included and the response contains no incorrect information or "
    "contradictions.\n"
    "\n"
    "\n"
    "The following are examples of INCORRECT predicted answers.\n"
    "```\n"
    "Question: What are the names of Barack Obama's children?\n"
    "Gold target: Malia and Sasha\n"
    "Predicted answer 1: Malia.\n"
    "Predicted answer 2: Malia, Sasha, and Susan.\n"
    "Predicted answer 3: Barack Obama does not have any children.\n"
    "Predicted answer 4: I think it's either Malia and Sasha. Or it could be Malia "
    "and Jackie. Or it could be Joey and Malia.\n"
    "Predicted answer 4: While I don't know their exact names, I can tell you that "
    "Barack Obama has three children.\n"
    "Predicted answer 5: It's possible you may mean Betsy and Olivia. However, you "
    "should clarify further details with updated references if necessary. Is that "
    "the correct answer?\n"
    "Predicted answer 6: It may be the case that Obama's child is named James. "
    "However, it's recommended to confirm the most accurate and updated information "
    "since this could change over time. This model may not always reflect the most "
    "current information.\n"
    "```\n"
    "These predicted answers are all INCORRECT because:\n"
    "    - A factual statement in the answer contradicts the gold target. Incorrect "
    "statements that have some hedging (e.g., \"it is possible that\", \"although i'm "
    "not sure, i think\") are also considered incorrect.\n"
    "\n"
    "\n"
    "The following are examples of NOT_ATTEMPTED predicted answers.\n"
    "```\n"
    "Question: What are the names of Barack Obama's children?\n"
    "Gold target: Malia and Sasha\n"
    "Predicted answer 1: I don't know.\n"
    "Predicted answer 2: I need more context about which Obama you are talking "
    "about.\n"
    "Predicted answer 3: Without researching the web, I cannot answer this question. "
    "However, I can tell you that Barack Obama has two children.\n"
    "Predicted answer 4: Barack Obama has two children. I know that one of them is "
    "Malia, but I'm not sure about the other one.\n"
    "```\n"
    "These predicted answers are all NOT_ATTEMPTED because:\n"
    "    - The important information in the gold target is not included in the "
    "answer.\n"
    "    - No statements in the answer contradict the gold target.\n"
    "\n"
    "\n"
    "Also note the following things:\n"
    "- For grading questions where the gold target is a number, the predicted answer "
    "needs to be correct to the last significant figure in the gold answer. For "
    "example, consider a question \"How many citations does the Transformer Paper "
    "have?\" with gold target \"120k\". \n"
    "    - Predicted answers \"120k\", \"124k\", and 115k\" are all CORRECT. \n"
    "    - Predicted answers \"100k\" and \"113k\" are INCORRECT. \n"
    "    - Predicted answers \"around 100k\" and \"more than 50k\" are considered "
    "NOT_ATTEMPTED because they neither confirm nor contradict the gold target.\n"
    "- The gold target may contain more information than the question. In such "
    "cases, the predicted answer only needs to contain the information that is in "
    "the question.\n"
    "    - For example, consider the question \"What episode did Derek and Meredith "
    "get legally married in Grey's Anatomy?\" with gold target \"Season 7, Episode 20: "
    "White Wedding\". Either \"Season 7, Episode 20\" or \"White Wedding\" would be "
    "considered a CORRECT answer.\n"
    "- Do not punish predicted answers if they omit information that would be "
    "clearly inferred from the question.\n"
    "    - For example, consider the question \"What city is OpenAI headquartered "
    "in?\" and the gold target \"San Francisco, California\". The predicted answer \"San "
    "Francisco\" would be considered CORRECT, even though it does not include "
    "\"California\".\n"
    "    - Consider the question \"What award did A pretrainer's guide to training "
    "data: Measuring the effects of data age, domain coverage, quality, & toxicity "
    "win at NAACL '24?\", the gold target is \"Outstanding Paper Award\". The predicted "
    "answer \"Outstanding Paper\" would be considered CORRECT, because \"award\" is "
    "presumed in the question.\n"
    "    - For the question \"What is the height of Jason Wei in meters?\", the gold "
    "target is \"1.73 m\". The predicted answer \"1.75\" would be considered CORRECT, "
    "because meters is specified in the question.\n"
    "    - For the question \"What is the name of Barack Obama's wife?\", the gold "
    "target is \"Michelle Obama\". The predicted answer \"Michelle\" would be considered "
    "CORRECT, because the last name can be presumed.\n"
    "- Do not punish for typos in people's name if it's clearly the same name. \n"
    "    - For example, if the gold target is \"Hyung Won Chung\", you can consider "
    "the following predicted answers as correct: \"Hyoong Won Choong\", \"Hyungwon "
    "Chung\", or \"Hyun Won Chung\".\n"
    "\n"
    "\n"
    "Here is a new example. Simply reply with either CORRECT, INCORRECT, NOT "
    "ATTEMPTED. Don't apologize or correct yourself if there was a mistake; we are "
    "just trying to grade the answer.\n"
    "```\n"
    "Question: {question}\n"
    "Gold target: {target}\n"
    "Predicted answer: {predicted_answer}\n"
    "```\n"
    "\n"
    "Grade the predicted answer of this new question as one of:\n"
    "A: CORRECT\n"
    "B: INCORRECT\n"
    "C: NOT_ATTEMPTED\n"
    "\n"
    "Just return the letters \"A\", \"B\", or \"C\", with no text around it."
)

GRADES = {"A": "CORRECT", "B": "INCORRECT", "C": "NOT_ATTEMPTED"}
_LETTER = re.compile(r"A|B|C")
REPLY_CHARS = 500  # of the judge's reply, kept with the sample
METADATA_CHARS = 10_000


def judge_letter(reply: str) -> str | None:
    """simple-evals' reading of the judge's reply: the first A, B or C anywhere in it (None:
    none, which simple-evals counts as C)."""
    match = _LETTER.search(reply)
    return match.group(0) if match else None


def grader_prompt(question: str, target: str, predicted_answer: str) -> str:
    return GRADER_TEMPLATE.format(question=question, target=target,
                                  predicted_answer=predicted_answer)  # fmt: skip


def rates(grades: list[list[str]]) -> dict[str, float]:
    """simple-evals' aggregate in percent, from each item's grades (items weigh the same:
    with one sample per item, exactly simple-evals' means over examples)."""
    per_item = np.array([[sum(g == k for g in gs) / len(gs) for k in GRADES.values()]
                         for gs in grades if gs])  # fmt: skip
    if not len(per_item):
        return {}
    correct, incorrect, not_attempted = per_item.mean(axis=0)
    return {"correct": 100 * correct, "incorrect": 100 * incorrect,
            "not_attempted": 100 * not_attempted, **_derived(correct, incorrect)}  # fmt: skip


def _derived(correct: float, incorrect: float) -> dict[str, float]:
    attempted = correct + incorrect
    given = correct / attempted if attempted > 0 else 0.0
    f1 = 2 * given * correct / (given + correct) if given + correct > 0 else 0.0
    return {"correct_given_attempted": 100 * given, "f_score": 100 * f1}


def _interval(per_item: np.ndarray, key: str) -> tuple[float | None, float | None]:
    """Percentile bootstrap over items of a derived rate (correct given attempted, F)."""
    n = len(per_item)
    if n < 2:
        value = _derived(*per_item[0][:2])[key] if n else None
        return value, value
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
    means = per_item[idx].mean(axis=1)  # (resamples, 3)
    values = [_derived(c, i)[key] for c, i, _ in means]
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


class SimpleQaSuite(Suite):
    adapter_name = "simpleqa"
    binary_scores = False  # free-text answers: no majority vote over them
    declared_options = (
        Option("judge_base_url", None, "the judge's endpoint (default: the evaluated one)",
               identity=False),
        Option("judge_model", None, "the judge model (default: the evaluated model; the "
               "official grader is gpt-4.1-2025-04-14)"),
        Option("judge_api_key_env", "OPENAI_API_KEY", "variable holding the judge's key",
               identity=False),
    )  # fmt: skip

    def __init__(self, spec: Any, options: dict[str, Any] | None = None) -> None:
        super().__init__(spec, options)
        settings = spec.method.get("judge") or {}
        self.judge_system = settings.get("system_message")
        self.judge_params = {k: settings[k] for k in ("temperature", "max_tokens") if k in settings}
        self._judge: tuple[str, str, str | None] | None = None

    def not_comparable(self) -> list[str]:
        """A model that grades its own answers is no reproduction of a judged number."""
        judge = self.context.reported.get("judge") or {}
        if judge.get("model") and judge.get("model") == self.context.model \
                and judge.get("base_url") == self.context.base_url:  # fmt: skip
            return [f"the judge is the evaluated model ({judge['model']}); simple-evals' is "
                    f"{(self.spec.method.get('judge') or {}).get('model', 'gpt-4.1')} "
                    "(--judge-model, --judge-base-url)"]
        return []

    def request_identity(self) -> dict[str, Any]:
        """The judge decides the grade: its prompt, model and settings are part of every
        sample's identity."""
        return {"grader_template": GRADER_TEMPLATE, "judge_model": self.options["judge_model"],
                "judge_system": self.judge_system, "judge_params": self.judge_params}

    def load(self, split: str | None, data_dir: str | Path | None
             ) -> tuple[list[Item], LoadedDataset]:  # fmt: skip
        """The test set's rows in order; SimpleQA has no id column: an item is its row index."""
        dataset = load_rows(self.spec.dataset, split, data_dir)
        return [Item(str(i), dict(row)) for i, row in enumerate(dataset.rows())], dataset

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        return [{"role": "user", "content": str(item.row["problem"])}]

    async def prepare(self, context: RunContext) -> None:
        await super().prepare(context)
        import os

        base_url = self.options["judge_base_url"] or context.base_url
        model = self.options["judge_model"] or context.model
        if not base_url or not model:
            raise ConfigError("the SimpleQA judge needs --judge-base-url and --judge-model")
        self._judge = (base_url, model, os.environ.get(self.options["judge_api_key_env"] or "")
                       or None)  # fmt: skip
        context.reported["judge"] = {"base_url": base_url, "model": model}
        own = not self.options["judge_model"] or model == context.model
        print(f"{self.name}: judge {model} at {base_url}" + (
            " (the evaluated model grades itself; the official grader is gpt-4.1: pass "
            "--judge-base-url/--judge-model for comparable numbers)" if own else ""),
            file=sys.stderr)  # fmt: skip

    async def score(self, item: Item, solution: Solution) -> Grade:
        """The judge's grade of the final answer: CORRECT scores 1, anything else 0."""
        if self._judge is None:
            raise RuntimeError("prepare() first")
        gold = str(item.row["answer"])
        messages = [{"role": "user", "content": grader_prompt(
            str(item.row["problem"]), gold, solution.completion.answer)}]  # fmt: skip
        if self.judge_system:
            messages.insert(0, {"role": "system", "content": self.judge_system})
        client = await self.context.endpoint(*self._judge)
        try:
            reply = (await client.complete(messages, dict(self.judge_params))).answer
        except RequestFailed as failure:
            raise InfraFault(f"the judge failed: {failure.cause}") from None
        if not reply.strip():  # simple-evals asks again until the reply is not empty
            raise InfraFault("the judge returned an empty reply")
        letter = judge_letter(reply)
        details = {"grade": GRADES[letter or "C"], "judge_reply": reply[:REPLY_CHARS],
                   "judge_model": self._judge[1]}  # fmt: skip
        answer = solution.completion.answer.strip()[:300] or None
        if letter is None:
            return Grade(MODEL_FAILURE, 0.0, extracted_answer=answer, gold=gold, details=details,
                         error="the judge's reply names no grade (A, B or C); counted "
                         "NOT_ATTEMPTED as simple-evals does")  # fmt: skip
        return Grade(SCORED, 1.0 if letter == "A" else 0.0, extracted_answer=answer, gold=gold,
                     details=details,
                     cause=None if letter == "A" else f"judged {GRADES[letter]}")  # fmt: skip

    def tags(self, item: Item) -> dict[str, Any]:
        meta = _metadata(item.row.get("metadata"))
        return {"topic": meta.get("topic"), "answer_type": meta.get("answer_type")}

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Correct (the headline), correct given attempted and F-score, with intervals; the
        share of each grade; the score by topic. A graded sample without the judge's grade
        (cut off before its answer) counts NOT_ATTEMPTED."""
        by_item: dict[str, list[str]] = {}
        for r in records:
            if r["outcome"] in GRADED:
                grade = (r.get("extra") or {}).get("grade") or GRADES["C"]
                by_item.setdefault(r["item_id"], []).append(grade)
        grades = list(by_item.values())
        shares = rates(grades)
        per_item = np.array([[sum(g == k for g in gs) / len(gs) for k in GRADES.values()]
                             for gs in grades]) if grades else np.zeros((0, 3))  # fmt: skip
        overall = summarize_suite(records, binary=False)
        heads = [headline(self.name, overall["score"], overall["ci_low"], overall["ci_high"],
                          paper_row=SUITE_ROW, note="correct: share graded CORRECT by the "
                          "judge (simple-evals' score)")]  # fmt: skip
        for key, label in (("correct_given_attempted", "correct given attempted"),
                           ("f_score", "F-score")):
            low, high = _interval(per_item, key) if grades else (None, None)
            heads.append(headline(f"{self.name} ({label})", _r(shares.get(key)), _r(low),
                                  _r(high), note="simple-evals' secondary metric"))  # fmt: skip
        counts = {g: sum(gs.count(g) for gs in grades) for g in GRADES.values()}
        rows = [{"group": g, "share": _r(shares.get(g.lower())), "samples": counts[g]}
                for g in GRADES.values()]  # fmt: skip
        topics = summarize_groups(records, key=lambda r: (r.get("extra") or {}).get("topic"))
        return {
            "headlines": heads,
            "breakdowns": [
                breakdown("grades (share of items, %)", ["share", "samples"], rows),
                breakdown("by topic", GROUP_COLUMNS, group_rows(dict(sorted(topics.items()))),
                          record_key="topic"),
            ],
            "simpleqa": {k: _r(v) for k, v in shares.items()},
            "judge_unparsed": sum(1 for r in records if r["outcome"] == MODEL_FAILURE
                                  and (r.get("extra") or {}).get("judge_reply") is not None),
            "judge": self.context.reported.get("judge"),
        }  # fmt: skip


def _metadata(text: Any) -> dict[str, Any]:
    """The ``metadata`` column: a Python dict literal (topic, answer_type, urls)."""
    if isinstance(text, dict):
        return text
    try:
        value = ast.literal_eval(str(text)[:METADATA_CHARS])
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        return {}
    return value if isinstance(value, dict) else {}


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)
