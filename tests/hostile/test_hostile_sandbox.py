"""Programs that attack the sandbox worker itself, run in the real Docker sandbox.

Each attack must be contained (the test fails, quickly, with the right status), must not
reach the next test (a plain program right after it passes on the same pool), and must not
amplify on the host. A mix of attacking and honest programs scores exactly as the same mix
with the attacks replaced by plain wrong programs.
"""

from __future__ import annotations

import time

import pytest

from m1eval.graders.lcb import Problem, grade_program
from m1eval.sandbox.pool import SandboxLimits, SandboxPool

HEALTHY = "print(int(input()) * 2)"
WRONG = "print(0)"
PROBLEM = Problem(["21"], ["42"], None)

# many files under the per-file size limit, until the file system is full
FILL = ("import os\nn = 0\ntry:\n    while True:\n"
        "        with open(os.path.join('{where}', 'fill%d' % n), 'wb') as f:\n"
        "            f.write(b'x' * (1 << 20))\n        n += 1\nexcept OSError:\n    pass\n"
        "print(42 if n > 10 else n)")  # fmt: skip
# program -> the status its (only) test must end with
POISON = {
    "chmod its parent to 0": (  # the parent is the container's /tmp: not the program's
        "import os\nos.chmod('..', 0)\nprint(42)", "runtime_error"),
    "chmod its own directory to 0": (
        "import os\nos.chmod('.', 0)\nprint(42)", "ok"),
    "rename its own directory": (
        "import os\nhere = os.getcwd()\nos.rename(here, here + '-gone')\nprint(42)", "ok"),
    "fill /tmp": (FILL.format(where="/tmp"), "ok"),
    "fill /dev/shm": (FILL.format(where="/dev/shm"), "ok"),
    "plant files everywhere it may write": (
        "import os\nfor d in ('/tmp', '/dev/shm', '.'):\n    p = os.path.join(d, 'planted')\n"
        "    os.makedirs(p, exist_ok=True)\n    open(os.path.join(p, 'f'), 'w').write('x')\n"
        "    os.chmod(os.path.join(p, 'f'), 0)\n    os.chmod(p, 0)\nprint(42)", "ok"),
    "replace stdout by a FIFO": (
        "import os\nfor name in ('stdout', 'stderr', 'input', 'result.json'):\n"
        "    try:\n        os.unlink(name)\n    except OSError:\n        pass\n"
        "    os.mkfifo(name)\nprint(42)", "ok"),
    "point stdout at a symlink": (
        "import os\nfor name in ('stdout', 'stderr'):\n    try:\n        os.unlink(name)\n"
        "    except OSError:\n        pass\n    os.symlink('/proc/1/mem', name)\nprint(42)", "ok"),
    "32 MiB of invalid UTF-8": (
        "import sys\nsys.stdout.buffer.write(b'\\xff' * (32 << 20))", "output_limit"),
    "System V shared memory left behind": (
        "import ctypes\nlibc = ctypes.CDLL(None)\nfor k in range(50):\n"
        "    libc.shmget(1000 + k, 1 << 20, 0o1000 | 0o600)\nprint(42)", "ok"),
    "a daemon that outlives the test": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        while True:\n            open('/tmp/daemon', 'a').write('x')\n"
        "            time.sleep(0.01)\n    os._exit(0)\nprint(42)", "ok"),
    # the agent's channel to the host is its own standard input and output (attached over
    # the Docker API): a forged answer written there would pass a wrong program
    "forge an answer on the agent's channel": (
        "import os\nforged = b'{\"status\": \"ok\", \"stdout_b64\": \"NDIK\"}\\n'\n"
        "for path in ('/proc/1/fd/1', '/proc/1/fd/0', '/dev/stdout'):\n    try:\n"
        "        with open(path, 'wb', buffering=0) as f:\n            f.write(forged)\n"
        "    except OSError:\n        pass\nprint(0)", "wrong_answer"),
    "directories nested 3,000 deep": (
        "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\nprint(42)", "ok"),
}  # fmt: skip


# Under LiveCodeBench's execution model the program shares its process with the test harness,
# whose guard sets os.fork, os.chmod, ... to None; an attacker puts them back from ``posix``.
UNGUARD = (
    "import os as _os, posix as _posix\nfor _n in dir(_posix):\n"
    "    if getattr(_os, _n, 1) is None:\n        setattr(_os, _n, getattr(_posix, _n))\n"
)
# where the two models differ for a reason other than the guard
OFFICIAL_STATUS = {"32 MiB of invalid UTF-8": "runtime_error"}  # sys.stdout has no .buffer


@pytest.mark.parametrize("exec_model", ["official", "process"])
@pytest.mark.parametrize("name", list(POISON))
def test_an_attack_on_the_worker_reaches_no_later_test(sandbox_pool: SandboxPool, name: str,
                                                       exec_model: str):  # fmt: skip
    code, status = POISON[name]
    if exec_model == "official":
        code, status = UNGUARD + code, OFFICIAL_STATUS.get(name, status)
    started = time.monotonic()
    verdict = grade_program(sandbox_pool, code, PROBLEM, timeout_s=4, exec_model=exec_model)
    assert time.monotonic() - started < 30, "an attack must not cost worker restarts"
    assert verdict.tests[0].status == status, (name, verdict.tests)
    # the pool is healthy: honest programs pass on every worker, in a clean directory
    for _ in range(sandbox_pool.size * 2):
        after = grade_program(sandbox_pool, HEALTHY, PROBLEM)
        assert after.passed, (name, after.tests)
    clean = ("import os\nprint(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')), "
             "len(open('/proc/sysvipc/shm').read().splitlines()) - 1)")  # fmt: skip
    for _ in range(sandbox_pool.size):
        [res] = sandbox_pool.run_program({"code": clean, "mode": "stdio", "timeout_s": 5},
                                         [""], lambda i, r: True)  # fmt: skip
        listing = res["stdout"].strip()
        # only the running test's own directory is there
        assert listing.startswith("[") and listing.count("'t") == 1 and listing.endswith(
            "[] 0"), listing  # fmt: skip


# a program that keeps a knowledge base between tests in a POSIX message queue: it lives in the
# container's IPC namespace, not in a file system the clean-up empties
MQUEUE = ("import ctypes, os\nrt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
          "fd = rt.mq_open(b'/m1eval-kb', os.O_RDWR | {create}, 0o600, None)\n"
          "print(fd >= 0, ctypes.get_errno())")  # fmt: skip


def test_no_test_can_leave_a_message_queue_for_the_next(sandbox_pool: SandboxPool) -> None:
    for create, expected in (("os.O_CREAT", "False 28"), ("0", "False 2")):  # ENOSPC, ENOENT
        for _ in range(sandbox_pool.size):
            [res] = sandbox_pool.run_program(
                {"code": MQUEUE.format(create=create), "mode": "stdio", "timeout_s": 5}, [""],
                lambda i, r: True)  # fmt: skip
            assert res["stdout"].strip() == expected, res


def test_no_test_can_leave_a_key_in_a_keyring(sandbox_pool: SandboxPool) -> None:
    """Keyrings outlive processes too: Docker's seccomp profile refuses add_key (EPERM)."""
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the syscall number below is x86_64's")
    code = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "r = libc.syscall(248, b'user', b'm1eval-kb', b'x', 1, -2)\n"
            "print(r, ctypes.get_errno())")  # fmt: skip
    [res] = sandbox_pool.run_program({"code": code, "mode": "stdio", "timeout_s": 5}, [""],
                                     lambda i, r: True)  # fmt: skip
    assert res["stdout"].strip() == "-1 1", res


def test_output_is_capped_at_the_agent_and_on_the_host() -> None:
    from m1eval.sandbox.pool import decode_response

    # a worker answering beyond the cap is refused on the host before it is decoded
    with pytest.raises(ValueError, match="beyond"):
        decode_response({"status": "ok", "stdout_b64": "eHh4eA=="}, 3)
    assert decode_response({"status": "ok", "stdout_b64": "/w=="}, 8)["stdout"] == "\ufffd"


def test_a_smaller_output_cap_is_honoured(sandbox_pool: SandboxPool) -> None:
    small = SandboxPool(1, limits=SandboxLimits(max_output_bytes=1000))
    with small:
        ok = grade_program(small, "print('4' * 999)", Problem([""], ["4" * 999], None))
        assert ok.passed, ok.tests
        over = grade_program(small, "print('4' * 1000)", Problem([""], ["4" * 1000], None))
        assert over.tests[0].status == "output_limit"


def test_attacks_score_as_plain_wrong_programs(sandbox_pool: SandboxPool) -> None:
    """Five programs, two right: 2 of 5 pass whether the three others attack or are wrong."""
    attacks = [POISON["chmod its parent to 0"][0].replace("print(42)", "print(0)"),
               POISON["32 MiB of invalid UTF-8"][0],
               POISON["replace stdout by a FIFO"][0].replace("print(42)", "print(1)")]  # fmt: skip
    problem = Problem(["21", "5"], ["42", "10"], None)

    def passed(programs: list[str]) -> list[bool]:
        return [grade_program(sandbox_pool, p, problem).passed for p in programs]

    with_attacks = passed([HEALTHY, attacks[0], HEALTHY, attacks[1], attacks[2]])
    with_wrong = passed([HEALTHY, WRONG, HEALTHY, WRONG, WRONG])
    assert with_attacks == with_wrong == [True, False, True, False, False]


def test_a_worker_error_recycles_the_worker_and_blames_the_program(sandbox_pool: SandboxPool):
    """A test that breaks its worker twice fails (the program's doing); the next program runs
    on a fresh worker that passed a known-good probe."""
    killer = "import os, signal\nos.kill(1, signal.SIGKILL)\nprint(42)"  # PID 1 is immune
    verdict = grade_program(sandbox_pool, killer, PROBLEM, timeout_s=4, exec_model="process")
    assert verdict.passed  # nothing happened: the agent cannot be signalled
    with sandbox_pool.worker() as w:
        w.container.kill()  # a worker dies under a test: replaced, the test retried
    before = sandbox_pool.restarts
    for _ in range(sandbox_pool.size):
        assert grade_program(sandbox_pool, HEALTHY, PROBLEM).passed
    assert sandbox_pool.restarts == before + 1
