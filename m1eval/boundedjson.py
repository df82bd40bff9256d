"""JSON from untrusted sources (a model's tool arguments, a server's reply, a user's file),
parsed with bounds on size and nesting.

``json.loads`` recurses once per nesting level and raises ``RecursionError`` (not
``ValueError``) past the interpreter's limit; structures just under that limit then break
whatever recurses over them next (hashing, copying, ``json.dumps``). Here every failure is a
``ValueError`` with a one-line reason, and a document is refused if it nests deeper than
``max_depth`` or is longer than ``max_chars``.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_CHARS = 64 * 1024 * 1024


class JSONBoundsError(ValueError):
    """The text is not JSON, or is JSON beyond the bounds."""


def loads(
    text: str | bytes,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> Any:
    """Parse ``text``; :class:`JSONBoundsError` (a ``ValueError``) on anything unacceptable."""
    if len(text) > max_chars:
        raise JSONBoundsError(f"JSON text of {len(text):,} characters (limit {max_chars:,})")
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONBoundsError(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:  # also int strings past Python's limit
        raise JSONBoundsError(f"not valid JSON: {_first_line(exc)}") from None
    if depth(value, max_depth) > max_depth:
        raise JSONBoundsError(f"JSON nested deeper than {max_depth} levels")
    return value


def depth(value: Any, stop_after: int | None = None) -> int:
    """Nesting depth of lists and dicts (a scalar is 0), without recursion; gives up counting
    once ``stop_after`` is exceeded."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if stop_after is not None and deepest > stop_after:
            return deepest
        stack.extend((child, level) for child in children)
    return deepest


def jsonl_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of a JSON Lines text, split on ``\\n`` only: JSON strings may
    hold U+2028, form feeds and other characters that ``str.splitlines`` breaks on."""
    return [(i, line.rstrip("\r")) for i, line in enumerate(text.split("\n"), start=1)
            if line.strip()]  # fmt: skip


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
