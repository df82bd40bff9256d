"""Running untrusted, model-written code: Docker workers with a fork-server agent inside."""

from m1eval.sandbox.errors import SandboxError

__all__ = ["SandboxError"]
