"""The Docker sandbox for real: hostile programs are contained and reported as failed tests,
the host and the worker pool stay healthy, and sandbox failures are infra errors."""

from __future__ import annotations

import os

import pytest

from m1eval.graders.lcb import Problem, grade_program
from m1eval.sandbox.errors import SandboxError
from m1eval.sandbox.pool import SandboxPool

HEALTHY = "print(int(input()) * 2)"

HOSTILE = {
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                 "        pass",
    "memory bomb": "blocks = []\nwhile True:\n    blocks.append(bytearray(10**8))",
    "infinite loop": "while True:\n    pass",
    "huge output": "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
    "network access": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)\n"
                      "print(42)",
    "write outside the work dir": "open('/etc/m1eval-was-here', 'w').write('x')\nprint(42)",
    "read host environment": "import os\nprint(42 if 'M1EVAL_HOST_SECRET' not in os.environ "
                             "else os.environ['M1EVAL_HOST_SECRET'])\nraise SystemExit(1)",
    "kill its parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                       "os.kill(1, signal.SIGKILL)\nprint(41)",
    "sleep past the timeout": "import time\ntime.sleep(60)\nprint(42)",
    "read the agent's memory": "print(open('/proc/1/environ').read())",
}  # fmt: skip


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_is_contained(sandbox_pool: SandboxPool, name: str, monkeypatch) -> None:
    monkeypatch.setenv("M1EVAL_HOST_SECRET", "leaked")
    problem = Problem(["21"], ["42"], None)
    verdict = grade_program(sandbox_pool, HOSTILE[name], problem, timeout_s=2)
    if name == "read host environment":
        # the program sees a clean environment: it answers 42 and the secret never shows
        assert "leaked" not in str(verdict.tests)
    else:
        assert not verdict.passed, (name, verdict.tests)
    # the pool is still healthy: a normal program passes right after
    after = grade_program(sandbox_pool, HEALTHY, problem)
    assert after.passed, after.tests
    assert not os.path.exists("/etc/m1eval-was-here")


@pytest.mark.parametrize(
    ("exec_model", "memory_bomb"),
    # per test, an address-space limit turns the bomb into a MemoryError; LiveCodeBench's own
    # model sets none, and the container's memory limit ends it
    [("process", "runtime_error"), ("official", "killed")],
)
def test_failures_are_reported_with_their_kind(sandbox_pool: SandboxPool, exec_model: str,
                                               memory_bomb: str) -> None:  # fmt: skip
    problem = Problem(["21"], ["42"], None)
    # generous limits for the programs that end by themselves: a loaded CI machine must not
    # turn a MemoryError into a timeout
    limits = {"infinite loop": 2, "huge output": 6, "memory bomb": 6, "sleep past the timeout": 2}
    statuses = {
        name: grade_program(sandbox_pool, HOSTILE[name], problem, timeout_s=t,
                            exec_model=exec_model).tests[0].status
        for name, t in limits.items()
    }  # fmt: skip
    assert statuses == {
        "infinite loop": "timeout", "huge output": "output_limit",
        "memory bomb": memory_bomb, "sleep past the timeout": "timeout",
    }, statuses  # fmt: skip


def test_worker_is_locked_down(sandbox_pool: SandboxPool) -> None:
    code = (
        "import os, socket\n"
        "print(os.getuid(), os.getgid())\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
        "print(open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0])\n"
        "print(sorted(name for _, name in socket.if_nameindex()))\n"
        "try:\n    open('/usr/x', 'w')\nexcept OSError as e:\n    print(e.errno)\n"
    )
    results = sandbox_pool.run_program(
        {"code": code, "mode": "stdio", "timeout_s": 5}, [""], lambda i, r: True
    )
    lines = results[0]["stdout"].split("\n")
    assert lines[0] == "65534 65534"  # non-root
    assert lines[1] == "0000000000000000"  # no capabilities
    assert lines[2] == "1"  # no-new-privileges
    assert lines[3] == "['lo']"  # no network but loopback
    assert lines[4] == "30"  # EROFS: read-only root


def test_worker_killed_mid_run_is_replaced(sandbox_pool: SandboxPool) -> None:
    with sandbox_pool.worker() as w:
        w.container.kill()
    before = sandbox_pool.restarts
    problem = Problem(["21"] * 3, ["42"] * 3, None)
    assert grade_program(sandbox_pool, HEALTHY, problem).passed  # on a fresh worker if needed
    assert grade_program(sandbox_pool, HEALTHY, problem).passed
    assert sandbox_pool.restarts >= before + 1


def test_missing_image_is_a_clear_error() -> None:
    from m1eval.sandbox.image import docker_client

    try:
        docker_client()
    except SandboxError as exc:
        pytest.skip(str(exc))
    with pytest.raises(SandboxError, match="m1eval sandbox build"):
        SandboxPool(1, image="m1eval-sandbox:does-not-exist").start()


def test_daemon_down_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(SandboxError, match="cannot reach the Docker daemon"):
        SandboxPool(1).start()


def test_workers_mount_nothing_of_the_host(sandbox_pool) -> None:
    """The agent's code and its channel go through the Docker API (attached standard
    streams): a pool whose process runs in a pod can use the node's daemon."""
    with sandbox_pool.worker() as w:
        w.container.reload()
        attrs = w.container.attrs
    assert attrs["Mounts"] == [] and not attrs["HostConfig"].get("Binds")
    assert list(attrs["HostConfig"]["Tmpfs"]) == ["/tmp"]
    assert attrs["HostConfig"]["NetworkMode"] == "none"
