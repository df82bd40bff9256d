"""``m1eval results list | show``: the runs of a results directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from m1eval.errors import ConfigError

HELP = "list or show runs"
READS_RUNS = True  # a malformed run file is the file's fault, told in one line


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import Parser

    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    listing = sub.add_parser("list")
    listing.add_argument("--results-dir", default="results")
    show = sub.add_parser("show")
    show.add_argument("run", help="run id or run directory")
    show.add_argument("--results-dir", default="results")
    show.add_argument("--json", action="store_true")
    show.add_argument("--items", action="store_true", help="per-item pass rates too")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.results import find_runs
    from m1eval.terminal import print_run, print_run_list

    if args.action == "list":
        print_run_list(find_runs(args.results_dir))
        return 0
    run_dir = Path(args.run)
    if not run_dir.is_dir():
        run_dir = Path(args.results_dir) / args.run
    if not (run_dir / "manifest.json").is_file():
        raise ConfigError(f"no run '{args.run}' (looked for {run_dir}/manifest.json)")
    print_run(run_dir, as_json=args.json, items=args.items)
    return 0
