"""vLLM's OpenAI-compatible server as it answers on the wire, per release, without a GPU.

No vLLM runs on a CPU machine, so the serving path is tested against this emulator, written
from reading the released code of each version it emulates (the ``vllm serve`` front end of
wheels 0.10.2, 0.12.0 and 0.23.0; file names below are theirs):

* chat completions stream as ``model_dump_json(exclude_unset=True)`` chunks
  (``serving_chat.py``; 0.23: ``chat_completion/serving.py``): a role chunk
  ``{"role": "assistant", "content": ""}`` with ``logprobs``/``finish_reason`` null (and
  ``prompt_token_ids`` null; 0.23 adds ``prompt_text`` null), one chunk per generated token with
  ``token_ids`` null, a final chunk carrying ``finish_reason`` and ``stop_reason`` whose delta is
  the end-of-sequence token's empty text (``{"content": ""}``; ``{}`` when a tool parser held
  the token back), then, with ``stream_options.include_usage``, a ``choices: []`` usage chunk
  serialised with ``exclude_none``; ``continuous_usage_stats`` puts usage on every chunk;
* the reasoning field of a delta (``protocol.py`` ``DeltaMessage``): ``reasoning_content`` up to
  0.10; in 0.12 ``reasoning`` plus the deprecated ``reasoning_content``, which a validator
  assigns on every delta (so it is present, as null, on content deltas too); ``reasoning`` only
  in 0.23. MiniMax-M1 has no reasoning parser: ``<think>`` arrives inline in ``content``;
* tool calls as the ``minimax`` parser streams them (``minimax_tool_parser.py``): text before
  ``<tool_calls>`` as content, the ``<tool_calls>`` token held back, then per call one delta with
  ``id`` (``chatcmpl-tool-…``), ``type``, ``index`` and ``function.name``, then its arguments
  text in pieces (``{"index": i, "function": {"arguments": …}}``); ``finish_reason`` is
  ``tool_calls``;
* refusals as ``ErrorResponse`` bodies ``{"error": {"message", "type", "param", "code"}}``
  with the release's wording: the context-length checks (0.10/0.12 ``serving_engine.py``;
  0.23 ``renderers/params.py``, including its character-count early refusal), a per-request
  ``chat_template`` without ``--trust-request-chat-template`` (0.11+), ``"auto"`` tool choice
  without ``--enable-auto-tool-choice``;
* ``/v1/models`` model cards with ``max_model_len``, ``/tokenize`` (prompt or chat messages
  rendered with the server's template), ``/detokenize``, ``/version``, ``/health``.

The model behind it is deterministic: the tokenizer cuts text into four-character tokens
(template markers are one token each, so ``/detokenize`` of ``/tokenize`` gives the prompt
back); replies come from :func:`m1eval.testing.stub_server.reply_text`, keyed by the request's
seed when one is sent (unless ``honour_seed`` is off) or its sample-id header; a request with
tools calls the first tool whose required parameters are all strings, then answers in text
after the result; a user-simulator prompt that mentions ``###STOP###`` gets one request for
help, then ``###STOP###``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from m1eval import chat_templates as templates
from m1eval.testing.app_thread import AppThread, serve_forever, spawn_module
from m1eval.testing.stub_server import SAMPLE_HEADER, StubConfig, reply_text

RELEASES = ("0.10.2", "0.12.0", "0.23.0")
SPECIAL_TOKENS = ("<begin_of_document>", "<beginning_of_sentence>", "<end_of_sentence>",
                  "<tool_calls>", "</tool_calls>", "<think>", "</think>")  # fmt: skip
CHARS_PER_TOKEN = 4
FILLER = " tok"  # one token of text past the reply (``ignore_eos``)
MAX_CHARS_PER_TOKEN = 16  # the longest token text of the emulated vocabulary (0.23's early check)
TOOL_PARSER_MSG = ('"auto" tool choice requires --enable-auto-tool-choice and '
                   "--tool-call-parser to be set")  # fmt: skip
UNTRUSTED_TEMPLATE_MSG = ("Chat template is passed with request, but "
                          "--trust-request-chat-template is not set. Refused request with "
                          "untrusted chat template.")  # fmt: skip


def _series(version: str) -> tuple[int, int]:
    major, minor = (int(x) for x in version.split(".")[:2])
    return major, minor


@dataclass
class EmulatorConfig:
    version: str = "0.23.0"
    model_id: str = "MiniMaxAI/MiniMax-M1-80k"
    max_model_len: int = 1_081_920
    chat_template: str = field(default_factory=lambda: templates.template_text("minimax_m1"))
    tool_parser: str | None = "minimax"  # --tool-call-parser with --enable-auto-tool-choice
    reasoning_parser: bool = False  # M1 has none: <think> stays inline in content
    think_separator: str = ""  # after "</think>", before the answer (M1 writes "\n\n")
    trust_request_chat_template: bool = True
    honour_seed: bool = True
    honour_temperature: bool = True  # off: every request is answered as if greedy
    answers: dict[str, str] = field(default_factory=dict)
    correct_rate: float = 0.5
    record_bodies: bool = False
    delay_s: float = 0.0  # before answering each chat request (a slower model)
    # other weights under the same card (same id, window, version and template): only the
    # answers differ
    weights: str = ""
    # a busy server's batch nondeterminism: this share of greedy or seeded replies differ
    greedy_noise: float = 0.0
    noise_seed: int = 0
    tokenize_error: bool = False  # /tokenize fails (HTTP 500, a multi-line body)
    # this share of samples (by sample id, every attempt) meets an engine that died: HTTP 500
    engine_error_rate: float = 0.0
    root: str | None = None  # the card's root: where the weights were loaded from
    # a latency model for streamed tokens: the token at generated position p (1-based)
    # arrives token_base_s + token_slope_s * p after the one before it (a softmax model's
    # decode slows with position; a flat model does not)
    token_base_s: float = 0.0
    token_slope_s: float = 0.0


def token_gap_s(base_s: float, slope_s: float, tokens: int, n: int = 1) -> float:
    """The latency model's time for the ``n`` tokens ending at position ``tokens``: the sum
    of ``base_s + slope_s * p`` over their positions p."""
    first = tokens - n + 1
    return base_s * n + slope_s * (first + tokens) * n / 2


class Tokenizer:
    """Reversible: special markers are one token, other text four characters a token."""

    _split = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []

    def pieces(self, text: str) -> list[str]:
        out: list[str] = []
        for part in self._split.split(text):
            if part in SPECIAL_TOKENS:
                out.append(part)
            else:
                out += [part[i : i + CHARS_PER_TOKEN] for i in range(0, len(part),
                                                                     CHARS_PER_TOKEN)]  # fmt: skip
        return out

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in self.pieces(text):
            if piece not in self.ids:
                self.ids[piece] = len(self.texts)
                self.texts.append(piece)
            ids.append(self.ids[piece])
        return ids

    def decode(self, ids: list[int]) -> str:
        return "".join(self.texts[i] for i in ids if 0 <= i < len(self.texts))


class RequestError(Exception):
    def __init__(self, message: str, status: int = 400, param: str | None = None,
                 err_type: str = "BadRequestError") -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.param, self.err_type = status, param, err_type


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.series = _series(config.version)
        self.tokenizer = Tokenizer()
        self.bodies: list[dict[str, Any]] = []
        self.usages: list[dict[str, int]] = []  # per answered chat request
        self.seen: list[dict[str, str | None]] = []  # routing headers of each chat request
        self.rng = random.Random(config.noise_seed)  # the busy server's draws, repeatable
        self.requests = 0  # chat requests of samples
        self.probes = 0  # a run's preflight and identity probes (X-M1eval-Probe)

    # --- request checks, in vLLM's order ---------------------------------------------------

    def render(self, body: dict[str, Any]) -> str:
        template = body.get("chat_template")
        if (
            template is not None
            and self.series >= (0, 11)
            and not (self.config.trust_request_chat_template)
        ):
            raise RequestError(UNTRUSTED_TEMPLATE_MSG)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("messages must be a non-empty list")
        try:
            return templates.render(template or self.config.chat_template, messages,
                                    body.get("tools"),
                                    bool(body.get("add_generation_prompt", True)))  # fmt: skip
        except templates.TemplateRefused as exc:
            raise RequestError(str(exc)) from None

    def check_tools(self, body: dict[str, Any]) -> bool:
        """Whether the reply is parsed for M1's tool calls (another parser, such as hermes,
        leaves M1's ``<tool_calls>`` block in the content)."""
        if not body.get("tools"):
            return False
        choice = body.get("tool_choice", "auto")
        if choice == "auto" and self.config.tool_parser is None:
            raise RequestError(TOOL_PARSER_MSG)
        return choice == "auto" and self.config.tool_parser == "minimax"

    def check_length(self, prompt: str, n_prompt: int, max_tokens: int | None) -> None:
        window = self.config.max_model_len
        if self.series >= (0, 23):
            out = max_tokens if max_tokens is not None else 0
            max_input = window - out
            max_chars = max_input * MAX_CHARS_PER_TOKEN
            head = (f"This model's maximum context length is {window} tokens. However, you "
                    f"requested {out} output tokens and your prompt contains ")  # fmt: skip
            tail = ("Please reduce the length of the input prompt or the number of requested "
                    "output tokens.")  # fmt: skip
            if len(prompt) > max_chars:
                raise RequestError(head + f"{len(prompt)} characters (more than {max_chars} "
                                   f"characters, which is the upper bound for {max_input} "
                                   f"input tokens). {tail}", param="input_text")  # fmt: skip
            if n_prompt > max_input:
                raise RequestError(head + f"{n_prompt} input tokens, for a total of "
                                   f"{n_prompt + out} tokens. {tail}",
                                   param="input_tokens")  # fmt: skip
            return
        if n_prompt >= window:
            raise RequestError(f"This model's maximum context length is {window} tokens. "
                               f"However, your request has {n_prompt} input tokens. Please "
                               "reduce the length of the input messages.")  # fmt: skip
        if max_tokens is not None and n_prompt + max_tokens > window:
            raise RequestError(f"'max_tokens' or 'max_completion_tokens' is too large: "
                               f"{max_tokens}. This model's maximum context length is {window} "
                               f"tokens and your request has {n_prompt} input tokens "
                               f"({max_tokens} > {window} - {n_prompt}).")  # fmt: skip

    # --- the model ---------------------------------------------------------------------------

    def generate(self, body: dict[str, Any], parse_tools: bool, key: str) -> str:
        messages = body["messages"]
        system = _text(messages[0].get("content")) if messages[0].get("role") == "system" else ""
        if "###STOP###" in system and not body.get("tools"):  # a simulated user: two turns
            spoken = sum(m.get("role") == "assistant" for m in messages)
            return "###STOP###" if spoken >= 2 else "I would like help with my booking."
        if body.get("tools") and self.config.tool_parser and messages[-1].get("role") != "tool":
            call = _first_callable(body["tools"])
            if call is not None:
                return (f"<think>I should call {call[0]}.</think>\n<tool_calls>\n"
                        + json.dumps({"name": call[0], "arguments": call[1]}, ensure_ascii=False)
                        + "\n</tool_calls>")  # fmt: skip
        prompt = "\n".join(_text(m.get("content")) for m in messages)
        stub = StubConfig(answers=self.config.answers, correct_rate=self.config.correct_rate,
                          think_separator=self.config.think_separator)  # fmt: skip
        return reply_text(stub, key, prompt)

    def sample_key(self, request: web.Request, body: dict[str, Any]) -> str:
        """What makes a reply: the seed when honoured, else the sample id, else chance; at
        temperature 0 the prompt alone."""
        seed = body.get("seed")
        weights = self.config.weights
        noise = "" if self.rng.random() >= self.config.greedy_noise else uuid.uuid4().hex
        if seed is not None and self.config.honour_seed:
            return f"{weights}{noise}seed={seed}|{json.dumps(body.get('messages'), sort_keys=True)}"
        if body.get("temperature") == 0 or not self.config.honour_temperature:
            return f"{weights}{noise}greedy|{json.dumps(body.get('messages'), sort_keys=True)}"
        return weights + (request.headers.get(SAMPLE_HEADER) or uuid.uuid4().hex)

    # --- wire shapes -------------------------------------------------------------------------

    def delta(self, **fields: Any) -> dict[str, Any]:
        """A DeltaMessage as ``exclude_unset`` serialises it in this release."""
        reasoning = fields.pop("reasoning", None)
        out = dict(fields)
        if self.series >= (0, 23):
            if reasoning is not None:
                out["reasoning"] = reasoning
        elif self.series >= (0, 11):
            if reasoning is not None:
                out["reasoning"] = reasoning
            out["reasoning_content"] = reasoning  # the deprecated copy, set on every delta
        elif reasoning is not None:
            out["reasoning_content"] = reasoning
        return out

    def chunk(self, rid: str, created: int, choice: dict[str, Any] | None, usage: Any = None,
              first: bool = False) -> bytes:  # fmt: skip
        event: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk",
                                 "created": created, "model": self.config.model_id,
                                 "choices": [choice] if choice is not None else []}  # fmt: skip
        if first:
            event["prompt_token_ids"] = None
            if self.series >= (0, 23):
                event["prompt_text"] = None
        if usage is not None:
            event["usage"] = usage
        return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _first_callable(tools: list[dict[str, Any]]) -> tuple[str, dict[str, str]] | None:
    """The first tool whose required parameters are all strings, with each set to "probe"."""
    for tool in tools:
        fn = tool.get("function") or tool
        params = fn.get("parameters") or {}
        props = params.get("properties") or {}
        required = params.get("required") or []
        if all((props.get(r) or {}).get("type") == "string" for r in required):
            return fn.get("name", ""), {r: "probe" for r in required}
    return None


def _split_reply(text: str, reasoning_parser: bool, parse_tools: bool
                 ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:  # fmt: skip
    """(pieces, calls): pieces are (field, text) deltas in order; calls (name, arguments
    text) as the model wrote them inside <tool_calls>."""
    pieces: list[tuple[str, str]] = []
    body = text
    if reasoning_parser and body.startswith("<think>") and "</think>" in body:
        thought, body = body[len("<think>") :].split("</think>", 1)
        pieces.append(("reasoning", thought))
    calls: list[tuple[str, str]] = []
    if parse_tools and "<tool_calls>" in body:
        before, rest = body.split("<tool_calls>", 1)
        inner = rest.split("</tool_calls>", 1)[0]
        pieces.append(("content", before))
        for line in inner.strip().splitlines():
            match = re.match(r'\{"name": (".*?"), "arguments": (.*)\}$', line.strip())
            if match:
                calls.append((json.loads(match.group(1)), match.group(2)))
        return pieces, calls
    pieces.append(("content", body))
    return pieces, calls


def _unit(key: str) -> float:
    """A reproducible number in [0, 1) from ``key``."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / 16**12


def make_app(emu: Emulator) -> web.Application:
    cfg = emu.config

    def error(exc: RequestError) -> web.Response:
        return web.json_response({"error": {"message": str(exc), "type": exc.err_type,
                                            "param": exc.param, "code": exc.status}},
                                 status=exc.status)  # fmt: skip

    async def models(_: web.Request) -> web.Response:
        created = int(time.time())
        card = {"id": cfg.model_id, "object": "model", "created": created, "owned_by": "vllm",
                "root": cfg.root or cfg.model_id, "parent": None,
                "max_model_len": cfg.max_model_len,
                "permission": [{"id": f"modelperm-{uuid.uuid4().hex}",
                                "object": "model_permission", "created": created,
                                "allow_create_engine": False, "allow_sampling": True,
                                "allow_logprobs": True, "allow_search_indices": False,
                                "allow_view": True, "allow_fine_tuning": False,
                                "organization": "*", "group": None,
                                "is_blocking": False}]}  # fmt: skip
        return web.json_response({"object": "list", "data": [card]})

    async def seen(_: web.Request) -> web.Response:  # the test kit's own, not vLLM's
        return web.json_response(emu.seen)

    async def version(_: web.Request) -> web.Response:
        return web.json_response({"version": cfg.version})

    async def health(_: web.Request) -> web.Response:
        return web.Response(status=200)

    async def tokenize(request: web.Request) -> web.Response:
        body = await request.json()
        if cfg.tokenize_error:
            return web.Response(status=500, text="Internal Server Error\n\nTraceback (most "
                                "recent call last):\n  ...\nRuntimeError: tokenizer gone")
        try:
            text = emu.render(body) if "messages" in body else str(body.get("prompt", ""))
        except RequestError as exc:
            return error(exc)
        ids = emu.tokenizer.encode(text)
        return web.json_response({"count": len(ids), "max_model_len": cfg.max_model_len,
                                  "tokens": ids, "token_strs": None})  # fmt: skip

    async def detokenize(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"prompt": emu.tokenizer.decode(list(body.get("tokens") or []))})

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("model") != cfg.model_id:  # vLLM's _check_model
            return error(RequestError(f"The model `{body.get('model')}` does not exist.",
                                      status=404, err_type="NotFoundError"))
        probe = bool(request.headers.get("X-M1eval-Probe"))  # a run's probe, not a sample
        emu.probes += probe
        emu.requests += not probe
        if not probe:
            emu.seen.append({"session": request.headers.get("X-Session-Id"),
                             "sample": request.headers.get(SAMPLE_HEADER)})  # fmt: skip
        if cfg.delay_s:
            await asyncio.sleep(cfg.delay_s)
        sample = request.headers.get(SAMPLE_HEADER) or ""
        if not probe and sample and _unit(sample) < cfg.engine_error_rate:
            return error(RequestError("EngineCore encountered an issue. See stack trace (above) "
                                      "for the root cause.", status=500,
                                      err_type="InternalServerError"))  # fmt: skip
        if cfg.record_bodies and not probe:
            emu.bodies.append(body)
        try:
            parse_tools = emu.check_tools(body)
            prompt = emu.render(body)
            prompt_ids = emu.tokenizer.encode(prompt)
            max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
            emu.check_length(prompt, len(prompt_ids), max_tokens)
        except RequestError as exc:
            return error(exc)
        reply = emu.generate(body, parse_tools, emu.sample_key(request, body))
        tokens = emu.tokenizer.pieces(reply)
        while body.get("ignore_eos") and max_tokens and len(tokens) < int(max_tokens):
            # vLLM's sampling extension: no early stop; text past the reply up to max_tokens
            reply += FILLER * (int(max_tokens) - len(tokens))
            tokens = emu.tokenizer.pieces(reply)
        finish = "stop"
        if max_tokens is not None and len(tokens) >= max_tokens:
            tokens, finish = tokens[:max_tokens], "length"
        text = "".join(tokens)
        pieces, calls = _split_reply(text, cfg.reasoning_parser, parse_tools)
        n_prompt = len(prompt_ids)
        n_completion = len(tokens) + (1 if finish == "stop" else 0)  # the EOS token
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if calls and finish == "stop":
            finish = "tool_calls"
        if not probe:
            emu.usages.append({"prompt_tokens": n_prompt, "completion_tokens": n_completion})
        if not body.get("stream"):
            return web.json_response(_full_response(emu, rid, created, pieces, calls, finish,
                                                    n_prompt, n_completion))  # fmt: skip
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        continuous = include_usage and bool(options.get("continuous_usage_stats"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        sent = 0

        def usage(done: int) -> dict[str, int] | None:
            if not continuous:
                return None
            return {"prompt_tokens": n_prompt, "total_tokens": n_prompt + done,
                    "completion_tokens": done}  # fmt: skip

        def choice(delta: dict[str, Any], finish_reason: str | None = None,
                   last: bool = False) -> dict[str, Any]:  # fmt: skip
            out = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            if last:
                out["stop_reason"] = None
            out["token_ids"] = None
            return out

        role = {"index": 0, "delta": emu.delta(role="assistant", content=""), "logprobs": None,
                "finish_reason": None}  # fmt: skip
        await resp.write(emu.chunk(rid, created, role, usage(0), first=True))
        deltas: list[tuple[dict[str, Any], int]] = []  # (delta, tokens it spends)
        for fld, piece in pieces:
            for tok in emu.tokenizer.pieces(piece):
                deltas.append((emu.delta(**{fld: tok}), 1))
        if calls:
            deltas.append(({}, 1))  # <tool_calls> is one token and is held back (no chunk)
            for i, (name, args) in enumerate(calls):
                call_id = f"chatcmpl-tool-{uuid.uuid4().hex}"
                head = {"index": i, "type": "function", "id": call_id,
                        "function": {"name": name}}  # fmt: skip
                deltas.append((emu.delta(tool_calls=[head]), 1))
                for j in range(0, len(args), 3 * CHARS_PER_TOKEN):
                    part = {
                        "index": i,
                        "function": {"arguments": args[j : j + 3 * CHARS_PER_TOKEN]},
                    }
                    deltas.append((emu.delta(tool_calls=[part]), 3))
        if finish == "length" and deltas:
            # cut by max_tokens: the last token's own chunk carries the finish reason
            last_delta, last_n = deltas.pop()
            ending = (last_delta or emu.delta(), last_n)
        else:  # the end-of-sequence token (and </tool_calls>) add no text
            ending = (emu.delta() if calls else emu.delta(content=""),
                      n_completion - sum(n for _, n in deltas))  # fmt: skip
        paced = cfg.token_base_s > 0 or cfg.token_slope_s > 0
        last = time.perf_counter()
        oversleep = 0.0  # how late the event loop wakes, on average: asked for that much less
        try:
            for delta, n in deltas:
                sent += n
                if paced:  # the latency model's gap after the token before (a late token
                    # delays the next, as a slow decode step does; nothing catches up)
                    due = last + token_gap_s(cfg.token_base_s, cfg.token_slope_s, sent, n)
                    await asyncio.sleep(max(0.0, due - oversleep - time.perf_counter()))
                    last = time.perf_counter()
                    oversleep = max(0.0, 0.9 * oversleep + 0.1 * (last - due + oversleep))
                if delta:
                    await resp.write(emu.chunk(rid, created, choice(delta), usage(sent)))
                await asyncio.sleep(0)
            sent += ending[1]
            await resp.write(emu.chunk(rid, created, choice(ending[0], finish, last=True),
                                       usage(sent)))  # fmt: skip
            if include_usage:
                total = {"prompt_tokens": n_prompt, "total_tokens": n_prompt + n_completion,
                         "completion_tokens": n_completion}  # fmt: skip
                await resp.write(emu.chunk(rid, created, None, total))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except ConnectionResetError:
            pass
        return resp

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/version", version)
    app.router.add_get("/health", health)
    app.router.add_get("/emulator/requests", seen)
    app.router.add_post("/tokenize", tokenize)
    app.router.add_post("/detokenize", detokenize)
    app.router.add_post("/v1/chat/completions", chat)
    return app


def _full_response(emu: Emulator, rid: str, created: int, pieces: list[tuple[str, str]],
                   calls: list[tuple[str, str]], finish: str, n_prompt: int,
                   n_completion: int) -> dict[str, Any]:  # fmt: skip
    content = "".join(t for f, t in pieces if f == "content")
    reasoning = "".join(t for f, t in pieces if f == "reasoning") or None
    if calls:
        content = content.strip() or None
    message: dict[str, Any] = {"role": "assistant", "content": content, "tool_calls": []}
    if calls:
        message["tool_calls"] = [
            {"id": f"chatcmpl-tool-{uuid.uuid4().hex}", "type": "function",
             "function": {"name": name,
                          "arguments": json.dumps(json.loads(args), ensure_ascii=False)}}
            for name, args in calls
        ]  # fmt: skip
    if emu.series >= (0, 11):
        message["reasoning"] = reasoning
    if emu.series < (0, 23):
        message["reasoning_content"] = reasoning
    return {"id": rid, "object": "chat.completion", "created": created,
            "model": emu.config.model_id,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish, "stop_reason": None}],
            "usage": {"prompt_tokens": n_prompt, "total_tokens": n_prompt + n_completion,
                      "completion_tokens": n_completion, "prompt_tokens_details": None},
            "prompt_logprobs": None}  # fmt: skip


class VllmEmulator(AppThread):
    """``with VllmEmulator(EmulatorConfig(version="0.12.0")) as server: server.base_url``."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.emulator = Emulator(config or EmulatorConfig())
        super().__init__(make_app(self.emulator))

    def __enter__(self) -> VllmEmulator:
        super().__enter__()
        return self


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--release", choices=RELEASES, default="0.23.0")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", type=Path)
    p.add_argument("--model", default="MiniMaxAI/MiniMax-M1-80k")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--token-latency", default="0",
                   help="BASE[,SLOPE]: seconds between streamed tokens, BASE + SLOPE x position")
    p.add_argument("--max-model-len", type=int, default=1_081_920)
    p.add_argument("--no-tool-parser", action="store_true")
    p.add_argument("--tool-parser", default="minimax", help="a parser that is not M1's "
                   "(hermes) leaves M1's tool calls in the content")
    p.add_argument("--weights", default="", help="other weights under the same card")
    p.add_argument("--root", help="the card's root (the weights' path; default: the model id)")
    p.add_argument("--greedy-noise", type=float, default=0.0,
                   help="share of greedy or seeded replies that differ (a busy server)")
    p.add_argument("--chat-template", default="minimax_m1", help="a shipped template's name")
    p.add_argument(
        "--answers",
        type=Path,
        help="JSON: prompt substring -> the reply's answer (scripted replies)",
    )
    p.add_argument("--engine-error-rate", type=float, default=0.0,
                   help="share of samples answered HTTP 500 on every attempt (a dead engine)")
    p.add_argument(
        "--correct-rate",
        type=float,
        default=0.5,
        help="share of samples that give the scripted answer unchanged",
    )
    args = p.parse_args(argv)
    try:
        token_latency = [float(x) for x in args.token_latency.split(",")] + [0.0]
    except ValueError:
        p.error(f"--token-latency takes BASE[,SLOPE] in seconds, got {args.token_latency!r}")
    emu = Emulator(
        EmulatorConfig(
            version=args.release,
            max_model_len=args.max_model_len,
            tool_parser=None if args.no_tool_parser else args.tool_parser,
            weights=args.weights,
            root=args.root,
            greedy_noise=args.greedy_noise,
            chat_template=templates.template_text(args.chat_template),
            model_id=args.model,
            delay_s=args.delay,
            token_base_s=token_latency[0],
            token_slope_s=token_latency[1],
            answers=json.loads(args.answers.read_text()) if args.answers else {},
            correct_rate=args.correct_rate,
            engine_error_rate=args.engine_error_rate,
        )
    )

    serve_forever(
        make_app(emu), args.host, args.port, args.port_file, f"vLLM {args.release} emulator"
    )


if __name__ == "__main__":
    main()


def spawn(workdir: Path, *args: str, host: str = "127.0.0.1", timeout_s: float = 20.0
          ) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """Start an emulator process; return it and its base URL once it listens."""
    return spawn_module("m1eval.testing.vllm_emulator", workdir, ("--host", host, *args),
                        host=host, timeout_s=timeout_s)  # fmt: skip
