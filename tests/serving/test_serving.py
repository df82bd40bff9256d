"""``m1eval serve vllm``: profiles, the version gate, and the launcher's process management.

vLLM cannot run on these CPU machines: the launch test uses a stand-in executable that
answers ``--version`` and, for ``serve``, starts the embedded llama.cpp server on the port it
was given — the launcher's command building, health wait, fingerprint and shutdown are real.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from m1eval import chat_templates as templates
from m1eval.model.embedded import free_port
from m1eval.protocols import load_protocol
from m1eval.serving import vllm
from tests.conftest import embedded_available, only_run_dir

STANDIN = """#!{python}
import json, os, sys
args = sys.argv[1:]
if args == ["--version"]:
    print(os.environ.get("STANDIN_VLLM_VERSION", "0.9.2"))
    sys.exit(0)
if os.environ.get("STANDIN_ENV_OUT"):
    with open(os.environ["STANDIN_ENV_OUT"], "w") as fh:
        json.dump({{"SAFETENSORS_FAST_GPU": os.environ.get("SAFETENSORS_FAST_GPU")}}, fh)
port = args[args.index("--port") + 1]
os.execv(sys.executable, [sys.executable, "-m", "m1eval.cli", "serve", "embedded", "--port", port])
"""


@pytest.fixture
def standin(tmp_path: Path) -> Path:
    path = tmp_path / "vllm"
    path.write_text(STANDIN.format(python=sys.executable))
    path.chmod(0o755)
    return path


def _dry_run(cli, profile: str, version: str | None = None) -> tuple[dict[str, str], list[str]]:
    args = ["serve", "vllm", "--profile", profile, "--port", "8001", "--dry-run"]
    res = cli(*args, *(["--vllm-version", version] if version else []))
    assert res.code == 0, res.err
    header, line = res.out.strip().splitlines()
    assert header.startswith(f"# {profile} for vLLM")
    words = shlex.split(line)
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    return env, [w for w in words if w not in {f"{k}={v}" for k, v in env.items()}]


M1_PROFILES = ("minimax-m1-40k", "minimax-m1-80k")


@pytest.mark.parametrize("profile", M1_PROFILES)
@pytest.mark.parametrize("version", sorted(vllm.flag_table()["versions"]))
def test_every_flag_exists_in_the_release_and_every_path_is_absolute(
    cli, profile: str, version: str
) -> None:
    """The dry-run command of each M1 profile, for each extracted vLLM release in its window,
    uses only flags that release's parser defines (read from its wheel, see
    m1eval/serving/vllm_cli_flags.json), and its chat template is an absolute path that
    exists, with the hash of the shipped template."""
    env, cmd = _dry_run(cli, profile, version)
    flags = set(vllm.flag_table()["versions"][version]["flags"])
    used = [w for w in cmd if w.startswith("--")]
    assert used and all(f in flags for f in used), [f for f in used if f not in flags]
    assert cmd[:3] == ["vllm", "serve", f"MiniMaxAI/MiniMax-M1-{profile[-3:]}"]
    for flag in ("--tensor-parallel-size 8", "--quantization experts_int8", "--dtype bfloat16",
                 "--trust-remote-code", "--tool-call-parser minimax", "--port 8001",
                 "--enable-auto-tool-choice", "--gpu-memory-utilization 0.85"):  # fmt: skip
        assert flag in " ".join(cmd)
    assert env == {"SAFETENSORS_FAST_GPU": "1"}
    template = Path(cmd[cmd.index("--chat-template") + 1])
    assert template.is_absolute() and template.is_file()
    assert template == templates.template_path("minimax_m1")
    # per-request templates (TAU) need the trust flag from 0.11 on; 0.10 has no such flag
    assert ("--trust-request-chat-template" in cmd) == (vllm.version_tuple(version) >= (0, 11))


@pytest.mark.parametrize("profile", M1_PROFILES)
def test_window_fits_the_protocols_prompt_and_budget(profile: str) -> None:
    """vLLM refuses prompt + max_tokens > max_model_len: the window holds MRCR's largest
    prompts (1M tokens) plus the budget of the protocol the profile is sized for."""
    p = vllm.load_profile(profile)
    protocol = load_protocol(p.protocol)
    assert int(p.args["max-model-len"]) == 1_000_000 + protocol.sampling["max_tokens"]
    assert protocol.context_window == int(p.args["max-model-len"])  # what runs assume
    assert protocol.chat_templates["default"] == p.args["chat-template"]


def test_dry_run_defaults_to_the_newest_release_of_the_window(cli) -> None:
    res = cli("serve", "vllm", "--profile", "minimax-m1-80k", "--dry-run")
    assert res.out.startswith("# minimax-m1-80k for vLLM 0.23.0 (window 0.9.2 – 0.23.x); "
                              "flags checked against vLLM 0.23.0's parser")  # fmt: skip
    generic = cli("serve", "vllm", "--dry-run")
    assert generic.code == 2 and "pass --model" in generic.err
    assert "my/model" in cli("serve", "vllm", "--model", "my/model", "--dry-run").out


def test_flags_after_double_dash_reach_vllm_and_are_checked(cli) -> None:
    res = cli("serve", "vllm", "--model", "m", "--dry-run", "--", "--max-num-seqs", "4")
    assert res.code == 0 and res.out.rstrip().endswith("--max-num-seqs 4")
    bad = cli("serve", "vllm", "--model", "m", "--dry-run", "--", "--max-num-seq", "4")
    assert bad.code == 2
    assert bad.err.strip() == ("m1eval: error: vLLM 0.23.0 has no flag --max-num-seq "
                               "(profile generic)")  # fmt: skip


@pytest.mark.parametrize(("version", "refused"), [
    ("0.9.1", "older than 0.9.2 (earlier versions kept the LM head"),
    ("0.9.2", None), ("0.10.2.dev5+g1234", None), ("0.23.9", None),
    ("0.24.0", "newer than 0.23.x (later releases removed MiniMaxM1ForCausalLM"),
    ("0.33.0", "newer than 0.23.x"), ("1.0.0", "newer than 0.23.x"),
])  # fmt: skip
def test_version_window_both_ends(version: str, refused: str | None) -> None:
    why = vllm.load_profile("minimax-m1-80k").window.refusal(version)
    assert (why is None) if refused is None else (refused in why)


def test_old_vllm_is_refused_for_m1(cli, standin: Path, monkeypatch) -> None:
    monkeypatch.setenv("STANDIN_VLLM_VERSION", "0.9.1")
    res = cli("serve", "vllm", "--profile", "minimax-m1-80k", "--vllm-bin", standin)
    assert res.code == 2 and "older than 0.9.2" in res.err and "bf16" in res.err
    monkeypatch.setenv("STANDIN_VLLM_VERSION", "0.33.0")
    res = cli("serve", "vllm", "--profile", "minimax-m1-80k", "--vllm-bin", standin)
    assert res.code == 2 and "newer than 0.23.x" in res.err and "0.9.2 – 0.23.x" in res.err


def test_flag_extraction_reads_the_parser_sources(tmp_path: Path) -> None:
    """The extractor on a wheel-shaped zip: literal add_argument flags, one flag per
    FrontendArgs field, the version from _version.py, the wheel's hash."""
    from scripts.extract_vllm_flags import extract

    wheel = tmp_path / "vllm-9.9.9-cp38-abi3-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("vllm/_version.py", "__version__ = version = '9.9.9'\n")
        zf.writestr(
            "vllm/engine/arg_utils.py",
            (
                "def add(g):\n    g.add_argument('--max-model-len', type=int)\n"
                "    g.add_argument('-q', '--quantization')\n    g.other('--not-a-flag')\n"
            ),
        )
        zf.writestr(
            "vllm/entrypoints/openai/cli_args.py",
            (
                "class FrontendArgs:\n    chat_template: str | None = None\n"
                "    tool_call_parser: str = ''\n"
                "def make(p):\n    p.add_argument('--headless', action='store_true')\n"
            ),
        )
    entry = extract(wheel)
    assert entry["version"] == "9.9.9"
    assert entry["flags"] == ["--chat-template", "--headless", "--max-model-len",
                              "--quantization", "--tool-call-parser"]  # fmt: skip
    assert entry["wheel_sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_committed_flag_table_has_provenance_and_matches_cached_wheels() -> None:
    """Each release's flags name the wheel and its SHA-256; where those wheels are cached
    (M1EVAL_VLLM_WHEELS, a folder of `pip download --no-deps vllm==X` results), they are
    extracted again and must match."""
    from scripts.extract_vllm_flags import extract

    table = vllm.flag_table()
    assert set(table["versions"]) >= {"0.10.2", "0.11.0", "0.12.0", "0.23.0"}
    for version, entry in table["versions"].items():
        assert entry["version"] == version and len(entry["wheel_sha256"]) == 64
        assert entry["wheel"].startswith(f"vllm-{version}-") and len(entry["flags"]) > 150
    cached = os.environ.get("M1EVAL_VLLM_WHEELS")
    for wheel in sorted(Path(cached).rglob("vllm-*.whl")) if cached else []:
        fresh = extract(wheel)
        if fresh["version"] in table["versions"]:
            assert fresh == table["versions"][fresh["version"]]


@pytest.mark.skipif(not embedded_available(), reason="embedded model not installed")
def test_launch_fingerprint_and_shutdown(cli, standin: Path, tmp_path: Path) -> None:
    port = free_port()
    fp = tmp_path / "serving.json"
    env_out = tmp_path / "env.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "m1eval.cli", "serve", "vllm", "--profile", "minimax-m1-80k",
         "--vllm-bin", str(standin), "--port", str(port), "--fingerprint-out", str(fp),
         "--revision", "abc123", "--startup-timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "STANDIN_ENV_OUT": str(env_out)},
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
        # 0.9.2 has no --trust-request-chat-template; the profile's env reached the server
        assert "--trust-request-chat-template" not in fingerprint["command"]
        assert json.loads(env_out.read_text()) == {"SAFETENSORS_FAST_GPU": "1"}
        assert fingerprint["env"] == {"SAFETENSORS_FAST_GPU": "1"}
        assert fingerprint["chat_template_name"] == "minimax_m1"
        assert fingerprint["chat_template_sha256"] == templates.describe("minimax_m1")["sha256"]
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
