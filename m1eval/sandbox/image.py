"""The sandbox image: a bare Debian root with python3, built without any container registry.

``m1eval sandbox build`` runs ``debootstrap`` against a Debian mirror (which CI machines reach
even where no registry is reachable), trims the root and ``docker import``s it. Where a registry
is reachable, ``--from-registry`` builds ``FROM python:3.11-slim`` instead. The agent itself is
not baked in: it is mounted read-only from the installed package, so the image does not
change when m1eval does.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from m1eval.sandbox.errors import SandboxError

IMAGE = "m1eval-sandbox:bookworm-py3-numpy"  # numpy: importable, as for LiveCodeBench's grader
DEFAULT_MIRROR = "http://deb.debian.org/debian"
TRIM = ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info",
        "var/cache/apt/archives", "var/lib/apt/lists")  # fmt: skip
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
    log: Any = print,
) -> str:
    """Build the image and return its id."""
    client = docker_client()
    if from_registry:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
            built, _ = client.images.build(path=tmp, tag=image, rm=True)
            return str(built.id)
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="m1eval-rootfs-") as tmp:
        root = Path(tmp) / "root"
        log(f"debootstrap {release} from {mirror} (about a minute)")
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase",
             "--include=python3-minimal,libpython3-stdlib,python3-numpy", release, str(root),
             mirror],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise SandboxError(f"debootstrap failed: {' '.join(tail) or proc.returncode}")
        for rel in TRIM:
            shutil.rmtree(root / rel, ignore_errors=True)
        tar_path = Path(tmp) / "root.tar"
        with tarfile.open(tar_path, "w") as tar:
            tar.add(root, arcname=".")
        log(f"docker import -> {image}")
        repo, _, tag = image.partition(":")
        with open(tar_path, "rb") as fh:
            client.api.import_image_from_data(fh, repository=repo, tag=tag or "latest")
    return str(client.images.get(image).id)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
