"""``m1eval view RUN...``: a static run viewer."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "a static run viewer (filters, search, agentic views)"
READS_RUNS = True


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run directories or globs (results/*)")
    parser.add_argument("--out", type=Path, default=Path("reports/viewer"),
                        help="where the viewer is written (default: %(default)s)")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.reporting.viewer import build_viewer

    page = build_viewer(list(args.runs), args.out)
    print(f"viewer: {page} (open it: xdg-open {page})")
    return 0
