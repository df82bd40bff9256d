"""Retry timing: exponential backoff with full jitter, bounded, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_retry_after_s: float = 600.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            # The server said when to come back: do so, plus a little jitter so that many
            # waiting requests do not return in the same millisecond.
            return min(retry_after, self.max_retry_after_s) + rng.uniform(0, self.base_delay_s / 4)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return rng.uniform(0, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    """Parse a Retry-After header: delay-seconds or an HTTP date. None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, seconds)
