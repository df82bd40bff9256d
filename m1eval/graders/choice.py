"""Multiple-choice answers read from the final answer's last ``\\boxed{}``."""

from __future__ import annotations

import hashlib
import random
import re

from m1eval.graders.math_answer import extract_last_boxed

LETTERS = "ABCDEFGHIJ"
CHOICE_INSTRUCTION = (
    "Please reason step by step, and put the letter of your final answer within \\boxed{}."
)


def choice_letter(text: str, n_options: int) -> str | None:
    """The option letter of a boxed answer: ``B``, ``(B)``, ``B)``, ``\\text{B}``, ``B. 42``."""
    boxed = extract_last_boxed(text)
    if boxed is None:
        return None
    boxed = re.sub(r"\\text(?:bf)?\{([^}]*)\}", r"\1", boxed[:1000]).strip()
    m = re.match(r"^\(?([A-Z])\)?(?:[.:)\s]|$)", boxed)
    if m and m.group(1) in LETTERS[:n_options]:
        return m.group(1)
    return None


def choices_prompt(question: str, options: list[str]) -> str:
    """The question, its options as ``A) ...`` lines, and the boxed-letter instruction."""
    lines = "\n".join(f"{LETTERS[i]}) {opt.strip()}" for i, opt in enumerate(options))
    return f"{question.strip()}\n\n{lines}\n\n{CHOICE_INSTRUCTION}"


def shuffled_options(record_id: str, correct: str, incorrect: list[str]) -> tuple[list[str], str]:
    """The options in an order drawn from a seed taken from ``record_id`` (the same on every
    machine and run), and the letter of the correct one."""
    options = [correct, *incorrect]
    seed = int(hashlib.sha256(str(record_id).encode()).hexdigest()[:16], 16)
    order = list(range(len(options)))
    random.Random(seed).shuffle(order)
    return [options[i].strip() for i in order], LETTERS[order.index(0)]
