"""Separate thinking text from the final answer.

Servers return reasoning in one of three ways: a separate ``reasoning_content`` (vLLM with a
reasoning parser; newer vLLM calls it ``reasoning``), inline ``<think>…</think>`` in the
content, or only a closing ``</think>`` when the chat template already opened the block in the
prompt (MiniMax-M1 and several R1-style templates). An opened but unclosed block means the
generation ran out of budget while thinking: there is no final answer.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN = "<think>"
CLOSE = "</think>"


@dataclass(frozen=True)
class SplitText:
    reasoning: str
    answer: str
    unclosed: bool  # reasoning started but never ended: the answer is missing
    lead: str = ""  # the whitespace removed between the reasoning and the answer


def split_reasoning(content: str, reasoning_field: str = "") -> SplitText:
    """Split ``content`` into reasoning and answer.

    ``reasoning_field`` is the server's separate reasoning text, if any; tags in the content
    are still honoured so that a server that streams both is handled. Whitespace between the
    reasoning and the answer is a separator and is removed (kept as ``lead``, for graders
    that read the answer as the server returned it); an answer with no reasoning before
    it is returned byte for byte (MRCR's grader, for one, looks at its very first character).
    """
    close_at = content.rfind(CLOSE)
    if close_at >= 0:
        head = content[:close_at]
        open_at = head.find(OPEN)
        inline = head[open_at + len(OPEN) :] if open_at >= 0 else head
        reasoning = _join(reasoning_field, inline.strip())
        after = content[close_at + len(CLOSE) :]
        answer = after.lstrip()
        return SplitText(reasoning, answer, False, after[: len(after) - len(answer)])
    stripped = content.lstrip()
    if stripped.startswith(OPEN):
        reasoning = _join(reasoning_field, stripped[len(OPEN) :].strip())
        return SplitText(reasoning, "", True)
    if reasoning_field.strip():
        return SplitText(
            reasoning_field.strip(), stripped, False, content[: len(content) - len(stripped)]
        )
    return SplitText("", content, False)


def _join(a: str, b: str) -> str:
    a = a.strip()
    return f"{a}\n{b}" if a and b else (a or b)
