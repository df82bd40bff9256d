"""``m1eval profile flops | latency | serve``: the efficiency claim, computed, measured per
kernel, and measured on a live endpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from m1eval.errors import ConfigError

HELP = "compute profiles"
CONVENTIONS = ["paper-figure", "config", "standard", "mla-absorbed"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import Parser

    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    flops = sub.add_parser("flops", help="analytic FLOPs of long generations (CPU)")
    flops.add_argument("--convention", default="paper-figure", choices=CONVENTIONS)
    flops.add_argument("--lengths", help="comma-separated generation lengths in tokens")
    flops.add_argument("--format", choices=["table", "json"], default="table")
    flops.add_argument("--results-dir", default="results")
    latency = sub.add_parser("latency", help="lightning vs softmax attention latency (GPU)")
    latency.add_argument("--from", dest="source", type=Path, action="append",
                         help="render a saved attention_latency.json instead of measuring; "
                         "repeat to join the parts of one device's runs (decode, prefill)")
    latency.add_argument("--results-dir", default="results")
    _serve_parser(sub)


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    from m1eval.commands.args import http_url, positive_int

    serve = sub.add_parser("serve", help="inter-token latency of a live endpoint over long "
                           "generations, by position and concurrency")  # fmt: skip
    serve.add_argument("--base-url", type=http_url,
                       help="the endpoint (…/v1); without it, --model embedded starts the "
                       "embedded llama.cpp server")  # fmt: skip
    serve.add_argument("--model", default="embedded", help="the served model's id")
    serve.add_argument("--baseline-url", type=http_url,
                       help="a second endpoint (a softmax model) measured the same way")
    serve.add_argument("--baseline-model", help="its model id (default: --model)")
    serve.add_argument("--length", type=positive_int, default=512,
                       help="tokens per generation (102400 for the paper's claim)")
    serve.add_argument("--concurrency", default="1",
                       help="comma-separated concurrency levels, e.g. 1,8,32")
    serve.add_argument("--generations", type=positive_int, default=1,
                       help="generations per level (at least the level)")
    serve.add_argument("--buckets", type=positive_int, default=10, help="position buckets")
    serve.add_argument("--prompt", help="the prompt (default: a long-story request)")
    serve.add_argument("--ban-token", type=int, action="append", default=[],
                       help="a token id never to sample (an end-of-sequence id), repeatable")
    serve.add_argument("--projection", type=Path,
                       help="a profile latency result (attention_latency.json): overlay "
                       "its kernel-level projection")  # fmt: skip
    serve.add_argument("--api-key-env", default="OPENAI_API_KEY")
    serve.add_argument("--out", type=Path, default=Path("results/profile-serve"))


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.action == "serve":
        from m1eval.commands.profile_serve import serve

        return serve(args)
    return _flops(args) if args.action == "flops" else _latency(args)


def _flops(args: argparse.Namespace) -> int:
    from m1eval.fsutil import atomic_write_json
    from m1eval.profiler.flops import DEFAULT_LENGTHS, MODELS, cost, load_config, plot, profile

    lengths = DEFAULT_LENGTHS
    if args.lengths:
        try:
            lengths = tuple(int(x) for x in args.lengths.split(",") if x.strip())
        except ValueError:
            raise ConfigError(f"--lengths must be integers, got {args.lengths!r}") from None
        if not lengths or min(lengths) < 1:
            raise ConfigError("--lengths must be positive integers")
    result = profile(args.convention, lengths)
    out_dir = Path(args.results_dir) / f"profile-flops-{args.convention}"
    atomic_write_json(out_dir / "flops.json", result)
    plot({m: cost(load_config(m), args.convention) for m in MODELS}, out_dir / "flops.png",
         args.convention, max(max(lengths), 131072))  # fmt: skip
    if args.format == "json":
        print(json.dumps({"convention": result["convention"], "models": result["models"]}))
        return 0
    from m1eval.profiler.tables import print_flops

    print_flops(result, out_dir)
    return 0


def _latency(args: argparse.Namespace) -> int:
    import os

    from m1eval.profiler.report import floors, load, plot

    out_dir = Path(args.results_dir) / "profile-latency"
    if args.source is None:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is None or not torch.cuda.is_available():
            raise ConfigError(
                "measuring needs a CUDA GPU with PyTorch, Triton and fla-core; run "
                "benchmarks/attention_latency.py there and pass its JSON with --from"
            )
        from m1eval.profiler import latency

        out_dir.mkdir(parents=True, exist_ok=True)
        os.environ["OUT"] = str(out_dir)
        latency.main()
        sources = [out_dir / "attention_latency.json"]
    else:
        sources = args.source
    parts = [load(p) for p in sources]
    if not any("lightning_decode" in p for p in parts):
        raise ConfigError("prefill-only parts: pass the decode part too (--from DECODE.json "
                          "--from PREFILL.json)")  # fmt: skip
    target = out_dir / "attention_latency.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    from m1eval.fsutil import atomic_write_json

    if len(parts) > 1:
        from m1eval.profiler.report import merge

        try:
            result = merge(parts)
        except ValueError as exc:
            raise ConfigError(f"cannot join {', '.join(map(str, sources))}: {exc}") from None
    else:
        result = parts[0]
    atomic_write_json(target, result)  # as rendered: no time below its floor
    plot(result, out_dir / "latency.png")
    from m1eval.profiler.tables import print_latency

    print_latency(result, floors(result), out_dir)
    return 0
