"""What one chat-completion request returns, and how it can fail."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Completion:
    """One finished generation, with the reasoning separated from the final answer."""

    answer: str
    reasoning: str
    finish_reason: str | None
    reasoning_truncated: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    usage_source: str  # "server" (usage block) or "stream" (one token per streamed delta)
    ttft_s: float | None
    latency_s: float
    attempts: int
    served_model: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # OpenAI format, arguments as JSON text

    @property
    def truncated(self) -> bool:
        """Cut off by the token budget: ``finish_reason == "length"`` or an unclosed think."""
        return self.finish_reason == "length" or self.reasoning_truncated

    def to_record(self) -> dict[str, Any]:
        out = asdict(self)
        out["truncated"] = self.truncated
        return out


class RequestFailed(Exception):
    """A request that could not be completed; ``retryable`` says whether retrying may help."""

    def __init__(
        self,
        cause: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status  # HTTP status, when the server answered with an error
        self.attempts = 0
