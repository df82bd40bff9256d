"""The unsandboxed baseline: one plain subprocess per program, on the host.

The same agent code runs each test in a fresh forked process with the same rlimits, so its
verdicts match the sandbox's; what it lacks is the container (no network, read-only root,
pids and memory cgroups). It exists to measure what the sandbox costs and for trusted code;
never point it at model output you have not read.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from typing import Any

from m1eval.fsutil import remove_tree
from m1eval.sandbox.pool import AGENT, DEFAULT_OUTPUT_BYTES, decode_response


class SubprocessRunner:
    def __init__(self, test_memory_mb: int = 1024, max_output_bytes: int = DEFAULT_OUTPUT_BYTES):
        self.limits = {"memory_mb": test_memory_mb, "max_output_bytes": max_output_bytes}

    def run_program(
        self,
        base: dict[str, Any],
        inputs: list[str],
        accept: Callable[[int, dict[str, Any]], bool],
    ) -> list[dict[str, Any]]:
        scratch = tempfile.mkdtemp(prefix="m1eval-agent-")
        proc = subprocess.Popen(
            [sys.executable, "-I", str(AGENT), "--stdio", scratch],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        results: list[dict[str, Any]] = []
        extra = {"problem": uuid.uuid4().hex} if base.get("exec") == "official" else {}
        try:
            for i, text in enumerate(inputs):
                proc.stdin.write(json.dumps({**base, **self.limits, **extra,
                                             "input": text}).encode())  # fmt: skip
                proc.stdin.write(b"\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                result = (decode_response(json.loads(line), self.limits["max_output_bytes"])
                          if line else {"status": "agent_error"})  # fmt: skip
                results.append(result)
                if not accept(i, result):
                    break
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
            remove_tree(scratch)
        return results
