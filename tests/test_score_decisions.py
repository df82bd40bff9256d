"""One test per class of bug that can move a score without any grader changing: the runner's
outcome branches, what makes a run complete, the compare gate, comparability, MRCR's window
boundary, TAU's pass^k and stop rule, SWE-bench's verdict mapping and subset counts, and
merge's status. Values are worked out by hand in each docstring; each test fails on the bug
its name describes (checked by making the bug)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from m1eval.contract import comparability
from m1eval.errors import InfraFault, M1EvalError
from m1eval.hashing import stable_hash
from m1eval.model.client import ClientSettings
from m1eval.model.types import Completion, RequestFailed
from m1eval.registry import get_suite
from m1eval.runner import PlannedSample, request_messages, run_sample
from m1eval.suites.base import Item, RunContext, Solution
from m1eval.summary import summarize_suite

# -- the runner's outcome branches -----------------------------------------------------------


class _Client:
    settings = ClientSettings(base_url="http://127.0.0.1:9/v1", model="m")


def _sample(suite: Any, solve: Any = None, score: Any = None) -> dict[str, Any]:
    """One AIME sample through ``run_sample`` with the solver and grader replaced."""
    item = Item("q1", {"problem": "What is 6 * 7?", "answer": "42"})
    messages = request_messages(suite, item, None)
    planned = PlannedSample("s" * 16, item, 0, {}, stable_hash(messages))

    async def default_solve(item: Item, messages: Any, ctx: Any) -> Solution:
        return Solution(Completion.of_text("The answer is \\boxed{42}."))

    suite.solve = solve or default_solve
    if score is not None:
        suite.score = score
    return asyncio.run(run_sample(planned, suite, _Client())).to_dict()


def _raising(exc: BaseException) -> Any:
    async def solve(item: Item, messages: Any, ctx: Any) -> Solution:
        raise exc

    return solve


def test_each_way_a_sample_ends_has_its_outcome() -> None:
    suite = get_suite("aime24")
    assert (_sample(suite)["outcome"], _sample(suite)["score"]) == ("scored", 1.0)
    # a refusal of what was sent is the sample's failure (counted 0), never a skip
    refused = _sample(suite, _raising(RequestFailed(
        "This model's maximum context length is 4096 tokens", retryable=False, status=400)))
    assert refused["outcome"] == "model_failure" and refused["score"] == 0.0
    assert "the server refused the request" in refused["error"]
    # a failure that says nothing of the request is an infra error, even when its message
    # mentions length; it is asked again later
    for status in (500, 503, None):
        lost = _sample(suite, _raising(RequestFailed(
            "prompt too long? maximum context length", retryable=True, status=status)))
        assert lost["outcome"] == "infra_error" and lost["score"] is None, status
    # the harness's own failure (a checkout, an image, a simulator): infra
    harness = _sample(suite, _raising(M1EvalError("docker image missing")))
    assert harness["outcome"] == "infra_error" and "could not solve" in harness["error"]
    # anything else raised while solving is the model output's failure
    crashed = _sample(suite, _raising(ValueError("unparsable tool call")))
    assert crashed["outcome"] == "model_failure" and crashed["score"] == 0.0
    assert "solving failed on the model's output" in crashed["error"]


def test_a_grader_that_cannot_run_is_an_infra_error_and_a_crash_is_the_models() -> None:
    suite = get_suite("aime24")

    async def infra(item: Item, solution: Solution) -> Any:
        raise InfraFault("sandbox image missing")

    rec = _sample(suite, score=infra)
    assert rec["outcome"] == "infra_error" and rec["score"] is None
    assert rec["error"] == "grading could not run: InfraFault: sandbox image missing"
    assert rec["answer"] == "The answer is \\boxed{42}."  # the answer is kept for the regrade

    async def crash(item: Item, solution: Solution) -> Any:
        raise KeyError("boom")

    rec = _sample(get_suite("aime24"), score=crash)
    assert rec["outcome"] == "model_failure" and rec["score"] == 0.0
    assert rec["error"].startswith("grading failed on the model's output")


# -- complete ----------------------------------------------------------------------------------


def _recs(n: int, outcome: str = "scored", score: float | None = 1.0, start: int = 0) -> list:
    return [{"item_id": f"i{start + k}", "repeat": 0, "outcome": outcome, "score": score}
            for k in range(n)]  # fmt: skip


@pytest.mark.parametrize("left", ["infra_error", "skipped"])
def test_one_sample_left_out_of_a_thousand_makes_the_run_incomplete(left: str) -> None:
    """999 scored + 1 left out: incomplete, left_out 1; the score is over 999 (100.0) and the
    conservative one over 1000 (99.9)."""
    s = summarize_suite(_recs(999) + _recs(1, left, None, start=999))
    assert s["complete"] is False and s["left_out"] == 1
    assert s["score"] == 100.0 and s["conservative"]["score"] == 99.9
    assert summarize_suite(_recs(1000))["complete"] is True


# -- comparability -----------------------------------------------------------------------------


def test_comparability_names_every_reason() -> None:
    ok = comparability("test", "test", None, True, 32, 32)
    assert ok["comparable"] is True and ok["why"] is None
    unknown = comparability(None, "test", None, True, 32, 32)
    assert unknown["comparable"] is False and "split 'None'" in unknown["why"]
    assert comparability("test", None, None, True, 1)["comparable"] is False
    both = comparability("test", "test", 5, False, 1)
    assert both["why"] == "--limit 5: not every item; the dataset differs from the pinned content"
    assert comparability("test", "test", None, None, 1)["comparable"] is True  # pin unknown
    assert comparability("test", "test", None, True, 1, 32)["comparable"] is True  # fewer repeats
    assert comparability("test", "test", None, True, 1, 32, ["self-play"])["why"] == "self-play"


# -- MRCR's window boundary ---------------------------------------------------------------------


def test_mrcr_leaves_out_only_prompts_longer_than_the_window() -> None:
    """A prompt of exactly the window fits; one token more does not. Under --mrcr-overflow skip
    the prompt and the whole budget must fit: n + budget == window fits."""
    suite = get_suite("mrcr")
    suite.context = RunContext(context_window=1000, context_window_source="--max-context")

    def item(n: int) -> Item:
        return Item(f"i{n}", {"prompt_tokens_o200k": n})

    assert suite.skip_reason(item(1000)) is None
    assert "1001 o200k tokens, more than the context window of 1000" in suite.skip_reason(
        item(1001))  # fmt: skip
    skip = get_suite("mrcr", {"mrcr_overflow": "skip"})
    skip.context = RunContext(context_window=1000, context_window_source="protocol", budget=100)
    assert skip.skip_reason(item(900)) is None
    assert "with the 100-token budget" in skip.skip_reason(item(901))
    fit = get_suite("mrcr")
    fit.context = RunContext(context_window=1000, context_window_source="protocol", budget=100)
    assert fit.skip_reason(item(901)) is None  # fit asks again with the budget that fits


# -- TAU ----------------------------------------------------------------------------------------


def test_pass_hat_k_ranges_over_the_trials_each_reading_has() -> None:
    """Two tasks of three trials; task 0 lost one to an infra error. Officially every task has
    3 trials (k = 1, 2, 3); answered only, task 0 has 2, so k stops at 2."""
    suite = get_suite("tau-bench-airline")
    recs = [{"item_id": "0", "repeat": r, "outcome": "scored", "score": 1.0} for r in (0, 1)]
    recs.append({"item_id": "0", "repeat": 2, "outcome": "infra_error", "score": None})
    recs += [{"item_id": "1", "repeat": r, "outcome": "scored", "score": 0.0} for r in range(3)]
    s = suite.summarize(recs)
    assert s["pass_hat_k"] == {"pass^1": pytest.approx(100 / 3, abs=1e-3),
                               "pass^2": pytest.approx(100 / 6, abs=1e-3), "pass^3": 0.0}
    assert s["pass_hat_k_answered_only"] == {"pass^1": 50.0, "pass^2": 50.0}


# -- SWE-bench ----------------------------------------------------------------------------------


class _Res:
    def __init__(self, outcome: str, score: float | None = None, error: str | None = None,
                 report: dict | None = None) -> None:  # fmt: skip
        self.outcome, self.score, self.error = outcome, score, error
        self.report, self.log_dir = report or {}, None


def test_swebench_verdicts_map_to_outcomes() -> None:
    from m1eval.suites.swe_bench import grade_of

    with pytest.raises(InfraFault, match="docker died"):
        grade_of(_Res("infra_error", error="docker died"))
    failed = grade_of(_Res("model_failure", error="patch does not apply"))
    assert (failed.outcome, failed.score, failed.error) == (
        "model_failure", 0.0, "patch does not apply")
    report = {"resolved": False, "tests_status": {"FAIL_TO_PASS": {"failure": ["t::a"]}}}
    unresolved = grade_of(_Res("scored", 0.0, report=report))
    assert (unresolved.outcome, unresolved.score) == ("scored", 0.0)
    assert unresolved.details["fail_to_pass_failing"] == ["t::a"]
    assert grade_of(_Res("scored", 1.0, report={"resolved": True})).score == 1.0


def test_the_486_subset_counts_its_own_instances() -> None:
    """5 instances, 2 of them excluded by the paper: all 5 (3 resolved) -> 60.0; the other 3
    (2 resolved: the excluded ones are one resolved and one not) -> 66.6667."""
    from m1eval.suites.swe_bench import subsets_summary

    recs = [{"item_id": i, "repeat": 0, "outcome": "scored", "score": s}
            for i, s in (("a", 1.0), ("b", 1.0), ("c", 0.0), ("x", 1.0), ("y", 0.0))]  # fmt: skip
    out = subsets_summary(recs, {"x", "y"})["subsets"]
    assert (out["all"]["resolved"], out["all"]["n_instances"], out["all"]["score"]) == (3, 5, 60.0)
    assert out["m1-486"]["resolved"] == 2 and out["m1-486"]["n_instances"] == 3
    assert out["m1-486"]["score"] == pytest.approx(66.6667, abs=1e-4)


# -- the compare gate ---------------------------------------------------------------------------


def _write_run(root: Path, records: list[dict[str, Any]], group_key: str | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"run_id": root.name, "format": 2}))
    breakdowns = [{"title": "by bin", "columns": ["score"], "rows": [],
                   "record_key": group_key}] if group_key else []  # fmt: skip
    (root / "summary.json").write_text(json.dumps(
        {"suites": {"mrcr": {"score": 0.0, "breakdowns": breakdowns}}}))  # fmt: skip
    with (root / "samples.jsonl").open("w") as fh:
        for k, r in enumerate(records):
            fh.write(json.dumps({"sample_id": f"s{k}", "suite": "mrcr", "repeat": 0,
                                 **r}) + "\n")  # fmt: skip
    return root


def _rec(item: str, outcome: str, score: float, bin_: str = "A") -> dict[str, Any]:
    return {"item_id": item, "outcome": outcome, "score": score, "extra": {"bin": bin_}}


def test_model_failures_count_as_zero_in_the_comparison(tmp_path: Path) -> None:
    """20 items right in the base; the candidate fails all 20 (model failures, 0): McNemar
    20 worse, 0 better, p = 2 * 0.5**20: a regression of 100 points."""
    from m1eval.compare import compare

    base = _write_run(tmp_path / "b", [_rec(f"i{k}", "scored", 1.0) for k in range(20)])
    cand = _write_run(tmp_path / "c", [_rec(f"i{k}", "model_failure", 0.0) for k in range(20)])
    out = compare(base, cand)
    [row] = out["tests"]
    assert row["n_items"] == 20 and row["effect"] == -100.0 and out["regression"] is True
    assert row["p_value"] == pytest.approx(2 * 0.5**20)


def test_a_regression_confined_to_one_group_gates(tmp_path: Path) -> None:
    """Bin A: 20 items 1 -> 0; bin B: 20 items 0 -> 1. Overall McNemar 20 vs 20 (p = 1), but
    bin A alone is p = 2 * 0.5**20, still significant after Holm over three tests."""
    from m1eval.compare import compare

    base = [_rec(f"a{k}", "scored", 1.0, "A") for k in range(20)]
    base += [_rec(f"b{k}", "scored", 0.0, "B") for k in range(20)]
    cand = [_rec(f"a{k}", "scored", 0.0, "A") for k in range(20)]
    cand += [_rec(f"b{k}", "scored", 1.0, "B") for k in range(20)]
    out = compare(_write_run(tmp_path / "b", base, "bin"), _write_run(tmp_path / "c", cand, "bin"))
    rows = {r["name"]: r for r in out["tests"]}
    assert set(rows) == {"mrcr", "mrcr/A", "mrcr/B"}
    assert rows["mrcr"]["regression"] is False and rows["mrcr"]["p_value"] == 1.0
    assert rows["mrcr/A"]["regression"] is True and rows["mrcr/B"]["regression"] is False
    assert rows["mrcr/A"]["p_adjusted"] == pytest.approx(3 * 2 * 0.5**20)
    assert out["regression"] is True


def test_a_sample_record_keeps_what_was_asked_and_how_it_went(tmp_path: Path) -> None:
    """What a reader of samples.jsonl (or pandas) relies on, through ``run_sample``: the
    system prompt reaches the request, the prompt is logged under its hash, the solver gets
    the sample's own artifact folder and the run's other endpoints on the client's settings;
    the record carries the prompt hash, the seed, a UTC finish time, the attempts, whether
    the answer was cut off, and times rounded to 0.1 ms."""
    from dataclasses import replace as dc_replace
    from datetime import UTC, datetime, timedelta

    from m1eval.artifacts import ArtifactWriter

    suite = get_suite("aime24")
    item = Item("q1", {"problem": "What is 6 * 7?", "answer": "42"})
    messages = request_messages(suite, item, "Think first.")
    planned = PlannedSample("abcdef0123456789" * 4, item, 0, {"seed": 1234},
                            stable_hash(messages))  # fmt: skip
    seen: dict[str, Any] = {}

    async def solve(item: Item, sent: Any, ctx: Any) -> Solution:
        seen["messages"], seen["files"] = sent, ctx.files
        judge = await ctx.endpoint("http://judge:8000/v1", "judge-model")
        seen["judge_timeout"] = judge.client.settings.token_gap_s
        done = Completion.of_text("The answer is \\boxed{42}.")
        return Solution(dc_replace(done, ttft_s=0.123456, latency_s=1.234567, attempts=2,
                                   finish_reason="length"))  # fmt: skip

    suite.solve = solve
    logged: list = []
    settings = ClientSettings(base_url="http://127.0.0.1:9/v1", model="m", token_gap_s=77.0)
    client = type("C", (), {"settings": settings})()
    rec = asyncio.run(run_sample(planned, suite, client, "Think first.",
                                 lambda sha, m: logged.append((sha, m)),
                                 files=ArtifactWriter(tmp_path, "samples"))).to_dict()  # fmt: skip
    assert seen["messages"][0] == {"role": "system", "content": "Think first."}
    assert logged == [(planned.prompt_sha256, seen["messages"])]
    assert seen["files"].root == tmp_path / "samples" / "q1" / planned.sample_id[:12]
    assert seen["judge_timeout"] == 77.0
    assert (rec["prompt_sha256"], rec["seed"], rec["attempts"]) == (planned.prompt_sha256,
                                                                     1234, 2)  # fmt: skip
    finished = datetime.fromisoformat(rec["finished_at"])
    assert finished.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - finished) < timedelta(minutes=1)
    assert (rec["ttft_s"], rec["latency_s"]) == (0.1235, 1.2346)
    assert rec["truncated"] is True and rec["finish_reason"] == "length"
    # a request that failed after 3 attempts: no completion, its attempts kept
    gave_up = RequestFailed("HTTP 503", retryable=True, status=503)
    gave_up.attempts = 3  # the client's count when it gives up
    suite.solve = _raising(gave_up)
    lost = asyncio.run(run_sample(planned, suite, client, "Think first.")).to_dict()
    assert (lost["outcome"], lost["attempts"]) == ("infra_error", 3)
    # a prompt the run's window cannot hold: left out, never sent
    suite.skip_reason = lambda item: "the prompt does not fit"
    skipped = asyncio.run(run_sample(planned, suite, client, "Think first.")).to_dict()
    assert (skipped["outcome"], skipped["attempts"], skipped["error"]) == (
        "skipped", 0, "the prompt does not fit")  # fmt: skip


def test_each_way_a_sample_ends_names_its_cause_and_attempts() -> None:
    """Beside the outcome: the harness's failure was never sent (0 attempts), a crash while
    solving is named by its exception's class, a reply past its budget is the model's failure
    in its own words, a refusal keeps the client's attempt count."""
    from m1eval.model.client import ReplyTooLong

    suite = get_suite("aime24")
    harness = _sample(suite, _raising(M1EvalError("docker image missing")))
    assert harness["attempts"] == 0
    crashed = _sample(suite, _raising(ValueError("unparsable tool call")))
    assert crashed["attempts"] == 0
    assert crashed["cause"] == "solving failed on the model's output: ValueError"
    assert "ValueError: unparsable tool call" in crashed["error"]
    runaway = _sample(suite, _raising(ReplyTooLong("8 MiB in one event")))
    assert (runaway["outcome"], runaway["error"]) == ("model_failure",
                                                      "reply exceeded its budget: 8 MiB in "
                                                      "one event")  # fmt: skip
    refusal = RequestFailed("maximum context length", retryable=False, status=400)
    refusal.attempts = 2
    assert _sample(suite, _raising(refusal))["attempts"] == 2


def test_the_grader_gets_the_samples_files_and_the_record_keeps_the_artifacts(
        tmp_path: Path) -> None:  # fmt: skip
    """The grade is written where the sample's artifacts go; what solving and grading wrote
    is listed with the sample, also when grading could not run (asked again later, with the
    completion's attempts); each item's requests carry its routing key."""
    from m1eval.artifacts import ArtifactWriter
    from m1eval.runner import item_session

    suite = get_suite("aime24")
    item = Item("q1", {"problem": "What is 6 * 7?", "answer": "42"})
    planned = PlannedSample("f" * 64, item, 0, {}, stable_hash(request_messages(suite, item,
                                                                                  None)))
    seen: dict[str, Any] = {}

    async def solve(item: Item, messages: Any, ctx: Any) -> Solution:
        from dataclasses import replace as dc_replace

        seen["session"] = ctx.session_id
        done = Solution(dc_replace(Completion.of_text("\\boxed{42}"), attempts=3))
        done.artifacts.append(ctx.files.write_text("text", "solve.txt", "solved"))
        return done

    async def score(item: Item, solution: Solution):
        from m1eval.suites.base import Grade

        seen["files"] = solution.files
        art = solution.files.write_text("text", "grade.txt", "graded")
        return Grade.scored(1.0, artifacts=(art,))

    suite.solve, suite.score = solve, score
    files = ArtifactWriter(tmp_path)
    rec = asyncio.run(run_sample(planned, suite, _Client(), files=files)).to_dict()
    assert rec["outcome"] == "scored", rec["error"]
    assert seen["files"].root == tmp_path / "q1" / ("f" * 12)
    assert seen["session"] == item_session("aime24", "q1")
    assert sorted(a["path"].rsplit("/", 1)[1] for a in rec["artifacts"]) == ["grade.txt",
                                                                             "solve.txt"]

    async def cannot_grade(item: Item, solution: Solution):
        raise InfraFault("the judge is down")

    suite.score = cannot_grade
    lost = asyncio.run(run_sample(planned, suite, _Client(), files=files)).to_dict()
    assert lost["outcome"] == "infra_error" and lost["attempts"] == 3
    assert [a["path"].rsplit("/", 1)[1] for a in lost["artifacts"]] == ["solve.txt"]


def test_the_outcome_rule_names_its_causes() -> None:
    """A cut-off reasoning, a grader that crashed on the output, a wrong answer cut off at
    max_tokens (named by the grade's cause, else its error)."""
    from dataclasses import replace as dc_replace

    from m1eval.outcomes import grade_output
    from m1eval.suites.base import Grade

    suite = get_suite("aime24")
    item = Item("q1", {"problem": "What is 6 * 7?", "answer": "42"})
    cut = dc_replace(Completion.of_text("\\boxed{42}"), reasoning_truncated=True)
    grade = asyncio.run(grade_output(suite, item, Solution(cut)))
    assert grade.cause == "truncated: the reasoning never closed"

    async def crash(item: Item, solution: Solution):
        raise KeyError("no box")

    suite.score = crash
    grade = asyncio.run(grade_output(suite, item, Solution(Completion.of_text("x"))))
    assert grade.cause == "grading failed on the model's output: KeyError"
    long = dc_replace(Completion.of_text("\\boxed{41}"), finish_reason="length")
    for given, cause in ((Grade.failure("no box found"), "no box found"),
                         (Grade.failure("wrong", cause="wrong value"), "wrong value")):  # fmt: skip
        async def graded(item: Item, solution: Solution, given=given):
            return given

        suite.score = graded
        grade = asyncio.run(grade_output(suite, item, Solution(long)))
        assert grade.cause == f"truncated (finish_reason=length): {cause}"


def test_grading_an_answer_from_a_file_keeps_its_artifacts_and_no_lead() -> None:
    """``m1eval grade``'s path: the answer as given (nothing before it), the artifacts'
    folder handed to the grader."""
    from m1eval.artifacts import ArtifactWriter
    from m1eval.outcomes import grade_answer

    suite = get_suite("aime24")
    item = Item("q1", {"problem": "What is 6 * 7?", "answer": "42"})
    seen = {}

    async def score(item: Item, solution: Solution):
        from m1eval.suites.base import Grade

        seen["lead"], seen["files"] = solution.completion.answer_lead, solution.files
        return Grade.scored(1.0)

    suite.score = score
    files = ArtifactWriter(Path("/tmp"), "x")
    asyncio.run(grade_answer(suite, item, "\\boxed{42}", files=files))
    assert seen == {"lead": "", "files": files}


def test_a_summary_is_led_by_its_score_unless_something_was_left_out() -> None:
    from m1eval.contract import lead_score

    conservative = {"score": 40.0, "ci_low": 30.0, "ci_high": 50.0}
    s = {"score": 50.0, "ci_low": 40.0, "ci_high": 60.0, "conservative": conservative}
    assert lead_score({**s, "complete": True})["score"] == 50.0
    assert lead_score(s)["score"] == 50.0  # a summary that does not say it is incomplete
    assert lead_score({**s, "complete": False}) == conservative
    assert lead_score({"score": 50.0, "complete": False})["score"] == 50.0  # older format


def test_comparability_reports_what_it_was_judged_on() -> None:
    got = comparability("test", "test", 5, True, 2, 4)
    assert got == {"comparable": False, "why": "--limit 5: not every item", "split": "test",
                   "limit": 5, "repeats": 2, "protocol_repeats": 4}  # fmt: skip


def test_a_cause_of_exactly_the_kept_length_is_kept_whole() -> None:
    from m1eval.causes import CAUSE_CHARS, bounded

    assert bounded("x" * CAUSE_CHARS) == "x" * CAUSE_CHARS
    assert bounded("x" * (CAUSE_CHARS + 1)) == "x" * (CAUSE_CHARS - 1) + "…"
