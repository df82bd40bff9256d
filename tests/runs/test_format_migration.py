"""Runs written before the run format had a version (format 1: tests/runs/data/runs_v1, one
run of every suite's smoke split and one `swe-bench grade`, written by commit 4f2390f) still
list, show, load, report, view and compare, with the same numbers: their summaries are brought
to the current format in memory (their files are never rewritten), their records get the
artifacts their folder layouts hold, and their suites' fidelity links and plots come from the
specs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from m1eval.results import load, read_records, read_summary
from m1eval.run_format import FORMAT, migrate_summary
from m1eval.suite_specs import load_suite_spec, spec_sha256

V1 = Path(__file__).resolve().parent / "data" / "runs_v1"
RUNS = sorted(p.name for p in V1.iterdir() if (p / "manifest.json").is_file())
SUITES = ("aime24", "aime25", "gpqa-diamond", "livecodebench", "longbench-v2", "mrcr",
          "swe-bench", "tau-bench-airline", "tau-bench-retail")  # fmt: skip


def _suite(run: str) -> str:
    return json.loads((V1 / run / "manifest.json").read_text())["suite"]["name"]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    target = tmp_path / "runs"
    shutil.copytree(V1, target)
    return target


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_every_suite_has_a_format_1_run() -> None:
    assert {_suite(r) for r in RUNS} == set(SUITES)
    for run in RUNS:
        raw = json.loads((V1 / run / "summary.json").read_text())
        assert "format" not in raw and "artifacts" not in (V1 / run / "samples.jsonl").read_text()


@pytest.mark.parametrize("run", RUNS)
def test_the_numbers_are_unchanged(run: str) -> None:
    raw = json.loads((V1 / run / "summary.json").read_text())
    read = read_summary(V1 / run)
    assert read is not None and read["format"] == FORMAT and read["read_from_format"] == 1
    name = _suite(run)
    before, after = raw["suites"][name], read["suites"][name]
    assert after["fidelity"] == load_suite_spec(name).fidelity
    for key, value in before.items():
        assert after[key] == value, key  # nothing that was there changes
    assert migrate_summary(read) is read  # the current format is left alone


# specs whose grading changed on purpose since these runs were written: their identity differs,
# so an old run of them is not resumed under the new grading
REGRADED = {
    "mrcr": "the default reading became the answer after the reasoning and its separator",
    "longbench-v2": "only an output equal to '' is left out; the literal pred.py reading",
}


@pytest.mark.parametrize("run", RUNS)
def test_the_identity_of_every_spec_is_unchanged(run: str) -> None:
    """A run written then resumes now: the spec's identity hash leaves out the report block;
    only a spec whose grading changed since has another identity."""
    manifest = json.loads((V1 / run / "manifest.json").read_text())
    same = manifest["identity"]["suite_manifest_sha256"] == spec_sha256(
        load_suite_spec(_suite(run)))
    assert same is (_suite(run) not in REGRADED), REGRADED.get(_suite(run))


@pytest.mark.parametrize("run", RUNS)
def test_list_show_and_load(cli, runs: Path, run: str) -> None:
    listed = cli("results", "list", "--results-dir", runs)
    assert listed.code == 0 and run[:30] in listed.out, listed.err
    shown = cli("results", "show", runs / run)
    assert shown.code == 0, shown.err
    assert _suite(run) in shown.out
    df = load(runs / run)
    assert len(df) == len((runs / run / "samples.jsonl").read_text().splitlines())
    summary = read_summary(runs / run)
    assert summary is not None
    name = _suite(run)
    if summary["suites"][name]["score"] is not None:
        means = df.groupby("item_id").score.mean()
        assert means.mean() == pytest.approx(summary["suites"][name]["score"], abs=1e-4)


def test_report_over_every_format_1_run(cli, runs: Path, tmp_path: Path) -> None:
    before = _tree_digest(runs)
    res = cli("report", runs, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    for name in SUITES:
        spec = load_suite_spec(name)
        assert spec.fidelity is not None and spec.fidelity in md, name
    assert (tmp_path / "rep" / "plots" / "mrcr_bins.png").is_file()  # MRCR's plot hint
    assert _tree_digest(runs) == before  # reading never rewrites a run


def test_the_viewer_finds_the_artifacts_of_format_1_runs(cli, runs: Path, tmp_path: Path) -> None:
    res = cli("view", runs / "*", "--out", tmp_path / "site")
    assert res.code == 0, res.err

    def details(run: str) -> list[dict]:
        out = []
        for chunk in sorted((tmp_path / "site" / run).glob("chunk-*.js")):
            text = chunk.read_text()
            out += json.loads(text[text.index("(") + 1: text.rindex(")")])["samples"]
        return out

    tau = next(r for r in RUNS if _suite(r) == "tau-bench-retail")
    dialogues = [d for s in details(tau) for d in s.get("dialogues", [])]
    assert dialogues and all(d["trajectory"] for d in dialogues)
    assert any(t.get("tool_calls") for d in dialogues for t in d["trajectory"])
    swe = next(r for r in RUNS if _suite(r) == "swe-bench" and "grade" not in r)
    [sample] = details(swe)
    names = {Path(a).name for a in sample["artifacts"]}
    assert {"1_files.json", "2_elements.json", "4_selection.json", "final.patch",
            "report.json", "test_output.txt"} <= names  # fmt: skip
    for link in sample["artifacts"]:
        assert (tmp_path / "site" / swe / link).is_file()
    [graded] = details("swe-bench-grade-v1")
    assert {"report.json", "test_output.txt"} <= {Path(a).name for a in graded["artifacts"]}
    mrcr = next(r for r in RUNS if _suite(r) == "mrcr")
    index = (tmp_path / "site" / mrcr / "index.js").read_text()
    assert '"bin":' in index  # the tags readers showed then


@pytest.mark.parametrize("run", RUNS)
def test_compare_a_format_1_run(cli, runs: Path, run: str) -> None:
    res = cli("compare", runs / run, runs / run, "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["regression"] is False


def test_records_of_format_1_runs_list_artifacts() -> None:
    tau = next(r for r in RUNS if _suite(r) == "tau-bench-airline")
    records = read_records(V1 / tau)
    assert all(r["artifacts"] and {a["kind"] for a in r["artifacts"]} == {"dialogue"}
               for r in records)  # fmt: skip
    aime = next(r for r in RUNS if _suite(r) == "aime24")
    assert all(r["artifacts"] == [] and r["tags"] == {} for r in read_records(V1 / aime))
