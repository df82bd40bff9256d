"""``m1eval compare BASE CAND``: the paired regression gate between two runs."""

from __future__ import annotations

import argparse
import json

from m1eval.commands.args import number

HELP = "paired regression gate between two runs"
READS_RUNS = True


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", help="baseline run directory")
    parser.add_argument("cand", help="candidate run directory")
    parser.add_argument("--alpha", type=number(0, 1, open_lo=True), default=0.05,
                        help="significance level after Holm correction (default: 0.05)")
    parser.add_argument("--min-effect", type=number(0), default=1.0,
                        help="smallest change in score points that counts (default: 1)")
    parser.add_argument("--max-coverage-gap", type=number(0, 100), default=5.0,
                        help="largest difference in the graded share of the two sides, in "
                        "points, that still gets a verdict (default: 5; beyond: exit 4)")
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.compare import COVERAGE_EXIT, NO_VERDICT, REGRESSION, compare
    from m1eval.terminal import print_compare

    result = compare(args.base, args.cand, args.alpha, args.min_effect, args.max_coverage_gap)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_compare(result)
    if result["verdict"] == NO_VERDICT:
        return COVERAGE_EXIT
    return 1 if result["verdict"] == REGRESSION else 0
