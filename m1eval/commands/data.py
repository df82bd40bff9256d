"""``m1eval data pull``: benchmark data that is not on the Hugging Face hub."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "benchmark data that is not on the Hugging Face hub"


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import Parser

    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    pull = sub.add_parser("pull", help="write tau-bench's data in its plain JSON form")
    pull.add_argument("--suite", required=True, choices=["tau-bench"])
    pull.add_argument("--out", type=Path, default=Path("data/tau_bench"))
    pull.add_argument("--source", type=Path, help="a local tau-bench checkout (else download)")
    pull.add_argument("--rev", default="59a200c", help="upstream commit (default: the pin)")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    import tempfile

    from m1eval.tau.pull import convert, describe, download

    if args.source is not None:
        convert(args.source, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            convert(download(args.rev, Path(tmp)), args.out)
    print(f"wrote {args.out} ({describe(args.out)})")
    return 0
