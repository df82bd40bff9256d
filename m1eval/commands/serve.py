"""``m1eval serve embedded | vllm``: run a model server in the foreground."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from m1eval.commands.args import number, port
from m1eval.errors import ConfigError

HELP = "run a model server in the foreground"


def add_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("what", choices=["embedded", "vllm"])
    add("--port", type=port, default=8000)
    add("--host", default="127.0.0.1")
    add("--profile", default="generic", help="vllm_profiles/NAME.yaml")
    add("--model", help="override the profile's model")
    add("--revision", help="the model revision served (recorded)")
    add("--vllm-bin", default="vllm")
    add("--fingerprint-out", type=Path, help="write the serving fingerprint")
    add("--startup-timeout", type=number(0, open_lo=True), default=3600.0)
    add("--dry-run", action="store_true", help="print the environment and command only")
    add("--vllm-version", help="with --dry-run: the vLLM release to build the command for "
        "(default: the newest the profile allows)")
    add("extra", nargs="*", help="more vLLM flags, after -- (checked against the release's parser)")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.what == "vllm":
        return _serve_vllm(args)
    import signal
    import time

    from m1eval.model.embedded import EMBEDDED_MODEL_ID, EmbeddedServer

    # a launcher that stops us with SIGTERM must not leave the llama.cpp server behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with EmbeddedServer(port=args.port) as server:
        print(f"serving {EMBEDDED_MODEL_ID} at {server.base_url} (Ctrl-C to stop)", flush=True)
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        raise ConfigError(f"embedded server exited: {server.log_tail()}")


def _serve_vllm(args: argparse.Namespace) -> int:
    import shlex

    from m1eval.serving import vllm

    profile = vllm.load_profile(args.profile)
    version = (args.vllm_version or _newest_allowed(profile)) if args.dry_run \
        else vllm.vllm_version(args.vllm_bin)  # fmt: skip
    if version:
        vllm.check_version(profile, version)
    cmd = vllm.build_command(profile, args.vllm_bin, args.model, args.host, args.port,
                             list(args.extra), version)  # fmt: skip
    checked = vllm.unknown_flags(cmd, version) if version else None
    if checked and checked[1]:
        raise ConfigError(f"vLLM {checked[0]} has no flag {', '.join(checked[1])} "
                          f"(profile {profile.name})")  # fmt: skip
    if args.dry_run:
        what = f"vLLM {version}" if version else "any vLLM"
        print(f"# {profile.name} for {what} (window {profile.window.describe()}); flags "
              + (f"checked against vLLM {checked[0]}'s parser" if checked
                 else "not checked: no extracted parser for this release"))  # fmt: skip
        print(shlex.join([*(f"{k}={v}" for k, v in profile.env.items()), *cmd]))
        return 0
    base_url = f"http://{args.host}:{args.port}/v1"
    return vllm.serve(profile, cmd, version, base_url, args.fingerprint_out, args.revision,
                      args.startup_timeout)  # fmt: skip


def _newest_allowed(profile: Any) -> str | None:
    """The newest extracted vLLM release inside a profile's window."""
    from m1eval.serving import vllm

    inside = [v for v in vllm.flag_table()["versions"] if profile.window.refusal(v) is None]
    return max(inside, key=vllm.version_tuple) if inside else None
