"""The repository at ``base_commit``, as a throwaway git working copy for the scaffold.

From a local checkout (``--repos-dir DIR`` holding ``DIR/<owner>__<name>``, a clone of the
instance's repository) or, by default, from ``/testbed`` inside the instance's Docker image.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from m1eval.errors import DataError
from m1eval.sandbox.errors import SandboxError

GIT_ID = ["-c", "user.name=m1eval", "-c", "user.email=m1eval@localhost"]
# A tree the model has touched may hold files git reads as instructions (attributes naming
# filter or diff drivers). Nothing outside the repository's own config (which the harness
# writes, and edits can never reach) is read, and every hook, driver and helper that could
# run a program is switched off on the command line, which wins over any config file.
GIT_HARDENING = [
    "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
    "-c", "core.attributesFile=/dev/null", "-c", "core.sshCommand=false",
    "-c", "core.pager=cat", "-c", "diff.external=", "-c", "protocol.allow=never",
    "-c", "submodule.recurse=false",
]  # fmt: skip
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_ATTR_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C",
    "HOME": "/nonexistent", "XDG_CONFIG_HOME": "/nonexistent",
}  # fmt: skip


def git(path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git on a working copy with a hardened configuration and environment."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **GIT_ENV}
    if args and args[0] == "diff":  # never an external diff or a text conversion program
        args = ("diff", "--no-ext-diff", "--no-textconv", *args[1:])
    return subprocess.run(["git", "-C", str(path), *GIT_HARDENING, *GIT_ID, *args],
                          capture_output=True, text=True, check=check, env=env,
                          errors="surrogateescape")  # fmt: skip


def checkout(instance: dict[str, Any], repos_dir: Path | None, client: Any = None) -> Path:
    """A fresh directory holding the repository at ``base_commit`` (caller removes it)."""
    work = Path(tempfile.mkdtemp(prefix="m1eval-swe-"))
    try:
        if repos_dir is not None:
            _from_local(instance, repos_dir, work)
        else:
            _from_image(instance, work, client)
        # a repository of our own, whatever the image's or clone's .git held: its config is
        # the harness's alone; a clean baseline commit: the patch is `git diff` against it
        shutil.rmtree(work / ".git", ignore_errors=True)
        git(work, "init", "-q")
        git(work, "add", "-A")
        git(work, "commit", "-q", "--allow-empty", "-m", "base")
        return work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _from_local(instance: dict[str, Any], repos_dir: Path, work: Path) -> None:
    source = repos_dir / instance["repo"].replace("/", "__")
    if not (source / ".git").exists():
        raise DataError(f"no git checkout of {instance['repo']} at {source}")
    archive = subprocess.run(["git", "-C", str(source), "archive", instance["base_commit"]],
                             capture_output=True, check=False)  # fmt: skip
    if archive.returncode != 0:
        raise DataError(f"{source} has no commit {instance['base_commit']}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(work, filter="data")
    git(work, "init", "-q")


def _from_image(instance: dict[str, Any], work: Path, client: Any) -> None:
    import docker.errors

    if client is None:
        from m1eval.sandbox.image import docker_client

        client = docker_client()
    container = None
    try:
        container = client.containers.create(instance["image"], command="true")
        stream, _ = container.get_archive("/testbed")
        data = b"".join(stream)
    except docker.errors.ImageNotFound:
        raise SandboxError(f"instance image {instance['image']} is missing") from None
    except docker.errors.APIError as exc:
        raise SandboxError(f"cannot read /testbed from {instance['image']}: {exc}") from None
    finally:
        if container is not None:
            container.remove(force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("testbed")]
        for m in members:
            m.name = m.name[len("testbed") :].lstrip("/") or "."
        tar.extractall(work, members=members, filter="data")
    if not (work / ".git").exists():
        git(work, "init", "-q")
    else:
        git(work, "checkout", "-q", "-f", instance["base_commit"], check=False)
        git(work, "clean", "-qfdx", check=False)
