"""Final-answer extraction and comparison for competition math (AIME).

The protocol: take the *last* ``\\boxed{}`` of the final answer (never the reasoning), compare
as integers when both sides are integers (so ``025`` equals ``25``, the AIME convention), and
fall back to ``math-verify`` for any other form (``\\frac{50}{3}``, ``x = 25``, ``25^\\circ``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

_BOX = re.compile(r"\\boxed|\\fbox")
_INT = re.compile(r"[+-]?\d+")
_WRAPPERS = re.compile(r"^\\(?:text|textbf|mathrm|mathbf)\{(.*)\}$", re.S)
MAX_NORMALIZED_CHARS = 4096  # longer answers skip formatting clean-up (quadratic in nesting)
MAX_VERIFY_CHARS = 1000  # longer answers are not handed to math-verify (unbounded in a thread)


def extract_last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 42``) in ``text``.

    Braces are matched, so ``\\boxed{\\frac{1}{2}}`` yields ``\\frac{1}{2}``. An unbalanced
    last box (the generation was cut off inside it) yields None. A ``\\boxed`` with no argument
    is passed over for an earlier, complete one. Linear in ``len(text)`` for any input.
    """
    for box in reversed(list(_BOX.finditer(text))):
        i = box.end()
        if i < len(text) and text[i] == " ":  # "\boxed 42" form
            m = re.match(r" +([^\s$]+)", text[i : i + 4096])
            return m.group(1) if m else None
        if i < len(text) and text[i] == "{":
            break
    else:  # no box, or none with an argument
        return None
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


def canonical_integer(answer: str) -> str | None:
    """The integer an answer states, as a canonical decimal string (``"025"`` -> ``"25"``), or
    None. Compared as digit strings, never through ``int()``: an answer of thousands of digits
    is just a long (wrong) number, not an error."""
    s = normalize(answer) if len(answer) <= MAX_NORMALIZED_CHARS else answer.strip()
    if not _INT.fullmatch(s):
        return None
    sign = "-" if s[0] == "-" else ""
    digits = s.lstrip("+-").lstrip("0") or "0"
    return "0" if digits == "0" else sign + digits


def parse_integer(answer: str) -> int | None:
    """The integer value of an answer of at most 4,000 digits, or None."""
    canonical = canonical_integer(answer)
    if canonical is None or len(canonical) > 4000:
        return None
    return int(canonical)


@dataclass(frozen=True)
class Match:
    correct: bool
    method: str  # "integer", "math-verify" or "too-long"


def answers_match(predicted: str, gold: str) -> Match:
    """Compare an extracted answer with the reference answer."""
    p, g = canonical_integer(predicted), canonical_integer(gold)
    if p is not None and g is not None:
        return Match(p == g, "integer")
    if len(predicted) > MAX_VERIFY_CHARS:  # no closed form of an AIME answer is this long
        return Match(False, "too-long")
    return Match(_math_verify(predicted, gold), "math-verify")


def vote_key(answer: str) -> str:
    """Key under which equal answers are counted together for majority voting."""
    value = canonical_integer(answer)
    if value is not None:
        return value
    if len(answer) > MAX_NORMALIZED_CHARS:
        return "sha256:" + hashlib.sha256(answer.encode("utf-8", "surrogatepass")).hexdigest()
    return normalize(answer)


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
