"""``m1eval doctor``: a preflight of a model server before a long run says go or no-go.

Each check asks the server something small and compares the answer with what the chosen
protocol and suites need:

* ``server``    ``/v1/models`` answers and lists the model;
* ``vllm``      ``/version`` lies inside the vLLM window of the profile serving the protocol;
* ``window``    ``max_model_len`` holds each suite's longest prompt plus the protocol's budget;
* ``template``  the server renders a probe conversation (``/tokenize`` then ``/detokenize``)
  exactly as the template the suites expect does, default and per-request alike;
* ``tools``     a tool call round-trips (for suites whose requests carry tools);
* ``reasoning`` whether the thinking arrives in a separate field or inline in ``content``;
* ``seed``      two requests with one seed give one answer;
* ``sampling``  unseeded requests at the protocol's temperature differ.

A failed check is one line with its fix; any failure is a no-go.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from m1eval import chat_templates as templates
from m1eval.errors import EndpointError
from m1eval.model.client import ChatClient, ClientSettings
from m1eval.model.fingerprint import fetch_fingerprint
from m1eval.model.retry import RetryPolicy
from m1eval.model.types import RequestFailed
from m1eval.paths import vllm_profiles_dir
from m1eval.protocols import Protocol
from m1eval.serving import vllm
from m1eval.serving.probe import PROBE_MESSAGES, error_text, post_json, rendered_probe
from m1eval.suites.base import Suite

PROBE_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "City name, e.g. Paris"}},
        "required": ["location"]}}}]  # fmt: skip
TOOL_PROMPT = [{"role": "user", "content": "What is the weather in Paris right now? Use the "
                "get_weather tool."}]  # fmt: skip
SAMPLE_PROMPT = [{"role": "user", "content": "Write one unusual English word, nothing else."}]


@dataclass
class Check:
    name: str
    status: str  # ok, warn, fail, skip
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.upper():<5} {self.name:<10} {self.detail}"
        return text + (f"; fix: {self.fix}" if self.fix else "")


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


def profile_for(protocol: Protocol, name: str | None) -> vllm.Profile | None:
    """The named vLLM profile, or the one sized for the protocol."""
    if name:
        return vllm.load_profile(name)
    for path in sorted(vllm_profiles_dir().glob("*.yaml")):
        profile = vllm.load_profile(str(path))
        if profile.protocol == protocol.name:
            return profile
    return None


async def diagnose(s: DoctorSettings) -> list[Check]:
    checks: list[Check] = []
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
    checks.append(Check("server", "ok", f"{s.base_url} serves {model}"))
    checks.append(_version_check(fp.get("version"), profile_for(s.protocol, s.profile)))
    card = next(m for m in fp["models"] if m.get("id") == model)
    checks.append(_window_check(card.get("max_model_len"), s.protocol, s.suites))
    root = s.base_url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
    timeout = aiohttp.ClientTimeout(total=s.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        checks += await _template_checks(session, root, model, s.protocol, s.suites)
        settings = ClientSettings(base_url=s.base_url, model=model, api_key=s.api_key,
                                  content_format=s.protocol.content_format,
                                  retry=RetryPolicy(max_attempts=2, base_delay_s=1.0),
                                  min_request_timeout_s=s.timeout_s)  # fmt: skip
        async with ChatClient(settings) as client:
            if any(suite.uses_tools for suite in s.suites):
                checks.append(await _tools_check(client, s))
            checks.append(await _reasoning_check(session, s.base_url, model, s))
            checks += await _sampling_checks(client, s)
    return checks


def _version_check(version: Any, profile: vllm.Profile | None) -> Check:
    text = version.get("version") if isinstance(version, dict) else None
    if not text:
        return Check("vllm", "warn", "no /version: not a vLLM server, so no version window is "
                     "checked")  # fmt: skip
    if profile is None:
        return Check("vllm", "ok", f"vLLM {text} (no profile names this protocol)")
    refusal = profile.window.refusal(str(text))
    if refusal:
        return Check("vllm", "fail", f"{refusal}", f"serve with a vLLM in "
                     f"{profile.window.describe()} (profile {profile.name})")  # fmt: skip
    return Check("vllm", "ok", f"vLLM {text}, inside {profile.name}'s window "
                 f"{profile.window.describe()}")  # fmt: skip


def _window_check(window: Any, protocol: Protocol, suites: list[Suite]) -> Check:
    budget = int(protocol.sampling.get("max_tokens") or 0)
    need = {suite.name: suite.prompt_tokens_needed() + budget for suite in suites}
    worst = max(need, key=lambda k: need[k])
    if not isinstance(window, int):
        return Check("window", "warn", "the server reports no max_model_len; prompts over its "
                     "window will be refused per sample")  # fmt: skip
    if window < need[worst]:
        prompt = need[worst] - budget
        hint = " (or run mrcr with --mrcr-overflow fit)" if worst == "mrcr" else ""
        detail = (f"max_model_len {window:,} < {need[worst]:,} that {worst} needs ({prompt:,}-"
                  f"token prompts + {protocol.name}'s {budget:,}-token budget)")  # fmt: skip
        return Check("window", "fail", detail, f"serve with --max-model-len {need[worst]}{hint}")
    return Check(
        "window",
        "ok",
        f"max_model_len {window:,} holds {worst}'s "
        f"{need[worst] - budget:,}-token prompts + the {budget:,}-token budget",
    )


def _first_difference(a: str, b: str) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return (
        f"first difference at character {i}: server {a[i : i + 30]!r}, expected {b[i : i + 30]!r}"
    )


async def _template_checks(session: aiohttp.ClientSession, root: str, model: str,
                           protocol: Protocol, suites: list[Suite]) -> list[Check]:  # fmt: skip
    if not protocol.chat_templates:
        return [Check("template", "skip", f"protocol {protocol.name} names no chat template")]
    out = []
    wanted: dict[str, bool] = {}
    for suite in suites:
        planned = templates.plan(protocol.chat_templates, suite.uses_tools, False)
        if planned is not None:
            wanted[planned["name"]] = planned["delivered"].startswith("per request")
    for name, per_request in sorted(wanted.items()):
        text = templates.template_text(name)
        extra: dict[str, Any] = {}
        if per_request:
            extra.update(tools=PROBE_TOOLS, chat_template=text)
        rendered, why = await rendered_probe(session, root, model, extra)
        label = f"{name} ({'per request' if per_request else 'server default'})"
        if rendered is None:
            if why and "--trust-request-chat-template" in why:
                out.append(
                    Check(
                        "template",
                        "fail",
                        f"{label}: the server refuses request templates",
                        "start vLLM with --trust-request-chat-template",
                    )
                )
            else:
                out.append(Check("template", "skip", f"{label}: {why}"))
            continue
        expected = templates.render(text, PROBE_MESSAGES, PROBE_TOOLS if per_request else None)
        if rendered == expected:
            out.append(Check("template", "ok", f"{label} renders the probe exactly "
                             f"(sha256 {templates.text_sha256(text)[:12]})"))  # fmt: skip
        else:
            fix = (
                f"start vLLM with --chat-template {templates.template_path(name)}"
                if not per_request
                else "serve a vLLM that applies request chat templates"
            )
            out.append(
                Check(
                    "template",
                    "fail",
                    f"{label}: the server renders the probe "
                    f"otherwise ({_first_difference(rendered, expected)})",
                    fix,
                )
            )
    return out


async def _tools_check(client: ChatClient, s: DoctorSettings) -> Check:
    template = s.protocol.chat_templates.get("tools")
    plain = client.settings
    if template is not None:
        client.settings = replace(plain, tools_chat_template=templates.template_text(template))
    params = {**s.protocol.sampling, "max_tokens": s.probe_max_tokens, "tools": PROBE_TOOLS,
              "tool_choice": "auto"}  # fmt: skip
    try:
        c = await client.complete(TOOL_PROMPT, params)
    except RequestFailed as failure:
        if "--enable-auto-tool-choice" in failure.cause:
            return Check("tools", "fail", "tool calling is off", "start vLLM with "
                         "--enable-auto-tool-choice --tool-call-parser minimax")  # fmt: skip
        if "--trust-request-chat-template" in failure.cause:
            return Check(
                "tools",
                "fail",
                "the server refuses the tools chat template",
                "start vLLM with --trust-request-chat-template",
            )
        return Check("tools", "fail", f"the tool probe failed: {failure.cause}")
    finally:
        client.settings = plain
    calls = c.tool_calls or []
    if calls:
        fn = calls[0].get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "")
        except ValueError:
            args = None
        if fn.get("name") == "get_weather" and isinstance(args, dict):
            return Check("tools", "ok", f"get_weather({json.dumps(args)}) came back as a "
                         f"tool call (finish_reason {c.finish_reason})")  # fmt: skip
        return Check(
            "tools",
            "fail",
            f"the tool call came back malformed: {fn!r:.120}",
            "start vLLM with --tool-call-parser minimax",
        )
    if "<tool_calls>" in c.answer:
        return Check(
            "tools",
            "fail",
            "the call came back as text: no tool parser read it",
            "start vLLM with --enable-auto-tool-choice --tool-call-parser minimax",
        )
    return Check("tools", "warn", "the model answered without calling the probe tool")


async def _reasoning_check(session: aiohttp.ClientSession, base_url: str, model: str,
                           s: DoctorSettings) -> Check:  # fmt: skip
    body = {"model": model, "messages": SAMPLE_PROMPT, "stream": False,
            **{k: v for k, v in s.protocol.sampling.items() if v is not None},
            "max_tokens": s.probe_max_tokens}  # fmt: skip
    try:
        status, reply = await post_json(session, base_url.rstrip("/") + "/chat/completions", body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check("reasoning", "skip", f"probe failed: {exc or type(exc).__name__}")
    if status != 200 or not isinstance(reply, dict) or not reply.get("choices"):
        return Check("reasoning", "skip", f"probe answered HTTP {status}: {error_text(reply)}")
    message = reply["choices"][0].get("message") or {}
    fields = [k for k in ("reasoning", "reasoning_content") if message.get(k)]
    if fields:
        return Check("reasoning", "ok", f"separated, in {' and '.join(fields)}")
    if "<think>" in str(message.get("content") or "") or "</think>" in str(
            message.get("content") or ""):  # fmt: skip
        return Check("reasoning", "ok", "inline: <think> arrives in content (no reasoning "
                     "parser, as M1 is served); the client splits it")  # fmt: skip
    return Check("reasoning", "ok", "no thinking seen in the probe's answer")


async def _sampling_checks(client: ChatClient, s: DoctorSettings) -> list[Check]:
    temperature = s.protocol.sampling.get("temperature", 1.0) or 1.0
    params = {**s.protocol.sampling, "temperature": temperature, "max_tokens": 64}

    async def ask(extra: dict[str, Any]) -> str | None:
        try:
            c = await client.complete(SAMPLE_PROMPT, {**params, **extra})
        except RequestFailed:
            return None
        return (c.reasoning or "") + "\x00" + c.answer

    seeded = await asyncio.gather(ask({"seed": 1234}), ask({"seed": 1234}))
    free = await asyncio.gather(*(ask({}) for _ in range(3)))
    out = []
    if None in seeded:
        out.append(Check("seed", "skip", "the seeded probes failed"))
    elif seeded[0] != seeded[1]:
        out.append(
            Check(
                "seed",
                "fail",
                "two requests with seed 1234 answered differently: "
                "the server ignores per-request seeds",
                "serve from one vLLM instance that honours `seed` (not a pool of different builds)",
            )
        )
    else:
        out.append(Check("seed", "ok", "two requests with seed 1234 answered alike"))
    answers = [a for a in free if a is not None]
    if len(answers) < 2:
        out.append(Check("sampling", "skip", "the unseeded probes failed"))
    elif len(set(answers)) == 1:
        out.append(
            Check(
                "sampling",
                "fail",
                f"{len(answers)} unseeded requests at temperature "
                f"{temperature} answered alike: sampling parameters are ignored",
                "check that the server honours temperature and top_p",
            )
        )
    else:
        out.append(
            Check("sampling", "ok", f"unseeded requests at temperature {temperature} differ")
        )
    return out


HELP = "preflight a model server: go or no-go for a run"
EXIT_NO_GO = 5


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import positive_int

    parser.add_argument("--base-url", required=True, help="the server (ending in /v1)")
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
    if failed:
        noun = "check" if len(failed) == 1 else "checks"
        print(f"no-go: {len(failed)} {noun} failed ({', '.join(c.name for c in failed)})")
        return EXIT_NO_GO
    print("go")
    return 0
