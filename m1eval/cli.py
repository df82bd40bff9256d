"""The ``m1eval`` command line. Every failure is one line on stderr and an exit code.

Exit codes: 0 done; 2 bad input (config, data, options); 3 model server unreachable or not
OpenAI-compatible; 4 run finished but some samples are infra errors (rerun to retry them);
5 ``m1eval doctor`` says no-go, or the sandbox is unavailable; 6 the server cannot serve the
run's protocol (preflight no-go, or a server-configuration error stopped the run); 7 another
server or model would answer part of the run; 130 interrupted (rerun the same command to
resume).

Each command is one module of :mod:`m1eval.commands` with ``HELP``, ``add_parser(parser)``
and ``run(args, argv) -> exit code``; this file only builds the parser from them, dispatches
through :data:`COMMANDS` and turns every failure into one line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from types import ModuleType

from m1eval import __version__
from m1eval.commands.args import Parser
from m1eval.errors import DataError, M1EvalError

EXIT_INTERRUPTED = 130
EXIT_UNEXPECTED = 1

COMMANDS = {
    "run": "m1eval.commands.run",
    "grade": "m1eval.commands.grade",
    "merge": "m1eval.commands.merge",
    "doctor": "m1eval.commands.doctor",
    "serve": "m1eval.commands.serve",
    "results": "m1eval.commands.results",
    "suites": "m1eval.commands.suites",
    "view": "m1eval.commands.view",
    "report": "m1eval.commands.report",
    "compare": "m1eval.commands.compare",
    "sandbox": "m1eval.commands.sandbox",
    "swe-bench": "m1eval.commands.swe_bench",
    "tau": "m1eval.commands.tau",
    "profile": "m1eval.commands.profile",
    "data": "m1eval.commands.data",
}


def command(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="m1eval", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"m1eval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        module = command(name)
        module.add_parser(sub.add_parser(name, help=module.HELP))
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


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    module = command(args.command)
    if not getattr(module, "READS_RUNS", False):
        return int(module.run(args, argv))
    # commands that only read run directories: a malformed run file (valid JSON, wrong
    # shape) is the file's fault, told in one line
    try:
        return int(module.run(args, argv))
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise DataError(f"a run file is not in m1eval's format ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:200]})") from None  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
