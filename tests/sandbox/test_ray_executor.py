"""`--executor ray` on a two-node local Ray cluster (nodes on 127.0.0.2 and 127.0.0.3; both
share this machine's Docker daemon, so these tests prove placement, retries, results and
logs coming back, not host isolation): SWE-bench gradings and LiveCodeBench programs give the
verdicts the local executor gives, and a node lost mid-run loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from m1eval.graders.lcb import Problem, grade_program
from m1eval.sandbox.pool import LABEL, OWNER_LABEL, SandboxLimits, SandboxPool
from m1eval.testing import swebench_selftest as selftest
from tests.conftest import private_network_namespace

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pytestmark = [pytest.mark.slow, private_network_namespace(),
              pytest.mark.usefixtures("only_loopback")]

WRONG_PATCH = selftest.GOLD_PATCH.replace("+        return hi", "+        return lo")
assert WRONG_PATCH != selftest.GOLD_PATCH
PROGRAMS = {
    "right": "a, b = map(int, input().split())\nprint(a + b)",
    "wrong": "a, b = map(int, input().split())\nprint(a - b)",
    "crash": "raise SystemError('no')",
    "slow_right": "import time\na, b = map(int, input().split())\ntime.sleep(0.2)\nprint(a + b)",
}
PROBLEM = Problem(inputs=["1 2\n", "5 7\n", "10 -3\n"], outputs=["3\n", "12\n", "7\n"],
                  fn_name=None)  # fmt: skip


@pytest.fixture(scope="module")
def cluster(sandbox_pool) -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={
        "node_ip_address": "127.0.0.2", "num_cpus": 2, "resources": {"docker": 2},
        "include_dashboard": False})  # fmt: skip
    c.worker = c.add_node(node_ip_address="127.0.0.3", num_cpus=2, resources={"docker": 2})
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _executor(cluster: Any) -> Any:
    from m1eval.cluster.ray_executor import RayExecutor

    return RayExecutor(cluster.address)


def _verdicts(results: list[Any]) -> list[tuple]:
    return [(v.passed, [(t.passed, t.status) for t in v.tests]) for v in results]


def test_lcb_programs_through_per_node_pools_match_the_local_executor(cluster, sandbox_pool):
    ex = _executor(cluster)
    programs = ex.programs(1, SandboxLimits())
    try:
        assert len(programs.actors) == 2  # one pool per Docker node

        async def grade_all() -> list[Any]:
            return list(
                await asyncio.gather(
                    *(
                        programs.grade(code, PROBLEM, 10.0, model)
                        for code in PROGRAMS.values()
                        for model in ("official", "process")
                    )
                )
            )

        remote = asyncio.run(grade_all())
        local = [
            grade_program(sandbox_pool, code, PROBLEM, 10.0, model)
            for code in PROGRAMS.values()
            for model in ("official", "process")
        ]
        assert _verdicts(remote) == _verdicts(local)
        assert [v.passed for v in remote] == [True, True, False, False, False, False,
                                              True, True]  # fmt: skip
        assert sorted(programs.graded_by.values()) == [4, 4]  # both nodes did work
    finally:
        programs.close()


def test_a_node_lost_mid_run_loses_and_duplicates_no_program(cluster, sandbox_pool) -> None:
    """The 127.0.0.3 node dies while 16 programs are graded: each gets exactly one verdict,
    the survivor grading what the lost node could not; the lost node's orphaned containers
    are swept by the next pool that starts on this host."""
    ex = _executor(cluster)
    programs = ex.programs(1, SandboxLimits())
    codes = [PROGRAMS["slow_right"], PROGRAMS["wrong"]] * 8

    async def run() -> list[Any]:
        tasks = [asyncio.ensure_future(programs.grade(c, PROBLEM, 10.0, "official"))
                 for c in codes]  # fmt: skip
        while sum(programs.graded_by.values()) < 2:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(cluster.remove_node, cluster.worker)
        return list(await asyncio.gather(*tasks))

    try:
        verdicts = asyncio.run(run())
        assert [v.passed for v in verdicts] == [True, False] * 8
        assert sum(programs.graded_by.values()) == len(codes)  # one verdict per program
        assert len(programs.actors) == 1
    finally:
        programs.close()
        cluster.worker = cluster.add_node(node_ip_address="127.0.0.3", num_cpus=2,
                                          resources={"docker": 2})  # fmt: skip
    pool = SandboxPool(1).start()  # a pool starting on this host sweeps the dead node's
    try:
        client = pool.client
        mine = {f"{os.uname().nodename}:{os.getpid()}"}
        left = [c for c in client.containers.list(all=True, filters={"label": LABEL})
                if c.labels.get(OWNER_LABEL) not in mine
                and not _alive_owner(c.labels.get(OWNER_LABEL, ""))]  # fmt: skip
        assert left == []
    finally:
        pool.close()


def _alive_owner(owner: str) -> bool:
    pid = owner.rpartition(":")[2]
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return True


def test_swebench_gradings_as_ray_tasks_match_the_local_executor(
    cluster, selftest_image, tmp_path: Path
) -> None:
    """gold, wrong and empty patches of the self-made instance, graded as Ray tasks with
    swebench's run_instance on a Docker node: the local verdicts, and swebench's own logs
    written back under the driver's log root."""
    from m1eval.swebench.grading import grade_predictions

    ex = _executor(cluster)
    inst = selftest.instance()
    iid = inst["instance_id"]
    preds = [{"instance_id": iid, "model_name_or_path": "m1eval", "model_patch": p}
             for p in (selftest.GOLD_PATCH, WRONG_PATCH, "")]  # fmt: skip

    async def grade_all() -> list[Any]:
        return list(
            await asyncio.gather(
                *(ex.grade_swebench(inst, p, 300, tmp_path / "remote") for p in preds)
            )
        )

    remote = asyncio.run(grade_all())
    local = [grade_predictions({iid: inst}, [p], f"l{i}", tmp_path / "local", 1, 300)[0]
             for i, p in enumerate(preds)]  # fmt: skip
    got = [(r.outcome, r.resolved, r.error) for r in remote]
    assert got == [(r.outcome, r.resolved, r.error) for r in local]
    assert got == [("scored", True, None), ("scored", False, None),
                   ("model_failure", False, "empty patch")]  # fmt: skip
    assert remote[0].report["tests_status"] == local[0].report["tests_status"]
    assert (Path(remote[0].log_dir) / "report.json").is_file()
    assert str(tmp_path / "remote") in remote[0].log_dir


def test_a_run_with_the_ray_executor_and_its_resume(cli, cluster, selftest_image,
                                                    tmp_path: Path) -> None:  # fmt: skip
    """`m1eval run --executor ray`: the scaffold runs on the driver, the gradings on the
    cluster; the driver alone writes the records; a rerun after a lost sample asks and grades
    only that sample."""
    import json

    from m1eval.testing.stub_server import StubConfig, StubServer
    from tests.conftest import declared_files, only_run_dir, read_jsonl
    from tests.suites.test_swebench import CORRECT_EDIT, _run_swe

    answers = {"Repository Structure": "```\ncalcpkg/ops.py\n```",
               "Skeleton of Relevant Files": "```\ncalcpkg/ops.py\nfunction: clamp\n```",
               "SEARCH/REPLACE": CORRECT_EDIT}  # fmt: skip
    ray_args = ("--executor", "ray", "--ray-address", cluster.address, "--repeats", "2")
    with StubServer(StubConfig(answers=answers, correct_rate=1.0, reasoning=False)) as server:
        res = _run_swe(cli, server.base_url, tmp_path, *ray_args)
        assert res.code == 0, res.err
        assert server.state.requests == 2 * (2 + 3)
        run = only_run_dir(tmp_path)
        records = read_jsonl(run / "samples.jsonl")
        assert [r["score"] for r in records] == [1.0, 1.0]
        manifest = json.loads((run / "manifest.json").read_text())
        executor = manifest["run_context"]["executor"]
        assert executor["kind"] == "ray" and len(executor["nodes"]) == 2
        # swebench's logs came back to the driver, into each sample's own artifacts
        for record in records:
            report = declared_files(run, record, harness=True)["report.json"]
            assert json.loads(report.read_text())[record["item_id"]]["resolved"] is True
        lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
        (run / "samples.jsonl").write_text(lines[0])  # a sample lost with a killed driver
        res = _run_swe(cli, server.base_url, tmp_path, *ray_args)
        assert res.code == 0, res.err
        assert server.state.requests == 2 * (2 + 3) + (2 + 3)  # only the lost one again
    assert sorted(r["sample_id"] for r in read_jsonl(run / "samples.jsonl")) == sorted(
        r["sample_id"] for r in records
    )
