"""``m1eval serve vllm``: profiles, the version gate, and the launcher's process management.

vLLM cannot run on these CPU machines: the launch test uses a stand-in executable that
answers ``--version`` and, for ``serve``, starts the embedded llama.cpp server on the port it
was given — the launcher's command building, health wait, fingerprint and shutdown are real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from m1eval.model.embedded import free_port
from tests.conftest import embedded_available, only_run_dir

STANDIN = """#!{python}
import os, sys
args = sys.argv[1:]
if args == ["--version"]:
    print(os.environ.get("STANDIN_VLLM_VERSION", "0.9.2"))
    sys.exit(0)
port = args[args.index("--port") + 1]
os.execv(sys.executable, [sys.executable, "-m", "m1eval.cli", "serve", "embedded", "--port", port])
"""


@pytest.fixture
def standin(tmp_path: Path) -> Path:
    path = tmp_path / "vllm"
    path.write_text(STANDIN.format(python=sys.executable))
    path.chmod(0o755)
    return path


def test_profiles_build_the_deployment_guides_command(cli) -> None:
    res = cli("serve", "vllm", "--profile", "minimax-m1-40k", "--port", "8001", "--dry-run")
    assert res.code == 0
    cmd = res.out.split()
    assert cmd[:3] == ["vllm", "serve", "MiniMaxAI/MiniMax-M1-40k"]
    for flag in ("--tensor-parallel-size 8", "--quantization experts_int8", "--dtype bfloat16",
                 "--trust-remote-code", "--tool-call-parser minimax", "--port 8001"):  # fmt: skip
        assert flag in res.out
    generic = cli("serve", "vllm", "--dry-run")
    assert generic.code == 2 and "pass --model" in generic.err
    assert "my/model" in cli("serve", "vllm", "--model", "my/model", "--dry-run").out


def test_old_vllm_is_refused_for_m1(cli, standin: Path, monkeypatch) -> None:
    monkeypatch.setenv("STANDIN_VLLM_VERSION", "0.9.1")
    res = cli("serve", "vllm", "--profile", "minimax-m1-80k", "--vllm-bin", standin)
    assert res.code == 2 and "older than 0.9.2" in res.err and "bf16" in res.err


@pytest.mark.skipif(not embedded_available(), reason="embedded model not installed")
def test_launch_fingerprint_and_shutdown(cli, standin: Path, tmp_path: Path) -> None:
    port = free_port()
    fp = tmp_path / "serving.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "m1eval.cli", "serve", "vllm", "--profile", "minimax-m1-80k",
         "--vllm-bin", str(standin), "--port", str(port), "--fingerprint-out", str(fp),
         "--revision", "abc123", "--startup-timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while not fp.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert fp.exists(), proc.stderr.read() if proc.poll() is not None else "timeout"
        fingerprint = json.loads(fp.read_text())
        assert fingerprint["vllm_version"] == "0.9.2"
        assert fingerprint["model"] == "MiniMaxAI/MiniMax-M1-80k"
        assert fingerprint["model_revision"] == "abc123"
        assert "--quantization" in fingerprint["command"]
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--limit", "1", "--repeats",
                  "1", "--max-tokens", "8", "--base-url", f"http://127.0.0.1:{port}/v1",
                  "--model", "MiniMaxAI/MiniMax-M1-80k", "--any-model", "--content-format",
                  "string", "--serving-fingerprint", fp, "--results-dir", tmp_path / "r",
                  "--no-progress")  # fmt: skip
        assert res.code in (0, 4), res.err
        manifest = json.loads((only_run_dir(tmp_path / "r") / "manifest.json").read_text())
        assert manifest["serving"]["vllm_version"] == "0.9.2"
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
