"""Sandbox failures: never a verdict about the program, always an infra error with a cause."""

from __future__ import annotations

from m1eval.errors import InfraFault


class SandboxError(InfraFault):
    """Docker unreachable, image missing, a worker that cannot be started or keeps dying."""

    exit_code = 5
