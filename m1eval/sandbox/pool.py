"""A pool of long-lived, locked-down Docker workers that run untrusted programs.

Each worker is a container with no network, a read-only root, a small tmpfs, a non-root
user, no capabilities, ``no-new-privileges`` and memory/CPU/pids limits. Its main process is
the agent (:mod:`m1eval.sandbox.agent`), which forks a fresh process per test. The host talks
to it over a Unix socket that the host creates in a directory mounted read-only into the
container; the socket file is removed as soon as the agent has connected, so programs cannot
reach it. Grading therefore pays a fork per test, not a container start.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.sandbox.errors import SandboxError
from m1eval.sandbox.image import IMAGE, docker_client, image_exists

AGENT = Path(__file__).with_name("agent.py")
LABEL = "m1eval.sandbox"


@dataclass(frozen=True)
class SandboxLimits:
    test_memory_mb: int = 1024  # RLIMIT_AS of each test process
    container_memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 128
    tmpfs_mb: int = 256
    max_output_bytes: int = 32 * 1024 * 1024


class Worker:
    """One container and the connection to its agent."""

    def __init__(self, client: Any, image: str, limits: SandboxLimits) -> None:
        self.client = client
        self.name = f"m1eval-sandbox-{uuid.uuid4().hex[:12]}"
        self.ipc_dir = Path(tempfile.mkdtemp(prefix="m1eval-ipc-"))
        os.chmod(self.ipc_dir, 0o755)
        sock_path = self.ipc_dir / "agent.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.container: Any = None
        self.conn: socket.socket | None = None
        try:
            listener.bind(str(sock_path))
            os.chmod(sock_path, 0o666)  # the agent runs as uid 65534
            listener.listen(1)
            listener.settimeout(60)
            self.container = client.containers.run(
                image,
                ["python3", "-I", "/opt/m1eval/agent.py", "--connect", "/ipc/agent.sock"],
                name=self.name,
                detach=True,
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
                volumes={
                    str(self.ipc_dir): {"bind": "/ipc", "mode": "ro"},
                    str(AGENT): {"bind": "/opt/m1eval/agent.py", "mode": "ro"},
                },
                labels={LABEL: "worker"},
            )
            try:
                self.conn, _ = listener.accept()
            except TimeoutError:
                raise SandboxError(f"sandbox worker did not start: {self._logs()}") from None
        except SandboxError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise SandboxError(f"cannot start a sandbox worker: {_short(exc)}") from None
        finally:
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                sock_path.unlink()  # nothing else may connect to the agent
        self.rfile = self.conn.makefile("rb")
        pong = self.request({"op": "ping"}, timeout_s=30)
        if pong.get("status") != "pong" or pong.get("pid") != 1:
            self.close()
            raise SandboxError(f"sandbox agent answered oddly: {pong}")

    def _logs(self) -> str:
        try:
            return _short(self.container.logs().decode(errors="replace")) or "no output"
        except Exception:
            return "no logs"

    def request(self, req: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request; raise ConnectionError when the worker is gone or hangs."""
        if self.conn is None:
            raise ConnectionError("worker is closed")
        self.conn.settimeout(timeout_s)
        try:
            self.conn.sendall(json.dumps(req).encode() + b"\n")
            line = self.rfile.readline()
        except (OSError, ValueError) as exc:
            raise ConnectionError(f"sandbox worker stopped answering: {exc}") from None
        if not line:
            raise ConnectionError("sandbox worker exited")
        return json.loads(line)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
            self.conn = None
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
            self.container = None
        shutil.rmtree(self.ipc_dir, ignore_errors=True)


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

    def start(self) -> SandboxPool:
        self.client = docker_client()
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
        worker.close()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            self.restarts += 1
        return self._new_worker()

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
        program. A worker that dies or hangs is replaced and the test is tried once more on a
        fresh one; if that one dies too, the program is what kills workers, and the test fails
        with status ``sandbox_killed``.
        """
        results: list[dict[str, Any]] = []
        timeout = float(base.get("timeout_s", 6)) + 30
        req = {**base, "memory_mb": self.limits.test_memory_mb,
               "max_output_bytes": self.limits.max_output_bytes}  # fmt: skip
        w = self._idle.get()
        try:
            for i, text in enumerate(inputs):
                result = None
                for _attempt in range(2):
                    try:
                        result = w.request({**req, "input": text}, timeout)
                        break
                    except ConnectionError as exc:
                        w = self._replace(w)
                        result = {"status": "sandbox_killed", "error": str(exc)}
                assert result is not None
                results.append(result)
                if not accept(i, result):
                    break
        finally:
            self._idle.put(w)
        return results

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
