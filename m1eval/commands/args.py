"""What every command's parser shares: one-line argument errors, checked numbers, and the
suite-option group built from what the adapters declare."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"m1eval: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def http_url(text: str) -> str:
    """An http(s) URL with a host (``localhost:8000`` without a scheme is refused at the door,
    not found out later as a connection error)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a URL: {text!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected an http:// or https:// URL, got {text!r} (e.g. http://{text}/v1)"
            if parts.scheme not in ("http", "https") else f"no host in {text!r}")
    return text


def number(lo: float, hi: float = float("inf"), *, open_lo: bool = False
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


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (1-65535), got {text!r}")
    return value


def add_suite_options(parser: argparse.ArgumentParser, names: set[str] | None = None) -> None:
    """The suite-option group, built from what every adapter declares (only ``names``, when
    given: a command that serves one suite takes that suite's flags)."""
    from m1eval.registry import all_options
    from m1eval.suites.options import add_arguments

    chosen = [(o, owners) for o, owners in all_options() if names is None or o.name in names]
    add_arguments(parser.add_argument_group("suite options"), chosen)


def suite_options(args: argparse.Namespace) -> dict[str, Any]:
    from m1eval.registry import all_options

    return {opt.name: getattr(args, opt.name, None) for opt, _ in all_options()}
