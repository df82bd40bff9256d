"""The sandbox image: a bare Debian root with python3, built without any container registry.

``m1eval sandbox build`` runs ``debootstrap`` against a Debian mirror (which CI machines reach
even where no registry is reachable), trims the root and ``docker import``s it. Where a registry
is reachable, ``--from-registry`` builds ``FROM python:3.11-slim`` instead. The agent itself is
not baked in: it is mounted read-only from the installed package, so the image does not
change when m1eval does.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from m1eval.progress import StepProgress
from m1eval.sandbox.errors import SandboxError
from m1eval.sandbox.rootfs import DEFAULT_MIRROR, build_root_image

IMAGE = "m1eval-sandbox:bookworm-py3-numpy"  # numpy: importable, as for LiveCodeBench's grader
PACKAGES = ("python3-minimal", "libpython3-stdlib", "python3-numpy")
DOCKERFILE = """\
FROM python:3.11-slim
RUN useradd --uid 65534 --no-create-home --shell /usr/sbin/nologin sandbox || true
"""


def docker_client() -> Any:
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise SandboxError("the 'docker' Python package is not installed") from exc
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:
        raise SandboxError(f"cannot reach the Docker daemon: {_short(exc)}") from None
    return client


def image_exists(client: Any, image: str = IMAGE) -> bool:
    import docker.errors

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    image: str = IMAGE,
    mirror: str = DEFAULT_MIRROR,
    release: str = "bookworm",
    from_registry: bool = False,
    progress: bool = True,
) -> str:
    """Build the image and return its id; each stage shows as it happens."""
    client = docker_client()
    if from_registry:
        return _build_from_registry(client, image, progress)
    return build_root_image(client, image, PACKAGES, mirror=mirror, release=release,
                            progress=progress)  # fmt: skip


def _build_from_registry(client: Any, image: str, progress: bool) -> str:
    """``docker build`` of DOCKERFILE, its "Step k/N" lines shown as they stream."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        StepProgress(f"building {image}", enabled=progress) as steps,
    ):
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
        for chunk in client.api.build(path=tmp, tag=image, rm=True, decode=True):
            if "error" in chunk:
                error = " ".join(str(chunk["error"]).split())[:200]
                raise SandboxError(f"docker build failed: {error}")
            step = _STEP.match(str(chunk.get("stream", "")))
            if step is not None:
                steps.stage(f"step {step['k']}/{step['n']}")
                steps.update(step["what"][:80], advance=0)
    return str(client.images.get(image).id)


_STEP = re.compile(r"^Step (?P<k>\d+)/(?P<n>\d+) : (?P<what>.*)")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
