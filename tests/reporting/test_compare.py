"""The regression gate: exact tests on hand-checked cases, no false alarm between two runs that
differ only by seed, a loud failure with the flip list when the grader is broken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from m1eval.compare import Comparison, _test, holm, mcnemar_exact, paired_bootstrap
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import only_run_dir

ANSWERS = {"$7 + 5$": "12", "divisors": "9", "$2^{10}$": "24", "consecutive": "21",
           "$3^4$": "81"}  # fmt: skip


def test_mcnemar_exact_hand_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(3, 1) == pytest.approx(2 * 5 / 16)  # P(X<=1), n=4


def test_paired_bootstrap() -> None:
    assert paired_bootstrap(np.zeros(10)) == 1.0
    assert paired_bootstrap(np.full(30, -0.5)) < 0.001
    noisy = np.array([0.1, -0.1] * 15)
    assert paired_bootstrap(noisy) > 0.5


def test_holm_correction() -> None:
    tests = [Comparison(str(i), "m", 1, 0, 0, p) for i, p in enumerate((0.01, 0.04, 0.03))]
    holm(tests)
    assert [t.p_adjusted for t in tests] == pytest.approx([0.03, 0.06, 0.06])


def _run(cli, tmp_path: Path, name: str, seed: int, repeats: int = 8) -> Path:
    with StubServer(StubConfig(answers=ANSWERS, correct_rate=0.5)) as server:
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url", server.base_url,
                  "--model", "stub-model", "--repeats", str(repeats), "--seed", str(seed),
                  "--results-dir", tmp_path / name, "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    return only_run_dir(tmp_path / name)


def test_two_seeds_are_not_a_regression(cli, tmp_path: Path) -> None:
    base, cand = _run(cli, tmp_path, "a", 1), _run(cli, tmp_path, "b", 2)
    res = cli("compare", base, cand, "--json")
    assert res.code == 0, res.out
    out = json.loads(res.out)
    [t] = out["tests"]
    assert t["method"] == "sign-flip-exact" and t["n_items"] == 5  # few items: exact
    assert not t["significant"] and not out["regression"]
    assert t["decidable"] is False  # five items cannot reach p < 0.05 (the least is 2/32)
    # the seed is configuration: the key is named, not only a hash
    assert "configuration differs: seed: 1 -> 2" in out["drift"], out["drift"]
    assert not any("config hash" in d for d in out["drift"])
    assert out["verdict"] == "too few items to decide"  # every test was


def _break_grader(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    lines = []
    for line in (dest / "samples.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["outcome"] == "scored":
            rec["score"] = 0.0
        lines.append(json.dumps(rec))
    (dest / "samples.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def _widen(run: Path, dest: Path, n_items: int) -> Path:
    """A copy of ``run`` whose samples are repeated over ``n_items`` items (x0, x1, ...),
    each with the samples of one original item."""
    shutil.copytree(run, dest)
    recs = [json.loads(ln) for ln in (dest / "samples.jsonl").read_text().splitlines()]
    items = sorted({r["item_id"] for r in recs})
    out = []
    for k in range(n_items):
        for r in recs:
            if r["item_id"] == items[k % len(items)]:
                out.append({**r, "item_id": f"x{k}", "sample_id": f"{r['sample_id']}-{k}"})
    (dest / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    return dest


def test_a_broken_grader_fails_the_gate_with_its_flips(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(answers=ANSWERS, correct_rate=0.8)) as server:
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url", server.base_url,
                  "--model", "stub-model", "--repeats", "8", "--results-dir", tmp_path / "a",
                  "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    small = only_run_dir(tmp_path / "a")
    # five items cannot convict anything: the gate says so instead of inventing a p-value
    res = cli("compare", small, _break_grader(small, tmp_path / "small-broken"))
    assert res.code == 0 and "too few items to decide" in res.out, res.out
    base = _widen(small, tmp_path / "wide", 20)  # the same answers over 20 items
    cand = _break_grader(base, tmp_path / "broken")  # every answer now graded 0
    res = cli("compare", base, cand)
    assert res.code == 1, res.out
    assert "REGRESSION" in res.out and "flipped:" in res.out
    out = json.loads(cli("compare", base, cand, "--json").out)
    [t] = out["tests"]
    assert t["method"] == "paired-bootstrap" and t["n_items"] == 20
    assert t["effect"] < -50 and t["significant"] and len(t["flips"]) == 20
    assert not out["drift"]  # same run, regraded: no drift
    # a smaller drop than --min-effect is not a regression, however significant
    assert cli("compare", base, cand, "--min-effect", "99").code == 0


def test_mcnemar_counts_each_direction_once() -> None:
    """6 items got worse, 2 got better, 4 stayed: McNemar on b=6, c=2 is
    2 * (C(8,0) + C(8,1) + C(8,2)) / 2^8 = 74 / 256."""
    base = {f"i{k}": [1.0] for k in range(6)} | {f"j{k}": [0.0] for k in range(2)}
    cand = {f"i{k}": [0.0] for k in range(6)} | {f"j{k}": [1.0] for k in range(2)}
    base |= {f"s{k}": [float(k % 2)] for k in range(4)}
    cand |= {f"s{k}": [float(k % 2)] for k in range(4)}
    t = _test("x", base, cand)
    assert t is not None and t.method == "mcnemar" and t.n_items == 12
    assert t.p_value == pytest.approx(74 / 256)
    assert (t.base, t.cand) == (pytest.approx(100 * 8 / 12), pytest.approx(100 * 4 / 12))
    assert len(t.flips) == 8


def _with_scores(run: Path, dest: Path, scores: list[float]) -> Path:
    """A copy of ``run`` whose samples are replaced by one graded sample per score (items
    ``x0``, ``x1``, ...), cloned from the run's first record."""
    shutil.copytree(run, dest)
    template = json.loads((dest / "samples.jsonl").read_text().splitlines()[0])
    lines = [
        json.dumps({**template, "sample_id": f"s{i}", "item_id": f"x{i}", "repeat": 0,
                    "outcome": "scored", "score": score})
        for i, score in enumerate(scores)
    ]  # fmt: skip
    (dest / "samples.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def test_the_gate_fires_on_a_drop_and_never_on_a_gain(cli, tmp_path: Path) -> None:
    """30 items: 12 right in BASE are wrong in CAND, 2 wrong in BASE are right in CAND.
    McNemar: 2 * (1 + 14 + 91) / 2^14 = 0.0129, significant. BASE -> CAND is a regression
    (exit 1); CAND -> BASE is the same evidence pointing up: significant, not a regression."""
    run = _run(cli, tmp_path, "a", 1, repeats=1)
    base_scores = [1.0] * 28 + [0.0] * 2
    cand_scores = [0.0] * 12 + [1.0] * 16 + [1.0] * 2
    base = _with_scores(run, tmp_path / "base", base_scores)
    cand = _with_scores(run, tmp_path / "cand", cand_scores)
    down = cli("compare", base, cand, "--json")
    [t] = json.loads(down.out)["tests"]
    assert down.code == 1
    assert t["method"] == "mcnemar" and t["p_value"] == pytest.approx(212 / 2**14)
    assert t["effect"] == pytest.approx(-100 * 10 / 30, abs=1e-3)
    assert t["significant"] and t["regression"]
    up = cli("compare", cand, base, "--json")
    [t] = json.loads(up.out)["tests"]
    assert up.code == 0, up.out
    assert t["p_value"] == pytest.approx(212 / 2**14)
    assert t["effect"] == pytest.approx(100 * 10 / 30, abs=1e-3)
    assert t["significant"] and not t["regression"] and not json.loads(up.out)["regression"]
    assert t["verdict"] == "improvement" and json.loads(up.out)["verdict"] == "improvement"
    assert "verdict: improvement" in cli("compare", cand, base).out
    assert f"side.html#a={base.name}&b={cand.name}" in " ".join(
        cli("compare", base, cand).out.split()).replace("& b", "&b")
    assert "verdict: regression" in cli("compare", base, cand).out


def test_mcnemar_path_and_bad_input(cli, tmp_path: Path) -> None:
    base = _run(cli, tmp_path, "a", 1, repeats=1)
    same = cli("compare", base, base, "--json")
    [t] = json.loads(same.out)["tests"]
    assert same.code == 0 and t["method"] == "mcnemar" and t["p_value"] == 1.0
    missing = cli("compare", base, tmp_path / "nope")
    assert missing.code == 2 and missing.err.startswith("m1eval: error:")


def test_paired_bootstrap_by_hand() -> None:
    """Constant positive differences: no resample mean is <= 0, so p = 2 * 1 / (R + 1) with
    the add-one correction. Differences [1, 1, -1]: a resample's mean is <= 0 when at least
    two of its three draws are -1, probability 7/27, so p ~ 2 * 7/27 = 0.519."""
    from m1eval.stats import BOOTSTRAP_RESAMPLES as R

    assert paired_bootstrap(np.full(5, 0.25)) == pytest.approx(2 / (R + 1))
    assert paired_bootstrap(np.full(5, -0.25)) == pytest.approx(2 / (R + 1))
    assert paired_bootstrap(np.array([1.0, 1.0, -1.0])) == pytest.approx(14 / 27, abs=0.02)
    assert paired_bootstrap(np.array([])) == 1.0
    assert paired_bootstrap(np.array([0.0, 1e-12])) == 1.0  # all but zero: no evidence


def test_a_comparison_reports_every_field() -> None:
    c = Comparison("aime24", "mcnemar", 30, 80.0, 70.0, 0.01, 0.03, [{"item_id": "1"}])
    assert c.to_dict(alpha=0.05, min_effect=5.0) == {
        "name": "aime24", "method": "mcnemar", "n_items": 30, "base": 80.0, "cand": 70.0,
        "effect": -10.0, "p_value": 0.01, "p_adjusted": 0.03, "significant": True,
        "regression": True, "decidable": True, "verdict": "regression",
        "flips": [{"item_id": "1"}],
    }  # fmt: skip
    assert c.to_dict(alpha=0.05, min_effect=10.0)["verdict"] == "no significant change"
    up = Comparison("x", "mcnemar", 30, 70.0, 80.0, 0.01, 0.03, min_p=0.001)
    assert up.to_dict(alpha=0.05, min_effect=5.0)["verdict"] == "improvement"
    assert up.to_dict(alpha=0.05, min_effect=10.0)["verdict"] == "no significant change"
    assert up.to_dict(alpha=0.01, min_effect=5.0)["verdict"] == "no significant change"
    few = Comparison("x", "sign-flip-exact", 3, 70.0, 80.0, 0.5, 0.5, min_p=0.25)
    assert few.to_dict(alpha=0.05, min_effect=5.0)["verdict"] == "too few items to decide"
    assert c.to_dict(alpha=0.01, min_effect=5.0)["significant"] is False  # 0.03 >= 0.01
    assert c.to_dict(alpha=0.05, min_effect=10.0)["regression"] is False  # exactly -10
    assert c.to_dict(alpha=0.03, min_effect=5.0)["significant"] is False  # strict <


def test_sign_flip_exact_by_hand() -> None:
    """Three items all +0.5: of the 8 sign patterns, 2 (all +, all -) have |mean| >= 0.5:
    p = 2/8. Differences (1, 1, -1): |mean| >= 1/3 for every pattern: p = 1."""
    from m1eval.compare import sign_flip_exact

    assert sign_flip_exact(np.array([0.5, 0.5, 0.5])) == 0.25
    assert sign_flip_exact(np.array([1.0, 1.0, -1.0])) == 1.0
    assert sign_flip_exact(np.full(10, 0.3)) == 2 / 1024
    assert sign_flip_exact(np.array([])) == 1.0 and sign_flip_exact(np.zeros(4)) == 1.0
    # (0.2, 0.4): patterns' |means| are 0.3, 0.1, 0.1, 0.3: p = 2/4
    assert sign_flip_exact(np.array([0.2, 0.4])) == 0.5


def test_paired_path_means_and_flips_by_hand() -> None:
    """Two items with two samples each: item a 1,1 -> 0,0 (a flip of 1.0); item b 0,1 -> 1,1
    (+0.5, a flip too: changes of at least half a point are listed); only common items."""
    t = _test("x", {"a": [1.0, 1.0], "b": [0.0, 1.0], "c": [1.0]},
              {"a": [0.0, 0.0], "b": [1.0, 1.0], "d": [0.0]})  # fmt: skip
    assert t is not None and t.method == "sign-flip-exact" and t.n_items == 2
    assert (t.base, t.cand) == (75.0, 50.0)
    assert t.flips == [{"item_id": "a", "base": 1.0, "cand": 0.0},
                       {"item_id": "b", "base": 0.5, "cand": 1.0}]  # fmt: skip
    assert _test("x", {"a": [1.0]}, {"b": [1.0]}) is None
    small = _test("x", {"a": [0.5]}, {"a": [0.75]})
    assert small is not None and small.method == "sign-flip-exact" and small.flips == []


def test_the_gate_reports_its_settings_and_default_effect(cli, tmp_path: Path) -> None:
    """Thirty items, twelve right in BASE and wrong in CAND: a 40-point drop. The default
    --min-effect is one point; the output names both runs and its settings."""
    run = _run(cli, tmp_path, "a", 1, repeats=1)
    base = _with_scores(run, tmp_path / "base", [1.0] * 30)
    cand = _with_scores(run, tmp_path / "cand", [0.0] * 12 + [1.0] * 18)
    out = json.loads(cli("compare", base, cand, "--json").out)
    assert (out["base"], out["cand"]) == (str(base), str(cand))
    assert (out["alpha"], out["min_effect"], out["correction"]) == (0.05, 1.0, "holm")
    assert out["regression"] is True and out["drift"] == []
    assert (
        json.loads(cli("compare", base, cand, "--json", "--min-effect", "40").out)["regression"]
        is False
    )  # a 40-point drop is not more than 40


def _with_outcomes(run: Path, dest: Path, outcomes: list[str]) -> Path:
    """Like :func:`_with_scores`, every graded sample scoring 1, with the given outcomes."""
    _with_scores(run, dest, [1.0] * len(outcomes))
    recs = [json.loads(ln) for ln in (dest / "samples.jsonl").read_text().splitlines()]
    for r, outcome in zip(recs, outcomes, strict=True):
        r["outcome"] = outcome
        if outcome not in ("scored", "model_failure"):
            r["score"] = None
    (dest / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return dest


def test_coverage_that_differs_gets_no_verdict(cli, tmp_path: Path) -> None:
    """40 items; the candidate lost 20 to infra errors: the 20 it kept all agree with the
    base, so the paired test alone would say "no significant change". Coverage 100% vs 50%:
    no verdict, exit 4. Two of 40 lost (5 points) is within the default gap."""
    run = _run(cli, tmp_path, "a", 1, repeats=1)
    base = _with_outcomes(run, tmp_path / "base", ["scored"] * 40)
    half = _with_outcomes(run, tmp_path / "half", ["scored"] * 20 + ["infra_error"] * 20)
    res = cli("compare", base, half)
    assert res.code == 4, res.out
    assert "no verdict: the graded share differs by more than 5 points in aime24" in " ".join(
        res.out.split()), res.out
    out = json.loads(cli("compare", base, half, "--json").out)
    assert out["verdict"] == "no verdict: coverage differs" and out["regression"] is False
    assert out["coverage"]["base"]["aime24"] == {"samples": 40, "graded": 40, "infra_error": 0,
                                                 "skipped": 0, "missing_items": 0,
                                                 "graded_share": 100.0}  # fmt: skip
    assert out["coverage"]["cand"]["aime24"] == {"samples": 40, "graded": 20, "infra_error": 20,
                                                 "skipped": 0, "missing_items": 0,
                                                 "graded_share": 50.0}  # fmt: skip
    assert out["coverage_gap"] == {"aime24": 50.0} and out["coverage_refused"] == ["aime24"]
    assert cli("compare", base, half, "--max-coverage-gap", "50").code == 0  # widened
    # items absent from one side count as missing there, at that side's repeats
    short = _with_outcomes(run, tmp_path / "short", ["scored"] * 30)
    out = json.loads(cli("compare", base, short, "--json").out)
    assert out["coverage"]["cand"]["aime24"]["missing_items"] == 10
    assert out["coverage"]["cand"]["aime24"]["graded_share"] == 75.0
    assert out["coverage"]["base"]["aime24"]["missing_items"] == 0
    two = _with_outcomes(run, tmp_path / "two", ["scored"] * 38 + ["skipped"] * 2)
    out = json.loads(cli("compare", base, two, "--json").out)
    assert out["coverage_gap"] == {"aime24": 5.0} and out["coverage_refused"] == []
    assert out["verdict"] == "too few items to decide"  # no discordant item: a verdict given
    assert out["coverage"]["cand"]["aime24"]["skipped"] == 2


def test_runs_that_share_nothing_are_named(cli, tmp_path: Path) -> None:
    run = _run(cli, tmp_path, "a", 1, repeats=1)
    other = _with_scores(run, tmp_path / "other", [1.0, 0.0])
    recs = [json.loads(ln) for ln in (other / "samples.jsonl").read_text().splitlines()]
    (other / "samples.jsonl").write_text("".join(json.dumps({**r, "suite": "aime25"}) + "\n"
                                                 for r in recs))  # fmt: skip
    res = cli("compare", run, other)
    assert res.code == 2
    assert res.err.strip() == ("m1eval: error: the two runs share no graded item (base: aime24, "
                               "5 graded samples; candidate: aime25, 2 graded samples)")


def test_config_differences_name_each_key() -> None:
    from m1eval.compare import config_differences

    base = {"seed": 1, "sampling": {"max_tokens": 100, "top_p": 0.95}, "split": "full"}
    cand = {"seed": 2, "sampling": {"max_tokens": 100, "temperature": 1.0}, "split": "full"}
    assert config_differences(base, cand) == [
        "sampling.temperature: (absent) -> 1.0", "sampling.top_p: 0.95 -> (absent)",
        "seed: 1 -> 2"]  # fmt: skip
    assert config_differences(base, base) == []
    assert config_differences({"x": "a" * 100}, {"x": "b"}) == [f'x: "{"a" * 38}… -> "b"']


def test_the_default_coverage_gap_is_five_points(cli, tmp_path: Path) -> None:
    """19 items against the same 19 with one lost to an infra error: a graded share of
    18/19 = 94.74% against 100%, a gap of 5.26 points (to two decimals) -- over the default
    5-point limit of compare() itself, so no verdict."""
    from m1eval.compare import NO_VERDICT, compare

    run = _run(cli, tmp_path, "a", 1, repeats=1)
    base = _with_outcomes(run, tmp_path / "base", ["scored"] * 19)
    cand = _with_outcomes(run, tmp_path / "cand", ["scored"] * 18 + ["infra_error"])
    out = compare(base, cand)
    assert out["coverage_gap"] == {"aime24": 5.26}
    assert out["coverage"]["cand"]["aime24"]["graded_share"] == 94.74
    assert out["coverage_refused"] == ["aime24"] and out["verdict"] == NO_VERDICT
    assert compare(base, cand, max_coverage_gap=5.3)["verdict"] != NO_VERDICT


def test_no_significant_change_is_said_when_the_test_could_decide(cli, tmp_path: Path) -> None:
    """40 items, three won and three lost by the candidate: six discordant items can reach
    p = 2/64 < 0.05 (decidable), three each way is p = 1 -- "no significant change", exit 0."""
    from m1eval.compare import NO_CHANGE, compare

    run = _run(cli, tmp_path, "a", 1, repeats=1)
    base = _with_scores(run, tmp_path / "base", [1.0] * 3 + [0.0] * 3 + [1.0] * 34)
    cand = _with_scores(run, tmp_path / "cand", [0.0] * 3 + [1.0] * 3 + [1.0] * 34)
    out = compare(base, cand)
    assert out["verdict"] == NO_CHANGE and out["regression"] is False
    assert cli("compare", base, cand).code == 0
