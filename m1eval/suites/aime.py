"""AIME 2024 and AIME 2025, as the MiniMax-M1 report evaluates them.

avg@32 at T=1.0, top_p=0.95, with the math instruction appended to the problem. Only the last
``\\boxed{}`` of the final answer is graded; answers are integers 0-999, compared as integers.
"""

from __future__ import annotations

from typing import Any

from m1eval.graders.math_answer import answers_match, extract_last_boxed, vote_key
from m1eval.suites.base import AnswerSuite, Grade, Item

DEFAULT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


class AimeSuite(AnswerSuite):
    """AIME answers are integers: binary scores, pass@k and maj@k apply."""

    adapter_name = "aime"

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        instruction = self.spec.method.get("instruction", DEFAULT_INSTRUCTION)
        problem = str(item.row["problem"]).strip()
        return [{"role": "user", "content": f"{problem}\n{instruction}"}]

    def gold(self, item: Item) -> str:
        return str(item.row["answer"]).strip()

    def grade(self, item: Item, answer: str) -> Grade:
        gold = self.gold(item)
        extracted = extract_last_boxed(answer)
        if extracted is None or not extracted.strip():
            return Grade.failure("no \\boxed{} answer in the final answer", gold=gold)
        match = answers_match(extracted, gold)
        return Grade.scored(
            1.0 if match.correct else 0.0,
            extracted_answer=extracted.strip(),
            gold=gold,
            vote_key=vote_key(extracted, gold, match.correct),
            details={"match": match.method},
            cause=None if match.correct else "wrong value",
        )
