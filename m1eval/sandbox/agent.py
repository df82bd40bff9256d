"""The sandbox agent: runs untrusted Python programs, one fresh process per test.

Standard library only: it runs inside the sandbox image (a bare Debian root with python3) as
the container's main process, and also directly on the host for the unsandboxed baseline
(``--stdio``). It receives requests as JSON lines and answers each with one JSON line:

    {"code": ..., "mode": "stdio" | "call", "fn_name": ..., "input": ..., "timeout_s": 6,
     "memory_mb": 1024, "max_output_bytes": 33554432}
    -> {"status": "ok" | "runtime_error" | "timeout" | "output_limit" | "killed" ...,
        "stdout": ..., "result": ..., "error": ..., "seconds": ...}

Every test runs in a process forked from this one, in a new session, with its own empty work
directory, a clean environment, its standard streams redirected to files, no inherited
descriptors, and rlimits on memory, CPU time, file size and open files. The agent never sees
expected outputs (the host compares), so a program cannot read them from memory. As PID 1 of
its container with default signal dispositions and a non-dumpable address space, it cannot
be signalled or inspected by the programs it runs; after each test every other process in the
container is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import resource
import select
import shutil
import signal
import socket
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


def _child(req: dict, workdir: str) -> None:
    """In the forked test process: isolate, limit, run. Never returns."""
    try:
        os.setsid()
        os.chdir(workdir)
        fd_in = os.open("input", os.O_RDONLY)
        fd_out = os.open("stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        fd_err = os.open("stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd_in, 0)
        os.dup2(fd_out, 1)
        os.dup2(fd_err, 2)
        os.closerange(3, 65536)
        memory = int(req.get("memory_mb", 1024)) * 1024 * 1024
        cpu = int(req.get("timeout_s", 6)) + 1
        out_limit = int(req.get("max_output_bytes", 32 * 1024 * 1024))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (out_limit, out_limit))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir,
                           "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"})  # fmt: skip
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
            with open("result.json", "w") as fh:
                fh.write(json.dumps(result))
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


def _kill_strays(pgid: int, in_container: bool) -> None:
    """After a test nothing it started may survive."""
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


def _read_capped(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def run_test(req: dict, in_container: bool, scratch: str) -> dict:
    workdir = tempfile.mkdtemp(prefix="t", dir=scratch)
    try:
        with open(os.path.join(workdir, "input"), "w", encoding="utf-8") as fh:
            fh.write(req.get("input", ""))
        if in_container:
            os.chmod(workdir, 0o700)
        pid = os.fork()
        if pid == 0:
            _child(req, workdir)
        timeout_s = float(req.get("timeout_s", 6))
        status, seconds = _wait(pid, timeout_s)
        _kill_strays(pid, in_container)
        if status is None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            return {"status": "timeout", "seconds": round(seconds, 4),
                    "error": f"no result within {timeout_s:g} s"}  # fmt: skip
        out_limit = int(req.get("max_output_bytes", 32 * 1024 * 1024))
        result: dict = {"seconds": round(seconds, 4)}
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = {signal.SIGXFSZ: "output_limit", signal.SIGXCPU: "timeout",
                    signal.SIGKILL: "killed"}.get(sig, "runtime_error")  # fmt: skip
            result.update(status=name, error=f"killed by signal {signal.Signals(sig).name}")
        elif os.WEXITSTATUS(status) == 0:
            result["status"] = "ok"
        else:
            err = _read_capped(os.path.join(workdir, "stderr"), 1 << 20)[-ERR_TAIL:]
            result.update(status="runtime_error", error=err.strip() or "non-zero exit")
        if result.get("status") == "ok":
            if req.get("mode") == "call":
                raw = _read_capped(os.path.join(workdir, "result.json"), out_limit)
                result["result"] = raw
            else:
                result["stdout"] = _read_capped(os.path.join(workdir, "stdout"), out_limit)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def serve(rfile: io.BufferedReader, wfile: io.BufferedWriter, in_container: bool) -> None:
    scratch = tempfile.mkdtemp(prefix="m1eval-agent-")
    while True:
        line = rfile.readline()
        if not line:
            return
        try:
            req = json.loads(line)
            if req.get("op") == "ping":
                resp = {"status": "pong", "pid": os.getpid(), "python": sys.version.split()[0]}
            else:
                resp = run_test(req, in_container, scratch)
        except Exception as exc:
            resp = {"status": "agent_error", "error": f"{type(exc).__name__}: {exc}"}
        wfile.write(json.dumps(resp).encode() + b"\n")
        wfile.flush()


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--connect"]:
        _harden_self(in_container=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(args[1])
        serve(sock.makefile("rb"), sock.makefile("wb"), in_container=True)
    elif args[:1] == ["--stdio"]:
        serve(sys.stdin.buffer, sys.stdout.buffer, in_container=False)
    else:
        sys.exit("usage: agent.py --connect SOCKET | --stdio")


if __name__ == "__main__":
    main()
