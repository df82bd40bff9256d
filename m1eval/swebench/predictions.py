"""Predictions in the official JSONL format: ``instance_id``, ``model_name_or_path``,
``model_patch``. Reading them checks every line, so a bad file fails before any container runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from m1eval import boundedjson
from m1eval.errors import DataError
from m1eval.fsutil import atomic_write_jsonl, read_user_text

MAX_DEPTH = 16  # a prediction is a flat object


def is_unified_diff(patch: str) -> bool:
    """Whether ``patch`` parses as a non-empty unified diff (with ``unidiff``, as swebench)."""
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    try:
        return len(PatchSet(patch)) > 0
    except (UnidiffParseError, ValueError):
        return False


def read_predictions(path: Path, known_ids: set[str]) -> list[dict[str, Any]]:
    text = read_user_text(path, "predictions file")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        try:
            rows = boundedjson.loads(text, max_depth=MAX_DEPTH)
        except ValueError as exc:
            raise DataError(f"{path}: {exc}") from None
        if not isinstance(rows, list):
            raise DataError(f"{path}: expected a JSON list of predictions")
        lines = [(i + 1, r) for i, r in enumerate(rows)]
    else:
        lines = []
        for lineno, line in boundedjson.jsonl_lines(text):
            try:
                lines.append((lineno, boundedjson.loads(line, max_depth=MAX_DEPTH)))
            except ValueError as exc:
                raise DataError(f"{path} line {lineno}: {exc}") from None
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for lineno, row in lines:
        where = f"{path} line {lineno}"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object")
        iid = row.get("instance_id")
        if not isinstance(iid, str) or not iid:
            raise DataError(f"{where}: missing 'instance_id'")
        if iid not in known_ids:
            raise DataError(f"{where}: unknown instance_id {iid!r}")
        if iid in seen:
            raise DataError(f"{where}: a second prediction for {iid}")
        seen.add(iid)
        patch = row.get("model_patch")
        if patch is not None and not isinstance(patch, str):
            raise DataError(f"{where}: 'model_patch' must be a string or null")
        if patch and patch.strip() and not is_unified_diff(patch):
            raise DataError(f"{where}: model_patch of {iid} is not a unified diff")
        out.append(
            {
                "instance_id": iid,
                "model_name_or_path": str(row.get("model_name_or_path") or "unknown"),
                "model_patch": patch,
            }
        )
    if not out:
        raise DataError(f"predictions file {path} has no predictions")
    return out


def write_predictions(path: Path, predictions: list[dict[str, Any]]) -> None:
    atomic_write_jsonl(path, predictions)
