"""Docker images made from a Debian root without any registry: ``debootstrap`` from a mirror,
a trim, an optional hook that adds files, ``docker import``. Every stage shows as it happens:
debootstrap's packages as they are retrieved, extracted, unpacked and configured (k of N),
the files put into the archive, the megabytes sent to the daemon."""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from m1eval.progress import StepProgress
from m1eval.sandbox.errors import SandboxError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
TRIM = ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info",
        "var/cache/apt/archives", "var/lib/apt/lists")  # fmt: skip
_IMPORT_CHUNK = 1 << 20

# debootstrap's info lines: "I: Retrieving gzip 1.12-1", then "I: Extracting gzip...",
# "I: Unpacking gzip...", "I: Configuring gzip..." per package; the other "I:" lines name a stage
_RETRIEVING = re.compile(r"^I: Retrieving ([a-z0-9][a-z0-9+.-]*) \S+$")
_PACKAGE_STEP = re.compile(
    r"^I: (Extracting|Unpacking|Configuring) ([a-z0-9][a-z0-9+.-]*)"
    r"(?::[a-z0-9-]+)?\.\.\.$"
)  # "zlib1g:amd64..."
_STAGES = {"Extracting": "extracting packages", "Unpacking": "unpacking packages",
           "Configuring": "configuring packages"}  # fmt: skip


class DebootstrapEvents:
    """Reads debootstrap's output line by line into stages and counts: packages retrieved,
    then extracted, unpacked and configured out of those retrieved."""

    def __init__(self, steps: StepProgress) -> None:
        self.steps = steps
        self.packages: dict[str, set[str]] = {"Retrieving": set()}
        self.tail: deque[str] = deque(maxlen=5)
        self._stage = ""

    def feed(self, line: str) -> None:
        line = line.rstrip()
        if not line:
            return
        self.tail.append(line)
        if m := _RETRIEVING.match(line):
            self._count("Retrieving", "retrieving packages", m.group(1), None)
        elif m := _PACKAGE_STEP.match(line):
            verb, package = m.groups()
            self._count(verb, _STAGES[verb], package, len(self.packages["Retrieving"]))
        elif line.startswith(("I: Retrieving", "I: Validating", "I: Checking Release",
                              "I: Valid Release")) and not self.packages["Retrieving"]:  # fmt: skip
            self._enter("reading the mirror's index", None)
        elif line.startswith("I: Resolving dependencies"):
            self._enter("resolving dependencies", None)
        elif line.startswith("I: Base system installed"):
            self._enter("base system installed", None)

    def _count(self, verb: str, stage: str, package: str, total: int | None) -> None:
        seen = self.packages.setdefault(verb, set())
        done = len(seen)
        seen.add(package)
        self._enter(stage, total, done)
        self.steps.update(package, advance=len(seen) - done)

    def _enter(self, stage: str, total: int | None, done: int = 0) -> None:
        if stage != self._stage:
            self._stage = stage
            self.steps.stage(stage, total, done)


def debootstrap(root: Path, packages: Iterable[str], release: str, mirror: str,
                steps: StepProgress) -> None:  # fmt: skip
    """A minbase root of ``release`` with ``packages`` at ``root``; its progress on ``steps``."""
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed (apt-get install debootstrap)")
    events = DebootstrapEvents(steps)
    steps.stage(f"debootstrap {release} from {mirror}")
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", release,
           str(root), mirror]  # fmt: skip
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace") as proc:  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            events.feed(line)
        code = proc.wait()
    if code != 0:
        last = next((ln for ln in reversed(events.tail) if ln.startswith(("E:", "W:"))),
                    events.tail[-1] if events.tail else f"exit {code}")  # fmt: skip
        raise SandboxError(f"debootstrap failed: {last}")


def trim(root: Path, paths: Iterable[str] = TRIM) -> None:
    for rel in paths:
        shutil.rmtree(root / rel, ignore_errors=True)


def import_root(client: Any, root: Path, image: str, steps: StepProgress) -> str:
    """``docker import`` of ``root`` as ``image``; returns the image id."""
    with tempfile.TemporaryDirectory(prefix="m1eval-import-") as tmp:
        tar_path = Path(tmp) / "root.tar"
        steps.stage("archiving the root")
        with tarfile.open(tar_path, "w") as tar:
            tar.add(root, arcname=".", filter=_counting(steps))
        size = tar_path.stat().st_size
        steps.stage(f"docker import -> {image}", max(1, size >> 20))
        repo, _, tag = image.partition(":")
        with open(tar_path, "rb") as fh:
            client.api.import_image_from_data(_chunks(fh, steps), repository=repo,
                                              tag=tag or "latest")  # fmt: skip
    return str(client.images.get(image).id)


def build_root_image(
    client: Any,
    image: str,
    packages: Iterable[str],
    *,
    mirror: str = DEFAULT_MIRROR,
    release: str = "bookworm",
    hook: Callable[[Path], None] | None = None,
    progress: bool = True,
) -> str:
    """debootstrap, trim, ``hook(root)``, import: the image id."""
    with (StepProgress(f"building {image}", enabled=progress) as steps,
          tempfile.TemporaryDirectory(prefix="m1eval-rootfs-") as tmp):  # fmt: skip
        root = Path(tmp) / "root"
        debootstrap(root, packages, release, mirror, steps)
        trim(root)
        if hook is not None:
            steps.stage("adding files")
            hook(root)
        return import_root(client, root, image, steps)


def _counting(steps: StepProgress) -> Callable[[tarfile.TarInfo], tarfile.TarInfo]:
    def count(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if info.isfile():
            steps.update(f"{info.name[-60:]}")
        return info

    return count


def _chunks(fh: Any, steps: StepProgress) -> Iterable[bytes]:
    while chunk := fh.read(_IMPORT_CHUNK):
        steps.update(advance=len(chunk) >> 20)
        yield chunk
