"""A server that refuses, errors or stalls on any subset of items never raises the score a
reader sees first (the conservative score whenever anything was left out) nor the
conservative score above the run where it answered those items wrongly. Property-tested over
the summary, and end to end against the stub server: HTTP 500 and 400 on the items the model
gets right are no better than wrong answers there."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from m1eval.contract import lead_score
from m1eval.registry import get_suite
from m1eval.summary import summarize_suite
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import only_run_dir

outcome_of_a_left_out_sample = st.sampled_from(["infra_error", "skipped", "refused"])


@given(grades=st.lists(st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=4),
                       min_size=1, max_size=8),
       hidden=st.data())  # fmt: skip
def test_leaving_items_out_never_raises_a_score(grades: list[list[float]], hidden) -> None:
    honest, attacked = [], []
    for i, item in enumerate(grades):
        for k, g in enumerate(item):
            base = {"item_id": str(i), "repeat": k, "error": None}
            targeted = hidden.draw(st.booleans())
            honest.append({**base, "outcome": "scored", "score": 0.0 if targeted else g})
            if not targeted:
                attacked.append({**base, "outcome": "scored", "score": g})
                continue
            how = hidden.draw(outcome_of_a_left_out_sample)
            if how == "refused":  # the runner records a refusal as the sample's failure
                attacked.append({**base, "outcome": "model_failure", "score": 0.0})
            else:
                attacked.append({**base, "outcome": how, "score": None})
    wrong, left = summarize_suite(honest), summarize_suite(attacked)
    assert (left["conservative"]["score"] or 0) <= (wrong["conservative"]["score"] or 0) + 1e-9
    assert (lead_score(left)["score"] or 0) <= (lead_score(wrong)["score"] or 0) + 1e-9


def _score(cli, tmp: Path, config: StubConfig) -> dict:
    with StubServer(config) as server:
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url", server.base_url,
                  "--model", "stub-model", "--results-dir", tmp, "--no-progress",
                  "--repeats", "2", "--max-attempts", "2", "--retry-base-delay", "0.01")
    assert res.code in (0, 4), res.err
    return json.loads((only_run_dir(tmp) / "summary.json").read_text())["suites"]["aime24"]


def test_errors_and_refusals_on_the_items_it_would_get_right_buy_nothing(cli,
                                                                          tmp_path: Path):
    suite = get_suite("aime24")
    items, _ = suite.load("smoke", None)
    answers = {i.row["problem"][:60]: str(i.row["answer"]).strip() for i in items}
    chosen = [i.row["problem"][:60] for i in items[:2]]  # it answers these right ...
    right = {k: v for k, v in answers.items()}
    wrong = {k: v for k, v in answers.items() if k not in chosen}  # ... or, here, wrongly
    baseline = _score(cli, tmp_path / "wrong", StubConfig(answers=wrong, correct_rate=1.0))
    errors = _score(cli, tmp_path / "500", StubConfig(answers=right, correct_rate=1.0,
                                                      fail_prompts=tuple(chosen)))
    assert errors["complete"] is False
    assert lead_score(errors)["score"] <= lead_score(baseline)["score"]
    assert errors["conservative"]["score"] <= baseline["conservative"]["score"]
    assert errors["score"] > baseline["score"]  # what the answered-only number would have said
