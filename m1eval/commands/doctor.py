"""``m1eval doctor``: a preflight of a model server before a long run says go or no-go.

It runs every check of :mod:`m1eval.preflight` against what the protocol and the chosen suites
need (``m1eval run`` runs the subset its own suite needs before its first sample). A failed
check is one line with its fix, one line per cause; any failure, or a check that could not be
made where the server should have answered, is a no-go.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

import aiohttp

from m1eval import chat_templates as templates
from m1eval.commands.args import http_url
from m1eval.errors import EndpointError
from m1eval.model.client import ChatClient
from m1eval.model.fingerprint import fetch_fingerprint
from m1eval.preflight import (
    Check,
    one_cause_once,
    probe_client_settings,
    profile_for,
    reasoning_check,
    sampling_check,
    seed_check,
    template_check,
    tools_check,
    version_check,
    window_check,
)
from m1eval.protocols import Protocol
from m1eval.suites.base import Suite


@dataclass
class DoctorSettings:
    base_url: str
    model: str | None
    protocol: Protocol
    suites: list[Suite]
    profile: str | None = None
    api_key: str | None = None
    probe_max_tokens: int = 2048
    timeout_s: float = 600.0


async def diagnose(s: DoctorSettings) -> list[Check]:
    try:
        fp = await fetch_fingerprint(s.base_url, s.api_key)
    except EndpointError as err:
        return [Check("server", "fail", str(err), "start the server, or pass its --base-url "
                      "(ending in /v1)")]  # fmt: skip
    served = [m.get("id") for m in fp["models"]]
    model = s.model or (served[0] if served else None)
    if model is None or model not in served:
        return [Check("server", "fail", f"{s.base_url}/models lists {served or 'no model'}, "
                      f"not {model}", "pass --model with a name the server lists")]  # fmt: skip
    checks = [Check("server", "ok", f"{s.base_url} serves {model}"),
              version_check(fp.get("version"), profile_for(s.protocol, s.profile))]
    card = next(m for m in fp["models"] if m.get("id") == model)
    budget = int(s.protocol.sampling.get("max_tokens") or 0)
    needs = {suite.name: suite.prompt_tokens_needed() + budget for suite in s.suites}
    checks.append(window_check(card.get("max_model_len"), needs, budget, s.protocol.name))
    root = s.base_url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
    timeout = aiohttp.ClientTimeout(total=s.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        checks += await _template_checks(session, root, model, s.protocol, s.suites)
        settings = probe_client_settings(s.base_url, model, s.api_key,
                                         s.protocol.content_format, s.timeout_s)  # fmt: skip
        async with ChatClient(settings) as client:
            if any(suite.uses_tools for suite in s.suites):
                checks.append(await tools_check(client, s.protocol, s.probe_max_tokens))
            checks.append(await reasoning_check(session, s.base_url, model, s.protocol,
                                                s.probe_max_tokens))  # fmt: skip
            params = {**s.protocol.sampling, "max_tokens": 64}
            params["temperature"] = params.get("temperature") or 1.0
            checks.append(await seed_check(client, params))
            checks.append(await sampling_check(client, params))
    return one_cause_once(checks)


async def _template_checks(session: aiohttp.ClientSession, root: str, model: str,
                           protocol: Protocol, suites: list[Suite]) -> list[Check]:  # fmt: skip
    if not protocol.chat_templates:
        return [Check("template", "n/a", f"protocol {protocol.name} names no chat template")]
    wanted: dict[str, bool] = {}
    for suite in suites:
        planned = templates.plan(protocol.chat_templates, suite.uses_tools, False)
        if planned is not None:
            wanted[planned["name"]] = planned["delivered"].startswith("per request")
    return [await template_check(session, root, model, name, per_request)
            for name, per_request in sorted(wanted.items())]  # fmt: skip


HELP = "preflight a model server: go or no-go for a run"
EXIT_NO_GO = 5


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import positive_int

    parser.add_argument("--base-url", required=True, type=http_url,
                        help="the server (ending in /v1)")
    parser.add_argument("--model", help="model name (default: the first the server lists)")
    parser.add_argument("--protocol", default="m1-80k", help="protocols/NAME.yaml or a path")
    parser.add_argument("--suite", action="append", dest="suites",
                        help="a suite the run will use (repeatable; default: every suite)")
    parser.add_argument("--profile", help="the vLLM profile whose version window applies "
                        "(default: the one sized for the protocol)")
    parser.add_argument("--api-key-env", default="M1EVAL_API_KEY")
    parser.add_argument("--probe-max-tokens", type=positive_int, default=2048,
                        help="generation budget of the tool and reasoning probes")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    import os

    from m1eval.protocols import load_protocol
    from m1eval.registry import get_suite
    from m1eval.suite_specs import available_suites

    protocol = load_protocol(args.protocol)
    names = args.suites or available_suites()
    settings = DoctorSettings(
        base_url=args.base_url, model=args.model, protocol=protocol,
        suites=[get_suite(n) for n in names], profile=args.profile,
        api_key=os.environ.get(args.api_key_env) or None,
        probe_max_tokens=args.probe_max_tokens,
    )  # fmt: skip
    print(f"m1eval doctor: {args.base_url} · protocol {protocol.name} · "
          f"suites {', '.join(names)}")  # fmt: skip
    checks = asyncio.run(diagnose(settings))
    for check in checks:
        print(f"  {check.line()}")
    failed = [c for c in checks if c.status == "fail"]
    unchecked = [c for c in checks if c.status == "skip" and not c.detail.startswith(
        "not checked apart")]  # fmt: skip
    if failed or unchecked:
        parts = []
        if failed:
            parts.append(f"{len(failed)} check{'s' * (len(failed) > 1)} failed "
                         f"({', '.join(c.name for c in failed)})")  # fmt: skip
        if unchecked:
            parts.append(f"{len(unchecked)} could not be made "
                         f"({', '.join(c.name for c in unchecked)})")  # fmt: skip
        print(f"no-go: {'; '.join(parts)}")
        return EXIT_NO_GO
    print("go")
    return 0
