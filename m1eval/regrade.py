"""``m1eval grade``: grade responses produced elsewhere with a suite's own grader."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from m1eval import boundedjson
from m1eval.artifacts import ArtifactWriter
from m1eval.causes import sample_cause
from m1eval.errors import DataError
from m1eval.fsutil import atomic_write_jsonl, read_user_text
from m1eval.model.reasoning import split_reasoning
from m1eval.outcomes import InfraFailure, grade_answer
from m1eval.records import INFRA_ERROR
from m1eval.suites.base import Grade, RunContext, Suite


def read_responses(path: Path) -> list[dict[str, Any]]:
    """Parse a responses JSONL file; any malformed line is an error naming the line."""
    text = read_user_text(path, "responses file")
    out = []
    for lineno, line in boundedjson.jsonl_lines(text):
        try:
            obj = boundedjson.loads(line, max_depth=16)
        except ValueError as exc:
            raise DataError(f"{path} line {lineno}: {exc}") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path} line {lineno}: expected a JSON object")
        if "item_id" not in obj or not isinstance(obj["item_id"], str | int):
            raise DataError(f"{path} line {lineno}: missing 'item_id' (a string)")
        if not isinstance(obj.get("response"), str):
            raise DataError(f"{path} line {lineno}: missing 'response' (a string)")
        out.append({"item_id": str(obj["item_id"]), "response": obj["response"], "line": lineno})
    if not out:
        raise DataError(f"responses file {path} has no responses")
    return out


def grade_responses(
    suite: Suite,
    responses_path: Path,
    out_path: Path,
    split: str | None = None,
    data_dir: str | Path | None = None,
) -> list[dict[str, Any]]:
    return asyncio.run(_grade_responses(suite, responses_path, out_path, split, data_dir))


async def _grade_responses(
    suite: Suite,
    responses_path: Path,
    out_path: Path,
    split: str | None,
    data_dir: str | Path | None,
) -> list[dict[str, Any]]:
    responses = read_responses(responses_path)
    loaded_items, dataset = suite.load(split, data_dir)
    items = {item.item_id: item for item in loaded_items}
    unknown = [r for r in responses if r["item_id"] not in items]
    if unknown:
        first = unknown[0]
        raise DataError(
            f"{responses_path} line {first['line']}: item_id {first['item_id']!r} is not in "
            f"{suite.name} split '{dataset.split}' ({len(unknown)} unknown id(s) in all)"
        )
    rows = []
    # artifacts grading leaves (a harness's logs) go beside the output file
    files = ArtifactWriter(out_path.parent, f"{out_path.stem}-artifacts")
    await suite.prepare(RunContext(run_dir=out_path.parent, files=files))
    try:
        for r in responses:
            split_text = split_reasoning(r["response"])
            grade = await grade_answer(suite, items[r["item_id"]], split_text.answer,
                                       split_text.lead, split_text.unclosed,
                                       files.sub(f"line-{r['line']}"))  # fmt: skip
            rows.append(_row(r, grade))
    finally:
        await suite.close()
    atomic_write_jsonl(out_path, rows)
    return rows


def _row(r: dict[str, Any], grade: Grade | InfraFailure) -> dict[str, Any]:
    if isinstance(grade, InfraFailure):
        row = {"item_id": r["item_id"], "score": None, "outcome": INFRA_ERROR,
               "extracted_answer": None, "gold": None, "error": grade.cause}  # fmt: skip
    else:
        row = {
            "item_id": r["item_id"],
            "score": grade.score,
            "outcome": grade.outcome,
            "extracted_answer": grade.extracted_answer,
            "gold": grade.gold,
            "error": grade.error,
            "cause": grade.cause,
        }
    row["cause"] = sample_cause(row)
    return row
