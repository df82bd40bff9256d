"""Final-answer extraction and comparison for competition math (AIME).

The protocol: take the last complete, non-empty ``\\boxed{}`` of the final answer (never the
reasoning), compare as integers when both sides are integers (so ``025`` equals ``25``, the
AIME convention), refuse hedged answers (``\\approx 33``), and fall back to ``math-verify``
for any other form (``\\frac{50}{3}``, ``x = 25``, ``25^\\circ``).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

_BOX = re.compile(r"\\boxed|\\fbox")
_INT = re.compile(r"[+-]?\d+")
# formatting around a number that never changes an AIME answer's value
_WRAPPERS = re.compile(
    r"^\\(?:text|textbf|textrm|mathrm|mathbf|mbox|underline|boxed|fbox)\s*\{(.*)\}$", re.S
)
_MOD_SUFFIX = re.compile(r"\s*(?:\\pmod\s*\{\s*\d+\s*\}|\(\s*\\?mod\s*\d+\s*\)|\\bmod\s*\d+)$")
_SPACE_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:(?:\s|\\,|\\ |~|\\!)+\d{3})+")
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+")
# a space-form box argument must look like mathematics, not a word ("\boxed as requested")
_SPACE_ARG = re.compile(r" +([+\-\d\\(][^\s$]*)")
MAX_NORMALIZED_CHARS = 4096  # longer answers skip formatting clean-up (quadratic in nesting)
MAX_VERIFY_CHARS = 1000  # longer answers are not handed to math-verify (unbounded in a thread)
VALUE_TIMEOUT_S = 5.0  # simplifying an answer's value (``2^{2^{40}}`` would never end)


def extract_last_boxed(text: str) -> str | None:
    """Content of the last complete, non-empty ``\\boxed{...}`` (or ``\\fbox{...}``, or the
    space form ``\\boxed 42``) in ``text``.

    Braces are matched, so ``\\boxed{\\frac{1}{2}}`` yields ``\\frac{1}{2}``. Passed over for
    an earlier box: an empty ``\\boxed{}``, a box left unbalanced (cut off inside it), a
    ``\\boxed`` with no argument, and a mention in prose (``formatted with \\boxed as asked``).
    Linear in ``len(text)`` for any input: braces are matched in one pass.
    """
    boxes = list(_BOX.finditer(text))
    if not boxes:
        return None
    closing = _matching_braces(text)
    for box in reversed(boxes):
        i = box.end()
        if i >= len(text):
            continue
        if text[i] == "{":
            j = closing.get(i)
            if j is not None and text[i + 1 : j].strip():
                return text[i + 1 : j]
        elif text[i] == " ":
            m = _SPACE_ARG.match(text, i, min(len(text), i + 4096))
            if m:
                return m.group(1)
    return None


def _matching_braces(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of its ``}``, for the braces that close."""
    stack: list[int] = []
    out: dict[int, int] = {}
    for j, ch in enumerate(text):
        if ch == "{":
            stack.append(j)
        elif ch == "}" and stack:
            out[stack.pop()] = j
    return out


def normalize(answer: str) -> str:
    """Strip formatting that never changes an AIME answer's value: ``$``, text and font
    wrappers, a trailing period or comma, degree and percent signs, thin spaces, thousands
    separators (``1,000``, ``1 000``, ``1\\,000``) and a ``\\pmod{1000}`` suffix."""
    s = answer
    while True:
        before = s
        s = s.strip().strip("$").strip().rstrip(".,;").strip()
        m = _WRAPPERS.match(s)
        if m:
            s = m.group(1)
        s = _MOD_SUFFIX.sub("", s)
        if s == before:
            break
    for token in ("^\\circ", "^{\\circ}", "\\%", "%", "{,}"):
        s = s.replace(token, "")
    s = s.strip()
    if _COMMA_THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    elif _SPACE_THOUSANDS.fullmatch(s):
        s = re.sub(r"\s|\\,|\\ |~|\\!", "", s)
    for token in ("\\!", "\\,", "\\ "):
        s = s.replace(token, "")
    return s.strip()


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
    method: str  # "integer", "math-verify", "hedged" or "too-long"


# An answer that hedges (``\\approx 33``) or states a relation between two values
# (``1033 \\equiv 33``) does not state one integer: it is wrong, whatever math-verify would
# make of it. A chain ``x = 33`` is an answer (math-verify reads its right-hand side).
_HEDGES = re.compile(
    r"\\(?:approx|equiv|sim|simeq|cong|neq|ne|le|leq|ge|geq|lt|gt)(?![a-zA-Z])|[<>]"
)
_DECIMAL_INT = re.compile(r"([+-]?\d+)\.0*")
_FRACTION = re.compile(
    r"([+-]?)\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}|([+-]?\d+)\s*/\s*(\d+)"
)


def answers_match(predicted: str, gold: str) -> Match:
    """Compare an extracted answer with the reference answer."""
    p, g = canonical_integer(predicted), canonical_integer(gold)
    if p is not None and g is not None:
        return Match(p == g, "integer")
    if _HEDGES.search(predicted):
        return Match(False, "hedged")
    if len(predicted) > MAX_VERIFY_CHARS:  # no closed form of an AIME answer is this long
        return Match(False, "too-long")
    return Match(_math_verify(predicted, gold), "math-verify")


def integer_value(answer: str) -> str | None:
    """The integer an answer is worth when it is written as one, as a whole decimal
    (``33.0``) or as a fraction that divides out (``\\frac{66}{2}``, ``66/2``); canonical
    digits, or None. Bounded: numerators and denominators of at most 1,000 digits."""
    value = canonical_integer(answer)
    if value is not None or len(answer) > MAX_NORMALIZED_CHARS:
        return value
    s = normalize(answer)
    m = _DECIMAL_INT.fullmatch(s)
    if m:
        return canonical_integer(m.group(1))
    m = _FRACTION.fullmatch(s)
    if m:
        sign, num, den = (m.group(1), m.group(2), m.group(3)) if m.group(2) else (
            "", m.group(4), m.group(5))  # fmt: skip
        if len(num) > 1000 or len(den) > 1000 or int(den) == 0:
            return None
        q, r = divmod(int(num), int(den))
        return canonical_integer(f"{sign}{q}") if r == 0 else None
    return None


def vote_key(answer: str, gold: str | None = None, correct: bool | None = None) -> str:
    """Key under which equal answers are counted together for majority voting, in the normal
    form grading uses: an answer graded equal to ``gold`` votes as the gold itself
    (``x = 33``, ``\\sqrt{1089}`` and ``33 \\text{ degrees}`` are one vote with ``33``); any
    other answer votes with the answers of the same value (the integer when there is one,
    ``33``, ``033``, ``33.0`` and ``\\frac{66}{2}``; else the value math-verify reads), and
    never with the gold's vote, so a vote's answers all score alike."""
    if gold is not None and correct:
        return value_key(gold)
    key = value_key(answer)
    if gold is not None and correct is False and key == value_key(gold):
        return "graded wrong: " + key
    return key


def value_key(answer: str) -> str:
    """The value an answer states, as a vote key: canonical integer digits, else math-verify's
    reading of it (an equation's right-hand side, a one-element set's element, a number
    simplified); hedged and unreadable answers vote as their normalized text."""
    value = integer_value(answer)
    if value is not None:
        return value
    if len(answer) > MAX_NORMALIZED_CHARS:
        return "sha256:" + hashlib.sha256(answer.encode("utf-8", "surrogatepass")).hexdigest()
    text = normalize(answer)
    if _HEDGES.search(answer) or len(answer) > MAX_VERIFY_CHARS:
        return text
    read = _math_verify_value(answer)
    return text if read is None else read


def _math_verify_value(answer: str) -> str | None:
    """math-verify's value of an answer, as text: integers as canonical digits, other numbers
    as sympy writes them simplified; None when it reads nothing or takes longer than
    ``VALUE_TIMEOUT_S`` to simplify."""
    try:
        import sympy
        from math_verify import parse

        main = threading.current_thread() is threading.main_thread()
        with _caller_alarm_kept():
            parsed = parse(f"\\boxed{{{answer}}}", parsing_timeout=5 if main else None)
        if not parsed or isinstance(parsed[0], str):
            return None
        expr = parsed[0]
        if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol):
            expr = expr.rhs
        if isinstance(expr, sympy.FiniteSet) and len(expr) == 1:
            expr = next(iter(expr))
        if not (isinstance(expr, sympy.Basic) and expr.is_number):
            return "expr:" + str(expr)[:MAX_VERIFY_CHARS]
        with _time_limit(VALUE_TIMEOUT_S):
            simple = sympy.nsimplify(sympy.simplify(expr), rational=True)
            if simple.is_Integer:
                return canonical_integer(str(int(simple)))
            return "value:" + str(simple)[:MAX_VERIFY_CHARS]
    except Exception:  # pathological input (math-verify and sympy raise) or too slow: no value
        return None


class _TooSlow(Exception):
    """A value took longer than its time limit to compute."""


@contextlib.contextmanager
def _caller_alarm_kept() -> Iterator[None]:
    """The caller's SIGALRM handler and pending alarm (pytest-timeout's, a user's) as they
    were after the block, less the time it took: math-verify, and :func:`_time_limit`, set
    their own alarm and cancel it when done, which would cancel the caller's too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGALRM)
    pending, interval = signal.getitimer(signal.ITIMER_REAL)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, handler)
        if pending:  # re-armed for what was left (at once, if that has passed meanwhile)
            left = pending - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), interval)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_TooSlow` in the block after ``seconds``, by SIGALRM as math-verify
    bounds its own work. Only the main thread can; in another the block runs unbounded (the
    grader's worker process, a main thread, is where answers are graded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _TooSlow(f"longer than {seconds:g} s")

    with _caller_alarm_kept():
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield


def _math_verify(predicted: str, gold: str) -> bool:
    from math_verify import parse, verify

    # math-verify enforces its timeouts with SIGALRM, which only the main thread may use.
    main = threading.current_thread() is threading.main_thread()
    timeout = 5 if main else None
    try:
        with _caller_alarm_kept():
            gold_parsed = parse(f"${gold}$", parsing_timeout=timeout)
            pred_parsed = parse(f"\\boxed{{{predicted}}}", parsing_timeout=timeout)
            if not gold_parsed or not pred_parsed:
                return False
            return bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception:  # math-verify raises on pathological LaTeX; that is "not equal"
        return False
