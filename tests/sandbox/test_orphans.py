"""No orphans when `m1eval run` is killed with SIGKILL mid-run: its sandbox containers stop
(their agent sees the socket close) and the next pool on this host removes them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from m1eval.sandbox.pool import OWNER_LABEL, SandboxPool
from m1eval.testing.stub_server import spawn

pytestmark = pytest.mark.slow


def _containers(client, pid: int) -> list:
    owner = f"{os.uname().nodename}:{pid}"
    return client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"})


def test_kill_9_of_a_sandboxed_run_leaves_no_running_container(sandbox_pool,
                                                              tmp_path: Path) -> None:  # fmt: skip
    client = sandbox_pool.client
    stub, url = spawn(tmp_path, "--delay", "30")  # the run waits on the model
    run = subprocess.Popen(
        [sys.executable, "-m", "m1eval.cli", "run", "--suite", "livecodebench", "--split",
         "smoke", "--base-url", url, "--model", "stub-model", "--results-dir",
         str(tmp_path / "r"), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(_containers(client, run.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _containers(client, run.pid), "the run started no sandbox worker"
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            live = [c for c in _containers(client, run.pid) if c.status in ("running", "created")]
            if not live:
                break
            time.sleep(0.5)
        assert not live, f"{len(live)} sandbox containers still running after kill -9"
        SandboxPool(1).start().close()  # the next pool on this host sweeps them
        assert _containers(client, run.pid) == []
    finally:
        stub.kill()
        if run.poll() is None:
            run.kill()


GRADE_SLOWLY = """
import sys
from pathlib import Path
from m1eval.swebench.grading import grade_predictions
from m1eval.testing import swebench_selftest as st

inst = st.instance()
inst["eval_script"] = "#!/bin/bash\\nsleep 600\\n"  # a test run the kill lands in
pred = {"instance_id": st.INSTANCE_ID, "model_patch": st.GOLD_PATCH,
        "model_name_or_path": "orphan-test"}
grade_predictions({st.INSTANCE_ID: inst}, [pred], "orphan-run", Path(sys.argv[1]))
"""


def test_kill_9_during_swe_bench_grading_leaves_no_container(selftest_image,
                                                             tmp_path: Path) -> None:  # fmt: skip
    """swebench's container runs `tail -f /dev/null` until swebench removes it: after kill -9
    nothing would, so the next grading on this host removes it (and only ones whose grading
    process is gone)."""
    from m1eval.sandbox.image import docker_client
    from m1eval.swebench.grading import sweep_orphan_gradings
    from m1eval.testing import swebench_selftest as st

    client = docker_client()
    prefix = f"sweb.eval.{st.INSTANCE_ID.lower()}.orphan-run."

    def ours() -> list:
        return [c for c in client.containers.list(all=True, filters={"name": prefix})
                if c.name.startswith(prefix)]  # fmt: skip

    grading = subprocess.Popen([sys.executable, "-c", GRADE_SLOWLY, str(tmp_path / "logs")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not [c for c in ours() if c.status == "running"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ours(), "the grading started no container"
        assert sweep_orphan_gradings(client) == 0  # a live grading's container is left alone
        grading.send_signal(signal.SIGKILL)
        grading.wait(timeout=30)
        time.sleep(2)
        [left] = ours()
        left.reload()
        assert left.status == "running"  # nothing else would ever stop it
        assert sweep_orphan_gradings(client) == 1  # what the next grading does first
        assert ours() == []
        assert sweep_orphan_gradings(client) == 0
    finally:
        if grading.poll() is None:
            grading.kill()
        for c in ours():
            c.remove(force=True)
