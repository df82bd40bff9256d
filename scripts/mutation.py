"""Mutation testing of the code that decides scores (mutmut; not run in CI).

    .venv/bin/python scripts/mutation.py [--max-children 2] [--report-only]
    .venv/bin/python scripts/mutation.py --changed origin/main   # before a submission

Runs mutmut (configured under ``[tool.mutmut]`` in pyproject.toml: the modules it copies and
the tests it runs) on the functions listed in ``SCOPE`` -- graders, suite grading and
summaries, statistics, compare, the outcome rule, resume, SWE-bench verdicts and the TAU
reward -- then prints the mutation score over them and every surviving mutant with its diff.
Survivors argued equivalent (no test can tell them from the original, because they cannot
change a result) are listed with their argument in ``scripts/mutation_equivalent.txt``;
the exit status is 0 only when the score is at least 90% and every survivor is argued.

``--changed REV`` mutates only the functions in ``SCOPE`` whose lines changed since ``REV``
(``git diff REV``, the working tree included): minutes, not the full run's hours.

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
        "call_result_matches", "_json_int", "load_expected", "decode_value", "_ndarray",
        "judge", "grade_program", "problem_from_row", "decode_test_cases")),
    "m1eval.graders.lcb.xǁProgramVerdictǁ*",
    # every suite's grading and summary
    "m1eval.suites.aime.xǁAimeSuiteǁgrade__mutmut_*",
    "m1eval.suites.gpqa.xǁGpqaSuiteǁgrade__mutmut_*",
    *(f"m1eval.suites.longbench_v2.x_{f}__mutmut_*" for f in (
        "extract_answer", "pred_py_reading", "_pred_py", "_empty", "_pct")),
    *(f"m1eval.suites.longbench_v2.xǁLongBenchV2Suiteǁ{f}__mutmut_*" for f in (
        "grade", "score", "truncated_details", "followup_messages", "summarize")),
    *(f"m1eval.suites.mrcr.x_{f}__mutmut_*" for f in (
        "grade", "bin_label", "fitted_budget", "_reading", "_reasons")),
    *(f"m1eval.suites.mrcr.xǁMrcrSuiteǁ{f}__mutmut_*" for f in (
        "grade", "skip_reason", "summarize", "_aggregates")),
    *(f"m1eval.suites.simpleqa.x_{f}__mutmut_*" for f in (
        "judge_letter", "rates", "_derived", "_interval")),
    "m1eval.suites.simpleqa.xǁSimpleQaSuiteǁscore__mutmut_*",
    "m1eval.suites.simpleqa.xǁSimpleQaSuiteǁsummarize__mutmut_*",
    "m1eval.suites.livecodebench.xǁLiveCodeBenchSuiteǁscore__mutmut_*",
    "m1eval.suites.livecodebench.xǁLiveCodeBenchSuiteǁsummarize__mutmut_*",
    *(f"m1eval.suites.swe_bench.x_{f}__mutmut_*" for f in (
        "grade_of", "report_details", "subsets_summary")),
    "m1eval.suites.swe_bench.xǁSweBenchSuiteǁsummarize__mutmut_*",
    "m1eval.suites.tau_bench.x__pass_hat_ks__mutmut_*",
    "m1eval.suites.tau_bench.xǁTauBenchSuiteǁsummarize__mutmut_*",
    # statistics, summaries, the outcome rule, the contract, compare
    "m1eval.stats.*",
    "m1eval.summary.*",
    "m1eval.outcomes.*",
    *(f"m1eval.contract.x_{f}__mutmut_*" for f in ("comparability", "lead_score")),
    "m1eval.compare.*",
    # the runner's outcome and resume rules, merge, the report's verdict
    "m1eval.store.x_read_samples_file__mutmut_*",
    *(f"m1eval.runner.x_{f}__mutmut_*" for f in (
        "samples_to_redo", "make_record", "run_sample")),
    "m1eval.commands.merge.x__merged_manifest__mutmut_*",
    "m1eval.reporting.verdict.*",
    # SWE-bench verdicts, TAU reward and episode
    "m1eval.swebench.grading.x_verdict__mutmut_*",
    "m1eval.swebench.grading.x__unrunnable_test_command__mutmut_*",
    "m1eval.tau.env.x_reward__mutmut_*",
    "m1eval.tau.episode.x_run_episode__mutmut_*",
    "m1eval.tau.calculate.*",
    # the cause each sample that did not score 1 carries, and their summary
    "m1eval.causes.*",
]  # fmt: skip
# Not mutated, and why: m1eval/sandbox/lcb_exec.py runs inside the sandbox container, from
# its source text (a mutant's trampolines need mutmut there, so every mutant would "die" for
# the wrong reason); its semantics are pinned instead by 216 programs graded by LiveCodeBench's
# own grader (tests/suites/test_lcb_official_verdicts.py).

KILLED = {"killed", "timeout", "caught by type check", "segfault"}
NOT_RUN = {"not checked", "check was interrupted by user", "skipped"}


def _changed_lines(rev: str) -> dict[str, set[int]]:
    """Lines of ``m1eval/**.py`` added or changed since ``rev`` (working tree included)."""
    out = subprocess.run(["git", "diff", "-U0", rev, "--", "m1eval"], cwd=ROOT, text=True,
                         capture_output=True, check=True).stdout  # fmt: skip
    lines: dict[str, set[int]] = {}
    path = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@") and path and path.endswith(".py"):
            m = re.search(r"\+(\d+)(?:,(\d+))?", line)
            if m:
                start, count = int(m.group(1)), int(m.group(2) or 1)
                lines.setdefault(path, set()).update(range(start, start + max(count, 1)))
    return lines


def mutant_prefix(path: str, qualname: str) -> str:
    """mutmut's name for a function's mutants: ``pkg.mod.x_fn`` or ``pkg.mod.xǁClassǁfn``."""
    module = path.removesuffix(".py").replace("/", ".")
    cls, _, fn = qualname.rpartition(".")
    return f"{module}.xǁ{cls}ǁ{fn}" if cls else f"{module}.x_{fn}"


def functions_touched(lines: dict[str, set[int]]) -> list[str]:
    """``mutant_prefix`` of every top-level function and method whose body holds a changed
    line."""
    import ast

    found = []
    for path, changed in sorted(lines.items()):
        try:
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            continue
        nodes = [(n, "") for n in tree.body]
        nodes += [(m, n.name + ".") for n in tree.body if isinstance(n, ast.ClassDef)
                  for m in n.body]  # fmt: skip
        for node, owner in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                span = set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                if span & changed:
                    found.append(mutant_prefix(path, owner + node.name))
    return found


def changed_scope(rev: str) -> tuple[list[str], list[str]]:
    """(patterns of the changed functions inside ``SCOPE``, changed functions outside it)."""
    inside, outside = [], []
    for prefix in functions_touched(_changed_lines(rev)):
        probe = f"{prefix}__mutmut_1"
        (inside if any(fnmatch.fnmatchcase(probe, p) for p in SCOPE) else outside).append(prefix)
    return [f"{p}__mutmut_*" for p in inside], outside


def _results(scope: list[str]) -> dict[str, str]:
    out = subprocess.run([*MUTMUT, "results", "--all", "true"], cwd=ROOT, text=True,
                         capture_output=True, check=True).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and any(fnmatch.fnmatchcase(name, p) for p in scope):
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
    parser.add_argument("--changed", metavar="REV",
                        help="only the functions in SCOPE changed since REV (git)")  # fmt: skip
    args = parser.parse_args()
    env = {**os.environ}
    env.setdefault("M1EVAL_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    # a test that skips kills no mutant: every mutant it would have killed "survives"
    env.setdefault("M1EVAL_REQUIRE_SANDBOX", "1")
    if not args.report_only:
        missing = _missing_prerequisites(env)
        if missing:
            print(f"not run: {missing}")
            return 2
    started = time.monotonic()
    scope = SCOPE
    if args.changed:
        scope, outside = changed_scope(args.changed)
        for prefix in outside:
            print(f"changed, not in SCOPE (not mutated): {prefix}")
        if not scope:
            print(f"no function in SCOPE changed since {args.changed}")
            return 0
        print(f"{len(scope)} changed function(s) in SCOPE since {args.changed}")
    if not args.report_only:
        subprocess.run([*MUTMUT, "run", "--max-children", str(args.max_children), *scope],
                       cwd=ROOT, env=env, check=False)  # fmt: skip
    results = _results(scope)
    statuses = [s for s in results.values() if s not in NOT_RUN]
    if not statuses:
        print("no mutant results in scope: run without --report-only first")
        return 2
    unchecked = len(results) - len(statuses)
    killed = sum(1 for s in statuses if s in KILLED)
    score = killed / len(statuses)
    arguments = _arguments()
    survivors = sorted(n for n, s in results.items() if s not in KILLED | NOT_RUN)
    unargued = []
    print(f"\nmutants in scope: {len(results)}  checked: {len(statuses)}  killed: {killed}  "
          f"survived: {len(survivors)}  mutation score: {100 * score:.1f}% of those checked  "
          f"(target {100 * TARGET:.0f}%)")  # fmt: skip
    if unchecked:
        print(f"NOT COMPLETE: {unchecked} mutant(s) in scope not checked; the score covers "
              "only those checked")  # fmt: skip
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
    return 0 if score >= TARGET and not unargued and not unchecked else 1


def _missing_prerequisites(env: dict[str, str]) -> str | None:
    """What the selected tests need and would otherwise skip: the real benchmark data and a
    Docker daemon with the sandbox image (LiveCodeBench and SWE-bench grading)."""
    data = Path(env["M1EVAL_SHARED_DATA"])
    if not (data / "tau_bench").is_dir() or not (data / "hf").is_dir():
        return (f"no benchmark data at {data} (set M1EVAL_SHARED_DATA): the tests that read "
                "it would skip")  # fmt: skip
    from m1eval.sandbox.image import IMAGE

    try:
        docker = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True,
                                timeout=60, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        docker = None
    if docker is None or docker.returncode != 0:
        return ("no Docker daemon with the sandbox image (start dockerd, then "
                ".venv/bin/m1eval sandbox build): the sandboxed grading tests would skip")
    return None


if __name__ == "__main__":
    sys.exit(main())
