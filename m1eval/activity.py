"""What a run is doing right now, for the progress display: requests waiting for their first
token (prefill), requests generating, tokens streamed so far, and the latest step of agentic
work (an episode's turn, a scaffold stage, a grading). Written from the event loop and grading
threads, read by the progress bar's refresh; counters only, no locks needed for a display."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Activity:
    streamed_tokens: int = 0
    prefilling: dict[int, float] = field(default_factory=dict)  # request -> start time
    generating: int = 0
    steps: dict[str, str] = field(default_factory=dict)  # worker key -> what it does now
    retries: Counter[str] = field(default_factory=Counter)  # why requests were retried
    backing_off: dict[int, str] = field(default_factory=dict)  # request -> why it waits
    _next: int = 0

    def request_started(self) -> int:
        self._next += 1
        self.prefilling[self._next] = time.monotonic()
        return self._next

    def first_token(self, request: int) -> None:
        if self.prefilling.pop(request, None) is not None:
            self.generating += 1

    def request_ended(self, request: int) -> None:
        if self.prefilling.pop(request, None) is None:
            self.generating = max(0, self.generating - 1)

    def backoff_started(self, why: str) -> int:
        """A request waits before its next attempt because of ``why`` (``HTTP 500``)."""
        self._next += 1
        self.retries[why] += 1
        self.backing_off[self._next] = why
        return self._next

    def backoff_ended(self, token: int) -> None:
        self.backing_off.pop(token, None)

    def retried(self, limit: int = 2) -> str:
        """``retries 12 (HTTP 500 ×10, HTTP 429 ×2)``, or '' before the first retry."""
        total = sum(self.retries.values())
        if not total:
            return ""
        top = ", ".join(f"{why} ×{n}" for why, n in self.retries.most_common(limit))
        more = ", …" if len(self.retries) > limit else ""
        return f"retries {total} ({top}{more})"

    def step(self, key: str, text: str | None) -> None:
        """What ``key`` (an item, a grading) is doing; None when it is done."""
        if text is None:
            self.steps.pop(key, None)
        else:
            self.steps[key] = text

    def describe(self, limit: int = 2) -> str:
        parts = []
        if self.prefilling:
            longest = time.monotonic() - min(self.prefilling.values())
            parts.append(f"{len(self.prefilling)} prefilling (longest {longest:.0f} s)")
        if self.generating:
            parts.append(f"{self.generating} generating")
        if self.backing_off:
            why = Counter(self.backing_off.values()).most_common(1)[0][0]
            parts.append(f"{len(self.backing_off)} waiting to retry after {why}")
        recent = list(self.steps.values())[-limit:]
        parts.extend(recent)
        if len(self.steps) > limit:
            parts.append(f"+{len(self.steps) - limit} more")
        return " · ".join(parts) or "idle"


CURRENT = Activity()


def reset() -> Activity:
    global CURRENT
    CURRENT = Activity()
    return CURRENT
