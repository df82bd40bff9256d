"""Checks of a model server against what a run needs: ``m1eval doctor`` runs them all, and
``m1eval run`` runs those that matter for its suite before the first sample.

Each check asks the server something small and compares the answer with what the protocol and
suites need; a failed check is one line with its fix:

* ``server``    ``/v1/models`` answers and lists the model;
* ``vllm``      ``/version`` lies inside the vLLM window of the profile serving the protocol;
* ``window``    ``max_model_len`` holds the longest prompt plus the generation budget;
* ``template``  the server renders a probe conversation (``/tokenize`` then ``/detokenize``)
  exactly as the template the suite expects does, default and per-request alike;
* ``tools``     a tool call round-trips (for suites whose requests carry tools);
* ``reasoning`` whether the thinking arrives in a separate field or inline in ``content``;
* ``seed``      two requests with one seed give one answer;
* ``sampling``  unseeded requests at the protocol's temperature differ.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import aiohttp

from m1eval import chat_templates as templates
from m1eval.model.client import PROBE_HEADER, ChatClient, ClientSettings
from m1eval.model.retry import RetryPolicy
from m1eval.model.types import RequestFailed
from m1eval.paths import vllm_profiles_dir
from m1eval.protocols import Protocol
from m1eval.serving import vllm
from m1eval.serving.faults import TOOL_PARSER_FIX, TRUST_TEMPLATE_FIX, configuration_fault
from m1eval.serving.probe import PROBE_MESSAGES, error_text, post_json, rendered_probe

PROBE_TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "City name, e.g. Paris"}},
        "required": ["location"]}}}]  # fmt: skip
TOOL_PROMPT = [{"role": "user", "content": "What is the weather in Paris right now? Use the "
                "get_weather tool."}]  # fmt: skip
SAMPLE_PROMPT = [{"role": "user", "content": "Write one unusual English word, nothing else."}]
DETAIL_CHARS = 300
NO_TOKENIZE = "the server has no /tokenize"


def one_line(text: Any, limit: int = DETAIL_CHARS) -> str:
    """Server text on one bounded line (an error body may span many)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass
class Check:
    name: str
    status: str  # ok, warn, fail, skip (could not be checked), n/a (does not apply)
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.upper():<5} {self.name:<10} {one_line(self.detail)}"
        return text + (f"; fix: {one_line(self.fix)}" if self.fix else "")


@dataclass
class Preflight:
    """What ``m1eval run`` found before its first sample (kept in the run's manifest)."""

    checks: list[Check] = field(default_factory=list)
    template: str = "not applicable"  # verified, declared, unverifiable, not applicable
    seconds: float = 0.0
    skipped: bool = False

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def record(self) -> dict[str, Any]:
        verdict = "skipped" if self.skipped else ("no-go" if self.failed else "go")
        return {"verdict": verdict, "template": self.template, "seconds": round(self.seconds, 3),
                "checks": [asdict(c) for c in self.checks]}  # fmt: skip


def one_cause_once(checks: list[Check]) -> list[Check]:
    """One fault, one FAIL: a later failure with the same fix as an earlier one is shown as
    following from it."""
    seen: dict[str, str] = {}
    out = []
    for c in checks:
        if c.status == "fail" and c.fix and c.fix in seen:
            c = Check(c.name, "skip", f"not checked apart: {seen[c.fix]} fails for the same cause")
        elif c.status == "fail" and c.fix:
            seen[c.fix] = c.name
        out.append(c)
    return out


def profile_for(protocol: Protocol, name: str | None) -> vllm.Profile | None:
    """The named vLLM profile, or the one sized for the protocol."""
    if name:
        return vllm.load_profile(name)
    for path in sorted(vllm_profiles_dir().glob("*.yaml")):
        profile = vllm.load_profile(str(path))
        if profile.protocol == protocol.name:
            return profile
    return None


def version_check(version: Any, profile: vllm.Profile | None) -> Check:
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


def window_check(window: Any, needs: dict[str, int], budget: int, protocol: str,
                 what: str = "prompts") -> Check:  # fmt: skip
    """``needs``: per suite, its longest prompt plus the budget."""
    worst = max(needs, key=lambda k: needs[k])
    prompt = needs[worst] - budget
    if not isinstance(window, int):
        return Check("window", "warn", "the server reports no max_model_len; prompts over its "
                     "window will be refused per sample")  # fmt: skip
    if window < needs[worst]:
        hint = " (or run mrcr with --mrcr-overflow fit)" if worst == "mrcr" else ""
        fix = f"serve with --max-model-len {needs[worst]}{hint}"
        if budget and prompt < window:
            fix += f", or lower the budget to --max-tokens {window - prompt}"
        detail = (f"max_model_len {window:,} < {needs[worst]:,} that {worst} needs ({prompt:,}-"
                  f"token {what} + {protocol}'s {budget:,}-token budget)")  # fmt: skip
        return Check("window", "fail", detail, fix)
    return Check("window", "ok", f"max_model_len {window:,} holds {worst}'s {prompt:,}-token "
                 f"{what} + the {budget:,}-token budget")  # fmt: skip


def assumed_window_check(window: int | None, assumed: int, suite: str) -> Check:
    """A suite that leaves out, by its own count, only the prompts longer than the window it
    assumes: the server must serve that window, or the items between would be refused."""
    if not isinstance(window, int):
        return Check("window", "warn", f"the server reports no max_model_len; {suite} leaves "
                     f"out prompts over {assumed:,} tokens by its own count")  # fmt: skip
    if window < assumed:
        return Check("window", "fail", f"max_model_len {window:,} < the {assumed:,}-token "
                     f"window {suite} assumes: the server would refuse prompts it must ask",
                     f"serve with --max-model-len {assumed}, or pass --max-context {window} "
                     "to leave longer prompts out (counted, the run incomplete)")  # fmt: skip
    return Check("window", "ok", f"max_model_len {window:,} serves the {assumed:,}-token "
                 f"window {suite} assumes")  # fmt: skip


def _first_difference(a: str, b: str) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return (
        f"first difference at character {i}: server {a[i : i + 30]!r}, expected {b[i : i + 30]!r}"
    )


async def template_check(session: aiohttp.ClientSession, root: str, model: str,
                         name: str, per_request: bool) -> Check:  # fmt: skip
    """Whether the server renders the probe conversation as template ``name`` does."""
    text = templates.template_text(name)
    extra: dict[str, Any] = {"tools": PROBE_TOOLS, "chat_template": text} if per_request else {}
    rendered, why = await rendered_probe(session, root, model, extra)
    label = f"{name} ({'per request' if per_request else 'server default'})"
    if rendered is None:
        if why and "--trust-request-chat-template" in why:
            return Check("template", "fail", f"{label}: the server refuses request templates",
                         TRUST_TEMPLATE_FIX)  # fmt: skip
        status = "n/a" if why == NO_TOKENIZE else "skip"
        return Check("template", status, f"{label}: {one_line(why)}")
    expected = templates.render(text, PROBE_MESSAGES, PROBE_TOOLS if per_request else None)
    if rendered == expected:
        return Check("template", "ok", f"{label} renders the probe exactly "
                     f"(sha256 {templates.text_sha256(text)[:12]})")  # fmt: skip
    fix = (f"start vLLM with --chat-template {templates.template_path(name)}" if not per_request
           else "serve a vLLM that applies request chat templates")  # fmt: skip
    return Check("template", "fail", f"{label}: the server renders the probe otherwise "
                 f"({_first_difference(rendered, expected)})", fix)  # fmt: skip


async def tools_check(client: ChatClient, protocol: Protocol, max_tokens: int) -> Check:
    """A tool call round trip with the protocol's tools template."""
    template = protocol.chat_templates.get("tools")
    plain = client.settings
    if template is not None:
        client.settings = replace(plain, tools_chat_template=templates.template_text(template))
    params = {**protocol.sampling, "max_tokens": max_tokens, "tools": PROBE_TOOLS,
              "tool_choice": "auto"}  # fmt: skip
    try:
        c = await client.complete(TOOL_PROMPT, params)
    except RequestFailed as failure:
        fault = configuration_fault(failure.status, failure.cause)
        if fault is not None:
            return Check("tools", "fail", fault[0], fault[1])
        return Check("tools", "fail", f"the tool probe failed: {one_line(failure.cause)}")
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
        return Check("tools", "fail", f"the tool call came back malformed: {fn!r:.120}",
                     "start vLLM with --tool-call-parser minimax")  # fmt: skip
    if "<tool_calls>" in c.answer:
        return Check("tools", "fail", "the call came back as text: no tool parser read it",
                     TOOL_PARSER_FIX)  # fmt: skip
    return Check("tools", "warn", "the model answered without calling the probe tool")


async def reasoning_check(session: aiohttp.ClientSession, base_url: str, model: str,
                          protocol: Protocol, max_tokens: int) -> Check:  # fmt: skip
    body = {"model": model, "messages": SAMPLE_PROMPT, "stream": False,
            **{k: v for k, v in protocol.sampling.items() if v is not None},
            "max_tokens": max_tokens}  # fmt: skip
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
    content = str(message.get("content") or "")
    if "<think>" in content or "</think>" in content:
        return Check("reasoning", "ok", "inline: <think> arrives in content (no reasoning "
                     "parser, as M1 is served); the client splits it")  # fmt: skip
    return Check("reasoning", "ok", "no thinking seen in the probe's answer")


async def seed_check(client: ChatClient, params: dict[str, Any], seed: int = 1234) -> Check:
    async def ask() -> str | None:
        try:
            c = await client.complete(SAMPLE_PROMPT, {**params, "seed": seed})
        except RequestFailed:
            return None
        return (c.reasoning or "") + "\x00" + c.answer

    first, second = await asyncio.gather(ask(), ask())
    if first is None or second is None:
        return Check("seed", "skip", "the seeded probes failed")
    if first != second:
        return Check("seed", "fail", f"two requests with seed {seed} answered differently: "
                     "the server ignores per-request seeds", "serve from one vLLM instance "
                     "that honours `seed` (not a pool of different builds), or drop "
                     "--seed")  # fmt: skip
    return Check("seed", "ok", f"two requests with seed {seed} answered alike")


async def sampling_check(client: ChatClient, params: dict[str, Any]) -> Check:
    temperature = params.get("temperature")

    async def ask() -> str | None:
        try:
            c = await client.complete(SAMPLE_PROMPT, params)
        except RequestFailed:
            return None
        return (c.reasoning or "") + "\x00" + c.answer

    answers = [a for a in await asyncio.gather(*(ask() for _ in range(3))) if a is not None]
    if len(answers) < 2:
        return Check("sampling", "skip", "the unseeded probes failed")
    if len(set(answers)) == 1:
        return Check("sampling", "fail", f"{len(answers)} unseeded requests at temperature "
                     f"{temperature} answered alike: sampling parameters are ignored",
                     "check that the server honours temperature and top_p")  # fmt: skip
    return Check("sampling", "ok", f"unseeded requests at temperature {temperature} differ")


def probe_client_settings(base_url: str, model: str, api_key: str | None,
                          content_format: str, timeout_s: float) -> ClientSettings:  # fmt: skip
    return ClientSettings(base_url=base_url, model=model, api_key=api_key,
                          content_format=content_format,
                          retry=RetryPolicy(max_attempts=2, base_delay_s=1.0),
                          min_request_timeout_s=timeout_s,
                          headers={PROBE_HEADER: "preflight"})  # fmt: skip


@dataclass
class RunNeeds:
    """What one run needs of its server: the template plan, the counted longest prompt and
    the budget, tools, a seed."""

    suite: str
    template: dict[str, Any] | None
    prompt_tokens: int | None  # None: the suite keeps its own per-item window policy
    budget: int
    uses_tools: bool
    seeded: bool
    declared_template_sha256: str | None = None  # from a --serving-fingerprint
    # for a suite with its own per-item window policy: the window it assumes (the protocol's,
    # or --max-context), which the server must serve
    assumed_window: int | None = None
    # where the rendering is asked: a model copy itself when the run goes through a router
    # (a router forwards /tokenize without the request's template)
    render_root: str | None = None
    tool_probe_tokens: int = 1024  # M1 thinks before it calls


async def run_preflight(settings: ClientSettings, protocol: Protocol, needs: RunNeeds,
                        window: int | None, timeout_s: float = 120.0) -> Preflight:  # fmt: skip
    """The checks that matter for one run; a failed one refuses it before anything is written."""
    started = time.perf_counter()
    out = Preflight()
    if needs.prompt_tokens is not None:
        out.checks.append(window_check(window, {needs.suite: needs.prompt_tokens + needs.budget},
                                       needs.budget, protocol.name, "prompt (counted)"))
    elif needs.assumed_window is not None:
        out.checks.append(assumed_window_check(window, needs.assumed_window, needs.suite))
    root = needs.render_root or settings.base_url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s),
                                     headers=headers) as session:  # fmt: skip
        if needs.template is not None:
            per_request = needs.template["delivered"].startswith("per request")
            check = await template_check(session, root, settings.model,
                                         needs.template["name"], per_request)  # fmt: skip
            out.checks.append(check)
            out.template = _template_state(check, needs)
    probing = replace(settings, retry=RetryPolicy(max_attempts=2, base_delay_s=1.0),
                      min_request_timeout_s=timeout_s,
                      headers={**settings.headers, PROBE_HEADER: "preflight"})
    async with ChatClient(probing) as client:
        if needs.uses_tools:
            out.checks.append(await tools_check(client, protocol, needs.tool_probe_tokens))
        if needs.seeded:
            params = {**protocol.sampling, "max_tokens": 64}
            out.checks.append(await seed_check(client, params))
    out.checks = one_cause_once(out.checks)
    out.seconds = time.perf_counter() - started
    return out


def _template_state(check: Check, needs: RunNeeds) -> str:
    if check.status == "ok":
        return "verified"
    if check.status == "fail":
        return "refused"
    assert needs.template is not None
    declared = needs.declared_template_sha256
    if declared is not None and declared == needs.template.get("sha256"):
        return "declared"
    return "unverifiable"
