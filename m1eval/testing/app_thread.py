"""Serve an aiohttp application from a background thread of this process (test servers)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from aiohttp import web


class AppThread:
    """``with AppThread(app) as server: server.base_url``; stops and joins on exit."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> AppThread:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self.app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, self.host, 0)
        self._loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def serve_forever(app: web.Application, host: str, port: int, port_file: Path | None,
                  label: str) -> None:  # fmt: skip
    """Serve ``app`` in this process until killed; write the bound port to ``port_file``
    (atomically) once listening."""

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=4096)
        await site.start()
        server = site._server
        assert server is not None
        bound = server.sockets[0].getsockname()[1]
        if port_file is not None:
            tmp = port_file.with_suffix(".tmp")
            tmp.write_text(str(bound))
            os.replace(tmp, port_file)
        print(f"{label} on http://{host}:{bound}/v1", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


def spawn_module(module: str, workdir: Path, args: tuple[str, ...], host: str = "127.0.0.1",
                 timeout_s: float = 20.0) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """Start ``python -m module --port-file F ARGS`` and return it with its base URL once it
    listens."""
    port_file = workdir / f"port-{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "-m", module, "--port-file", str(port_file), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_file.exists():
            return proc, f"http://{host}:{port_file.read_text()}/v1"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{module} did not start")
