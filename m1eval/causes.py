"""Why a sample did not score 1: one short cause per sample, counted per run.

Every sample that did not earn full credit carries a ``cause``: a short class that counts
well (``wrong answer``, ``runtime error: ValueError``, ``HTTP 500: ...``), declared by the
suite that graded it (:attr:`m1eval.suites.base.Grade.cause`) or derived here from the
record's outcome and error. Details (the failing test's input, the database difference, the
failing tests by name) stay in the record's ``extra``; the cause is what a reader scans.

Records written before causes existed have none; :func:`sample_cause` derives one from the
same fields, so every reader sees the same cause for a record, whatever version wrote it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from m1eval.records import INFRA_ERROR, MODEL_FAILURE, OUTCOMES, SCORED, SKIPPED

CAUSE_CHARS = 160  # a cause is a class, not a message: longer text is cut
CAUSES_KEPT = 5  # per outcome, most common first
NO_REASON = "no reason recorded"
OTHER = "other causes"
_RETRIES = re.compile(r" \(gave up after \d+ attempts\)$")
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]{0,80}(?:Error|Exception|Exit|Interrupt|Warning)|"
                        r"[A-Z][A-Za-z]{0,80}Error)\b")  # fmt: skip


def bounded(text: str) -> str:
    """One line of at most :data:`CAUSE_CHARS` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= CAUSE_CHARS else line[: CAUSE_CHARS - 1] + "…"


def sample_cause(record: dict[str, Any]) -> str | None:
    """The cause of a sample that did not score 1 (``None`` for full credit)."""
    outcome = record.get("outcome")
    score = record.get("score")
    if outcome == SCORED and score is not None and float(score) >= 1.0:
        return None
    declared = record.get("cause")
    if isinstance(declared, str) and declared.strip():
        return bounded(declared)
    error = record.get("error")
    if isinstance(error, str) and error.strip():
        if outcome == INFRA_ERROR:  # the attempts are counted elsewhere; the cause is the reply
            error = _RETRIES.sub("", " ".join(error.split()))
        return bounded(error)
    if outcome == SCORED:
        return "partial credit" if score is not None and float(score) > 0 else "wrong answer"
    return NO_REASON


def exception_name(text: str | None) -> str | None:
    """The exception type a traceback or ``Type: message`` text ends with, if any."""
    if not text:
        return None
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    for line in reversed(lines[-3:]):
        found = _EXCEPTION.match(line)
        if found:
            return found.group(1).rsplit(".", 1)[-1]
    return None


def failure_causes(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The most common causes of samples that did not score 1, with counts: model failures,
    wrong answers, infra errors and skips alike (``outcome`` says which), at most
    :data:`CAUSES_KEPT` per outcome, most common first, ties in text order (so the list
    depends on the records only), then the rest of that outcome as :data:`OTHER`: the counts
    of an outcome add up to its samples that did not score 1."""
    counts: Counter[tuple[str, str]] = Counter()
    for r in records:
        cause = sample_cause(r)
        if cause is not None and r.get("outcome") in OUTCOMES:
            counts[(r["outcome"], cause)] += 1
    out: list[dict[str, Any]] = []
    for outcome in (MODEL_FAILURE, SCORED, INFRA_ERROR, SKIPPED):
        ranked = sorted(((c, n) for (o, c), n in counts.items() if o == outcome),
                        key=lambda cn: (-cn[1], cn[0]))  # fmt: skip
        out += [{"cause": c, "n": n, "outcome": outcome} for c, n in ranked[:CAUSES_KEPT]]
        rest = sum(n for _, n in ranked[CAUSES_KEPT:])
        if rest:
            out.append({"cause": OTHER, "n": rest, "outcome": outcome})
    return out
