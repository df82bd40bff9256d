"""Text from runs (a server's model id, suite options, notes) rendered as inert Markdown.

Everything a report shows may have come from a hostile server or model. In Markdown, HTML
is live and so are links, images and emphasis: every dynamic string goes through
:func:`md` before it reaches ``report.md`` (the HTML pages autoescape through Jinja2).
"""

from __future__ import annotations

import re

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_SPECIAL = re.compile(r"([\\`*\[\]|~])")
# "_" between two letters or digits never emphasises (CommonMark): snake_case stays readable
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
MAX_CHARS = 300


def md(value: object, limit: int = MAX_CHARS) -> str:
    """``value`` as a single line of literal Markdown text (HTML and markup escaped)."""
    text = _CONTROL.sub(" ", str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _UNDERSCORE.sub(r"\\_", _SPECIAL.sub(r"\\\1", text))
    return "".join(_HTML.get(ch, ch) for ch in text)
