"""GPQA-Diamond: 198 graduate-level four-option questions, zero-shot with reasoning.

The four answers of each question are shuffled with a seed taken from its Record ID (the
same order on every machine and run), shown as ``A) .. D)`` lines after the question with the
instruction to box the letter; the letter in the last ``\\boxed{}`` of the final answer is
compared with the correct one. Binary scores: pass@k and maj@k apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from m1eval.data import SMOKE_SPLIT, LoadedDataset, load_rows
from m1eval.errors import DataError
from m1eval.graders.choice import choice_letter, choices_prompt, shuffled_options
from m1eval.suites.base import AnswerSuite, Grade, Item

INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


class GpqaSuite(AnswerSuite):
    adapter_name = "gpqa"

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        """The repository's CSV for the config the spec names (GPQA's hub repository
        holds several configs side by side, one file each)."""
        split = split or self.spec.dataset.split
        config = str(self.spec.method.get("config", "gpqa_diamond"))
        files = [f"{config}/smoke.csv"] if split == SMOKE_SPLIT else [f"{config}.csv"]
        dataset = load_rows(self.spec.dataset, split, data_dir, file_groups={split: files})
        items = self.items(dataset.rows())
        for item in items:
            row = item.row
            if not all(isinstance(row.get(k), str) and row[k].strip()
                       for k in ("Question", "Correct Answer", *INCORRECT)):  # fmt: skip
                raise DataError(f"{self.name}: row {item.item_id} lacks a question or answer")
            options, gold = shuffled_options(item.item_id, row["Correct Answer"],
                                             [row[k] for k in INCORRECT])  # fmt: skip
            row["options"], row["gold"] = options, gold
        return items, dataset

    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        return [{"role": "user", "content": choices_prompt(item.row["Question"],
                                                           item.row["options"])}]  # fmt: skip

    def grade(self, item: Item, answer: str) -> Grade:
        gold = item.row["gold"]
        letter = choice_letter(answer, len(item.row["options"]))
        if letter is None:
            return Grade.failure("no boxed option letter in the final answer", gold=gold)
        return Grade.scored(1.0 if letter == gold else 0.0, extracted_answer=letter, gold=gold,
                            vote_key=letter,
                            cause=None if letter == gold else "wrong choice")  # fmt: skip

    def tags(self, item: Item) -> dict[str, Any]:
        return {"domain": item.row.get("High-level domain")}
