"""Prompts and graders of the lm-eval tasks in this folder (m1_math500, m1_gpqa_diamond,
m1_mmlu_pro), set to the MiniMax-M1 report's zero-shot reasoning protocol.

lm-eval imports this file through ``!function m1_utils.NAME`` in the task YAMLs. Answers are
read from the last ``\\boxed{}`` of the final answer (reasoning already removed), as for AIME.
"""

from __future__ import annotations

from typing import Any

from m1eval.graders.choice import choice_letter, shuffled_options
from m1eval.graders.choice import choices_prompt as _choices_prompt
from m1eval.graders.math_answer import answers_match, extract_last_boxed

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def _final(results: list[Any]) -> str:
    return str(results[0]) if results else ""


# -- MATH-500 ----------------------------------------------------------------------------------


def math500_prompt(doc: dict[str, Any]) -> str:
    return f"{doc['problem'].strip()}\n{MATH_INSTRUCTION}"


def math500_results(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    boxed = extract_last_boxed(_final(results))
    if boxed is None or not boxed.strip():
        return {"exact_match": 0.0}
    return {"exact_match": float(answers_match(boxed.strip(), str(doc["answer"])).correct)}


# -- multiple choice (GPQA-Diamond, MMLU-Pro) --------------------------------------------------


def gpqa_docs(dataset: Any) -> Any:
    """Shuffle each question's four answers with a seed taken from its Record ID, so the gold
    letter is the same on every machine and every run (lm-eval's own GPQA tasks shuffle with
    the global random state)."""

    def shuffle(doc: dict[str, Any]) -> dict[str, Any]:
        options, gold = shuffled_options(
            doc["Record ID"], doc["Correct Answer"],
            [doc["Incorrect Answer 1"], doc["Incorrect Answer 2"], doc["Incorrect Answer 3"]],
        )  # fmt: skip
        return {"options": options, "gold": gold}

    return dataset.map(shuffle)


def gpqa_prompt(doc: dict[str, Any]) -> str:
    return _choices_prompt(doc["Question"], doc["options"])


def gpqa_results(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    return {"exact_match": float(choice_letter(_final(results), 4) == doc["gold"])}


def mmlu_pro_prompt(doc: dict[str, Any]) -> str:
    return _choices_prompt(doc["question"], list(doc["options"]))


def mmlu_pro_results(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    letter = choice_letter(_final(results), len(doc["options"]))
    return {"exact_match": float(letter == doc["answer"])}
