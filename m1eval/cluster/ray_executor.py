"""The Ray executor: container work spread over the nodes of a Ray cluster.

Nodes that can run containers advertise a custom resource (``ray start --resources
'{"docker": N}'``, N = the gradings that node runs at once). Then:

* **SWE-bench grading** is one Ray task per prediction, needing one ``docker`` unit: it runs
  the pinned swebench ``run_instance`` (through :func:`m1eval.swebench.grading.grade_predictions`,
  unchanged) against that node's Docker daemon, in a scratch log root of its own (the log root
  is a module global of swebench, so each task is a separate worker process), and returns the
  verdict and swebench's log files; the driver writes the logs under the run's artifacts. Ray
  retries a task whose node died (``max_retries``), so a lost node's gradings run elsewhere.
* **LiveCodeBench** gets one actor per Docker node owning that node's sandbox pool (the
  Unix-socket protocol to its workers stays on its host); a program is graded whole by one
  actor (``grade_program``: every test, first failure first). A dead actor's program is asked
  again of another actor, and the dead one is dropped.

The driver keeps every record: nothing remote writes ``samples.jsonl``. Ray is optional
(``pip install 'm1eval[ray]'``) and imported only here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from m1eval.errors import ConfigError
from m1eval.graders.lcb import Problem, ProgramVerdict, grade_program
from m1eval.sandbox.errors import SandboxError
from m1eval.sandbox.pool import SandboxLimits, SandboxPool
from m1eval.swebench.grading import InstanceResult, grade_predictions

RESOURCE = "docker"
MAX_LOG_BYTES = 4 * 1024 * 1024  # swebench's logs of one grading brought back, at most
TASK_RETRIES = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'm1eval[ray]'") from None
    return ray


def grade_swebench_task(row: dict[str, Any], pred: dict[str, Any], timeout_s: int
                        ) -> tuple[dict[str, Any], dict[str, bytes]]:  # fmt: skip
    """Run on a Docker node: grade one prediction; (the result, its log files)."""
    scratch = Path(tempfile.mkdtemp(prefix="m1eval-swe-ray-"))
    try:
        [res] = grade_predictions({row["instance_id"]: row}, [pred], "m1eval", scratch, 1,
                                  timeout_s)  # fmt: skip
        logs: dict[str, bytes] = {}
        used = 0
        if res.log_dir and Path(res.log_dir).is_dir():
            for path in sorted(Path(res.log_dir).rglob("*")):
                if path.is_file() and not path.is_symlink():
                    data = path.read_bytes()[: MAX_LOG_BYTES - used]
                    used += len(data)
                    logs[str(path.relative_to(scratch))] = data
                    if used >= MAX_LOG_BYTES:
                        break
        out = asdict(res)
        out["node"] = os.uname().nodename
        return out, logs
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class PoolActor:
    """One node's sandbox pool (instantiated as a Ray actor pinned to that node)."""

    def __init__(self, workers: int, limits: dict[str, Any]) -> None:
        self.pool = SandboxPool(workers, limits=SandboxLimits(**limits)).start()

    def grade(self, code: str, problem: Problem, timeout_s: float, exec_model: str
              ) -> ProgramVerdict:  # fmt: skip
        return grade_program(self.pool, code, problem, timeout_s, exec_model)

    def describe(self) -> dict[str, Any]:
        return {"image": self.pool.image, "workers": self.pool.size}

    def close(self) -> None:
        self.pool.close()


class RayPrograms:
    """LiveCodeBench programs through the per-node pool actors, round robin."""

    def __init__(self, actors: list[tuple[str, Any]]) -> None:
        self.actors = list(actors)
        self._turn = itertools.count()
        self.graded_by: dict[str, int] = {}

    async def grade(self, code: str, problem: Problem, timeout_s: float, exec_model: str
                    ) -> ProgramVerdict:  # fmt: skip
        ray = _ray()
        while self.actors:
            node, actor = self.actors[next(self._turn) % len(self.actors)]
            try:
                verdict = await actor.grade.remote(code, problem, timeout_s, exec_model)
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                self.actors = [(n, a) for n, a in self.actors if a is not actor]
                continue  # its node is gone: another node grades the program
            self.graded_by[node] = self.graded_by.get(node, 0) + 1
            return verdict
        raise SandboxError("no LiveCodeBench sandbox node is left in the Ray cluster")

    def close(self) -> None:
        ray = _ray()
        for _, actor in self.actors:
            # a node already gone: its containers went with it (swept by label on its return)
            with contextlib.suppress(Exception):
                ray.get(actor.close.remote(), timeout=60)
            ray.kill(actor)


class RayExecutor:
    """Connects to a Ray cluster (``--ray-address``) and places container work on it."""

    kind = "ray"

    def __init__(self, address: str, resource: str = RESOURCE) -> None:
        ray = _ray()
        self.address = address
        self.resource = resource
        try:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                     namespace="m1eval")  # fmt: skip
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot join the Ray cluster at {address}: {exc}") from None
        if not self.docker_nodes():
            raise ConfigError(f"no node of the Ray cluster at {address} offers the "
                              f"'{resource}' resource (ray start --resources "
                              f"'{{\"{resource}\": N}}' on the Docker hosts)")  # fmt: skip

    def docker_nodes(self) -> list[dict[str, Any]]:
        return [n for n in _ray().nodes()
                if n.get("Alive") and (n.get("Resources") or {}).get(self.resource)]  # fmt: skip

    def describe(self) -> dict[str, Any]:
        nodes = self.docker_nodes()
        return {"kind": "ray", "address": self.address, "resource": self.resource,
                "nodes": [{"ip": n.get("NodeManagerAddress"),
                           "slots": n["Resources"][self.resource]} for n in nodes]}  # fmt: skip

    async def grade_swebench(self, row: dict[str, Any], pred: dict[str, Any], timeout_s: int,
                             log_root: Path) -> InstanceResult:  # fmt: skip
        ray = _ray()
        task = ray.remote(grade_swebench_task).options(
            resources={self.resource: 1}, num_cpus=0, max_retries=TASK_RETRIES,
            scheduling_strategy="SPREAD")  # fmt: skip
        try:
            out, logs = await task.remote(row, pred, timeout_s)
        except ray.exceptions.RayError as exc:
            raise SandboxError(f"Ray grading task failed: {str(exc).splitlines()[0]}") from None
        log_dir = None
        for rel, data in logs.items():
            path = (log_root / rel).resolve()
            if log_root.resolve() not in path.parents:
                continue  # a log path that leaves the log root is not written
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            log_dir = str(path.parent)
        out.pop("node", None)
        out["log_dir"] = log_dir
        return InstanceResult(**out)

    def programs(self, workers_per_node: int, limits: SandboxLimits) -> RayPrograms:
        """Start one pool actor on every Docker node."""
        ray = _ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cls = ray.remote(PoolActor)
        actors = []
        for node in self.docker_nodes():
            actor = cls.options(
                num_cpus=0, max_concurrency=workers_per_node,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
            ).remote(workers_per_node, asdict(limits))  # fmt: skip
            actors.append((str(node.get("NodeManagerAddress")), actor))
        try:
            ray.get([a.describe.remote() for _, a in actors], timeout=600)
        except ray.exceptions.RayError as exc:
            raise SandboxError(f"a node's sandbox pool did not start: {exc}") from None
        return RayPrograms(actors)

    async def close(self) -> None:
        await asyncio.to_thread(_ray().shutdown)
