"""The vocabulary shared by every suite adapter."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.data import LoadedDataset, load_rows
from m1eval.errors import DataError
from m1eval.manifests import SuiteManifest
from m1eval.records import MODEL_FAILURE, SCORED


@dataclass(frozen=True)
class Item:
    """One benchmark item; ``item_id`` is the dataset's own identifier, as a string."""

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

    @classmethod
    def failure(cls, error: str, gold: str | None = None) -> Grade:
        return cls(MODEL_FAILURE, 0.0, gold=gold, error=error)

    @classmethod
    def scored(cls, score: float, **kw: Any) -> Grade:
        return cls(SCORED, score, **kw)


class Suite(ABC):
    """A benchmark: rows to items, an item to chat messages, a final answer to a grade."""

    #: whether summary metrics for binary scores (pass@k, maj@k) make sense
    binary_scores: bool = True

    def __init__(self, manifest: SuiteManifest) -> None:
        self.manifest = manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    def load(
        self, split: str | None, data_dir: str | Path | None
    ) -> tuple[list[Item], LoadedDataset]:
        """Load the dataset and turn its rows into items (suites with huge rows override this)."""
        dataset = load_rows(self.manifest.dataset, split, data_dir)
        return self.items(dataset.rows()), dataset

    def items(self, rows: list[dict[str, Any]]) -> list[Item]:
        field = self.manifest.dataset.id_field
        if field is None:
            raise DataError(f"{self.name}: the manifest names no dataset.id_field")
        items = [Item(str(row[field]), row) for row in rows]
        seen: set[str] = set()
        for item in items:
            if item.item_id in seen:
                raise DataError(f"{self.name}: duplicate item id {item.item_id!r} in the dataset")
            seen.add(item.item_id)
        return items

    @abstractmethod
    def build_messages(self, item: Item) -> list[dict[str, Any]]:
        """The chat messages for ``item`` (content as plain strings)."""

    @abstractmethod
    def grade(self, item: Item, answer: str) -> Grade:
        """Grade the final answer text (reasoning already removed)."""
