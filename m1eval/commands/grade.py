"""``m1eval grade``: grade responses produced elsewhere with a suite's own grader."""

from __future__ import annotations

import argparse
from pathlib import Path

from m1eval.commands.args import add_suite_options, suite_options
from m1eval.records import GRADED, INFRA_ERROR, MODEL_FAILURE, SCORED

HELP = "grade responses produced elsewhere"
EXIT_INCOMPLETE = 4


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", required=True)
    parser.add_argument("--responses", required=True, type=Path,
                        help="JSONL: item_id, response")  # fmt: skip
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--data-dir")
    parser.add_argument("--split")
    add_suite_options(parser)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.registry import get_suite
    from m1eval.regrade import grade_responses

    suite = get_suite(args.suite, suite_options(args))
    rows = grade_responses(suite, args.responses, args.out, args.split, args.data_dir)
    counts = {o: sum(1 for r in rows if r["outcome"] == o)
              for o in (SCORED, MODEL_FAILURE, INFRA_ERROR)}  # fmt: skip
    graded = [r for r in rows if r["outcome"] in GRADED]
    mean = (f"{100 * sum(r['score'] or 0.0 for r in graded) / len(graded):.2f}" if graded
            else "none")  # fmt: skip
    noun = "response" if len(rows) == 1 else "responses"
    print(f"graded {len(rows)} {noun} ({counts[SCORED]} scored, {counts[MODEL_FAILURE]} "
          f"model_failure, {counts[INFRA_ERROR]} infra_error): mean score {mean} "
          f"(infra errors left out) -> {args.out}")  # fmt: skip
    return 0 if not counts[INFRA_ERROR] else EXIT_INCOMPLETE
