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
    # "server" (usage block), "stream" (one token per streamed delta), or "server; reasoning
    # estimated from the stream" (the usage block has no reasoning_tokens)
    usage_source: str
    ttft_s: float | None
    latency_s: float
    attempts: int
    served_model: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # OpenAI format, arguments as JSON text
    # whitespace between the reasoning and ``answer`` that the split removed: the server's
    # content field was ``answer_lead + answer`` (after its reasoning, if inline)
    answer_lead: str = ""

    @classmethod
    def of_text(cls, answer: str) -> Completion:
        """A final answer produced elsewhere (``m1eval grade``): no request, no usage."""
        return cls(answer, "", None, False, None, None, None, "none", None, 0.0, 0)

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


def merge_completions(parts: list[Completion], answer: str | None = None) -> Completion:
    """Several requests as one sample: the last answer (or ``answer``), the reasonings
    joined, tokens, time and attempts summed, the first time-to-first-token, the last
    finish reason. Every multi-request suite merges through this one function."""
    if not parts:
        raise ValueError("no completion to merge")
    last = parts[-1]

    def total(key: str) -> int | None:
        values = [getattr(p, key) for p in parts]
        return None if all(v is None for v in values) else sum(v or 0 for v in values)

    return Completion(
        answer=last.answer if answer is None else answer,
        reasoning="\n\n".join(p.reasoning for p in parts if p.reasoning),
        finish_reason=last.finish_reason,
        reasoning_truncated=last.reasoning_truncated,
        prompt_tokens=total("prompt_tokens"),
        completion_tokens=total("completion_tokens"),
        reasoning_tokens=total("reasoning_tokens"),
        usage_source=last.usage_source,
        ttft_s=parts[0].ttft_s,
        latency_s=sum(p.latency_s for p in parts),
        attempts=sum(p.attempts for p in parts),
        served_model=last.served_model,
        tool_calls=last.tool_calls,
        answer_lead=last.answer_lead if answer is None else "",
    )
