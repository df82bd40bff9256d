"""The sandbox agent: runs untrusted Python programs, one fresh process per test.

Standard library only: it runs inside the sandbox image (a bare Debian root with python3) as
the container's main process, and also directly on the host for the unsandboxed baseline
(``--stdio``). It receives requests as JSON lines and answers each with one JSON line:

    {"code": ..., "mode": "stdio" | "call", "fn_name": ..., "input": ..., "timeout_s": 6,
     "memory_mb": 1024, "max_output_bytes": 4194304}
    -> {"status": "ok" | "runtime_error" | "timeout" | "output_limit" | "killed" ...,
        "stdout_b64" | "result_b64": ..., "error": ..., "seconds": ...,
        "worker": "compromised: ..." (only when cleaning up after the test failed)}

Output comes back as base64 of the raw bytes, at most ``max_output_bytes`` of them (more is
``output_limit``), so invalid UTF-8 cannot inflate on the way; the host decodes it.

Every test runs in a process forked from this one, in a new session, with its own empty work
directory, a clean environment, its standard streams redirected to files, no inherited
descriptors, and rlimits on memory, CPU time, file size and open files. The agent never sees
expected outputs (the host compares), so a program cannot read them from memory. As PID 1 of
its container with default signal dispositions and a non-dumpable address space, it cannot
be signalled or inspected by the programs it runs; after each test every other process in the
container is killed.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import io
import json
import os
import resource
import select
import signal
import stat
import sys
import tempfile
import time
import traceback

# LiveCodeBench prepends these imports to every program before running it.
IMPORT_STRING = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\n"
    "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\n"
    "import datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\nimport math\n"
    "import random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)
ERR_TAIL = 2000
DEFAULT_OUTPUT_BYTES = 4 * 1024 * 1024
MAX_REQUEST_BYTES = 1 << 30  # a request carries one test's input
SHARED_DIRS = ("/tmp", "/dev/shm")  # the writable places of the container


def _harden_self(in_container: bool) -> None:
    if in_container:
        # PID 1 ignores signals it has no handler for, even SIGKILL, from inside its
        # namespace: give every catchable signal its default disposition.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1,
                    signal.SIGUSR2, signal.SIGQUIT, signal.SIGALRM):  # fmt: skip
            signal.signal(sig, signal.SIG_DFL)
        # PR_SET_DUMPABLE = 4: /proc/1/* becomes root-owned, unreadable to programs
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)


def _child(req: dict, workdir: str, fds: dict[str, int]) -> None:
    """In the forked test process: isolate, limit, run. Never returns.

    The standard streams are anonymous in-memory files the agent created before the fork
    (``memfd``): they have no path, so a program cannot swap them for a FIFO or a symlink,
    and the agent reads them back through its own descriptors. The call-based result goes to
    descriptor 3, likewise anonymous.
    """
    try:
        memory = int(req.get("memory_mb", 1024)) * 1024 * 1024
        cpu = int(req.get("timeout_s", 6)) + 1
        _isolate(req, workdir, fds, [fds["result"]], memory, cpu)
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)))
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
        sys.argv = ["solution.py"]
    except BaseException:
        os._exit(120)
    code = IMPORT_STRING + "\n\n" + req["code"]
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    status = 0
    try:
        compiled = compile(code, "solution.py", "exec")
        if req.get("mode") == "call":
            namespace["__name__"] = "tmp_sol"
            exec(compiled, namespace)
            target = namespace["Solution"]() if "class Solution" in req["code"] else None
            fn = (
                getattr(target, req["fn_name"]) if target is not None else namespace[req["fn_name"]]
            )
            args = [json.loads(line) for line in req["input"].split("\n")]
            result = fn(*args)
            if isinstance(result, tuple):
                result = list(result)
            encoded = json.dumps(_lcb_exec().encode_value(result)).encode()
            os.ftruncate(3, 0)
            os.pwrite(3, encoded, 0)
        else:
            with contextlib.suppress(SystemExit):  # as upstream: exiting is not a failure
                exec(compiled, namespace)
    except BaseException as exc:
        # the program's frames only: the agent's own frame is not the program's business
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        status = status or 1
    os._exit(status)


def _isolate(req: dict, workdir: str, fds: dict[str, int], extra: list[int],
             memory: int | None, cpu: int | None) -> None:  # fmt: skip
    """In a forked child: a new session in ``workdir``, the standard streams on the agent's
    anonymous files, ``extra`` descriptors as 3, 4, ... and nothing else inherited; rlimits
    (address space and CPU where given, file size one byte past the output cap so a write
    beyond it is SIGXFSZ and "exactly the cap" is known, open files, no core); default signal
    dispositions; a clean environment."""
    os.setsid()
    os.chdir(workdir)
    os.dup2(fds["input"], 0)
    os.dup2(fds["stdout"], 1)
    os.dup2(fds["stderr"], 2)
    for i, fd in enumerate(extra):
        os.dup2(fd, 3 + i)
    os.closerange(3 + len(extra), 65536)
    if memory is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if cpu is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    out_limit = _output_cap(req) + 1
    resource.setrlimit(resource.RLIMIT_FSIZE, (out_limit, out_limit))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir,
                       "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"})  # fmt: skip


def _output_cap(req: dict) -> int:
    return max(1, int(req.get("max_output_bytes", DEFAULT_OUTPUT_BYTES)))


def _kill_strays(pgid: int | None, in_container: bool) -> None:
    """After a test nothing it started may survive."""
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    if not in_container:
        return
    me = os.getpid()
    for _ in range(3):
        found = False
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != me:
                try:
                    os.kill(int(name), signal.SIGKILL)
                    found = True
                except (ProcessLookupError, PermissionError):
                    pass
        if not found:
            break
        # reap what we can (our own children); others are reaped by nobody: PID 1 is us
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass


def _wait(pid: int, timeout_s: float) -> tuple[int | None, float]:
    """Wait for ``pid`` up to ``timeout_s``; (wait status or None on timeout, seconds)."""
    start = time.monotonic()
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        while True:
            remaining = timeout_s - (time.monotonic() - start)
            if remaining <= 0:
                return None, time.monotonic() - start
            if fd is not None:
                select.select([fd], [], [], remaining)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status, time.monotonic() - start
            if fd is None:
                time.sleep(0.002)
    finally:
        if fd is not None:
            os.close(fd)


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name, 0)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_fd(fd: int, limit: int) -> tuple[bytes, int]:
    """(at most ``limit`` bytes from the start of ``fd``, its whole size)."""
    size = os.fstat(fd).st_size
    chunks, pos = [], 0
    while pos < min(size, limit):
        chunk = os.pread(fd, min(size, limit) - pos, pos)
        if not chunk:
            break
        chunks.append(chunk)
        pos += len(chunk)
    return b"".join(chunks), size


def _empty_dir(root: str, deadline_s: float = 20.0) -> None:
    """Remove everything inside ``root``, whatever a program did there (modes taken away,
    directories nested past PATH_MAX): subdirectories are hoisted up into ``root`` before
    they are emptied, so no path grows beyond two components and nothing recurses. Every file
    is the agent's own uid. What cannot be removed in time is left for
    :meth:`Scratch.clean` to notice."""
    deadline = time.monotonic() + deadline_s
    hoisted = 0
    while time.monotonic() < deadline:
        try:
            names = os.listdir(root)
        except OSError:
            return
        if not names:
            return
        progress = 0
        for name in names:
            path = os.path.join(root, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if not stat.S_ISDIR(mode):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    progress += 1
                continue
            with contextlib.suppress(OSError):
                os.chmod(path, 0o700)
            try:
                children = os.listdir(path)
            except OSError:
                children = []
            for child in children:
                inner = os.path.join(path, child)
                try:
                    is_dir = stat.S_ISDIR(os.lstat(inner).st_mode)
                    if is_dir:  # moving a directory rewrites its "..": it must be writable
                        os.chmod(inner, 0o700)
                        hoisted += 1
                        os.rename(inner, os.path.join(root, f".m1eval-hoist-{hoisted}"))
                    else:
                        os.unlink(inner)
                    progress += 1
                except OSError:
                    pass
            with contextlib.suppress(OSError):
                os.rmdir(path)
                progress += 1
            if time.monotonic() >= deadline:
                return
        if not progress:
            return


def _remove_ipc() -> None:
    """System V shared memory, semaphores and message queues a test left behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, remove in (("shm", lambda i: libc.shmctl(i, 0, None)),
                         ("sem", lambda i: libc.semctl(i, 0, 0)),
                         ("msg", lambda i: libc.msgctl(i, 0, None))):  # fmt: skip
        try:
            with open(f"/proc/sysvipc/{kind}") as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


class Scratch:
    """Where tests run. In the container every test gets a fresh directory in ``/tmp`` and,
    after it, ``/tmp`` and ``/dev/shm`` are emptied whatever the test did there (made files
    unwritable, renamed its directory, filled the tmpfs), so no test can affect the next. On
    the host (the unsandboxed baseline) only the agent's own scratch directory is used."""

    def __init__(self, in_container: bool, base: str | None = None) -> None:
        self.in_container = in_container
        self.problem: Problem | None = None  # the live process of an in-process problem
        self.roots = list(SHARED_DIRS) if in_container else []
        self.base = "/tmp" if in_container else base or tempfile.mkdtemp(prefix="m1eval-agent-")

    def new_workdir(self) -> str:
        if not self.in_container:
            with contextlib.suppress(OSError):
                os.chmod(self.base, 0o700)
            if not os.path.isdir(self.base):
                self.base = tempfile.mkdtemp(prefix="m1eval-agent-")
        workdir = tempfile.mkdtemp(prefix="t", dir=self.base)
        os.chmod(workdir, 0o700)
        return workdir

    def clean(self, workdir: str) -> str | None:
        """Remove what the test left; a reason if the worker is no longer in a known state."""
        if not self.in_container:
            _empty_dir(workdir)
            with contextlib.suppress(OSError):
                os.chmod(workdir, 0o700)
                os.rmdir(workdir)
            return None
        for root in self.roots:
            _empty_dir(root)
        with contextlib.suppress(OSError):
            _remove_ipc()
        for root in self.roots:
            try:
                left = os.listdir(root)
            except OSError as exc:
                return f"cannot list {root}: {exc.strerror}"
            if left:
                return f"{root} still holds {len(left)} entries after cleaning"
        deadline = time.monotonic() + 2.0
        while True:  # killed processes linger until reaped (orphans are ours to reap)
            others = [n for n in os.listdir("/proc") if n.isdigit() and int(n) != os.getpid()]
            if not others:
                return None
            if time.monotonic() > deadline:
                return f"{len(others)} processes survived the test"
            _kill_strays(None, True)
            time.sleep(0.01)


def run_test(req: dict, scratch: Scratch) -> dict:
    """Run one test in a fresh directory, then clean up after it; a ``worker`` field says
    when the container is no longer in a known state (the host then recycles it)."""
    workdir = scratch.new_workdir()
    try:
        result = _run_in(req, workdir, scratch.in_container)
    except Exception as exc:
        result = {"status": "agent_error", "error": f"{type(exc).__name__}: {exc}"[:ERR_TAIL]}
    problem = scratch.clean(workdir)
    if problem is not None:
        result["worker"] = f"compromised: {problem}"
    return result


def _run_in(req: dict, workdir: str, in_container: bool) -> dict:
    cap = _output_cap(req)
    fds = {
        "input": _memfd("input", str(req.get("input", "")).encode("utf-8", "surrogatepass")),
        "stdout": _memfd("stdout"), "stderr": _memfd("stderr"), "result": _memfd("result"),
    }  # fmt: skip
    try:
        pid = os.fork()
        if pid == 0:
            _child(req, workdir, fds)
        timeout_s = float(req.get("timeout_s", 6))
        status, seconds = _wait(pid, timeout_s)
        _kill_strays(pid, in_container)
        if status is None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            return {"status": "timeout", "seconds": round(seconds, 4),
                    "error": f"no result within {timeout_s:g} s"}  # fmt: skip
        result: dict = {"seconds": round(seconds, 4)}
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = {signal.SIGXFSZ: "output_limit", signal.SIGXCPU: "timeout",
                    signal.SIGKILL: "killed"}.get(sig, "runtime_error")  # fmt: skip
            result.update(status=name, error=f"killed by signal {signal.Signals(sig).name}")
        elif os.WEXITSTATUS(status) == 0:
            result["status"] = "ok"
        else:
            err, _ = _read_fd(fds["stderr"], 1 << 16)
            text = err.decode("utf-8", "replace")[-ERR_TAIL:]
            result.update(status="runtime_error", error=text.strip() or "non-zero exit")
        if result.get("status") == "ok":
            key = "result" if req.get("mode") == "call" else "stdout"
            data, size = _read_fd(fds[key], cap)
            if size > cap:
                result.update(status="output_limit",
                              error=f"{key} of more than {cap:,} bytes")  # fmt: skip
            else:
                result[key + "_b64"] = base64.b64encode(data).decode("ascii")
        return result
    finally:
        for fd in fds.values():
            os.close(fd)


_LCB_SOURCE: str | None = None  # sent over stdin to an attached agent (no file in the container)


def _lcb_exec():  # type: ignore[no-untyped-def]
    """LiveCodeBench's execution model, a fresh module each time: from the source the host
    sent (an attached agent), else from the file beside this one (``-I`` keeps the script's
    folder off ``sys.path``)."""
    import importlib.util

    if _LCB_SOURCE is not None:
        import types

        module = types.ModuleType("lcb_exec")
        exec(compile(_LCB_SOURCE, "lcb_exec.py", "exec"), module.__dict__)
        return module
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lcb_exec.py")
    spec = importlib.util.spec_from_file_location("lcb_exec", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class Problem:
    """One problem's process under LiveCodeBench's execution model: compiled once, then one
    test per request, its state (globals, a ``Solution`` instance) kept between tests as
    upstream keeps it. Ended (killed, its traces cleaned) by ``end_problem`` or by the next
    request that is not one of its tests."""

    def __init__(self, req: dict, scratch: Scratch) -> None:
        self.token = str(req.get("problem", ""))
        self.cap = _output_cap(req)
        self.workdir = scratch.new_workdir()
        self.dead = False
        self.tests = 0
        self.buf = b""
        ctl_r, ctl_w = os.pipe()
        res_r, res_w = os.pipe()
        fds = {"input": _memfd("input"), "stdout": _memfd("stdout"), "stderr": _memfd("stderr")}
        pid = os.fork()
        if pid == 0:
            _problem_child(req, self.workdir, fds, ctl_r, res_w, scratch.in_container)
        for fd in (ctl_r, res_w, *fds.values()):
            os.close(fd)
        self.pid, self.ctl, self.res = pid, ctl_w, res_r

    def test(self, text: str, timeout_s: float) -> dict:
        """Run the next test; the problem's first test also waits for its compilation."""
        budget = timeout_s * (2 if self.tests == 0 else 1) + 2.0
        self.tests += 1
        start = time.monotonic()
        try:
            os.write(self.ctl, json.dumps({"input": text}).encode("utf-8", "surrogatepass")
                     + b"\n")  # fmt: skip
        except OSError:
            return self._died(start)
        limit = self.cap * 6 + 65536  # JSON escapes at most 6 bytes per byte of output
        while b"\n" not in self.buf:
            remaining = budget - (time.monotonic() - start)
            ready = select.select([self.res], [], [], max(0.0, remaining))[0] if remaining > 0 \
                else []  # fmt: skip
            if not ready:
                self._kill()
                return {"status": "timeout", "seconds": round(time.monotonic() - start, 4),
                        "error": f"no result within {timeout_s:g} s"}  # fmt: skip
            chunk = os.read(self.res, 1 << 20)
            if not chunk:
                return self._died(start)
            self.buf += chunk
            if len(self.buf) > limit:
                self._kill()
                return {"status": "output_limit", "seconds": round(time.monotonic() - start, 4),
                        "error": f"output of more than {self.cap:,} bytes"}  # fmt: skip
        line, _, self.buf = self.buf.partition(b"\n")
        out = json.loads(line)
        if out.get("status") != "ok":
            self.dead = True
        for key in ("stdout", "result"):
            if key in out:
                data = str(out.pop(key)).encode("utf-8", "surrogatepass")
                if len(data) > self.cap:
                    return {"status": "output_limit", "seconds": out.get("seconds"),
                            "error": f"{key} of more than {self.cap:,} bytes"}  # fmt: skip
                out[key + "_b64"] = base64.b64encode(data).decode("ascii")
        return out

    def _died(self, start: float) -> dict:
        self.dead = True
        status, _ = _wait(self.pid, 2.0)
        out: dict = {"seconds": round(time.monotonic() - start, 4)}
        if status is not None and os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = {signal.SIGXFSZ: "output_limit", signal.SIGXCPU: "timeout",
                    signal.SIGKILL: "killed"}.get(sig, "runtime_error")  # fmt: skip
            out.update(status=name, error=f"killed by signal {signal.Signals(sig).name}")
        else:
            out.update(status="runtime_error", error="the program ended its own process")
        return out

    def _kill(self) -> None:
        self.dead = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def end(self, scratch: Scratch) -> str | None:
        """Kill the problem's process and everything it started; clean its traces."""
        self._kill()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        for fd in (self.ctl, self.res):
            with contextlib.suppress(OSError):
                os.close(fd)
        _kill_strays(self.pid, scratch.in_container)
        return scratch.clean(self.workdir)


def _problem_child(req: dict, workdir: str, fds: dict[str, int], control: int, results: int,
                   in_container: bool) -> None:  # fmt: skip
    """In the forked problem process: isolate and limit as for a test, then serve tests.
    Standard streams go to anonymous files nobody reads (upstream captures ``sys.stdout``
    only: a program writing to descriptor 1 writes past the grader)."""
    try:
        # the container's memory limit bounds the problem there, as upstream sets none
        memory = None if in_container else int(req.get("memory_mb", 1024)) * 1024 * 1024
        _isolate(req, workdir, fds, [control, results], memory, None)
        os.environ["OMP_NUM_THREADS"] = "1"
        module = _lcb_exec()
        control_file = os.fdopen(3, "rb")
        results_file = os.fdopen(4, "wb")
    except BaseException:
        os._exit(120)
    try:
        module.serve_problem(req, control_file, results_file, IMPORT_STRING)
    except BaseException:
        os._exit(121)
    os._exit(0)


def run_official_test(req: dict, scratch: Scratch) -> dict:
    """One test of a problem under LiveCodeBench's execution model."""
    issue = None
    p = scratch.problem
    if p is not None and (p.dead or p.token != str(req.get("problem", ""))):
        issue = end_problem(scratch).get("worker")
        p = None
    if p is None:
        p = scratch.problem = Problem(req, scratch)
    try:
        result = p.test(str(req.get("input", "")), float(req.get("timeout_s", 6)))
    except Exception as exc:
        result = {"status": "agent_error", "error": f"{type(exc).__name__}: {exc}"[:ERR_TAIL]}
    if issue is not None:
        result["worker"] = issue
    return result


def end_problem(scratch: Scratch) -> dict:
    """End the live problem, if any: ``worker`` says when its clean-up failed."""
    p, scratch.problem = scratch.problem, None
    problem = p.end(scratch) if p is not None else None
    return (
        {"status": "ok"}
        if problem is None
        else {"status": "ok", "worker": f"compromised: {problem}"}
    )


def _mqueue_max() -> int | None:
    """How many POSIX message queues a program may create in this IPC namespace (the host
    wants 0: a queue would outlive the test that made it)."""
    try:
        with open("/proc/sys/fs/mqueue/queues_max") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def serve(rfile: io.BufferedReader, wfile: io.BufferedWriter, in_container: bool,
          base: str | None = None) -> None:  # fmt: skip
    scratch = Scratch(in_container, base)
    while True:
        line = rfile.readline(MAX_REQUEST_BYTES)
        if not line:
            end_problem(scratch)
            return
        try:
            req = json.loads(line)
            if req.get("op") == "ping":
                resp = {"status": "pong", "pid": os.getpid(), "python": sys.version.split()[0],
                        "mqueue_max": _mqueue_max()}
            elif req.get("op") == "end_problem":
                resp = end_problem(scratch)
            elif req.get("exec") == "official":
                resp = run_official_test(req, scratch)
            else:
                ended = end_problem(scratch) if scratch.problem is not None else {}
                resp = run_test(req, scratch)
                if "worker" in ended:
                    resp["worker"] = ended["worker"]
        except Exception as exc:
            resp = {"status": "agent_error", "error": f"{type(exc).__name__}: {exc}"[:ERR_TAIL]}
        wfile.write(json.dumps(resp).encode() + b"\n")
        wfile.flush()


def main() -> None:
    global _LCB_SOURCE
    args = sys.argv[1:]
    if args[:1] == ["--attach"]:  # PID 1 of a sandbox container, its streams attached
        _harden_self(in_container=True)
        rfile = sys.stdin.buffer
        _LCB_SOURCE = rfile.read(int(rfile.readline(32))).decode("utf-8")
        serve(rfile, sys.stdout.buffer, in_container=True)
    elif args[:1] == ["--stdio"]:  # the host's scratch directory, which the host removes
        serve(sys.stdin.buffer, sys.stdout.buffer, in_container=False,
              base=args[1] if len(args) > 1 else None)  # fmt: skip
    else:
        sys.exit("usage: agent.py --attach | --stdio [SCRATCH_DIR]")


if __name__ == "__main__":
    main()
