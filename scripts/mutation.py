"""Mutation testing of the code that decides scores (mutmut; not run in CI).

    .venv/bin/python scripts/mutation.py [--max-children 2] [--report-only]

Runs mutmut (configured under ``[tool.mutmut]`` in pyproject.toml: the modules it copies and
the tests it runs) on the functions listed in ``SCOPE`` -- graders, suite grading and
summaries, statistics, compare, the outcome rule, resume, SWE-bench verdicts and the TAU
reward -- then prints the mutation score over them and every surviving mutant with its diff.
Survivors argued equivalent (no test can tell them from the original, because they cannot
change a result) are listed with their argument in ``scripts/mutation_equivalent.txt``;
the exit status is 0 only when the score is at least 90% and every survivor is argued.

Mutant names carry a per-function counter, so an argument is keyed by the function and the
changed line (``function | - old | + new``), which survives unrelated edits.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]
EQUIVALENT = ROOT / "scripts" / "mutation_equivalent.txt"
TARGET = 0.90

SCOPE = [
    # graders
    "m1eval.graders.math_answer.*",
    "m1eval.graders.choice.*",
    *(f"m1eval.graders.lcb.x_{f}__mutmut_*" for f in (
        "extract_code", "_stripped_lines", "_decimals", "stdout_matches", "_decimals_equal",
        "call_result_matches", "judge", "grade_program", "problem_from_row",
        "decode_test_cases")),
    "m1eval.graders.lcb.xǁProgramVerdictǁ*",
    # suites: grading and summaries
    "m1eval.suites.aime.xǁAimeSuiteǁgrade__mutmut_*",
    "m1eval.suites.gpqa.xǁGpqaSuiteǁgrade__mutmut_*",
    "m1eval.suites.longbench_v2.x_extract_answer__mutmut_*",
    "m1eval.suites.longbench_v2.xǁLongBenchV2Suiteǁgrade__mutmut_*",
    "m1eval.suites.longbench_v2.xǁLongBenchV2Suiteǁsummarize__mutmut_*",
    "m1eval.suites.mrcr.x_grade__mutmut_*",
    "m1eval.suites.mrcr.x_bin_label__mutmut_*",
    "m1eval.suites.mrcr.xǁMrcrSuiteǁgrade__mutmut_*",
    "m1eval.suites.mrcr.xǁMrcrSuiteǁsummarize__mutmut_*",
    "m1eval.suites.mrcr.xǁMrcrSuiteǁ_aggregates__mutmut_*",
    *(f"m1eval.suites.simpleqa.x_{f}__mutmut_*" for f in (
        "judge_letter", "rates", "_derived", "_interval")),
    "m1eval.suites.simpleqa.xǁSimpleQaSuiteǁscore__mutmut_*",
    "m1eval.suites.simpleqa.xǁSimpleQaSuiteǁsummarize__mutmut_*",
    # statistics, summaries, the outcome rule, compare
    "m1eval.stats.*",
    "m1eval.summary.*",
    "m1eval.outcomes.*",
    *(f"m1eval.compare.x_{f}__mutmut_*" for f in (
        "mcnemar_exact", "paired_bootstrap", "holm", "_per_item", "_test", "compare")),
    "m1eval.compare.xǁComparisonǁ*",
    # resume, SWE-bench verdicts, TAU reward
    "m1eval.store.x_read_samples_file__mutmut_*",
    "m1eval.runner.x_samples_to_redo__mutmut_*",
    "m1eval.swebench.grading.x_verdict__mutmut_*",
    "m1eval.tau.env.x_reward__mutmut_*",
    "m1eval.tau.episode.x_run_episode__mutmut_*",
]  # fmt: skip

KILLED = {"killed", "timeout", "caught by type check", "segfault"}
NOT_RUN = {"not checked", "check was interrupted by user", "skipped"}


def _results() -> dict[str, str]:
    out = subprocess.run([*MUTMUT, "results", "--all", "true"], cwd=ROOT, text=True,
                         capture_output=True, check=True).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and any(fnmatch.fnmatchcase(name, p) for p in SCOPE):
            found[name] = status.strip()
    return found


def _diff(name: str) -> list[str]:
    out = subprocess.run([*MUTMUT, "show", name], cwd=ROOT, text=True, capture_output=True,
                         check=False).stdout  # fmt: skip
    return [ln for ln in out.splitlines()
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]  # fmt: skip


def _function(name: str) -> str:
    return name.rsplit("__mutmut_", 1)[0]


def _key(name: str, diff: list[str]) -> str:
    return " | ".join([_function(name), *(" ".join(d.split()) for d in diff)])


def _arguments() -> dict[str, str]:
    """``key`` -> why the mutant cannot change a result (blank lines and # comments skipped;
    an argument follows its key on the next lines, indented). A key starting with ``re:`` is a
    regular expression over survivors' keys: one argument for a family of mutants."""
    args: dict[str, str] = {}
    key = None
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines() if EQUIVALENT.exists() else []:
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith((" ", "\t")) and key is not None:
            args[key] = (args[key] + " " + line.strip()).strip()
        else:
            key = " ".join(line.split())
            args[key] = ""
    return args


def _family(arguments: dict[str, str], key: str) -> str | None:
    for pattern, text in arguments.items():
        if pattern.startswith("re:") and re.search(pattern[3:].strip(), key):
            return text
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--report-only", action="store_true",
                        help="summarise the last run without running mutants")  # fmt: skip
    args = parser.parse_args()
    env = {**os.environ}
    env.setdefault("M1EVAL_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    started = time.monotonic()
    if not args.report_only:
        subprocess.run([*MUTMUT, "run", "--max-children", str(args.max_children), *SCOPE],
                       cwd=ROOT, env=env, check=False)  # fmt: skip
    results = _results()
    statuses = [s for s in results.values() if s not in NOT_RUN]
    if not statuses:
        print("no mutant results in scope: run without --report-only first")
        return 2
    killed = sum(1 for s in statuses if s in KILLED)
    score = killed / len(statuses)
    arguments = _arguments()
    survivors = sorted(n for n, s in results.items() if s not in KILLED | NOT_RUN)
    unargued = []
    print(f"\nmutants in scope: {len(statuses)}  killed: {killed}  survived: "
          f"{len(survivors)}  mutation score: {100 * score:.1f}%  "
          f"(target {100 * TARGET:.0f}%)")  # fmt: skip
    for name in survivors:
        diff = _diff(name)
        key = _key(name, diff)
        why = arguments.get(key) or _family(arguments, key)
        print(f"\n{name}: {results[name]}" + ("  [argued equivalent]" if why else ""))
        for line in diff:
            print(f"    {line}")
        if why:
            print(f"    why: {why}")
        else:
            unargued.append(key)
    if unargued:
        print(f"\n{len(unargued)} survivor(s) not argued; keys for {EQUIVALENT.name}:")
        for key in unargued:
            print(f"  {key}")
    if not args.report_only:
        print(f"\nwall time {time.monotonic() - started:.0f} s")
    return 0 if score >= TARGET and not unargued else 1


if __name__ == "__main__":
    sys.exit(main())
