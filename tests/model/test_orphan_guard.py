"""The embedded server's guard: a process started under it exits when its starter is gone,
``kill -9`` included (a real parent process killed for real)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-m", "m1eval.model.orphan_guard", str(os.getpid()),
                          "http.server", "0", "--bind", "127.0.0.2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting to be reaped is gone too
        return f.read().split(")")[-1].split()[0] != "Z"


def test_the_guarded_process_outlives_no_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(1.0)
    assert _alive(child)  # running while its parent lives
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def test_the_embedded_server_runs_under_the_guard() -> None:
    from m1eval.model.embedded import EmbeddedServer

    cmd = EmbeddedServer().command()
    assert cmd[1:5] == ["-m", "m1eval.model.orphan_guard", str(os.getpid()), "llama_cpp.server"]
