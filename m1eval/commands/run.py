"""``m1eval run``: evaluate a model on a suite."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from m1eval import boundedjson
from m1eval.commands.args import (
    add_suite_options,
    http_url,
    number,
    positive_int,
    suite_options,
)
from m1eval.errors import ConfigError

HELP = "evaluate a model on a suite"
EXIT_INCOMPLETE = 4


def add_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--suite", required=True, help="suite name (see `m1eval suites`), or lm-eval:TASK")
    add("--model", help="model name on the server (default with --base-url: the one the server "
        "lists), or 'embedded' (the default without --base-url)")
    add("--base-url", type=http_url,
        help="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    add("--api-key-env", default="OPENAI_API_KEY", help="env var holding the API key, if any")
    add("--protocol", help="model setup: a name in protocols/ or a path to a YAML file "
        "(default m1-80k; 'embedded' for the embedded model)")
    add("--limit", type=positive_int, help="first N items only")
    add("--repeats", "--trials", type=positive_int,
        help="samples per item (default: suite's); TAU-bench trials")
    add("--max-tokens", type=positive_int,
        help="generation budget (default: the protocol's, 81920 for m1-80k)")
    add("--temperature", type=float, help="0..2 (default: the protocol's, 1.0 for m1-80k)")
    add("--top-p", type=float, help="(0, 1] (default: the protocol's, 0.95)")
    add("--seed", type=int, help="derive a per-sample seed sent to the server")
    add("--concurrency", type=positive_int, default=16, help="requests in flight (default 16)")
    add("--content-format", choices=["string", "parts"])
    add("--run-id", help="name of the run directory (default: derived from config)")
    add("--replica", action="append", default=[], metavar="URL", type=http_url,
        help="a model copy behind the --base-url router (repeatable; default: the router's "
        "own worker list); copies that differ are refused")
    add("--executor", choices=["local", "ray"], default="local",
        help="where container work (SWE-bench gradings, LiveCodeBench sandboxes) runs: this "
        "host, or the Docker nodes of a Ray cluster")
    add("--ray-address", help="the Ray cluster (default: auto, RAY_ADDRESS)")
    add("--shard", metavar="i/N", help="run only shard i of N (split by sample id; one run "
        "directory per shard, joined with `m1eval merge`)")
    add("--results-dir", default="results", help="where run directories go (default results/)")
    add("--data-dir", help="offline dataset mirror (DIR/<hf_repo_id>/)")
    add("--split", help="dataset split (default: suite's; 'smoke' for the demo split)")
    add("--no-progress", action="store_true")
    add("--keep-errors", action="store_true",
        help="do not re-attempt samples that ended as infra_error in an earlier invocation")
    add("--allow-endpoint-change", action="store_true",
        help="resume a run although another server (address, /models, serving) answers now")
    add("--skip-preflight", action="store_true",
        help="ask without first checking that the server can serve this run's protocol "
        "(template, window, tools, seed); recorded in the manifest")
    add("--max-attempts", type=positive_int, default=6, help="HTTP attempts")
    add("--retry-base-delay", type=number(0), default=1.0,
        help="first backoff ceiling in seconds (default: 1)")
    add("--stall-timeout", type=number(0, open_lo=True), default=900.0,
        help="seconds of silence before the first token (queue and prefill) after which a "
        "request is retried (default: 900, plus 120 per MB of prompt)")
    add("--token-gap-timeout", type=number(0, open_lo=True), default=300.0,
        help="seconds of silence between tokens after which a request is retried on another "
        "copy (default: 300)")
    add("--json", action="store_true", help="print the summary as JSON")
    add("--serving-fingerprint", type=Path,
        help="the file `m1eval serve vllm --fingerprint-out` wrote")
    add("--serving-profile", help="the vLLM profile of a server m1eval did not start")
    add("--max-context", type=positive_int,
        help="the served model's context window in tokens (default: the server's max_model_len)")
    add("--tokenizer", help="tokenizer for prompt truncation: auto, server, o200k or hf:NAME "
        "(LongBench-v2; default: the protocol's, else auto)")
    add_suite_options(parser)
    add("--any-model", action="store_true", help="do not require /models to list --model")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.config import RunConfig, parse_shard, resolve_sampling, validate_run_id
    from m1eval.evaluate import ExecutionOptions, resolve_model, run_evaluation
    from m1eval.model.retry import RetryPolicy
    from m1eval.protocols import load_protocol
    from m1eval.registry import get_suite
    from m1eval.terminal import print_summary

    suite = get_suite(args.suite, suite_options(args))
    if args.tokenizer and not suite.needs_tokenizer:
        raise ConfigError(f"--tokenizer: {suite.name} counts no prompt tokens with it (only "
                          "longbench-v2 truncates prompts); drop it")  # fmt: skip
    model, embedded = resolve_model(args.model, args.base_url)
    protocol = load_protocol(args.protocol or ("embedded" if embedded else "m1-80k"))
    sampling = resolve_sampling(suite.spec, protocol, {
        "max_tokens": args.max_tokens, "temperature": args.temperature, "top_p": args.top_p})
    if args.run_id is not None:
        validate_run_id(args.run_id)
    config = RunConfig(
        suite=suite.name, split=args.split or suite.spec.dataset.split, protocol=protocol.name,
        model=model or "", base_url=args.base_url, embedded=embedded, sampling=sampling,
        content_format=_content_format(args.content_format, protocol.content_format, embedded),
        system_prompt=protocol.system_prompt, seed=args.seed,
        repeats=args.repeats or int(suite.spec.method.get("repeats", 1)), limit=args.limit,
        concurrency=args.concurrency, results_dir=Path(args.results_dir),
        data_dir=Path(args.data_dir) if args.data_dir else None, run_id=args.run_id,
    )  # fmt: skip
    options = ExecutionOptions(
        progress=not args.no_progress, retry_errors=not args.keep_errors,
        retry=RetryPolicy(max_attempts=args.max_attempts, base_delay_s=args.retry_base_delay),
        stall_timeout_s=args.stall_timeout, token_gap_s=args.token_gap_timeout,
        api_key=os.environ.get(args.api_key_env) or None,
        any_model=args.any_model, max_context=args.max_context,
        tokenizer=args.tokenizer or protocol.tokenizer, serving=_serving(args),
        allow_endpoint_change=args.allow_endpoint_change, skip_preflight=args.skip_preflight,
        shard=parse_shard(args.shard) if args.shard else None, replicas=list(args.replica),
        executor=args.executor, ray_address=args.ray_address, argv=["m1eval", *argv],
    )  # fmt: skip
    outcome = run_evaluation(config, suite, protocol, options)
    if args.json:
        print(json.dumps(outcome.summary, indent=2, sort_keys=True))
    else:
        print_summary(outcome.summary, outcome.run_dir, outcome.stats)
    complete = all(s["complete"] for s in outcome.summary["suites"].values())
    return 0 if complete else EXIT_INCOMPLETE


def _content_format(asked: str | None, protocol_format: str, embedded: bool) -> str:
    """The message content shape to send. llama.cpp's server (the embedded model) reads only
    plain-string content: a protocol's list-of-parts shape is adapted for it (and says so);
    asking for parts explicitly is refused in one line."""
    from m1eval.config import check_content_format

    fmt = check_content_format(asked or protocol_format)
    if embedded and fmt == "parts":
        if asked:
            raise ConfigError("--content-format parts: the embedded model (llama.cpp's server) "
                              "reads only string content; use --content-format string")
        print("note: the embedded model reads string content; the protocol's list-of-parts "
              "messages are sent as strings", file=sys.stderr)  # fmt: skip
        return "string"
    return fmt


def _serving(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.serving_fingerprint:
        try:
            return boundedjson.loads(args.serving_fingerprint.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {args.serving_fingerprint}: {exc}") from None
    if args.serving_profile:
        from m1eval.serving.vllm import load_profile

        p = load_profile(args.serving_profile)
        return {"declared_profile": p.name, "model": p.model, "args": p.args}
    return None
