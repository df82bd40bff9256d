"""One way to finish a run: every command that produces a run ends through
``run_files.finish_run``; none writes run files itself; every field of a suite summary is
declared by the contract or by the suite; artifacts are confined to their folder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from m1eval.artifacts import ArtifactWriter, safe_segment
from m1eval.contract import CONTRACT_FIELDS, SUMMARY_FIELDS
from m1eval.summary import summarize_suite

PACKAGE = Path(__file__).resolve().parents[2] / "m1eval"
RUN_WRITERS = {"write_summary", "write_manifest", "atomic_write_jsonl", "replace_samples"}


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


def test_commands_finish_runs_through_the_finisher() -> None:
    commands = PACKAGE / "commands"
    for path in sorted(commands.glob("*.py")):
        calls = _calls(path)
        writes = calls & {"write_summary", "write_manifest", "atomic_write_jsonl"}
        assert not writes, f"{path.name} writes run files itself: {writes}"
        assert "build_summary" not in calls, path.name
    for producer in ("merge.py", "swe_bench.py"):
        assert "finish_run" in _calls(commands / producer), producer
    assert "finish_run" in _calls(PACKAGE / "evaluate.py")
    assert not any("m1eval.evaluate" in line for p in commands.glob("*.py") if p.name != "run.py"
                   for line in p.read_text().splitlines() if "import" in line)  # fmt: skip


def _record(item: str, repeat: int, score: float, outcome: str = "scored") -> dict:
    return {"item_id": item, "repeat": repeat, "outcome": outcome, "score": score,
            "error": None if outcome == "scored" else "no answer", "vote_key": str(score)}


def test_every_generic_summary_field_is_declared() -> None:
    records = [_record(i, k, float((i + str(k)) in ("a0", "b1")), "scored" if k else
                       "model_failure") for i in "abc" for k in range(3)]  # fmt: skip
    binary = summarize_suite(records, binary=True)
    assert set(binary) == set(SUMMARY_FIELDS)  # every field declared, every declared field made
    assert set(summarize_suite(records, binary=False)) == set(SUMMARY_FIELDS) - {
        "pass_at_k", "maj_at_k"}  # fmt: skip
    assert not set(SUMMARY_FIELDS) & set(CONTRACT_FIELDS)


def test_artifact_names_stay_in_their_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    files = ArtifactWriter(run).sub("samples", "../../etc", "abc")
    for name in ("../x.json", "/etc/passwd", "a/../../x", "", "."):
        with pytest.raises(ValueError):
            files.write_text("text", name, "x")
    art = files.write_json("json", "stage.json", {"a": 1})
    assert art.path.startswith("samples/") and ".." not in Path(art.path).parts
    assert (run / art.path).resolve().is_relative_to(run.resolve())
    (tmp_path / "elsewhere").mkdir()
    link = files.root / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError):
        files.write_text("text", "link/escape.txt", "x")
    with pytest.raises(ValueError):
        files.declare("html", "stage.json")  # only the kinds readers know
    assert safe_segment("astropy__astropy-12907") == "astropy__astropy-12907"
    assert safe_segment("a/b") != safe_segment("a_b")  # distinct ids stay distinct
