"""Executor overhead: the same container work through the local executor and through Ray.

A two-node Ray cluster is started on this machine (nodes on 127.0.0.2 and 127.0.0.3, both
using this host's Docker daemon), and the same work is timed both ways:

* LiveCodeBench: N programs (half right, half wrong, three tests each) through a local
  sandbox pool of W workers, then through one pool actor per node with W/2 workers each;
* SWE-bench: the self-made instance's gold patch graded G times (distinct timeouts, so no
  verdict is reused), with G local threads, then as G Ray tasks.

With one Docker daemon underneath, the ratio is Ray's own cost (task dispatch, actor calls,
moving results and logs), not a speed-up: on real nodes each brings its own daemon and cores.

    python benchmarks/executor_overhead.py                 # 40 programs, 4 gradings
    python benchmarks/executor_overhead.py --programs 200 --gradings 8 --workers 4
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from m1eval.graders.lcb import Problem, grade_program
from m1eval.sandbox.image import docker_client
from m1eval.sandbox.pool import SandboxLimits, SandboxPool
from m1eval.swebench.grading import grade_predictions
from m1eval.testing import swebench_selftest as selftest

PROBLEM = Problem(inputs=["1 2\n", "5 7\n", "10 -3\n"], outputs=["3\n", "12\n", "7\n"],
                  fn_name=None)  # fmt: skip
RIGHT = "a, b = map(int, input().split())\nprint(a + b)"
WRONG = "a, b = map(int, input().split())\nprint(a - b)"


def local_programs(codes: list[str], workers: int) -> float:
    with SandboxPool(workers) as pool:
        t = time.perf_counter()
        with ThreadPoolExecutor(workers) as ex:
            verdicts = list(ex.map(lambda c: grade_program(pool, c, PROBLEM, 10.0), codes))
        wall = time.perf_counter() - t
    assert [v.passed for v in verdicts] == [c == RIGHT for c in codes]
    return wall


def ray_programs(executor, codes: list[str], workers_per_node: int) -> float:
    programs = executor.programs(workers_per_node, SandboxLimits())
    try:

        async def run() -> list:
            return list(await asyncio.gather(*(programs.grade(c, PROBLEM, 10.0, "official")
                                               for c in codes)))  # fmt: skip

        t = time.perf_counter()
        verdicts = asyncio.run(run())
        wall = time.perf_counter() - t
    finally:
        programs.close()
    assert [v.passed for v in verdicts] == [c == RIGHT for c in codes]
    return wall


def _preds(n: int) -> list[tuple[dict, int]]:
    inst = selftest.instance()
    pred = {"instance_id": inst["instance_id"], "model_name_or_path": "bench",
            "model_patch": selftest.GOLD_PATCH}  # fmt: skip
    return [(pred, 300 + i) for i in range(n)]


def local_gradings(n: int, root: Path) -> float:
    inst = selftest.instance()
    t = time.perf_counter()
    with ThreadPoolExecutor(n) as ex:
        results = list(ex.map(lambda pt: grade_predictions(
            {inst["instance_id"]: inst}, [pt[0]], f"bench{pt[1]}", root, 1, pt[1])[0],
            _preds(n)))  # fmt: skip
    wall = time.perf_counter() - t
    assert all(r.resolved for r in results), results
    return wall


def ray_gradings(executor, n: int, root: Path) -> float:
    inst = selftest.instance()

    async def run() -> list:
        return list(await asyncio.gather(*(executor.grade_swebench(inst, p, timeout, root)
                                           for p, timeout in _preds(n))))  # fmt: skip

    t = time.perf_counter()
    results = asyncio.run(run())
    wall = time.perf_counter() - t
    assert all(r.resolved for r in results), results
    return wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--programs", type=int, default=40)
    p.add_argument("--gradings", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="sandbox workers in all")
    args = p.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    from m1eval.cluster.ray_executor import RayExecutor

    selftest.build_image(docker_client())
    codes = [RIGHT, WRONG] * (args.programs // 2)
    t = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={
        "node_ip_address": "127.0.0.2", "num_cpus": 2,
        "resources": {"docker": args.gradings}, "include_dashboard": False})  # fmt: skip
    cluster.add_node(node_ip_address="127.0.0.3", num_cpus=2,
                     resources={"docker": args.gradings})  # fmt: skip
    executor = RayExecutor(cluster.address)
    print(f"two-node Ray cluster up in {time.perf_counter() - t:.1f} s")
    try:
        with tempfile.TemporaryDirectory(prefix="m1eval-bench-") as tmp:
            lp = local_programs(codes, args.workers)
            rp = ray_programs(executor, codes, max(1, args.workers // 2))
            print(f"LiveCodeBench {len(codes)} programs: local {lp:.2f} s, Ray {rp:.2f} s "
                  f"(ratio {rp / lp:.2f}x)")  # fmt: skip
            lg = local_gradings(args.gradings, Path(tmp) / "local")
            rg = ray_gradings(executor, args.gradings, Path(tmp) / "ray")
            print(f"SWE-bench {args.gradings} gradings: local {lg:.2f} s, Ray {rg:.2f} s "
                  f"(ratio {rg / lg:.2f}x)")  # fmt: skip
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
