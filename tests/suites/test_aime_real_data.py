"""AIME suites on the real items in ../shared/data/hf (skipped where that folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m1eval.data import load_rows
from m1eval.registry import get_suite
from m1eval.suite_specs import load_suite_spec


@pytest.mark.parametrize(
    ("suite", "ids"),
    [("aime24", [str(i) for i in range(60, 90)]), ("aime25", [str(i) for i in range(1, 31)])],
)
def test_real_items_load_and_match_the_pin(shared_hf: Path, suite: str, ids: list[str]) -> None:
    manifest = load_suite_spec(suite)
    data = load_rows(manifest.dataset, data_dir=shared_hf)
    assert data.matches_pin is True
    assert data.source == "mirror" and data.revision == manifest.dataset.revision
    items = get_suite(suite).items(data.rows())
    assert [i.item_id for i in items] == ids


def test_aime24_answers_keep_leading_zeros_and_grade_as_integers(shared_hf: Path) -> None:
    suite = get_suite("aime24")
    items = suite.items(load_rows(suite.spec.dataset, data_dir=shared_hf).rows())
    padded = [i for i in items if str(i.row["answer"]).startswith("0")]
    assert len(padded) == 7  # "025", "073", ...
    for item in padded:
        unpadded = str(int(item.row["answer"]))
        assert suite.grade(item, f"\\boxed{{{unpadded}}}").score == 1.0


def test_prompt_is_problem_plus_instruction(shared_hf: Path) -> None:
    suite = get_suite("aime25")
    item = suite.items(load_rows(suite.spec.dataset, data_dir=shared_hf).rows())[0]
    [message] = suite.build_messages(item)
    assert message["role"] == "user"
    assert message["content"] == (
        "Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b.$\n"
        "Please reason step by step, and put your final answer within \\boxed{}."
    )


@pytest.mark.parametrize("suite", ["aime24", "aime25"])
def test_gold_answers_grade_perfectly_via_cli(cli, shared_hf: Path, tmp_path: Path, suite: str):
    rows = load_rows(load_suite_spec(suite).dataset, data_dir=shared_hf).rows()
    id_field = load_suite_spec(suite).dataset.id_field
    responses = tmp_path / "r.jsonl"
    with responses.open("w") as fh:
        for row in rows:
            wrong, gold = int(row["answer"]) + 1, row["answer"]
            text = f"<think>wrong: \\boxed{{{wrong}}}</think>\\boxed{{{gold}}}"
            fh.write(json.dumps({"item_id": row[id_field], "response": text}) + "\n")
    out = tmp_path / "graded.jsonl"
    res = cli("grade", "--suite", suite, "--responses", responses, "--out", out,
              "--data-dir", shared_hf)  # fmt: skip
    assert res.code == 0, res.err
    graded = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(graded) == 30 and all(g["score"] == 1.0 for g in graded)
    assert "mean score 100.00" in res.out
