"""Image builds show what they are doing: debootstrap's packages retrieved, extracted,
unpacked and configured (k of N), read from a real debootstrap transcript; a line per stage and
every few seconds in logs; a failed debootstrap names its own error."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest

from m1eval import progress
from m1eval.progress import StepProgress
from m1eval.sandbox.errors import SandboxError
from m1eval.sandbox.rootfs import DebootstrapEvents, debootstrap

TRANSCRIPT = Path(__file__).parent / "data" / "debootstrap_bookworm.log"  # bookworm minbase


class Recorder(StepProgress):
    def __init__(self) -> None:
        super().__init__("test", enabled=False)
        self.lines: list[str] = []

    def _refresh(self) -> None:
        self.lines.append(self.line().rsplit(" · ", 1)[0])


def test_debootstrap_transcript_becomes_stages_with_counts() -> None:
    steps = Recorder()
    events = DebootstrapEvents(steps)
    for line in TRANSCRIPT.read_text().splitlines():
        events.feed(line)
    stages = [ln.split(":", 1)[1].split(" ")[1:3] for ln in steps.lines]
    order = []
    for stage in (" ".join(s) for s in stages):
        if not order or order[-1] != stage:
            order.append(stage)
    assert order[:7] == ["reading the", "resolving dependencies", "retrieving packages",
                         "extracting packages", "unpacking packages", "configuring packages",
                         "unpacking packages"]  # fmt: skip
    assert order[-1] == "base system"
    retrieved = len(events.packages["Retrieving"])
    assert retrieved == 93  # 95 "Retrieving" lines less InRelease and Packages
    assert "test: retrieving packages 93 (zlib1g)" in steps.lines
    assert f"test: extracting packages 88/{retrieved} (zlib1g)" in steps.lines
    # the base system's packages are unpacked and configured after the required ones: the
    # count goes on instead of starting again ("zlib1g:amd64..." is zlib1g)
    assert steps.lines[-4:-1] == [
        f"test: unpacking packages 89/{retrieved} (python3-minimal)",
        f"test: configuring packages 88/{retrieved}",
        f"test: configuring packages 89/{retrieved} (python3-minimal)",
    ]
    assert "required" not in events.packages["Unpacking"]  # "Unpacking required packages..."
    assert "the" not in events.packages["Unpacking"]  # "Unpacking the base system..."
    assert "zlib1g" in events.packages["Configuring"]


def test_log_lines_at_each_stage_and_while_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.3)
    monkeypatch.setattr(progress, "REFRESH_S", 0.05)
    out = io.StringIO()
    with StepProgress("building img", file=out) as steps:
        steps.stage("retrieving packages")
        steps.update("gzip")
        time.sleep(1.0)  # nothing happens: the log still says where it is
        steps.stage("docker import -> img", 40)
        steps.update(advance=3)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("building img: retrieving packages · ")
    quiet = [ln for ln in lines if ln.startswith("building img: retrieving packages 1 (gzip)")]
    assert len(quiet) >= 2
    assert any(ln.startswith("building img: docker import -> img") for ln in lines)


@pytest.mark.skipif(shutil.which("debootstrap") is None, reason="debootstrap not installed")
def test_failed_debootstrap_names_its_error(tmp_path: Path) -> None:
    """A real debootstrap against a mirror nobody serves (a closed port on loopback)."""
    with pytest.raises(SandboxError, match=r"^debootstrap failed: E: .*Release"):
        debootstrap(tmp_path / "root", ["python3-minimal"], "bookworm",
                    "http://127.0.0.2:9/debian", StepProgress("t", enabled=False))  # fmt: skip
