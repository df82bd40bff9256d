"""``m1eval report RUN... --out DIR``: the leaderboard as Markdown and HTML."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Markdown and HTML leaderboard of runs"
READS_RUNS = True


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run directories (or a results dir / glob)")
    parser.add_argument("--out", type=Path, default=Path("reports/latest"))
    parser.add_argument("--all-runs", action="store_true",
                        help="a column per run (default: per model and suite, the latest "
                        "complete run; the others are listed as earlier runs)")
    parser.add_argument("--latency", type=Path, metavar="JSON",
                        help="a saved attention-latency result to plot (m1eval profile latency)")
    parser.add_argument("--serve", type=Path, metavar="JSON",
                        help="a live endpoint's latency result (m1eval profile serve's "
                        "serve.json): its tables and plot")  # fmt: skip
    parser.add_argument("--flops-convention", default="paper-figure",
                        choices=("paper-figure", "config", "standard", "mla-absorbed"),
                        help="FLOPs counting convention of the FLOPs curves")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.reporting.leaderboard import build_report

    out = build_report(args.runs, args.out, args.latency, args.flops_convention, args.all_runs,
                       args.serve)  # fmt: skip
    print(f"report: {out / 'report.md'} and {out / 'index.html'}")
    return 0
