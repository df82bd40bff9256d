"""Errors that reach the user as one line and an exit code, never as a traceback."""

from __future__ import annotations


class M1EvalError(Exception):
    """Base class: ``str(err)`` is the one-line cause shown to the user."""

    exit_code = 2


class ConfigError(M1EvalError):
    """A malformed or unknown suite manifest, harness config or command-line option."""


class DataError(M1EvalError):
    """A dataset that cannot be found, read or parsed, or a malformed input file."""


class EndpointError(M1EvalError):
    """The model server cannot be reached or does not behave like an OpenAI-compatible one."""

    exit_code = 3


class RunStateError(M1EvalError):
    """An existing run directory conflicts with the requested run."""


class InfraFault(M1EvalError):
    """A failure proven independent of the model's output: a daemon or image that is missing,
    a worker that died while running a known-good probe, a dataset row that cannot be decoded.

    Graders raise it (or a subclass) for those causes only. Anything else that goes wrong
    while grading a model's output is that output's failure (see :mod:`m1eval.outcomes`).
    """

    exit_code = 5


class ServingError(M1EvalError):
    """The server cannot serve this run's protocol (its preflight said no-go, or a reply was
    a server-configuration error): stopped before anything more is asked or scored."""

    exit_code = 6


class IdentityError(M1EvalError):
    """Another server or model answered part of this run (a resume, a copy behind a router, a
    shard): refused unless --allow-endpoint-change."""

    exit_code = 7
