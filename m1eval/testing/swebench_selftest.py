"""A self-made SWE-bench instance and its image, built offline.

A tiny Python package with a bug, its tests, a gold patch and FAIL_TO_PASS / PASS_TO_PASS
lists, in the SWE-bench Verified row layout (swebench 5.x: ``eval_script``, ``log_parser``,
``eval_type``, ``image``). The image is a Debian root made with ``debootstrap`` (git, patch,
python3, pytest) with the repository at ``/testbed`` on ``base_commit``, ``docker import``ed:
no registry involved. The repository is committed with fixed names and dates, so
``base_commit`` is the same on every machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from m1eval.sandbox.rootfs import DEFAULT_MIRROR, build_root_image

IMAGE = "m1eval-swebench-selftest:2"
PACKAGES = ("git", "patch", "procps", "python3-minimal", "libpython3-stdlib", "python3-pytest")
INSTANCE_ID = "m1eval__selftest-1"
TEST_FILE = "tests/test_ops.py"

FILES = {
    "README.md": "# calcpkg\n\nSmall numeric helpers.\n",
    "calcpkg/__init__.py": (
        "from calcpkg.ops import add, clamp, mean\n\n__all__ = ['add', 'clamp', 'mean']\n"
    ),
    "calcpkg/ops.py": (
        '"""Numeric helpers."""\n\n\n'
        "def add(a, b):\n    return a + b\n\n\n"
        "def mean(values):\n    return sum(values) / len(values)\n\n\n"
        "def clamp(x, lo, hi):\n"
        '    """Limit x to the closed interval [lo, hi]."""\n'
        "    if x < lo:\n        return lo\n"
        "    if x > hi:\n        return x\n"
        "    return x\n"
    ),
    TEST_FILE: (
        "from calcpkg import add, clamp, mean\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_mean():\n    assert mean([1, 2, 3]) == 2\n\n\n"
        "def test_clamp_low():\n    assert clamp(-5, 0, 10) == 0\n"
    ),
}
GOLD_PATCH = """\
diff --git a/calcpkg/ops.py b/calcpkg/ops.py
--- a/calcpkg/ops.py
+++ b/calcpkg/ops.py
@@ -12,5 +12,5 @@ def clamp(x, lo, hi):
     if x < lo:
         return lo
     if x > hi:
-        return x
+        return hi
     return x
"""
TEST_PATCH = "\n".join(
    [
        "diff --git a/tests/test_ops.py b/tests/test_ops.py",
        "--- a/tests/test_ops.py",
        "+++ b/tests/test_ops.py",
        "@@ -11,3 +11,7 @@ def test_mean():",
        " ",  # a context line for an empty line is a single space
        " def test_clamp_low():",
        "     assert clamp(-5, 0, 10) == 0",
        "+",
        "+",
        "+def test_clamp_high():",
        "+    assert clamp(50, 0, 10) == 10",
        "",
    ]
)
PROBLEM_STATEMENT = (
    "clamp() does not clamp values above the upper bound\n\n"
    "`calcpkg.clamp(50, 0, 10)` returns 50; it should return 10, the upper bound, as the "
    "docstring says.\n"
)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "m1eval", "GIT_AUTHOR_EMAIL": "selftest@m1eval.invalid",
    "GIT_COMMITTER_NAME": "m1eval", "GIT_COMMITTER_EMAIL": "selftest@m1eval.invalid",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+00:00",
}  # fmt: skip


def make_repo(path: Path) -> str:
    """Write the package at ``path`` as a git repository; return its (fixed) commit."""
    for rel, text in FILES.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    env = {**os.environ, **GIT_ENV, "HOME": str(path)}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(path), *args], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "calcpkg")
    return git("rev-parse", "HEAD")


def eval_script(base_commit: str) -> str:
    return "\n".join(
        [
            "#!/bin/bash",
            "set -uxo pipefail",
            "cd /testbed",
            "git config --global --add safe.directory /testbed",
            f"git checkout {base_commit} {TEST_FILE}",
            "git apply -v - <<'EOF_114329324912'",
            TEST_PATCH.rstrip("\n"),
            "EOF_114329324912",
            ": '>>>>> Start Test Output'",
            f"python3 -m pytest -rA -p no:cacheprovider {TEST_FILE}",
            ": '>>>>> End Test Output'",
            f"git checkout {base_commit} {TEST_FILE}",
        ]
    )


def instance(base_commit: str | None = None) -> dict[str, Any]:
    """The SWE-bench Verified row of the self-made instance."""
    if base_commit is None:
        with tempfile.TemporaryDirectory() as tmp:
            base_commit = make_repo(Path(tmp))
    return {
        "repo": "m1eval/calcpkg",
        "instance_id": INSTANCE_ID,
        "base_commit": base_commit,
        "patch": GOLD_PATCH,
        "test_patch": TEST_PATCH,
        "problem_statement": PROBLEM_STATEMENT,
        "hints_text": "",
        "created_at": "2025-01-01T00:00:00Z",
        "version": "0.1",
        "FAIL_TO_PASS": json.dumps([f"{TEST_FILE}::test_clamp_high"]),
        "PASS_TO_PASS": json.dumps(
            [f"{TEST_FILE}::test_add", f"{TEST_FILE}::test_mean", f"{TEST_FILE}::test_clamp_low"]
        ),
        "environment_setup_commit": base_commit,
        "difficulty": "<15 min fix",
        "eval_script": eval_script(base_commit),
        "log_parser": "parse_log_pytest",
        "eval_type": "pass_and_fail",
        "image": IMAGE,
    }


def build_image(client: Any, mirror: str = DEFAULT_MIRROR, progress: bool = True) -> str:
    """Build the instance image unless it exists; return the image tag."""
    import docker.errors

    try:
        client.images.get(IMAGE)
        return IMAGE
    except docker.errors.ImageNotFound:
        pass
    # procps: past its timeout swebench stops the test run with `kill` inside the container,
    # which the official instance images have
    build_root_image(client, IMAGE, PACKAGES, mirror=mirror,
                     hook=lambda root: make_repo(root / "testbed"), progress=progress)  # fmt: skip
    return IMAGE
