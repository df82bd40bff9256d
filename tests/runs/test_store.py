"""The results store survives crashes without losing or inventing samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m1eval.errors import RunStateError
from m1eval.store import RunStore, read_samples_file


def _rec(i: int) -> dict:
    return {"sample_id": f"s{i}", "item_id": str(i), "outcome": "scored", "score": 1.0}


def test_append_and_reopen(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    assert store.open("h") == {}
    for i in range(3):
        store.append(_rec(i))
    store.write_manifest({"config_hash": "h"})
    store.close()
    reopened = RunStore(tmp_path / "run")
    assert sorted(reopened.open("h")) == ["s0", "s1", "s2"]
    reopened.close()


def test_torn_last_line_is_cut_off(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    good = json.dumps(_rec(0)) + "\n"
    (run / "samples.jsonl").write_text(good + '{"sample_id": "s1", "ite')
    store = RunStore(run)
    assert list(store.open("h")) == ["s0"]
    store.append(_rec(2))
    store.close()
    records, _, repair = read_samples_file(run / "samples.jsonl")
    assert sorted(records) == ["s0", "s2"] and not repair


def test_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").write_text(json.dumps(_rec(0)))
    store = RunStore(run)
    assert list(store.open("h")) == ["s0"]
    store.append(_rec(1))
    store.close()
    assert sorted(read_samples_file(run / "samples.jsonl")[0]) == ["s0", "s1"]


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").write_text("garbage\n" + json.dumps(_rec(0)) + "\n")
    with pytest.raises(RunStateError, match="line 1 is corrupt"):
        RunStore(run).open("h")


def test_other_config_is_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    store.open("h1")
    store.write_manifest({"config_hash": "h1"})
    store.close()
    with pytest.raises(RunStateError, match="different configuration"):
        RunStore(tmp_path / "run").open("h2")


def test_second_process_is_locked_out(tmp_path: Path) -> None:
    first = RunStore(tmp_path / "run")
    first.open("h")
    with pytest.raises(RunStateError, match="in use"):
        RunStore(tmp_path / "run").open("h")
    first.close()


def test_drop_rewrites_without_the_dropped(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    store.open("h")
    for i in range(3):
        store.append(_rec(i))
    store.drop(["s1"])
    store.append(_rec(3))
    store.close()
    assert sorted(read_samples_file(tmp_path / "run" / "samples.jsonl")[0]) == ["s0", "s2", "s3"]


def test_records_can_be_read_without_their_texts(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    record = {**_rec(0), "answer": "x" * 1000, "reasoning": "y" * 1000}
    path.write_text(json.dumps(record) + "\n")
    slim, _, _ = read_samples_file(path, keep_text=False)
    assert "answer" not in slim["s0"] and "reasoning" not in slim["s0"]
    assert slim["s0"]["score"] == 1.0
    full, _, _ = read_samples_file(path)
    assert full["s0"]["answer"] == "x" * 1000
