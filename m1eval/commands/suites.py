"""``m1eval suites``: the suites and the paper's numbers."""

from __future__ import annotations

import argparse
from typing import Any

from m1eval.errors import ConfigError

HELP = "list the suites and their paper numbers"


def add_parser(parser: argparse.ArgumentParser) -> None:
    return None


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.suite_specs import available_suites, load_suite_spec
    from m1eval.terminal import print_suites

    specs: list[Any] = [load_suite_spec(name) for name in available_suites()]
    try:  # the bundled lm-eval tasks, where lm-eval is installed
        from m1eval.lmeval.suite import LmEvalSuite
        from m1eval.lmeval.tasks import bundled_dir

        for path in sorted(bundled_dir().glob("*.yaml")):
            specs.append(LmEvalSuite(f"lm-eval:{path.stem}").spec)
    except ConfigError:
        pass
    print_suites(specs)
    return 0
