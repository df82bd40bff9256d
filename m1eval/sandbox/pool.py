"""A pool of long-lived, locked-down Docker workers that run untrusted programs.

Each worker is a container with no network, a read-only root, a small tmpfs, a non-root
user, no capabilities, ``no-new-privileges`` and memory/CPU/pids limits, and nothing of the
host mounted. Its main process is the agent (:mod:`m1eval.sandbox.agent`), which forks a fresh
process per test. The host talks to it through the container's standard streams, attached
over the Docker API (:mod:`m1eval.sandbox.attach`: the agent's code goes in the same way);
a test process gets its own anonymous streams and inherits none of the agent's, so programs
cannot reach the channel. Grading therefore pays a fork per test, not a container start.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.sandbox.attach import BOOTSTRAP, AttachedStream, framed
from m1eval.sandbox.errors import SandboxError
from m1eval.sandbox.image import IMAGE, docker_client, image_exists

AGENT = Path(__file__).with_name("agent.py")
LCB_EXEC = Path(__file__).with_name("lcb_exec.py")  # imported by the agent, beside it
LABEL = "m1eval.sandbox"
OWNER_LABEL = "m1eval.sandbox.owner"  # host:pid of the process whose pool made the container
DEFAULT_OUTPUT_BYTES = 4 * 1024 * 1024
PROBE = {"code": "print(6 * 7)", "mode": "stdio", "fn_name": None, "timeout_s": 10, "input": ""}
# a test failed this way is the program's doing: it broke or compromised its worker
WORKER_FAILURES = ("sandbox_killed", "agent_error", "worker_compromised")


@dataclass(frozen=True)
class SandboxLimits:
    test_memory_mb: int = 1024  # RLIMIT_AS of each test process
    container_memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 128
    tmpfs_mb: int = 256
    max_output_bytes: int = DEFAULT_OUTPUT_BYTES  # per test; more is "output_limit"


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(client: Any) -> int:
    """Remove sandbox containers whose owning process on this host is gone (a killed run, a
    lost Ray node): they would hold memory and CPU for nothing. Returns how many."""
    host = socket.gethostname()
    removed = 0
    try:
        containers = client.containers.list(all=True, filters={"label": OWNER_LABEL})
    except Exception:  # a daemon that cannot list: nothing to sweep, the pool start says more
        return 0
    for c in containers:
        who = (c.labels or {}).get(OWNER_LABEL, "")
        name, _, pid = who.rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(Exception):
                c.remove(force=True)
                removed += 1
    return removed


class Worker:
    """One container and the connection to its agent (its attached standard streams)."""

    def __init__(self, client: Any, image: str, limits: SandboxLimits) -> None:
        self.client = client
        self.name = f"m1eval-sandbox-{uuid.uuid4().hex[:12]}"
        self.container: Any = None
        self.conn: AttachedStream | None = None
        try:
            self.container = client.containers.create(
                image,
                ["python3", "-I", "-c", BOOTSTRAP],
                name=self.name,
                stdin_open=True,
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.tmpfs_mb}m,mode=1777"},
                user="65534:65534",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=f"{limits.container_memory_mb}m",
                memswap_limit=f"{limits.container_memory_mb}m",
                pids_limit=limits.pids,
                nano_cpus=int(limits.cpus * 1e9),
                environment={},
                working_dir="/tmp",
                labels={LABEL: "worker", OWNER_LABEL: owner()},
                # POSIX message queues live in the container's IPC namespace, outside any
                # file system the clean-up empties: none may be created, so no test can leave
                # one for the next (System V IPC is removed after each test)
                sysctls={"fs.mqueue.queues_max": "0"},
            )
            self.conn = AttachedStream(client.api.attach_socket(
                self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}))
            self.container.start()
            self.conn.settimeout(60)
            self.conn.sendall(framed(AGENT.read_bytes()) + framed(LCB_EXEC.read_bytes()))
        except Exception as exc:
            self.close()
            raise SandboxError(f"cannot start a sandbox worker: {_short(exc)}") from None
        self.rfile = self.conn
        try:
            pong = self.request({"op": "ping"}, timeout_s=30)
        except ConnectionError as exc:
            self.close()
            raise SandboxError(f"sandbox agent did not answer: {exc}") from None
        if pong.get("status") != "pong" or pong.get("pid") != 1:
            self.close()
            raise SandboxError(f"sandbox agent answered oddly: {pong}")
        if pong.get("mqueue_max") != 0:  # fail closed: tests could talk through queues
            self.close()
            raise SandboxError(f"sandbox worker allows POSIX message queues (queues_max "
                               f"{pong.get('mqueue_max')}); this Docker cannot isolate tests")

    def _logs(self) -> str:
        try:
            return _short(self.container.logs().decode(errors="replace")) or "no output"
        except Exception:
            return "no logs"

    def request(
        self, req: dict[str, Any], timeout_s: float, max_output_bytes: int = DEFAULT_OUTPUT_BYTES
    ) -> dict[str, Any]:
        """Send one request and decode the answer (output as text, at most
        ``max_output_bytes`` of it); ConnectionError when the worker is gone, hangs or answers
        beyond bounds."""
        if self.conn is None:
            raise ConnectionError("worker is closed")
        self.conn.settimeout(timeout_s)
        limit = max_output_bytes * 4 // 3 + 64 * 1024  # base64 of the output, plus the rest
        try:
            self.conn.sendall(json.dumps(req).encode() + b"\n")
            line = self.rfile.readline(limit)
        except (OSError, ValueError) as exc:
            raise ConnectionError(f"sandbox worker stopped answering: {exc}") from None
        if not line:
            raise ConnectionError("sandbox worker exited")
        if not line.endswith(b"\n"):
            raise ConnectionError(f"sandbox worker answered more than {limit:,} bytes")
        try:
            return decode_response(json.loads(line), max_output_bytes)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise ConnectionError(f"sandbox worker answered garbage: {exc}") from None

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
            self.conn = None
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
            self.container = None


class SandboxPool:
    """``with SandboxPool(size) as pool: pool.run_program(...)``; thread-safe."""

    def __init__(
        self, size: int | None = None, image: str = IMAGE, limits: SandboxLimits | None = None
    ) -> None:
        self.size = size or max(1, os.cpu_count() or 1)
        self.image = image
        self.limits = limits or SandboxLimits()
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self.restarts = 0
        self.client: Any = None
        self.swept = 0  # orphaned containers removed when this pool started

    def start(self) -> SandboxPool:
        self.client = docker_client()
        self.swept = sweep_orphans(self.client)
        if not image_exists(self.client, self.image):
            raise SandboxError(
                f"sandbox image {self.image} is missing; build it with `m1eval sandbox build`"
            )
        with ThreadPoolExecutor(self.size) as ex:
            workers = list(ex.map(lambda _: self._new_worker(), range(self.size)))
        for w in workers:
            self._idle.put(w)
        return self

    def _new_worker(self) -> Worker:
        worker = Worker(self.client, self.image, self.limits)
        with self._lock:
            self._all.append(worker)
        return worker

    def _replace(self, worker: Worker) -> Worker:
        """A fresh worker in place of ``worker``, proven healthy by a known-good probe; a
        SandboxError (an infra fault) when none can be had."""
        worker.close()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            self.restarts += 1
        fresh = self._new_worker()
        try:
            probe = fresh.request(PROBE, 60, self.limits.max_output_bytes)
        except ConnectionError as exc:
            probe = {"status": "agent_error", "error": str(exc)}
        if probe.get("status") != "ok" or probe.get("stdout") != "42\n" or "worker" in probe:
            self._discard(fresh)
            raise SandboxError(f"a fresh sandbox worker failed its probe: {probe}"[:300])
        return fresh

    def _discard(self, worker: Worker) -> None:
        worker.close()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    @contextlib.contextmanager
    def worker(self) -> Iterator[Worker]:
        w = self._idle.get()
        try:
            yield w
        finally:
            self._idle.put(w)

    def run_program(
        self,
        base: dict[str, Any],
        inputs: list[str],
        accept: Callable[[int, dict[str, Any]], bool],
    ) -> list[dict[str, Any]]:
        """Run ``base`` (code, mode, fn_name, timeout_s) on each input in turn, on one worker.

        ``accept(i, result)`` judges test ``i`` on the host; the first rejected test ends the
        program. A worker that dies, hangs or reports an error of its own is replaced by a
        fresh one (which must pass a known-good probe, else SandboxError: infra) and the test
        is tried once more; if it breaks that worker too, the program is what breaks workers
        and the test fails with that status. A worker left in an unknown state after a test
        (its clean-up failed) is replaced and that test fails as ``worker_compromised``.
        """
        results: list[dict[str, Any]] = []
        timeout = 2 * float(base.get("timeout_s", 6)) + 30
        cap = self.limits.max_output_bytes
        req = {**base, "memory_mb": self.limits.test_memory_mb, "max_output_bytes": cap}
        official = base.get("exec") == "official"
        if official:  # one process for the whole problem, as LiveCodeBench runs it
            req["problem"] = uuid.uuid4().hex
        w = self._idle.get()
        try:
            for i, text in enumerate(inputs):
                result: dict[str, Any] = {}
                for _attempt in range(2):
                    try:
                        result = w.request({**req, "input": text}, timeout, cap)
                    except ConnectionError as exc:
                        w = self._replace(w)
                        result = {"status": "sandbox_killed", "error": str(exc)}
                        continue
                    if result.get("status") == "agent_error":
                        w = self._replace(w)
                        continue
                    if "worker" in result:
                        w = self._replace(w)
                        result = {"status": "worker_compromised", "error": result["worker"],
                                  "seconds": result.get("seconds")}  # fmt: skip
                    break
                results.append(result)
                if not accept(i, result):
                    break
            if official:
                w, ended = self._end_problem(w, timeout)
                if ended is not None:  # its clean-up failed: the program is at fault
                    results.append(ended)
                    accept(len(results) - 1, ended)
        finally:
            self._idle.put(w)
        return results

    def _end_problem(self, w: Any, timeout: float) -> tuple[Any, dict[str, Any] | None]:
        """End the worker's live problem; a failed verdict if that left the worker unclean."""
        try:
            resp = w.request({"op": "end_problem"}, timeout)
        except ConnectionError as exc:
            return self._replace(w), {"status": "sandbox_killed", "error": str(exc)}
        if "worker" in resp:
            return self._replace(w), {"status": "worker_compromised", "error": resp["worker"]}
        return w, None

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            w.close()

    def __enter__(self) -> SandboxPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _short(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def decode_response(resp: Any, max_output_bytes: int) -> dict[str, Any]:
    """The agent's answer with its base64 output decoded to text (invalid UTF-8 replaced)."""
    if not isinstance(resp, dict):
        raise ValueError("not a JSON object")
    for key in ("stdout", "result"):
        raw = resp.pop(f"{key}_b64", None)
        if raw is not None:
            data = base64.b64decode(raw, validate=True)
            if len(data) > max_output_bytes:
                raise ValueError(f"{key} beyond {max_output_bytes:,} bytes")
            resp[key] = data.decode("utf-8", "replace")
    return resp
