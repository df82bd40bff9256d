"""Final-answer extraction and comparison for competition math (AIME).

The protocol: take the *last* ``\\boxed{}`` of the final answer (never the reasoning), compare
as integers when both sides are integers (so ``025`` equals ``25``, the AIME convention), and
fall back to ``math-verify`` for any other form (``\\frac{50}{3}``, ``x = 25``, ``25^\\circ``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_INT = re.compile(r"[+-]?\d+")
_WRAPPERS = re.compile(r"^\\(?:text|textbf|mathrm|mathbf)\{(.*)\}$", re.S)


def extract_last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 42``) in ``text``.

    Braces are matched, so ``\\boxed{\\frac{1}{2}}`` yields ``\\frac{1}{2}``. An unbalanced
    last box (the generation was cut off inside it) yields None.
    """
    best = -1
    for cmd in _BOX_COMMANDS:
        best = max(best, text.rfind(cmd))
    if best < 0:
        return None
    start = best
    cmd = next(c for c in _BOX_COMMANDS if text.startswith(c, start))
    i = start + len(cmd)
    if i < len(text) and text[i] == " ":  # "\boxed 42" form
        m = re.match(r" +([^\s$]+)", text[i:])
        return m.group(1) if m else None
    if i >= len(text) or text[i] != "{":
        # "\boxed" not followed by an argument: look for an earlier, complete box.
        return extract_last_boxed(text[:start])
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def normalize(answer: str) -> str:
    """Strip formatting that never changes an AIME answer's value."""
    s = answer.strip().strip("$").strip()
    while True:
        m = _WRAPPERS.match(s)
        if not m:
            break
        s = m.group(1).strip()
    for token in ("^\\circ", "^{\\circ}", "\\%", "%", "\\!", "\\,", "\\ ", "{,}"):
        s = s.replace(token, "")
    s = s.strip().rstrip(".").strip()
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", s):
        s = s.replace(",", "")
    return s


def parse_integer(answer: str) -> int | None:
    s = normalize(answer)
    return int(s) if _INT.fullmatch(s) else None


@dataclass(frozen=True)
class Match:
    correct: bool
    method: str  # "integer" or "math-verify"


def answers_match(predicted: str, gold: str) -> Match:
    """Compare an extracted answer with the reference answer."""
    p, g = parse_integer(predicted), parse_integer(gold)
    if p is not None and g is not None:
        return Match(p == g, "integer")
    return Match(_math_verify(predicted, gold), "math-verify")


def vote_key(answer: str) -> str:
    """Key under which equal answers are counted together for majority voting."""
    value = parse_integer(answer)
    return str(value) if value is not None else normalize(answer)


def _math_verify(predicted: str, gold: str) -> bool:
    from math_verify import parse, verify

    # math-verify enforces its timeouts with SIGALRM, which only the main thread may use.
    main = threading.current_thread() is threading.main_thread()
    timeout = 5 if main else None
    try:
        gold_parsed = parse(f"${gold}$", parsing_timeout=timeout)
        pred_parsed = parse(f"\\boxed{{{predicted}}}", parsing_timeout=timeout)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception:  # math-verify raises on pathological LaTeX; that is "not equal"
        return False
