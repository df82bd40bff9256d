"""The project's default LiveCodeBench grading agrees with LiveCodeBench's own grader on every
program of the corpus (``tests/suites/lcb_corpus.py``): 214 programs covering the ways
accepted solutions read input (``input``, ``sys.stdin.readline`` with and without its
newline, ``from sys import stdin``, ``read``/``readlines``/``buffer``, iterating ``sys.stdin``,
``open(0)``, ``os.read(0)``), write output, exit, guard ``__main__``, import blocked modules,
and return call-based values (tuples, numpy values and arrays, big integers, dicts, state kept
in one ``Solution``). The official verdicts were recorded by running ``lcb_runner`` itself in
the sandbox image (``scripts/record_lcb_verdicts.py``); here each program is graded in the real
sandbox with ``--lcb-exec official``."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from m1eval.graders.lcb import Problem, grade_program
from tests.suites.lcb_corpus import PROBLEMS, programs

VERDICTS = Path(__file__).parent / "data" / "lcb_official_verdicts.json"


def test_the_corpus_is_recorded_whole() -> None:
    recorded = json.loads(VERDICTS.read_text())
    assert recorded["upstream"].startswith("LiveCodeBench/LiveCodeBench@")
    assert set(recorded["verdicts"]) == {p["id"] for p in programs()}
    assert len(recorded["verdicts"]) >= 150
    passed = sum(v["passed"] for v in recorded["verdicts"].values())
    assert 0 < passed < len(recorded["verdicts"])  # both verdicts are represented


def test_default_grading_agrees_with_the_official_grader(sandbox_pool) -> None:
    official = json.loads(VERDICTS.read_text())["verdicts"]
    progs = programs()

    def grade(prog: dict) -> tuple[str, bool, str]:
        p = PROBLEMS[prog["problem"]]
        problem = Problem(p["inputs"], p["outputs"], p["fn_name"])
        verdict = grade_program(sandbox_pool, prog["code"], problem)
        fail = verdict.first_failure
        return prog["id"], verdict.passed, "" if fail is None else f"{fail.status}: {fail.error}"

    with ThreadPoolExecutor(2) as ex:
        ours = list(ex.map(grade, progs))
    disagree = [f"{pid}: official {official[pid]['passed']} {official[pid]['results']}, "
                f"ours {passed} ({why})" for pid, passed, why in ours
                if passed != official[pid]["passed"]]  # fmt: skip
    assert not disagree, "\n".join(disagree)
