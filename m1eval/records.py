"""The per-sample record: the row every score, report and dataframe is built from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCORED = "scored"
MODEL_FAILURE = "model_failure"  # truncated, no parsable answer, malformed tool call
INFRA_ERROR = "infra_error"  # HTTP failure after retries, sandbox crash, simulator fault
SKIPPED = "skipped"  # not asked, by an explicit, recorded policy (prompt beyond the context)
OUTCOMES = (SCORED, MODEL_FAILURE, INFRA_ERROR, SKIPPED)
GRADED = (SCORED, MODEL_FAILURE)  # in the denominator: model failures count as 0


@dataclass
class SampleRecord:
    sample_id: str
    suite: str
    item_id: str
    repeat: int
    outcome: str
    score: float | None
    extracted_answer: str | None = None
    gold: str | None = None
    vote_key: str | None = None
    answer: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    truncated: bool | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    usage_source: str | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    attempts: int | None = None
    error: str | None = None
    # why it did not score 1, a short class that counts well (m1eval.causes); None for 1
    cause: str | None = None
    prompt_sha256: str | None = None
    seed: int | None = None
    served_model: str | None = None
    finished_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the item's tags (Suite.tags: difficulty, context bin, repository, ...), also in extra;
    # readers offer them as filters
    tags: dict[str, Any] = field(default_factory=dict)
    # files the sample left in the run directory: [{"kind", "path"}] (m1eval.artifacts)
    artifacts: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
