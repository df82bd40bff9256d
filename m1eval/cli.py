"""The ``m1eval`` command line. Every failure is one line on stderr and an exit code.

Exit codes: 0 done; 2 bad input (config, data, options); 3 model server unreachable or not
OpenAI-compatible; 4 run finished but some samples are infra errors (rerun to retry them);
5 ``m1eval doctor`` says no-go; 130 interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from m1eval import __version__, boundedjson
from m1eval.errors import ConfigError, DataError, M1EvalError

EXIT_INCOMPLETE = 4
EXIT_NO_GO = 5
EXIT_INTERRUPTED = 130
EXIT_UNEXPECTED = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"m1eval: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _number(lo: float, hi: float = float("inf"), *, open_lo: bool = False
            ) -> Callable[[str], float]:  # fmt: skip
    """A float in [lo, hi] (or (lo, hi] with ``open_lo``), refused at the door otherwise."""
    shown = (f"a number {'>' if open_lo else '>='} {lo:g}" if hi == float("inf")
             else f"a number in {'(' if open_lo else '['}{lo:g}, {hi:g}]")  # fmt: skip

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {shown}, got {text!r}") from None
        if not (lo < value if open_lo else lo <= value) or not value <= hi:
            raise argparse.ArgumentTypeError(f"expected {shown}, got {text!r}")
        return value

    parse.__name__ = shown
    return parse


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (1-65535), got {text!r}")
    return value


def _suite_options(parser: argparse.ArgumentParser) -> None:
    """The suite-option group, built from what every adapter declares."""
    from m1eval.suites.options import add_arguments
    from m1eval.suites.registry import all_options

    add_arguments(parser.add_argument_group("suite options"), all_options())


def suite_options(args: argparse.Namespace) -> dict[str, Any]:
    from m1eval.suites.registry import all_options

    return {opt.name: getattr(args, opt.name, None) for opt, _ in all_options()}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="m1eval", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"m1eval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="evaluate a model on a suite")
    run.add_argument("--suite", required=True,
                     help="suite name (see `m1eval suites`), or lm-eval:TASK")  # fmt: skip
    run.add_argument(
        "--model",
        help="model name on the server (default with --base-url: the "
        "one the server lists), or 'embedded' (the default without --base-url)",
    )
    run.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    run.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="env var holding the API key, if any"
    )
    run.add_argument(
        "--protocol",
        help="model setup: a name in protocols/ or a path to a YAML "
        "file (default m1-80k; 'embedded' for the embedded model)",
    )
    run.add_argument("--limit", type=_positive_int, help="first N items only")
    run.add_argument("--repeats", "--trials", type=_positive_int,
                     help="samples per item (default: suite's); TAU-bench trials")  # fmt: skip
    run.add_argument(
        "--max-tokens",
        type=_positive_int,
        help="generation budget (default: the protocol's, 81920 for m1-80k)",
    )
    run.add_argument(
        "--temperature", type=float, help="0..2 (default: the protocol's, 1.0 for m1-80k)"
    )
    run.add_argument("--top-p", type=float, help="(0, 1] (default: the protocol's, 0.95)")
    run.add_argument("--seed", type=int, help="derive a per-sample seed sent to the server")
    run.add_argument(
        "--concurrency", type=_positive_int, default=16, help="requests in flight (default 16)"
    )
    run.add_argument("--content-format", choices=["string", "parts"])
    run.add_argument("--run-id", help="name of the run directory (default: derived from config)")
    run.add_argument("--replica", action="append", default=[], metavar="URL",
                     help="a model copy behind the --base-url router (repeatable; default: the "
                     "router's own worker list); copies that differ are refused")  # fmt: skip
    run.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="where container work (SWE-bench gradings, LiveCodeBench sandboxes) "
                     "runs: this host, or the Docker nodes of a Ray cluster")  # fmt: skip
    run.add_argument("--ray-address", help="the Ray cluster (default: auto, RAY_ADDRESS)")
    run.add_argument("--shard", metavar="i/N",
                     help="run only shard i of N (split by sample id; one run directory per "
                     "shard, joined with `m1eval merge`)")  # fmt: skip
    run.add_argument(
        "--results-dir", default="results", help="where run directories go (default results/)"
    )
    run.add_argument("--data-dir", help="offline dataset mirror (DIR/<hf_repo_id>/)")
    run.add_argument("--split", help="dataset split (default: suite's; 'smoke' for the demo split)")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument(
        "--keep-errors",
        action="store_true",
        help="do not re-attempt samples that ended as infra_error in an earlier invocation",
    )
    run.add_argument(
        "--allow-endpoint-change", action="store_true",
        help="resume a run although another server (address, /models, serving) answers now",
    )  # fmt: skip
    run.add_argument("--max-attempts", type=_positive_int, default=6, help="HTTP attempts")
    run.add_argument(
        "--retry-base-delay",
        type=_number(0),
        default=1.0,
        help="first backoff ceiling in seconds (default: 1)",
    )
    run.add_argument(
        "--stall-timeout",
        type=_number(0, open_lo=True),
        default=900.0,
        help="seconds of silence before a stream is retried (default: 900)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--serving-fingerprint", type=Path,
                     help="the file `m1eval serve vllm --fingerprint-out` wrote")  # fmt: skip
    run.add_argument("--serving-profile", help="the vLLM profile of a server m1eval did not start")
    run.add_argument(
        "--max-context", type=_positive_int,
        help="the served model's context window in tokens (default: the server's max_model_len)",
    )  # fmt: skip
    run.add_argument(
        "--tokenizer",
        help="tokenizer for prompt truncation: auto, server, o200k or hf:NAME (LongBench-v2; "
        "default: the protocol's, else auto)",
    )
    _suite_options(run)
    run.add_argument(
        "--any-model", action="store_true", help="do not require /models to list --model"
    )

    grade = sub.add_parser("grade", help="grade responses produced elsewhere")
    grade.add_argument("--suite", required=True)
    grade.add_argument("--responses", required=True, type=Path, help="JSONL: item_id, response")
    grade.add_argument("--out", required=True, type=Path)
    grade.add_argument("--data-dir")
    grade.add_argument("--split")
    _suite_options(grade)

    merge = sub.add_parser("merge", help="join the shards of a run (--shard i/N) into one run")
    merge.add_argument("shards", nargs="+", type=Path, help="the shard run directories")
    merge.add_argument(
        "--results-dir", default="results", type=Path, help="where the merged run is written"
    )
    merge.add_argument("--data-dir", type=Path, help="the dataset, if not where the shards "
                       "read it")  # fmt: skip
    doctor = sub.add_parser("doctor", help="preflight a model server: go or no-go for a run")
    doctor.add_argument("--base-url", required=True, help="the server (ending in /v1)")
    doctor.add_argument("--model", help="model name (default: the first the server lists)")
    doctor.add_argument("--protocol", default="m1-80k", help="protocols/NAME.yaml or a path")
    doctor.add_argument(
        "--suite",
        action="append",
        dest="suites",
        help="a suite the run will use (repeatable; default: every suite)",
    )
    doctor.add_argument(
        "--profile",
        help="the vLLM profile whose version window applies "
        "(default: the one sized for the protocol)",
    )
    doctor.add_argument("--api-key-env", default="M1EVAL_API_KEY")
    doctor.add_argument(
        "--probe-max-tokens",
        type=_positive_int,
        default=2048,
        help="generation budget of the tool and reasoning probes",
    )
    serve = sub.add_parser("serve", help="run a model server in the foreground")
    serve.add_argument("what", choices=["embedded", "vllm"])
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--profile", default="generic", help="vllm_profiles/NAME.yaml")
    serve.add_argument("--model", help="override the profile's model")
    serve.add_argument("--revision", help="the model revision served (recorded)")
    serve.add_argument("--vllm-bin", default="vllm")
    serve.add_argument("--fingerprint-out", type=Path, help="write the serving fingerprint")
    serve.add_argument("--startup-timeout", type=_number(0, open_lo=True), default=3600.0)
    serve.add_argument("--dry-run", action="store_true",
                       help="print the environment and command only")  # fmt: skip
    serve.add_argument("--vllm-version",
                       help="with --dry-run: the vLLM release to build the command for "
                       "(default: the newest the profile allows)")  # fmt: skip
    serve.add_argument(
        "extra", nargs="*", help="more vLLM flags, after -- (checked against the release's parser)"
    )

    res = sub.add_parser("results", help="list or show runs")
    res_sub = res.add_subparsers(dest="action", required=True, parser_class=_Parser)
    res_list = res_sub.add_parser("list")
    res_list.add_argument("--results-dir", default="results")
    res_show = res_sub.add_parser("show")
    res_show.add_argument("run", help="run id or run directory")
    res_show.add_argument("--results-dir", default="results")
    res_show.add_argument("--json", action="store_true")
    res_show.add_argument("--items", action="store_true", help="per-item pass rates too")

    sub.add_parser("suites", help="list the suites and their paper numbers")

    view = sub.add_parser("view", help="a static run viewer (filters, search, agentic views)")
    view.add_argument("runs", nargs="+", help="run directories or globs (results/*)")
    view.add_argument(
        "--out",
        type=Path,
        default=Path("reports/viewer"),
        help="where the viewer is written (default: %(default)s)",
    )
    report = sub.add_parser("report", help="Markdown and HTML leaderboard of runs")
    report.add_argument("runs", nargs="+", help="run directories (or a results dir / glob)")
    report.add_argument("--out", type=Path, default=Path("reports/latest"))
    report.add_argument(
        "--latency",
        type=Path,
        metavar="JSON",
        help="a saved attention-latency result to plot (m1eval profile latency)",
    )
    report.add_argument(
        "--flops-convention",
        default="paper-figure",
        choices=("paper-figure", "config", "standard", "mla-absorbed"),
        help="FLOPs counting convention of the FLOPs curves",
    )

    cmp_ = sub.add_parser("compare", help="paired regression gate between two runs")
    cmp_.add_argument("base", help="baseline run directory")
    cmp_.add_argument("cand", help="candidate run directory")
    cmp_.add_argument(
        "--alpha",
        type=_number(0, 1, open_lo=True),
        default=0.05,
        help="significance level after Holm correction (default: 0.05)",
    )
    cmp_.add_argument(
        "--min-effect",
        type=_number(0),
        default=1.0,
        help="smallest change in score points that counts (default: 1)",
    )
    cmp_.add_argument("--json", action="store_true")

    sandbox = sub.add_parser("sandbox", help="the Docker sandbox for model-written code")
    sandbox_sub = sandbox.add_subparsers(dest="action", required=True, parser_class=_Parser)
    build = sandbox_sub.add_parser("build", help="build the sandbox image (no registry needed)")
    build.add_argument("--mirror", default="http://deb.debian.org/debian", help="Debian mirror")
    build.add_argument("--release", default="bookworm", help="Debian release")
    build.add_argument(
        "--from-registry", action="store_true", help="build FROM python:3.11-slim instead"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    sandbox_sub.add_parser("status", help="is the daemon reachable, is the image there")

    swe = sub.add_parser("swe-bench", help="grade SWE-bench predictions with the swebench harness")
    swe_sub = swe.add_subparsers(dest="action", required=True, parser_class=_Parser)
    actions = (
        ("grade", "grade a predictions file"),
        ("validate-gold", "grade the gold patches on this infrastructure"),
    )
    for action, text in actions:
        cmd = swe_sub.add_parser(action, help=text)
        if action == "grade":
            cmd.add_argument(
                "--predictions", required=True, type=Path,
                help="JSONL: instance_id, model_name_or_path, model_patch",
            )  # fmt: skip
        cmd.add_argument("--split", help="dataset split (test; 'smoke' for the self-made one)")
        cmd.add_argument("--data-dir")
        cmd.add_argument("--subset", choices=["all", "m1-486"], default="all")
        cmd.add_argument("--instances", help="comma-separated instance ids (default: all)")
        cmd.add_argument("--results-dir", default="results")
        cmd.add_argument("--run-id")
        cmd.add_argument("--max-workers", type=_positive_int, default=4)
        cmd.add_argument("--timeout", type=_positive_int, default=1800, help="seconds per instance")
        cmd.add_argument("--skip-missing-images", action="store_true",
                         help="grade what has an image; the rest are infra errors")  # fmt: skip
    selftest = swe_sub.add_parser(
        "build-selftest", help="build the self-made instance's image unless it exists (from a "
        "Debian mirror with debootstrap; no container registry)")  # fmt: skip
    selftest.add_argument(
        "--mirror",
        default="http://deb.debian.org/debian",
        help="the Debian mirror debootstrap reads (default: %(default)s)",
    )

    tau = sub.add_parser("tau", help="TAU-bench environment tools")
    tau_sub = tau.add_subparsers(dest="action", required=True, parser_class=_Parser)
    replay = tau_sub.add_parser("replay", help="execute actions on a fresh database")
    replay.add_argument("--domain", required=True, choices=["airline", "retail"])
    replay.add_argument("--actions", required=True, type=Path,
                        help='JSON list: [{"name": ..., "kwargs": {...}}]')  # fmt: skip
    replay.add_argument("--data-dir", help="tau-bench data (DIR/<domain>/...)")
    replay.add_argument("--dump-db", type=Path, help="write the final database as JSON")
    replay.add_argument(
        "--json", action="store_true", help="one JSON object per action: step, action, observation"
    )

    prof = sub.add_parser("profile", help="compute profiles")
    prof_sub = prof.add_subparsers(dest="action", required=True, parser_class=_Parser)
    flops = prof_sub.add_parser("flops", help="analytic FLOPs of long generations (CPU)")
    flops.add_argument("--convention", default="paper-figure",
                       choices=["paper-figure", "config", "standard", "mla-absorbed"])  # fmt: skip
    flops.add_argument("--lengths", help="comma-separated generation lengths in tokens")
    flops.add_argument("--format", choices=["table", "json"], default="table")
    flops.add_argument("--results-dir", default="results")
    latency = prof_sub.add_parser("latency", help="lightning vs softmax attention latency (GPU)")
    latency.add_argument(
        "--from", dest="source", type=Path,
        help="render a saved attention_latency.json instead of measuring",
    )  # fmt: skip
    latency.add_argument("--results-dir", default="results")

    data_cmd = sub.add_parser("data", help="benchmark data that is not on the Hugging Face hub")
    data_sub = data_cmd.add_subparsers(dest="action", required=True, parser_class=_Parser)
    pull = data_sub.add_parser("pull", help="write tau-bench's data in its plain JSON form")
    pull.add_argument("--suite", required=True, choices=["tau-bench"])
    pull.add_argument("--out", type=Path, default=Path("data/tau_bench"))
    pull.add_argument("--source", type=Path, help="a local tau-bench checkout (else download)")
    pull.add_argument("--rev", default="59a200c", help="upstream commit (default: the pin)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # model text may hold lone surrogates
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    logging.basicConfig(level=logging.WARNING, format="m1eval: warning: %(message)s")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # `serve vllm ... -- FLAGS`: what follows the first "--" goes to vLLM untouched (argparse
    # cannot hand a subcommand's remainder to a positional)
    tail: list[str] = []
    if argv[:1] == ["serve"] and "--" in argv:
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    if tail:
        args.extra = [*args.extra, *tail]
    try:
        return _dispatch(args, argv)
    except M1EvalError as err:
        print(f"m1eval: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        resumable = getattr(args, "command", None) == "run"
        print("m1eval: interrupted" + ("; finished samples are saved, rerun the same command "
              "to resume" if resumable else ""), file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    except Exception as exc:  # a defect of ours: still one line, the traceback on request
        if os.environ.get("M1EVAL_DEBUG"):
            raise
        text = " ".join(str(exc).split())[:300]
        print(f"m1eval: error: unexpected {type(exc).__name__}: {text} (set M1EVAL_DEBUG=1 "
              "for the traceback)", file=sys.stderr)  # fmt: skip
        return EXIT_UNEXPECTED


# commands that only read run directories: a malformed run file (valid JSON, wrong shape) is
# the file's fault, told in one line
READERS = ("results", "report", "compare", "view")


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command in READERS:
        try:
            return _dispatch_command(args, argv)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            raise DataError(f"a run file is not in m1eval's format ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:200]})") from None  # fmt: skip
    return _dispatch_command(args, argv)


def _dispatch_command(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command == "run":
        return _cmd_run(args, argv)
    if args.command == "grade":
        return _cmd_grade(args)
    if args.command == "serve":
        return _cmd_serve(args)
    if args.command == "doctor":
        return _cmd_doctor(args)
    if args.command == "merge":
        from m1eval.commands.merge import merge_shards

        out = merge_shards(list(args.shards), args.results_dir, args.data_dir)
        print(f"merged {len(args.shards)} shards: {out}")
        return 0
    if args.command == "results":
        return _cmd_results(args)
    if args.command == "suites":
        return _cmd_suites()
    if args.command == "sandbox":
        return _cmd_sandbox(args)
    if args.command == "compare":
        return _cmd_compare(args)
    if args.command == "view":
        from m1eval.reporting.viewer import build_viewer

        page = build_viewer(list(args.runs), args.out)
        print(f"viewer: {page} (open it: xdg-open {page})")
        return 0
    if args.command == "report":
        from m1eval.reporting.leaderboard import build_report

        out = build_report(args.runs, args.out, args.latency, args.flops_convention)
        print(f"report: {out / 'report.md'} and {out / 'index.html'}")
        return 0
    if args.command == "tau":
        return _cmd_tau(args)
    if args.command == "data":
        return _cmd_data_pull(args)
    if args.command == "profile":
        return _cmd_profile_flops(args) if args.action == "flops" else _cmd_profile_latency(args)
    if args.command == "swe-bench":
        from m1eval.commands.swe_bench import swe_bench_command

        return swe_bench_command(args)
    raise ConfigError(f"unknown command {args.command}")


def _content_format(asked: str | None, protocol_format: str, embedded: bool) -> str:
    """The message content shape to send. llama.cpp's server (the embedded model) reads only
    plain-string content: a protocol's list-of-parts shape is adapted for it (and says so);
    asking for parts explicitly is refused in one line."""
    from m1eval.config import check_content_format

    fmt = check_content_format(asked or protocol_format)
    if embedded and fmt == "parts":
        if asked:
            raise ConfigError(
                "--content-format parts: the embedded model (llama.cpp's server) "
                "reads only string content; use --content-format string"
            )
        print(
            "note: the embedded model reads string content; the protocol's list-of-parts "
            "messages are sent as strings",
            file=sys.stderr,
        )
        return "string"
    return fmt


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.config import RunConfig, parse_shard, resolve_sampling
    from m1eval.evaluate import ExecutionOptions, resolve_model, run_evaluation
    from m1eval.model.retry import RetryPolicy
    from m1eval.protocols import load_protocol
    from m1eval.suites import get_suite
    from m1eval.terminal import print_summary

    suite = get_suite(args.suite, suite_options(args))
    model, embedded = resolve_model(args.model, args.base_url)
    protocol = load_protocol(args.protocol or ("embedded" if embedded else "m1-80k"))
    sampling = resolve_sampling(
        suite.spec,
        protocol,
        {"max_tokens": args.max_tokens, "temperature": args.temperature, "top_p": args.top_p},
    )
    if args.run_id is not None:
        from m1eval.config import validate_run_id

        validate_run_id(args.run_id)
    config = RunConfig(
        suite=suite.name,
        split=args.split or suite.spec.dataset.split,
        protocol=protocol.name,
        model=model or "",
        base_url=args.base_url,
        embedded=embedded,
        sampling=sampling,
        content_format=_content_format(args.content_format, protocol.content_format, embedded),
        system_prompt=protocol.system_prompt,
        seed=args.seed,
        repeats=args.repeats or int(suite.spec.method.get("repeats", 1)),
        limit=args.limit,
        concurrency=args.concurrency,
        results_dir=Path(args.results_dir),
        data_dir=Path(args.data_dir) if args.data_dir else None,
        run_id=args.run_id,
    )
    options = ExecutionOptions(
        progress=not args.no_progress,
        retry_errors=not args.keep_errors,
        retry=RetryPolicy(max_attempts=args.max_attempts, base_delay_s=args.retry_base_delay),
        stall_timeout_s=args.stall_timeout,
        api_key=os.environ.get(args.api_key_env) or None,
        any_model=args.any_model,
        max_context=args.max_context,
        tokenizer=args.tokenizer or protocol.tokenizer,
        serving=_serving(args),
        allow_endpoint_change=args.allow_endpoint_change,
        shard=parse_shard(args.shard) if args.shard else None,
        replicas=list(args.replica),
        executor=args.executor,
        ray_address=args.ray_address,
        argv=["m1eval", *argv],
    )
    outcome = run_evaluation(config, suite, protocol, options)
    if args.json:
        print(json.dumps(outcome.summary, indent=2, sort_keys=True))
    else:
        print_summary(outcome.summary, outcome.run_dir, outcome.stats)
    complete = all(s["complete"] for s in outcome.summary["suites"].values())
    return 0 if complete else EXIT_INCOMPLETE


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


def _cmd_grade(args: argparse.Namespace) -> int:
    from m1eval.regrade import grade_responses
    from m1eval.suites import get_suite

    suite = get_suite(args.suite, suite_options(args))
    rows = grade_responses(suite, args.responses, args.out, args.split, args.data_dir)
    counts = {o: sum(1 for r in rows if r["outcome"] == o)
              for o in ("scored", "model_failure", "infra_error")}  # fmt: skip
    graded = [r for r in rows if r["outcome"] in ("scored", "model_failure")]
    mean = (f"{100 * sum(r['score'] or 0.0 for r in graded) / len(graded):.2f}" if graded
            else "none")  # fmt: skip
    noun = "response" if len(rows) == 1 else "responses"
    print(f"graded {len(rows)} {noun} ({counts['scored']} scored, {counts['model_failure']} "
          f"model_failure, {counts['infra_error']} infra_error): mean score {mean} "
          f"(infra errors left out) -> {args.out}")  # fmt: skip
    return 0 if not counts["infra_error"] else EXIT_INCOMPLETE


def _cmd_serve(args: argparse.Namespace) -> int:
    import time

    if args.what == "vllm":
        return _cmd_serve_vllm(args)

    import signal

    from m1eval.model.embedded import EMBEDDED_MODEL_ID, EmbeddedServer

    # a launcher that stops us with SIGTERM must not leave the llama.cpp server behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with EmbeddedServer(port=args.port) as server:
        print(f"serving {EMBEDDED_MODEL_ID} at {server.base_url} (Ctrl-C to stop)", flush=True)
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        raise ConfigError(f"embedded server exited: {server.log_tail()}")


def _cmd_doctor(args: argparse.Namespace) -> int:
    import asyncio

    from m1eval.commands.doctor import DoctorSettings, diagnose
    from m1eval.protocols import load_protocol
    from m1eval.suite_specs import available_suites
    from m1eval.suites import get_suite

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


def _cmd_serve_vllm(args: argparse.Namespace) -> int:
    import shlex

    from m1eval.serving import vllm

    profile = vllm.load_profile(args.profile)
    if args.dry_run:
        version = args.vllm_version or _newest_allowed(profile)
    else:
        version = vllm.vllm_version(args.vllm_bin)
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


def _cmd_results(args: argparse.Namespace) -> int:
    from m1eval.results import find_runs
    from m1eval.terminal import print_run, print_run_list

    if args.action == "list":
        runs = find_runs(args.results_dir)
        print_run_list(runs)
        return 0
    run_dir = Path(args.run)
    if not run_dir.is_dir():
        run_dir = Path(args.results_dir) / args.run
    if not (run_dir / "manifest.json").is_file():
        raise ConfigError(f"no run '{args.run}' (looked for {run_dir}/manifest.json)")
    print_run(run_dir, as_json=args.json, items=args.items)
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from m1eval.sandbox.image import IMAGE, build_image, docker_client, image_exists

    client = docker_client()
    exists = image_exists(client)
    if args.action == "status":
        version = client.version().get("Version")
        print(f"docker daemon {version}; image {IMAGE}: {'present' if exists else 'missing'}")
        return 0 if exists else 1
    if exists and not args.force:
        print(f"{IMAGE} already exists (--force rebuilds it)")
        return 0
    image_id = build_image(mirror=args.mirror, release=args.release,
                           from_registry=args.from_registry)  # fmt: skip
    print(f"built {IMAGE} ({image_id[:19]})")
    return 0


def _cmd_tau(args: argparse.Namespace) -> int:
    from m1eval.errors import DataError
    from m1eval.fsutil import atomic_write_json, read_user_text
    from m1eval.suites.tau_bench import find_tau_dir
    from m1eval.tau.env import load_domain, replay

    data = load_domain(args.domain, find_tau_dir(args.domain, args.data_dir))
    text = read_user_text(args.actions, "actions file")
    try:
        actions = boundedjson.loads(text, max_depth=32)
    except ValueError as exc:
        raise DataError(f"actions file {args.actions}: {exc}") from None
    if not isinstance(actions, list) or not all(
        isinstance(a, dict) and isinstance(a.get("name"), str) for a in actions
    ):
        raise DataError(f'{args.actions}: expected a list of {{"name": ..., "kwargs": {{...}}}}')
    observations, env = replay(data, actions)
    for i, (action, obs) in enumerate(zip(actions, observations, strict=True)):
        if args.json:
            print(json.dumps({"step": i, "action": action["name"], "observation": obs}))
        else:
            kwargs = json.dumps(action.get("kwargs") or {}, ensure_ascii=False)
            print(f"[{i}] {action['name']}({kwargs}) -> "
                  f"{obs if obs is not None else '(no observation)'}")  # fmt: skip
    if args.dump_db:
        atomic_write_json(args.dump_db, env.db)
    return 0


def _cmd_profile_flops(args: argparse.Namespace) -> int:
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
    from m1eval.terminal import print_flops

    print_flops(result, out_dir)
    return 0


def _cmd_profile_latency(args: argparse.Namespace) -> int:
    import shutil

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
        import os

        from m1eval.profiler import latency

        out_dir.mkdir(parents=True, exist_ok=True)
        os.environ["OUT"] = str(out_dir)
        latency.main()
        source = out_dir / "attention_latency.json"
    else:
        source = args.source
    result = load(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    if source.resolve() != (out_dir / "attention_latency.json").resolve():
        shutil.copyfile(source, out_dir / "attention_latency.json")
    plot(result, out_dir / "latency.png")
    from m1eval.terminal import print_latency

    print_latency(result, floors(result), out_dir)
    return 0


def _cmd_data_pull(args: argparse.Namespace) -> int:
    import tempfile

    from m1eval.tau.pull import convert, describe, download

    if args.source is not None:
        convert(args.source, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            convert(download(args.rev, Path(tmp)), args.out)
    print(f"wrote {args.out} ({describe(args.out)})")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from m1eval.compare import compare
    from m1eval.terminal import print_compare

    result = compare(args.base, args.cand, args.alpha, args.min_effect)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_compare(result)
    return 1 if result["regression"] else 0


def _cmd_suites() -> int:
    from m1eval.suite_specs import available_suites, load_suite_spec
    from m1eval.terminal import print_suites

    manifests: list[Any] = [load_suite_spec(name) for name in available_suites()]
    try:  # the bundled lm-eval tasks, where lm-eval is installed
        from m1eval.lmeval.suite import LmEvalSuite
        from m1eval.lmeval.tasks import bundled_dir

        for path in sorted(bundled_dir().glob("*.yaml")):
            manifests.append(LmEvalSuite(f"lm-eval:{path.stem}").spec)
    except ConfigError:
        pass
    print_suites(manifests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
