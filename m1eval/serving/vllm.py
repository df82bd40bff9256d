"""``m1eval serve vllm --profile NAME``: launch vLLM from a profile and fingerprint it.

A profile (``vllm_profiles/*.yaml``) names the model, the vLLM versions that serve it (a window
with the reason for each end), the environment, the server flags, flags that only some versions
have (``versioned_args``), and the protocol whose prompt + budget its window is sized for. A
``chat-template`` that names a shipped template (``m1eval/chat_templates``) becomes its absolute
path. The launcher builds the command, refuses a vLLM outside the window, waits until
``/v1/models`` answers, and writes a serving fingerprint (vLLM version, the exact command and
environment, GPUs, model revision, chat template and its hash) that ``m1eval run
--serving-fingerprint FILE`` puts into every run manifest.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from m1eval import chat_templates as templates
from m1eval.errors import ConfigError, EndpointError
from m1eval.fsutil import atomic_write_json
from m1eval.paths import vllm_profiles_dir

FLAGS_TABLE = Path(__file__).resolve().parent / "vllm_cli_flags.json"


@dataclass(frozen=True)
class VersionWindow:
    """The vLLM releases a profile runs on: ``min`` and ``max`` inclusive, ``max`` may name a
    series ("0.23" is every 0.23.x)."""

    min: str | None = None
    max: str | None = None
    why_min: str = ""
    why_max: str = ""

    def refusal(self, version: str) -> str | None:
        """Why ``version`` is outside the window, or None."""
        have = version_tuple(version)
        if self.min and have < version_tuple(self.min):
            why = f" ({self.why_min})" if self.why_min else ""
            return f"vLLM {version} is older than {self.min}{why}"
        if self.max:
            top = version_tuple(self.max)
            if have[: len(top)] > top:
                series = f"{self.max}.x" if len(top) < 3 else self.max
                why = f" ({self.why_max})" if self.why_max else ""
                return f"vLLM {version} is newer than {series}{why}"
        return None

    def describe(self) -> str:
        low = self.min or "any"
        high = (f"{self.max}.x" if self.max and len(version_tuple(self.max)) < 3
                else self.max or "any")  # fmt: skip
        return f"{low} – {high}"


@dataclass(frozen=True)
class Profile:
    name: str
    model: str | None
    args: dict[str, Any]
    window: VersionWindow = field(default_factory=VersionWindow)
    env: dict[str, str] = field(default_factory=dict)
    versioned_args: tuple[tuple[str, dict[str, Any]], ...] = ()
    protocol: str | None = None
    path: Path | None = None

    def args_for(self, version: str | None) -> dict[str, Any]:
        """The flags for a vLLM version (None: the newest the window allows)."""
        out = dict(self.args)
        have = version_tuple(version) if version else None
        for since, extra in self.versioned_args:
            if have is None or have >= version_tuple(since):
                out.update(extra)
        return out

    def chat_template(self) -> str | None:
        """The server's default chat template, as a shipped name or a path."""
        value = self.args.get("chat-template")
        return str(value) if value else None


def version_tuple(text: str) -> tuple[int, ...]:
    """(0, 10, 2) from "0.10.2", "v0.10.2.dev3+gabc" or "0.10"."""
    match = re.match(r"v?(\d+(?:\.\d+){0,2})", text.strip())
    if not match:
        raise ConfigError(f"not a version: {text!r}")
    return tuple(int(x) for x in match.group(1).split("."))


def load_profile(name_or_path: str) -> Profile:
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        path = vllm_profiles_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in vllm_profiles_dir().glob("*.yaml"))
        raise ConfigError(f"unknown vLLM profile '{name_or_path}' (known: {', '.join(known)})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML in {path}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"vLLM profile {path} must be a mapping")
    window = raw.get("vllm") or {}
    if "min_vllm" in raw:  # the older spelling
        window = {"min": raw["min_vllm"], **window}
    if not isinstance(window, dict) or set(window) - {"min", "max", "why_min", "why_max"}:
        raise ConfigError(f"vLLM profile {path}: 'vllm' takes min, max, why_min, why_max")
    args = raw.get("args") or {}
    env = raw.get("env") or {}
    if not isinstance(args, dict) or not isinstance(env, dict):
        raise ConfigError(f"vLLM profile {path}: 'args' and 'env' must be mappings")
    versioned = []
    for entry in raw.get("versioned_args") or []:
        if not (isinstance(entry, dict) and entry.get("since")
                and isinstance(entry.get("args"), dict)):  # fmt: skip
            raise ConfigError(f"vLLM profile {path}: each versioned_args entry needs "
                              "'since' and 'args'")  # fmt: skip
        versioned.append((str(entry["since"]), dict(entry["args"])))
    for key in ("min", "max"):
        if window.get(key) is not None:
            window[key] = str(window[key])
            version_tuple(window[key])
    return Profile(
        name=str(raw.get("name") or path.stem), model=raw.get("model"), args=dict(args),
        window=VersionWindow(**window), env={str(k): str(v) for k, v in env.items()},
        versioned_args=tuple(versioned), protocol=raw.get("protocol"), path=path,
    )  # fmt: skip


def resolve_template(value: str) -> Path:
    """A profile's ``chat-template``: a shipped template's name, or a path (made absolute)."""
    if "/" not in value and not value.endswith(".jinja"):
        return templates.template_path(value)
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"chat template {value} does not exist")
    return path


def build_command(profile: Profile, vllm_bin: str, model: str | None, host: str, port: int,
                  extra: list[str], version: str | None = None) -> list[str]:  # fmt: skip
    model = model or profile.model
    if not model:
        raise ConfigError(f"profile {profile.name} names no model: pass --model")
    cmd = [vllm_bin, "serve", model, "--host", host, "--port", str(port)]
    for key, value in profile.args_for(version).items():
        if key == "chat-template" and value:
            value = str(resolve_template(str(value)))
        if value is True:
            cmd.append(f"--{key}")
        elif value not in (False, None):
            cmd += [f"--{key}", str(value)]
    return cmd + extra


@functools.lru_cache(maxsize=1)
def flag_table() -> dict[str, Any]:
    """Flags of ``vllm serve`` per release, extracted from the wheels
    (``scripts/extract_vllm_flags.py``)."""
    return json.loads(FLAGS_TABLE.read_text())


def known_flags(version: str) -> tuple[str, set[str]] | None:
    """The extracted flag set of the release in ``version``'s minor series nearest to it
    (None: no release of that series was extracted)."""
    have = (*version_tuple(version), 0, 0, 0)[:3]
    series = [(version_tuple(name), name, entry) for name, entry in
              flag_table()["versions"].items() if version_tuple(name)[:2] == have[:2]]  # fmt: skip
    if not series:
        return None
    _, name, entry = min(series, key=lambda s: (abs(s[0][2] - have[2]), -s[0][2]))
    return name, set(entry["flags"])


def unknown_flags(cmd: list[str], version: str) -> tuple[str, list[str]] | None:
    """Flags of ``cmd`` that vLLM ``version``'s parser does not define (None: no table for
    that release)."""
    found = known_flags(version)
    if found is None:
        return None
    name, flags = found
    bad = []
    for token in cmd[3:]:
        if not token.startswith("--"):
            continue
        flag = token.split("=", 1)[0].replace("_", "-")
        if flag not in flags and not (flag.startswith("--no-") and "--" + flag[5:] in flags):
            bad.append(flag)
    return name, bad


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
    refusal = profile.window.refusal(version)
    if refusal:
        raise ConfigError(f"{refusal}; profile {profile.name} serves "
                          f"{profile.window.describe()}")  # fmt: skip


def gpus() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def command_template(cmd: list[str]) -> Path | None:
    if "--chat-template" in cmd:
        i = cmd.index("--chat-template")
        if i + 1 < len(cmd):
            return Path(cmd[i + 1])
    return None


def fingerprint(profile: Profile, cmd: list[str], version: str, revision: str | None
                ) -> dict[str, Any]:  # fmt: skip
    template = command_template(cmd)
    template_sha = None
    if template is not None and template.is_file():
        template_sha = hashlib.sha256(template.read_bytes()).hexdigest()
    devices = gpus()
    return {
        "server": "vllm", "vllm_version": version, "profile": profile.name,
        "vllm_window": profile.window.describe(), "protocol": profile.protocol,
        "command": cmd, "env": profile.env, "model": cmd[2], "model_revision": revision,
        "gpu_model": devices[0] if devices else None, "gpu_count": len(devices),
        "chat_template": str(template) if template else None,
        "chat_template_name": template.stem if template else None,
        "chat_template_sha256": template_sha,
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
    proc = subprocess.Popen(cmd, start_new_session=True, env={**os.environ, **profile.env})
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
