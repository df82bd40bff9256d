"""SWE-bench Verified: real data, predictions, official swebench grading in Docker on a
self-made instance built offline, and the Agentless-style scaffold's stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m1eval.registry import get_suite
from m1eval.sandbox.errors import SandboxError
from m1eval.swebench.grading import grade_predictions
from m1eval.swebench.repo import checkout
from m1eval.swebench.scaffold import (
    Candidate,
    apply_edits,
    parse_edits,
    parse_files,
    parse_locations,
    regions,
    select,
    skeleton,
)
from m1eval.testing import swebench_selftest as selftest
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import (
    declared_files,
    embedded_available,
    only_run_dir,
    read_jsonl,
    sandbox_problem,
)

EXCLUDED_14 = {
    "astropy__astropy-7606", "astropy__astropy-8707", "astropy__astropy-8872",
    "django__django-10097", "matplotlib__matplotlib-20488", "psf__requests-2317",
    "psf__requests-2931", "psf__requests-5414", "pylint-dev__pylint-6528",
    "pylint-dev__pylint-7277", "sphinx-doc__sphinx-10435", "sphinx-doc__sphinx-7985",
    "sphinx-doc__sphinx-8269", "sphinx-doc__sphinx-8475",
}  # fmt: skip
CORRECT_EDIT = (
    "```python\n### calcpkg/ops.py\n<<<<<<< SEARCH\n    if x > hi:\n        return x\n=======\n"
    "    if x > hi:\n        return hi\n>>>>>>> REPLACE\n```"
)
WRONG_PATCH = selftest.GOLD_PATCH.replace("+        return hi", "+        return lo")
# fixes FAIL_TO_PASS (clamp) but breaks a PASS_TO_PASS test (add)
BREAKS_P2P_PATCH = """\
diff --git a/calcpkg/ops.py b/calcpkg/ops.py
--- a/calcpkg/ops.py
+++ b/calcpkg/ops.py
@@ -4,2 +4,2 @@
 def add(a, b):
-    return a + b
+    return a - b
@@ -16,3 +16,3 @@ def clamp(x, lo, hi):
     if x > hi:
-        return x
+        return hi
     return x
"""
# the FAIL_TO_PASS test never returns: the test run hits the harness timeout
HANGS_PATCH = """\
diff --git a/calcpkg/ops.py b/calcpkg/ops.py
--- a/calcpkg/ops.py
+++ b/calcpkg/ops.py
@@ -16,3 +16,4 @@ def clamp(x, lo, hi):
     if x > hi:
-        return x
+        while True:
+            pass
     return x
"""
UNAPPLIABLE_PATCH = (
    "diff --git a/calcpkg/missing.py b/calcpkg/missing.py\n--- a/calcpkg/missing.py\n"
    "+++ b/calcpkg/missing.py\n@@ -1,3 +1,3 @@\n def f():\n-    return 1\n+    return 2\n"
    " # end\n"
)


# -- data -----------------------------------------------------------------------------------


def test_real_verified_and_the_486_subset(shared_hf: Path) -> None:
    items, data = get_suite("swe-bench").load(None, shared_hf)
    assert len(items) == 500 and data.matches_pin is True
    ids = {i.item_id for i in items}
    assert ids >= EXCLUDED_14
    subset, _ = get_suite("swe-bench", {"subset": "m1-486"}).load(None, shared_hf)
    assert len(subset) == 486
    assert {i.item_id for i in subset} == ids - EXCLUDED_14


# -- predictions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ({"instance_id": "nope__nope-1", "model_patch": ""}, "unknown instance_id 'nope__nope-1'"),
        ({"instance_id": selftest.INSTANCE_ID, "model_patch": "just text"}, "not a unified diff"),
        ({"model_patch": ""}, "missing 'instance_id'"),
        ({"instance_id": selftest.INSTANCE_ID, "model_patch": 5}, "must be a string or null"),
    ],
)
def test_malformed_predictions_are_one_line_errors(cli, tmp_path: Path, row: dict, needle: str,
                                                   swebench_extra: None):  # fmt: skip
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps(row) + "\n")
    res = cli("swe-bench", "grade", "--predictions", preds, "--split", "smoke",
              "--results-dir", tmp_path / "r")  # fmt: skip
    assert res.code == 2, res.err
    assert res.err.count("\n") == 1 and needle in res.err
    assert not (tmp_path / "r").exists()


def test_no_docker_daemon_is_a_one_line_error(cli, tmp_path: Path, monkeypatch,
                                              swebench_extra: None) -> None:  # fmt: skip
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    res = cli("swe-bench", "validate-gold", "--split", "smoke", "--results-dir", tmp_path / "r")
    assert res.code == 5 and res.err.count("\n") == 1
    assert "cannot reach the Docker daemon" in res.err


def test_missing_image_is_a_one_line_error(tmp_path: Path) -> None:
    if sandbox_problem() and "no Docker daemon" in sandbox_problem():
        pytest.skip("no Docker daemon")
    inst = {**selftest.instance(), "image": "m1eval-swebench-missing:0"}
    pred = {"instance_id": inst["instance_id"], "model_name_or_path": "m",
            "model_patch": selftest.GOLD_PATCH}  # fmt: skip
    with pytest.raises(SandboxError, match=r"instance image.*missing.*m1eval-swebench-missing"):
        grade_predictions({inst["instance_id"]: inst}, [pred], "t", tmp_path)


# -- grading with swebench, in Docker --------------------------------------------------------


@pytest.mark.slow
def test_swebench_grades_gold_wrong_empty_and_unappliable(selftest_image, tmp_path: Path):
    inst = selftest.instance()
    iid = inst["instance_id"]
    preds = [
        {"instance_id": iid, "model_name_or_path": name, "model_patch": patch}
        for name, patch in (("gold", selftest.GOLD_PATCH), ("wrong", WRONG_PATCH),
                            ("empty", ""), ("unappliable", UNAPPLIABLE_PATCH))
    ]  # fmt: skip
    results = grade_predictions({iid: inst}, preds, "t", tmp_path, max_workers=2, timeout_s=300)
    got = {p["model_name_or_path"]: (r.outcome, r.resolved, r.error)
           for p, r in zip(preds, results, strict=True)}  # fmt: skip
    assert got["gold"] == ("scored", True, None)
    assert got["wrong"] == ("scored", False, None)
    assert got["empty"] == ("model_failure", False, "empty patch")
    assert got["unappliable"] == ("model_failure", False, "patch does not apply")
    gold = results[0]
    assert gold.report["tests_status"]["FAIL_TO_PASS"]["success"] == [
        "tests/test_ops.py::test_clamp_high"
    ]
    assert (Path(gold.log_dir) / "report.json").exists()  # swebench's own report is kept


@pytest.mark.slow
def test_breaking_pass_to_pass_is_unresolved_and_a_timeout_is_the_models(
    selftest_image, tmp_path: Path
):
    """Resolved needs FAIL_TO_PASS *and* PASS_TO_PASS; tests that run out of time are the
    patch's doing: scored 0, in the denominator, never an infra error."""
    inst = selftest.instance()
    iid = inst["instance_id"]
    pred = {"instance_id": iid, "model_name_or_path": "p2p", "model_patch": BREAKS_P2P_PATCH}
    [r] = grade_predictions({iid: inst}, [pred], "p2p", tmp_path, timeout_s=300)
    assert (r.outcome, r.resolved) == ("scored", False)
    status = r.report["tests_status"]
    assert status["FAIL_TO_PASS"]["success"] == ["tests/test_ops.py::test_clamp_high"]
    assert status["PASS_TO_PASS"]["failure"] == ["tests/test_ops.py::test_add"]
    pred = {"instance_id": iid, "model_name_or_path": "hang", "model_patch": HANGS_PATCH}
    [r] = grade_predictions({iid: inst}, [pred], "hang", tmp_path, timeout_s=20)
    assert (r.outcome, r.resolved) == ("scored", False)
    assert r.error == "tests timed out after 20 s"


@pytest.mark.slow
def test_a_verdict_is_reused_only_for_the_same_patch_image_and_options(
    selftest_image, tmp_path: Path
):
    """swebench answers from an existing report.json under the same run id and model name.
    Repeats of one run share both: another patch (or timeout) must be graded afresh, and
    only the very same grading may be answered from the earlier report."""
    inst = selftest.instance()
    iid = inst["instance_id"]

    def grade(patch: str, timeout_s: int = 300):
        pred = {"instance_id": iid, "model_name_or_path": "m", "model_patch": patch}
        [r] = grade_predictions({iid: inst}, [pred], "run", tmp_path, timeout_s=timeout_s)
        return r

    gold = grade(selftest.GOLD_PATCH)
    assert gold.resolved
    assert not grade(WRONG_PATCH).resolved  # was: repeat 0's "resolved", reused
    again = grade(selftest.GOLD_PATCH)
    assert again.resolved and again.log_dir == gold.log_dir  # the same grading: reused
    other_timeout = grade(selftest.GOLD_PATCH, timeout_s=299)
    assert other_timeout.resolved and other_timeout.log_dir != gold.log_dir


@pytest.mark.slow
def test_validate_gold_writes_the_failing_list(cli, selftest_image, tmp_path: Path) -> None:
    res = cli("swe-bench", "validate-gold", "--split", "smoke", "--results-dir", tmp_path,
              "--timeout", "300")  # fmt: skip
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    assert (run / "gold_failures.txt").read_text() == ""
    summary = json.loads((run / "summary.json").read_text())
    assert summary["suites"]["swe-bench"]["subsets"]["all"]["resolved"] == 1
    assert summary["swebench_version"] == "5.0.2"
    # a graded-only run reads like any other: listed, shown, reported
    listed = cli("results", "list", "--results-dir", tmp_path)
    assert listed.code == 0 and run.name in listed.out and "complete" in listed.out, listed.err
    shown = cli("results", "show", run)
    assert shown.code == 0 and "swe-bench (m1-486)" in shown.out, shown.err
    report = cli("report", tmp_path, "--out", tmp_path / "report")
    assert report.code == 0, report.err
    assert "swe-bench (all)" in (tmp_path / "report" / "report.md").read_text()


# -- the scaffold ----------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    clones = tmp_path / "clones"
    selftest.make_repo(clones / "m1eval__calcpkg")
    work = checkout(selftest.instance(), clones)
    yield work


def test_scaffold_parsers_and_edits(repo: Path) -> None:
    tree = ["calcpkg/__init__.py", "calcpkg/ops.py", "tests/test_ops.py"]
    assert parse_files("I think\n```\n./calcpkg/ops.py\nnot/a/file.py\n```", set(tree)) == [
        "calcpkg/ops.py"
    ]
    skel = skeleton((repo / "calcpkg/ops.py").read_text())
    assert "def clamp(x, lo, hi): ..." in skel and "return" not in skel
    locs = parse_locations("```\ncalcpkg/ops.py\nfunction: clamp\nline: 4\n```", tree)
    assert locs == {"calcpkg/ops.py": ["function: clamp", "line: 4"]}
    spans = regions((repo / "calcpkg/ops.py").read_text(), ["function: clamp"])
    assert spans and spans[0][0] <= 11 <= spans[0][1]
    edits = parse_edits(CORRECT_EDIT)
    assert [e.path for e in edits] == ["calcpkg/ops.py"]
    assert apply_edits(repo, edits) == ("ok", "")
    broken = parse_edits(CORRECT_EDIT.replace("return hi", "return hi)"))
    assert apply_edits(repo, broken)[0] == "syntax_error"
    missing = parse_edits(CORRECT_EDIT.replace("return x\n=", "return y\n="))
    assert apply_edits(repo, missing)[0] == "search_not_found"
    assert apply_edits(repo, [])[0] == "no_edits"


def test_selection_is_a_majority_over_normalized_patches() -> None:
    a1, a2 = Candidate(0, "p1", "ok", normalized="A"), Candidate(1, "p1'", "ok", normalized="A")
    b = Candidate(2, "p2", "ok", normalized="B")
    bad = Candidate(3, "", "syntax_error")
    assert select([b, a1, bad, a2]) is a1
    assert select([b, a1]) is b  # a tie goes to the first
    assert select([bad]) is None


def _run_swe(cli, url: str, results: Path, *extra: str):
    return cli("run", "--suite", "swe-bench", "--split", "smoke", "--base-url", url, "--model",
               "stub-model", "--results-dir", results, "--no-progress", "--patch-samples", "3",
               "--content-format", "string", *extra)  # fmt: skip


@pytest.mark.slow
def test_scaffold_to_resolution_with_a_scripted_model(cli, selftest_image, tmp_path: Path):
    answers = {
        "Repository Structure": "```\ncalcpkg/ops.py\n```",
        "Skeleton of Relevant Files": "```\ncalcpkg/ops.py\nfunction: clamp\n```",
        "SEARCH/REPLACE": CORRECT_EDIT,
    }
    with StubServer(StubConfig(answers=answers, correct_rate=1.0, reasoning=False)) as server:
        res = _run_swe(cli, server.base_url, tmp_path)
        requests = server.state.requests
    assert res.code == 0, res.err
    assert requests == 2 + 3  # two localization stages, three repair samples
    run = only_run_dir(tmp_path)
    [sample] = read_jsonl(run / "samples.jsonl")
    assert sample["outcome"] == "scored" and sample["score"] == 1.0
    assert sample["answer"].startswith("diff --git a/calcpkg/ops.py b/calcpkg/ops.py")
    stages = declared_files(run, sample)
    selection = json.loads(stages["4_selection.json"].read_text())
    assert selection["chosen"] == 0 and [c["status"] for c in selection["candidates"]] == [
        "ok", "ok", "ok"]  # fmt: skip
    preds = read_jsonl(run / "predictions.jsonl")
    assert (
        preds[0]["instance_id"] == selftest.INSTANCE_ID and "return hi" in preds[0]["model_patch"]
    )
    summary = json.loads((run / "summary.json").read_text())["suites"]["swe-bench"]
    assert summary["subsets"]["all"]["resolved"] == 1


@pytest.mark.slow
def test_scaffold_stages_on_the_embedded_model(cli, selftest_image, tmp_path: Path) -> None:
    if not embedded_available():
        pytest.skip("embedded model not installed")
    res = cli("run", "--suite", "swe-bench", "--split", "smoke", "--patch-samples", "2",
              "--max-tokens", "192", "--results-dir", tmp_path, "--no-progress")  # fmt: skip
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    [sample] = read_jsonl(run / "samples.jsonl")
    stages = declared_files(run, sample)
    names = sorted(stages)
    assert names == ["1_files.json", "2_elements.json", "3_repair_0.json", "3_repair_1.json",
                     "4_selection.json", "final.patch"]  # fmt: skip
    for name in names[:-1]:
        stage = json.loads(stages[name].read_text())
        assert "response" in stage or "candidates" in stage
    assert sample["outcome"] in ("scored", "model_failure")
    assert (run / "predictions.jsonl").exists()


def _hold_instance_lock(q) -> None:  # a separate process (a Ray worker on the same host)
    import time as _time

    from m1eval.swebench.grading import _instance_lock

    with _instance_lock("m1eval__calcpkg-1"):
        entered = _time.monotonic()  # one clock for every process of the host
        _time.sleep(0.3)
        left = _time.monotonic()
    q.put((entered, left))  # after release: a queue's order is its feeder threads', not ours


def test_one_instance_is_graded_once_at_a_time_per_host_across_processes() -> None:
    """swebench names containers after the instance: two processes of one host (the Ray
    executor's workers) must not grade one instance at the same time."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_hold_instance_lock, args=(q,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    from itertools import pairwise

    held = sorted(q.get(timeout=30) for _ in range(3))
    # each holder left before the next entered: no two held the instance at once
    assert all(a_left <= b_entered for (_, a_left), (b_entered, _) in pairwise(held))


def test_every_grading_path_reads_the_harness_verdict_alike(tmp_path: Path) -> None:
    """``grade_of`` (the run's scoring, ``swe-bench grade`` and ``validate-gold``): a harness
    infra failure is an infra error (raised, never scored), a patch the harness could not use
    is the model's failure, else resolved or not, naming the failing tests; the harness's logs
    under the sample's folder are its artifacts."""
    from m1eval.artifacts import ArtifactWriter
    from m1eval.errors import InfraFault
    from m1eval.suites.swe_bench import grade_of
    from m1eval.swebench.grading import InstanceResult

    files = ArtifactWriter(tmp_path, "samples/i/abc")
    logs = files.sub("harness").root / "logs" / "run_evaluation" / "m.k" / "m1eval" / "i"
    logs.mkdir(parents=True)
    (logs / "report.json").write_text("{}")
    (logs / "test_output.txt").write_text("ok")
    with pytest.raises(InfraFault, match="daemon went away"):
        grade_of(InstanceResult("i", "infra_error", False, "daemon went away"), files)
    failed = grade_of(InstanceResult("i", "model_failure", False, "patch did not apply",
                                     log_dir=str(logs)), files)  # fmt: skip
    assert (failed.outcome, failed.score, failed.error) == ("model_failure", 0.0,
                                                            "patch did not apply")
    # why it failed is in the harness's logs, kept with the sample
    assert sorted(a.path.rsplit("/", 1)[1] for a in failed.artifacts) == [
        "report.json", "test_output.txt"]  # fmt: skip
    status = {"FAIL_TO_PASS": {"success": [], "failure": ["t::a"]},
              "PASS_TO_PASS": {"success": ["t::b"], "failure": ["t::c", "t::d"]}}
    unresolved = grade_of(InstanceResult("i", "scored", False, None,
                                         {"resolved": False, "tests_status": status},
                                         str(logs)), files)  # fmt: skip
    assert (unresolved.outcome, unresolved.score) == ("scored", 0.0)
    assert unresolved.details == {"resolved": False, "fail_to_pass_failed": 1,
                                  "fail_to_pass_failing": ["t::a"], "pass_to_pass_failed": 2,
                                  "pass_to_pass_failing": ["t::c", "t::d"]}  # fmt: skip
    assert sorted(a.path.rsplit("/", 1)[1] for a in unresolved.artifacts) == [
        "report.json", "test_output.txt"]  # fmt: skip
    resolved = grade_of(InstanceResult("i", "scored", True, None, {"resolved": True}), files)
    assert (resolved.outcome, resolved.score, resolved.artifacts) == ("scored", 1.0, ())


def test_grade_of_every_harness_outcome() -> None:
    """Each harness verdict as a grade: the harness's own infra failure is an infra fault
    (with its words, or a default), a model failure keeps its error (or "not graded") and
    the report's failing tests, a scored instance carries its failing tests as the cause."""
    from m1eval.errors import InfraFault
    from m1eval.suites.swe_bench import grade_of
    from m1eval.swebench.grading import InstanceResult

    report = {"resolved": False, "tests_status": {
        "FAIL_TO_PASS": {"failure": ["t::a", "t::b"], "success": []},
        "PASS_TO_PASS": {"failure": ["t::" + "c" * 400], "success": ["t::d"]}}}  # fmt: skip
    with pytest.raises(InfraFault, match=r"^docker gone$"):
        grade_of(InstanceResult("i", "infra_error", False, "docker gone"))
    with pytest.raises(InfraFault, match=r"^swebench harness failure$"):
        grade_of(InstanceResult("i", "infra_error", False, None))
    failed = grade_of(InstanceResult("i", "model_failure", False, None, report))
    assert (failed.outcome, failed.score, failed.error) == ("model_failure", 0.0, "not graded")
    assert failed.details["fail_to_pass_failing"] == ["t::a", "t::b"]
    assert failed.details["pass_to_pass_failing"] == ["t::" + "c" * 297]  # 300 characters
    assert failed.artifacts == ()
    unresolved = grade_of(InstanceResult("i", "scored", False, None, report))
    assert (unresolved.outcome, unresolved.score) == ("scored", 0.0)
    assert unresolved.cause == "FAIL_TO_PASS: 2 still failing; PASS_TO_PASS: 1 broken"
    assert unresolved.details["fail_to_pass_failed"] == 2
    resolved = grade_of(InstanceResult("i", "scored", True, None, {"resolved": True}))
    assert (resolved.score, resolved.cause) == (1.0, None)


def test_subsets_summary_all_and_the_papers_486() -> None:
    """Both subsets with every field, the excluded instances left out of the 486 only."""
    from m1eval.suites.swe_bench import subsets_summary
    from m1eval.summary import summarize_suite

    recs = [{"item_id": i, "repeat": r, "outcome": "scored", "score": s}
            for i, scores in (("a", (1.0, 1.0)), ("b", (0.0, 1.0)), ("x", (0.0, 0.0)))
            for r, s in enumerate(scores)]  # fmt: skip
    recs.append({"item_id": "b", "repeat": 2, "outcome": "model_failure", "score": 0.0})
    got = subsets_summary(recs, {"x"})
    assert got["excluded_by_paper"] == ["x"]
    everything, kept = got["subsets"]["all"], got["subsets"]["m1-486"]
    assert set(everything) == {"score", "ci_low", "ci_high", "n_instances", "resolved",
                               "outcomes"}  # fmt: skip
    assert everything["n_instances"] == 3 and kept["n_instances"] == 2
    assert everything["resolved"] == 3 and kept["resolved"] == 3
    # item means: a 1, b 1/3, x 0 -> 44.4 over all; a and b -> 66.7 over the 486
    assert everything["score"] == pytest.approx(100 * (1 + 1 / 3) / 3)
    assert kept["score"] == pytest.approx(100 * (1 + 1 / 3) / 2)
    assert kept["outcomes"] == {"scored": 4, "model_failure": 1, "infra_error": 0, "skipped": 0}
    ref = summarize_suite([r for r in recs if r["item_id"] != "x"], binary=False)
    assert (kept["ci_low"], kept["ci_high"]) == (ref["ci_low"], ref["ci_high"])
