"""Suite options, declared once on the adapter that reads them.

An adapter lists its :class:`Option` s; the base class fills in defaults (spec method
values override them, the command line overrides both), checks choices and refuses options
that do not apply, and the command line builds its suite-option group from every adapter's
declarations. ``identity=False`` marks options that only decide how fast or where a run
works (worker counts, local paths), not what it asks or how it grades.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from m1eval.errors import ConfigError


@dataclass(frozen=True)
class Option:
    name: str
    default: Any = None
    help: str = ""
    type: Callable[[str], Any] | None = str
    choices: tuple[Any, ...] | None = None
    switch: str | None = None  # a boolean flag: "on" (--name) or "off" (--flag sets False)
    flag: str | None = None  # the command-line spelling, when not --name-with-dashes
    repeatable: bool = False
    identity: bool = True  # changes what is asked or how it is graded
    positive: bool = False  # a number that must be >= 1
    bounds: tuple[float, float] | None = None  # a number that must lie in [lo, hi]

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        if self.choices is not None and value not in self.choices:
            shown = ", ".join(str(c) for c in self.choices)
            raise ConfigError(f"{self.cli_flag} must be one of {shown}, got {value!r}")
        if self.positive and value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{self.cli_flag} must be a positive integer, got {value!r}")
        if self.bounds is not None and value is not None:
            lo, hi = self.bounds
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not lo <= value <= hi:  # fmt: skip
                raise ConfigError(f"{self.cli_flag} must be between {lo:g} and {hi:g}, "
                                  f"got {value!r}")  # fmt: skip
        return value


def add_arguments(group: argparse._ArgumentGroup, options: Iterable[tuple[Option, str]]) -> None:
    """One argument per option name; ``options`` pairs each with the suites that read it."""
    for opt, owners in options:
        text = f"{owners}: {opt.help}" if opt.help else owners
        if opt.switch == "on":
            group.add_argument(opt.cli_flag, dest=opt.name, action="store_true", default=None,
                               help=text)  # fmt: skip
        elif opt.switch == "off":
            group.add_argument(opt.cli_flag, dest=opt.name, action="store_false", default=None,
                               help=text)  # fmt: skip
        else:
            group.add_argument(
                opt.cli_flag, dest=opt.name, type=_positive(opt.type) if opt.positive else opt.type,
                choices=opt.choices, action="append" if opt.repeatable else "store",
                default=None, help=text,
            )  # fmt: skip


def _positive(convert: Callable[[str], Any] | None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(convert(text) if convert else text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
        return value

    parse.__name__ = "positive integer"
    return parse
