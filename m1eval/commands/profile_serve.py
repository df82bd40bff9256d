"""``m1eval profile serve``: a live endpoint's latency over long generations (the helper of
``m1eval profile``; not a command of its own)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Iterator
from typing import Any

from m1eval.errors import ConfigError

# SmolLM2's <|endoftext|> and <|im_end|>: banned so the embedded model runs to --length
EMBEDDED_EOS_TOKENS = (0, 2)


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--concurrency takes comma-separated integers, got {text!r}") from None
    if not levels or min(levels) < 1 or len(set(levels)) != len(levels):
        raise ConfigError(f"--concurrency takes distinct positive integers, got {text!r}")
    return levels


@contextlib.contextmanager
def _endpoint(args: argparse.Namespace) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(base URL, model id, tokens to ban): the given endpoint, or the embedded server."""
    if args.base_url:
        yield args.base_url, args.model, tuple(args.ban_token)
        return
    if args.model != "embedded":
        raise ConfigError("--base-url is required unless --model embedded")
    from m1eval.model.embedded import EMBEDDED_MODEL_ID, EmbeddedServer

    n_ctx = max(2048, args.length + 1024)
    with EmbeddedServer(n_ctx=n_ctx) as server:
        yield server.base_url, EMBEDDED_MODEL_ID, tuple(args.ban_token) or EMBEDDED_EOS_TOKENS


def serve(args: argparse.Namespace) -> int:
    from m1eval.fsutil import atomic_write_bytes, atomic_write_json, atomic_write_text
    from m1eval.profiler import serve_report
    from m1eval.profiler.serve import DEFAULT_PROMPT, ServeSettings, measure

    levels = _levels(args.concurrency)
    latency = None
    if args.projection is not None:
        from m1eval.profiler.report import load

        latency = load(args.projection)
    api_key = os.environ.get(args.api_key_env) or None
    prompt = args.prompt or DEFAULT_PROMPT
    with _endpoint(args) as (url, model, ban):
        target = ServeSettings(url, model, args.length, levels, args.generations,
                               args.buckets, prompt, api_key, ban)  # fmt: skip
        fp, got, traces = measure(target, "target")
    baseline_part, all_traces = None, {"target": traces}
    settings: dict[str, Any] = {
        "length": args.length, "concurrency": list(levels), "generations": args.generations,
        "buckets": args.buckets, "prompt": prompt,
        "prompt_tokens": _prompt_tokens(traces),
        "target": {"base_url": url, "model": model, "ban_tokens": list(ban)},
    }  # fmt: skip
    if args.baseline_url:
        bmodel = args.baseline_model or model
        base = ServeSettings(args.baseline_url, bmodel, args.length, levels, args.generations,
                             args.buckets, prompt, api_key, tuple(args.ban_token))  # fmt: skip
        bfp, bgot, btraces = measure(base, "baseline")
        baseline_part = (bfp, bgot)
        all_traces["baseline"] = btraces
        settings["baseline"] = {"base_url": args.baseline_url, "model": bmodel,
                                "ban_tokens": list(args.ban_token)}  # fmt: skip
    if not any(lv["ok"] for lv in got):
        raise ConfigError(f"no generation streamed a token from {url}: "
                          f"{(got[0]['failed'] or ['?'])[0]}")  # fmt: skip
    result = serve_report.assemble(settings, (fp, got), baseline_part, latency)
    out = args.out
    atomic_write_json(out / "serve.json", result)
    atomic_write_text(out / "traces.jsonl", serve_report.traces_jsonl(all_traces, list(levels)))
    png = io.BytesIO()
    serve_report.plot(result, png)
    atomic_write_bytes(out / "serve.png", png.getvalue())
    serve_report.print_result(result, out)
    return 0


def _prompt_tokens(traces: list[list[Any]]) -> int | None:
    counts = {t.prompt_tokens for group in traces for t in group if t.prompt_tokens}
    return counts.pop() if len(counts) == 1 else None
