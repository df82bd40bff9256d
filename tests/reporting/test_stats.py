"""Estimators against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from m1eval.stats import bootstrap_ci, k_values, majority_vote, pass_at_k, pass_hat_k
from m1eval.summary import summarize_suite


def test_pass_at_k_hand_values() -> None:
    assert pass_at_k(4, 0, 1) == 0.0
    assert pass_at_k(4, 4, 2) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_pass_hat_k_hand_values() -> None:
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(4, 3, 4) == 0.0


def test_k_values() -> None:
    assert k_values(1) == [1]
    assert k_values(32) == [1, 2, 4, 8, 16, 32]
    assert k_values(6) == [1, 2, 4, 6]


def test_majority_vote_tie_goes_to_first_seen() -> None:
    # not palindromic: "last seen among the tied" would answer "5" here
    assert majority_vote(["3", "5", "3", "5"]) == "3"
    assert majority_vote(["5", "3", "3", "5", "7"]) == "5"
    assert majority_vote(["3", "5", "5"]) == "5"
    assert majority_vote([None, None]) is None


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean() -> None:
    values = [0.0, 1.0] * 15
    low, high = bootstrap_ci(values)
    assert (low, high) == bootstrap_ci(values)
    assert low < 0.5 < high
    # the normal approximation: 0.5 +- 1.96 * sqrt(0.25 / 30) ~ +-0.179
    assert high - low == pytest.approx(2 * 1.96 * math.sqrt(0.25 / 30), abs=0.05)
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)


def _rec(item: str, repeat: int, outcome: str, score: float | None, key: str | None = None):
    return {
        "item_id": item, "repeat": repeat, "outcome": outcome, "score": score,
        "vote_key": key, "truncated": outcome == "model_failure",
        "completion_tokens": 10,
    }  # fmt: skip


def test_summary_denominators_are_explicit() -> None:
    recs = [
        _rec("1", 0, "scored", 1.0, "5"),
        _rec("1", 1, "model_failure", 0.0),
        _rec("2", 0, "scored", 1.0, "7"),
        _rec("2", 1, "infra_error", None),
    ]
    s = summarize_suite(recs)
    # item 1: (1 + 0) / 2; item 2: 1 / 1 (the infra error is not evidence about the model);
    # counted as 0 it would make item 2 0.5 and the score 50
    assert s["score"] == pytest.approx(75.0)
    assert s["conservative"]["score"] == pytest.approx(50.0)
    assert s["conservative"]["denominator"] == 4
    assert s["outcomes"] == {"scored": 2, "model_failure": 1, "infra_error": 1, "skipped": 0}
    assert s["denominator"] == 3
    assert s["complete"] is False
    assert s["n_items"] == 2 and s["n_samples"] == 4
    assert s["truncation_rate"] == pytest.approx(1 / 3)
    assert s["per_item"]["1"]["mean_score"] == 0.5


def test_summary_maj_at_k() -> None:
    recs = [
        _rec("1", 0, "scored", 0.0, "4"),
        _rec("1", 1, "scored", 1.0, "5"),
        _rec("1", 2, "scored", 1.0, "5"),
        _rec("2", 0, "scored", 0.0, "8"),
        _rec("2", 1, "scored", 0.0, "8"),
        _rec("2", 2, "scored", 1.0, "9"),
    ]
    s = summarize_suite(recs)
    assert s["maj_at_k"] == {"maj@3": 50.0}
    assert s["pass_at_k"]["pass@1"] == pytest.approx(100 * (2 / 3 + 1 / 3) / 2, abs=1e-3)
    assert s["pass_at_k"]["pass@3"] == 100.0


def test_summary_ci_resamples_items_not_samples() -> None:
    """Two items, one always right and one always wrong, 4 repeats each. Resampling the two
    items gives means 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5%
    quantiles are 0 and 100. Resampling the 8 samples would give a far narrower interval
    (about 15 .. 85), as if the repeats were independent evidence."""
    recs = [_rec("1", r, "scored", 1.0, "1") for r in range(4)]
    recs += [_rec("2", r, "scored", 0.0, "2") for r in range(4)]
    s = summarize_suite(recs)
    assert s["score"] == 50.0
    assert (s["ci_low"], s["ci_high"]) == (0.0, 100.0)


def test_summary_maj_at_k_ties_and_normalised_votes() -> None:
    """maj@k takes the first-seen key among tied ones: item 1 votes 4, 5, 4, 5 (the wrong
    answer 4 came first), item 2 votes 9, 8, 8, 9 (the right answer 9 came first)."""
    recs = [
        _rec("1", 0, "scored", 0.0, "4"), _rec("1", 1, "scored", 1.0, "5"),
        _rec("1", 2, "scored", 0.0, "4"), _rec("1", 3, "scored", 1.0, "5"),
        _rec("2", 0, "scored", 1.0, "9"), _rec("2", 1, "scored", 0.0, "8"),
        _rec("2", 2, "scored", 0.0, "8"), _rec("2", 3, "scored", 1.0, "9"),
    ]  # fmt: skip
    assert summarize_suite(recs)["maj_at_k"] == {"maj@4": 50.0}
    # reversed order: item 1 votes 5, 4, 5, 4 and now the right answer came first
    flipped = [dict(r, repeat=3 - r["repeat"]) for r in recs]
    assert summarize_suite(flipped)["maj_at_k"] == {"maj@4": 100.0}


def test_stratified_interval_by_hand() -> None:
    """One group [0, 1]: a resample's mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4.
    At 95% the quantiles are 0 and 1; at 40% (the 30% and 70% quantiles) both are 0.5."""
    from m1eval.stats import stratified_bootstrap_ci

    assert stratified_bootstrap_ci([[0.0, 1.0]]) == (0.0, 1.0)
    assert stratified_bootstrap_ci([[0.0, 1.0]], confidence=0.4) == (0.5, 0.5)
    # two groups, one fixed at 1: half of the first group's spread
    assert stratified_bootstrap_ci([[0.0, 1.0], [1.0]]) == (0.5, 1.0)
    assert stratified_bootstrap_ci([[0, 1]]) == (0.0, 1.0)  # integers read as numbers
    assert bootstrap_ci([0.0, 1.0], confidence=0.4) == (0.5, 0.5)


def test_pass_at_k_uses_the_fewest_graded_samples() -> None:
    """Item 1 has two graded samples, item 2 one (its other was an infra error): pass@k can
    only be estimated for k <= 1."""
    recs = [
        _rec("1", 0, "scored", 1.0, "5"), _rec("1", 1, "scored", 0.0, "6"),
        _rec("2", 0, "scored", 1.0, "7"), _rec("2", 1, "infra_error", None),
    ]  # fmt: skip
    s = summarize_suite(recs)
    assert s["pass_at_k"] == {"pass@1": 75.0}
    assert s["maj_at_k"] == {"maj@2": 100.0}  # item 1: a tie, the first vote (right) wins
    only_errors = [_rec("1", 0, "infra_error", None), _rec("1", 1, "infra_error", None)]
    assert summarize_suite(only_errors)["pass_at_k"] == {}
    assert "maj_at_k" not in summarize_suite(only_errors)  # no answer, so no vote
    # answers that carry no vote key (LiveCodeBench's programs) have no maj@k at all
    programs = [{**r, "vote_key": None} for r in recs]
    assert "maj_at_k" not in summarize_suite(programs) and "pass_at_k" in summarize_suite(programs)


def test_group_summaries_carry_their_fields() -> None:
    from m1eval.summary import summarize_groups

    recs = [dict(_rec("1", 0, "scored", 1.0), group="a"),
            dict(_rec("2", 0, "model_failure", 0.0), group="a"),
            dict(_rec("3", 0, "scored", 1.0), group=None)]  # fmt: skip
    groups = summarize_groups(recs, key=lambda r: r["group"])
    assert list(groups) == ["a"]
    assert groups["a"]["score"] == 50.0 and groups["a"]["denominator"] == 2
    assert set(groups["a"]) == {"score", "ci_low", "ci_high", "n_items", "n_samples",
                                "denominator", "outcomes", "conservative"}  # fmt: skip
