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
