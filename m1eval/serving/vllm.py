"""``m1eval serve vllm --profile NAME``: launch vLLM from a profile and fingerprint it.

A profile (``vllm_profiles/*.yaml``) names the model, the minimum vLLM version and the
server flags. The launcher builds the command, refuses a vLLM older than the profile allows,
waits until ``/v1/models`` answers, and writes a serving fingerprint (vLLM version, the exact
command, GPUs, model revision, chat-template hash) that ``m1eval run --serving-fingerprint
FILE`` puts into every run manifest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from m1eval.errors import ConfigError, EndpointError
from m1eval.fsutil import atomic_write_json
from m1eval.paths import vllm_profiles_dir


@dataclass(frozen=True)
class Profile:
    name: str
    model: str | None
    min_vllm: str | None
    args: dict[str, Any]


def load_profile(name: str) -> Profile:
    path = vllm_profiles_dir() / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (vllm_profiles_dir()).glob("*.yaml"))
        raise ConfigError(f"unknown vLLM profile '{name}' (known: {', '.join(known)})")
    raw = yaml.safe_load(path.read_text()) or {}
    return Profile(raw.get("name", name), raw.get("model"), raw.get("min_vllm"),
                   dict(raw.get("args") or {}))  # fmt: skip


def build_command(profile: Profile, vllm_bin: str, model: str | None, host: str, port: int,
                  extra: list[str]) -> list[str]:  # fmt: skip
    model = model or profile.model
    if not model:
        raise ConfigError(f"profile {profile.name} names no model: pass --model")
    cmd = [vllm_bin, "serve", model, "--host", host, "--port", str(port)]
    for key, value in profile.args.items():
        if value is True:
            cmd.append(f"--{key}")
        elif value not in (False, None):
            cmd += [f"--{key}", str(value)]
    return cmd + extra


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def vllm_version(vllm_bin: str) -> str:
    exe = shutil.which(vllm_bin) or vllm_bin
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"cannot run {vllm_bin} --version: {exc}") from None
    match = re.search(r"\d+\.\d+\.\d+\S*", out.stdout + out.stderr)
    if not match:
        raise ConfigError(f"{vllm_bin} --version printed no version")
    return match.group(0)


def check_version(profile: Profile, version: str) -> None:
    if profile.min_vllm and _version_tuple(version) < _version_tuple(profile.min_vllm):
        raise ConfigError(
            f"vLLM {version} is older than {profile.min_vllm}, which {profile.name} needs "
            "(earlier versions ran the LM head and the linear-attention cache in bf16, which "
            "lowered AIME scores)"
        )


def gpus() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def fingerprint(profile: Profile, cmd: list[str], version: str, revision: str | None
                ) -> dict[str, Any]:  # fmt: skip
    template = profile.args.get("chat-template")
    template_sha = None
    if template and Path(str(template)).is_file():
        template_sha = hashlib.sha256(Path(str(template)).read_bytes()).hexdigest()
    devices = gpus()
    return {
        "server": "vllm", "vllm_version": version, "profile": profile.name,
        "command": cmd, "model": cmd[2], "model_revision": revision,
        "gpu_model": devices[0] if devices else None, "gpu_count": len(devices),
        "chat_template": template, "chat_template_sha256": template_sha,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip


def wait_healthy(proc: subprocess.Popen, base_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EndpointError(f"vLLM exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise EndpointError(f"vLLM did not answer {base_url}/models within {timeout_s:.0f} s")


def serve(profile: Profile, cmd: list[str], version: str, base_url: str,
          fingerprint_out: Path | None, revision: str | None, timeout_s: float) -> int:  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        wait_healthy(proc, base_url, timeout_s)
        fp = fingerprint(profile, cmd, version, revision)
        if fingerprint_out:
            atomic_write_json(fingerprint_out, fp)
        print(f"serving {cmd[2]} at {base_url} (vLLM {version}; Ctrl-C to stop)", flush=True)
        return proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
