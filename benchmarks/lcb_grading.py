"""Sandbox cost: grading the same programs in the Docker pool and in plain subprocesses.

A fixed set of programs (correct, wrong, slow, crashing and timing out) for five problems of
both LiveCodeBench kinds (stdin/stdout and call-based), graded in the same run with the same
parallelism: by the sandbox pool (long-lived locked-down containers) and by the unsandboxed
baseline (a plain subprocess per program), each under LiveCodeBench's execution model (one
process per problem, the default) and under a fresh process per test. Prints the wall times,
the ratios to the unsandboxed official-model baseline, and whether every verdict is identical.

    python benchmarks/lcb_grading.py                 # needs Docker and `m1eval sandbox build`
    python benchmarks/lcb_grading.py --per-kind 20 --workers 4
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from m1eval.graders.lcb import Problem, grade_program
from m1eval.sandbox.local import SubprocessRunner
from m1eval.sandbox.pool import SandboxPool

SUM = Problem([f"{a} {b}\n" for a, b in [(1, 2), (5, 7), (-3, 3), (10**9, 10**9), (0, 0)]],
              ["3", "12", "0", "2000000000", "0"], None)  # fmt: skip
SORT = Problem(["5\n3 1 4 1 5\n", "1\n9\n", "3\n2 2 1\n", "4\n-1 -2 0 7\n", "2\n1 1\n"],
               ["1 1 3 4 5", "9", "1 2 2", "-2 -1 0 7", "1 1"], None)  # fmt: skip
MEAN = Problem(["2\n1 2\n", "4\n1 1 1 1\n", "3\n1 2 4\n", "1\n5\n", "2\n0 1\n"],
               ["1.5", "1.0", "2.3333333333", "5", "0.50"], None)  # fmt: skip
TWO_SUM = Problem(["[2, 7, 11, 15]\n9", "[3, 2, 4]\n6", "[3, 3]\n6", "[1, 5, 9]\n14",
                   "[0, 4, 3, 0]\n0"],
                  ["[0, 1]", "[1, 2]", "[0, 1]", "[1, 2]", "[0, 3]"], "twoSum")  # fmt: skip
REVERSE = Problem(['"abc"', '"a"', '""', '"racecar"', '"ab"'],
                  ['"cba"', '"a"', '""', '"racecar"', '"ba"'], "reverse")  # fmt: skip

CORRECT = {
    "sum": "a, b = map(int, input().split())\nprint(a + b)",
    "sort": "input()\nprint(*sorted(map(int, input().split())))",
    "mean": "n = int(input())\nv = list(map(int, input().split()))\nprint(f'{sum(v) / n:.10f}')",
    "two_sum": "class Solution:\n    def twoSum(self, nums, target):\n"
               "        seen = {}\n        for i, x in enumerate(nums):\n"
               "            if target - x in seen:\n                return [seen[target - x], i]\n"
               "            seen[x] = i",
    "reverse": "class Solution:\n    def reverse(self, s):\n        return s[::-1]",
}  # fmt: skip
WRONG = {
    "sum": "a, b = map(int, input().split())\nprint(a - b)",
    "sort": "input()\nprint(*sorted(map(int, input().split()), reverse=True))",
    "mean": "n = int(input())\nprint(sum(map(int, input().split())) // n)",
    "two_sum": "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]",
    "reverse": "class Solution:\n    def reverse(self, s):\n        return s",
}  # fmt: skip
SLOW_PREFIX = "_x = 0\nfor _i in range(1_500_000):\n    _x += _i\n"
CRASH_PREFIX = "raise RuntimeError('crash')\n"
HANG = "import time\ntime.sleep(30)\n"
PROBLEMS = {"sum": SUM, "sort": SORT, "mean": MEAN, "two_sum": TWO_SUM, "reverse": REVERSE}


def programs(per_kind: int) -> list[tuple[str, str, Problem]]:
    out = []
    for name, problem in PROBLEMS.items():
        for i in range(per_kind):
            tag = f"\n# variant {i}\n"  # distinct programs, same behaviour
            out.append((f"{name}/correct", CORRECT[name] + tag, problem))
            out.append((f"{name}/wrong", WRONG[name] + tag, problem))
            out.append((f"{name}/slow", SLOW_PREFIX + CORRECT[name] + tag, problem))
            out.append((f"{name}/crash", CRASH_PREFIX + CORRECT[name] + tag, problem))
        out.append((f"{name}/timeout", HANG + CORRECT[name], problem))
    return out


def grade_all(runner, progs, workers: int, timeout_s: float,
              exec_model: str = "official") -> tuple[float, list]:  # fmt: skip
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        verdicts = list(ex.map(lambda p: grade_program(runner, p[1], p[2], timeout_s,
                                                       exec_model), progs))  # fmt: skip
    return time.perf_counter() - start, verdicts


def signature(verdict) -> tuple:
    return (verdict.passed, tuple(t.status for t in verdict.tests))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-kind", type=int, default=10, help="programs per problem and kind")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--timeout", type=float, default=6.0, help="seconds per test (official: 6)")
    args = p.parse_args()
    progs = programs(args.per_kind)
    tests = sum(len(pr.inputs) for _, _, pr in progs)
    print(f"{len(progs)} programs (correct, wrong, slow, crashing, timing out), up to {tests} "
          f"test runs, {args.workers} in parallel, {args.timeout:g} s per test")  # fmt: skip
    base_s, base = grade_all(SubprocessRunner(), progs, args.workers, args.timeout)
    t0 = time.perf_counter()
    with SandboxPool(args.workers) as pool:
        start_s = time.perf_counter() - t0
        box_s, boxed = grade_all(pool, progs, args.workers, args.timeout)
        proc_s, per_test = grade_all(pool, progs, args.workers, args.timeout, "process")
    same = [signature(a) == signature(b) for a, b in zip(base, boxed, strict=True)]
    same_models = [signature(a) == signature(b) for a, b in zip(boxed, per_test, strict=True)]
    passed = sum(v.passed for v in boxed)
    print(f"unsandboxed, official model (one process per program): {base_s:7.2f} s")
    print(
        f"sandboxed, official model (one process per problem):   {box_s:7.2f} s   "
        f"(+ {start_s:.1f} s to start {args.workers} workers, once per run)"
    )
    print(f"sandboxed, --lcb-exec process (a fork per test):        {proc_s:7.2f} s")
    print(f"ratio sandboxed / unsandboxed: {box_s / base_s:.2f}x; "
          f"process model / official model (sandboxed): {proc_s / box_s:.2f}x")  # fmt: skip
    print(f"verdicts identical sandboxed vs unsandboxed: {sum(same)}/{len(same)}; "
          f"official vs process model: {sum(same_models)}/{len(same_models)}; "
          f"programs passing: {passed}")  # fmt: skip
    for (label, _, _), a, b, ok in zip(progs, base, boxed, same, strict=True):
        if not ok:
            print(f"  differs (sandbox): {label}: {signature(a)} vs {signature(b)}")
    for (label, _, _), a, b, ok in zip(progs, boxed, per_test, same_models, strict=True):
        if not ok:
            print(f"  differs (model): {label}: {signature(a)} vs {signature(b)}")


if __name__ == "__main__":
    main()
