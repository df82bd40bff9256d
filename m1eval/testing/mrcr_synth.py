"""Synthetic OpenAI-MRCR rows in the exact upstream schema, for tests, demos and benchmarks.

A row is a long multi-turn conversation in which the user asks for many pieces of writing
("write a poem about tapirs"); the same request appears ``n_needles`` times, and the last user
message asks the model to reproduce one of those answers with a random prefix. Fields match
``openai/mrcr``: ``prompt`` (a JSON list of messages), ``answer``, ``random_string_to_prepend``,
``n_needles``, ``desired_msg_index``, ``total_messages``, ``n_chars``.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

FORMATS = ("poem", "short story", "riddle", "blog post", "social media post", "essay", "song")
SUBJECTS = (
    "tapirs", "lighthouses", "glaciers", "accordions", "street food", "comets", "beekeeping",
    "typewriters", "tides", "origami", "night trains", "moss", "volcanoes", "chess clocks",
)  # fmt: skip
WORDS = (
    "silver", "morning", "quiet", "river", "stone", "ancient", "lantern", "window", "harbor",
    "meadow", "whisper", "thunder", "ember", "velvet", "orchard", "compass", "feather",
    "canyon", "marble", "shadow", "willow", "breeze", "copper", "hollow", "saffron", "granite",
    "ripple", "summit", "cobalt", "ember", "tundra", "drift", "anchor", "prairie", "echo",
    "bramble", "lantern", "quartz", "juniper", "horizon", "cinder", "pebble", "maple",
    "starlight", "ribbon", "vapor", "dune",
)  # fmt: skip
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def _ordinal(n: int) -> str:
    return ORDINALS.get(n, f"{n}th")


def _text(rng: random.Random, n_words: int) -> str:
    lines, line = [], []
    for _ in range(n_words):
        line.append(rng.choice(WORDS))
        if len(line) >= rng.randint(6, 11):
            lines.append(" ".join(line).capitalize() + rng.choice((",", ".", "")))
            line = []
    if line:
        lines.append(" ".join(line).capitalize() + ".")
    return "\n".join(lines)


def make_row(
    rng: random.Random,
    target_tokens: int,
    n_needles: int,
    pool: list[tuple[str, int]] | None = None,
) -> dict[str, Any]:
    """One row whose prompt is about ``target_tokens`` o200k tokens long.

    With ``pool`` (answers made once by :func:`answer_pool`), answers are drawn from it, which
    makes million-token rows quick to build.
    """
    fmt, subject = rng.choice(FORMATS), rng.choice(SUBJECTS)
    needle_ask = f"write a {fmt} about {subject}"
    words_per_answer = rng.randint(60, 160)
    picked: list[str] = []
    if pool:
        total = 30  # the final request
        while total < target_tokens or len(picked) < n_needles + 1:
            text, tokens = rng.choice(pool)
            picked.append(text)
            total += tokens + 7  # the answer and its "write a ... about ..." ask
        n_turns = len(picked)
    else:
        # ~1.1 tokens per word in these answers, plus the ask
        n_turns = max(n_needles + 1, round(target_tokens / (words_per_answer * 1.1 + 12)))
    needle_turns = sorted(rng.sample(range(n_turns), n_needles))
    messages: list[dict[str, str]] = []
    needle_answers: list[int] = []
    for turn in range(n_turns):
        if turn in needle_turns:
            ask = needle_ask
        else:
            other = (rng.choice(FORMATS), rng.choice(SUBJECTS))
            while other == (fmt, subject):
                other = (rng.choice(FORMATS), rng.choice(SUBJECTS))
            ask = f"write a {other[0]} about {other[1]}"
        messages.append({"role": "user", "content": ask})
        content = picked[turn] if pool else _text(rng, words_per_answer)
        messages.append({"role": "assistant", "content": content})
        if turn in needle_turns:
            needle_answers.append(len(messages) - 1)
    k = rng.randint(1, n_needles)
    prefix = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(10))
    messages.append(
        {
            "role": "user",
            "content": f"Prepend {prefix} to the {_ordinal(k)} (1 indexed) {fmt} about "
            f"{subject}. Do not include any other text in your response.",
        }
    )
    desired = needle_answers[k - 1]
    return {
        "prompt": json.dumps(messages),
        "answer": prefix + messages[desired]["content"],
        "random_string_to_prepend": prefix,
        "n_needles": n_needles,
        "desired_msg_index": desired,
        "total_messages": len(messages),
        "n_chars": sum(len(m["content"]) for m in messages),
    }


def answer_pool(rng: random.Random, size: int = 400) -> list[tuple[str, int]]:
    """Answers with their o200k token counts, for :func:`make_row` to draw from."""
    from m1eval.tokenizers import o200k_count

    texts = [_text(rng, rng.randint(60, 160)) for _ in range(size)]
    return [(t, o200k_count(t)) for t in texts]


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def make_mirror(
    root: Path,
    sizes: list[int],
    needles: tuple[int, ...] = (2, 4, 8),
    seed: int = 0,
    shards: tuple[str, ...] = ("0", "1"),
) -> Path:
    """Write ``root/openai/mrcr/{n}needle/{n}needle_{shard}.parquet`` and return the repo dir.

    ``sizes`` are target prompt lengths in o200k tokens; each shard gets every size once per
    needle count (so rows alternate between shards the way the real files split them).
    """
    rng = random.Random(seed)
    repo = root / "openai" / "mrcr"
    for n in needles:
        for shard in shards:
            rows = [make_row(rng, size, n) for size in sizes]
            write_parquet(repo / f"{n}needle" / f"{n}needle_{shard}.parquet", rows)
    return repo
