"""Model copies behind `vllm-router` (the real router, from PyPI): runs go through it, an
item's requests stay on one copy, a copy lost mid-run costs no sample, and copies that
differ are refused. The copies are vLLM emulator processes on 127.0.0.2 and 127.0.0.3."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from m1eval.model.embedded import free_port
from m1eval.testing.vllm_emulator import spawn
from tests.conftest import only_run_dir, private_network_namespace, read_jsonl

ROUTER = shutil.which("vllm-router") or shutil.which(
    "vllm-router", path=str(Path(sys.executable).parent)
)
pytestmark = [
    pytest.mark.skipif(ROUTER is None, reason="vllm-router not installed "
                       "(pip install 'm1eval[router]')"),
    private_network_namespace(), pytest.mark.usefixtures("only_loopback"),
]  # fmt: skip


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


class Fleet:
    def __init__(self, tmp: Path, copies: list[tuple[str, list[str]]]) -> None:
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        for host, args in copies:
            proc, url = spawn(tmp, *args, host=host)
            self.procs.append(proc)
            self.urls.append(url.removesuffix("/v1"))
        port = free_port()
        self.router = subprocess.Popen(
            [str(ROUTER), "--host", "127.0.0.1", "--port", str(port), "--worker-urls",
             *self.urls, "--policy", "consistent_hash", "--health-check-interval-secs", "1",
             "--health-failure-threshold", "1", "--retry-max-retries", "3",
             "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                _get(self.base_url + "/models")
                return
            except OSError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError("vllm-router did not start")

    def seen(self, i: int) -> list[dict]:
        return _get(self.urls[i] + "/emulator/requests")  # type: ignore[return-value]

    def close(self) -> None:
        for proc in [self.router, *self.procs]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path, [("127.0.0.2", []), ("127.0.0.3", [])])
    yield f
    f.close()


def _run(cli, base_url: str, results: Path, *extra: str):
    return cli("run", "--suite", "aime24", "--split", "smoke", "--base-url", base_url,
               "--results-dir", results, "--no-progress", "--retry-base-delay", "0.2",
               *extra)  # fmt: skip


def test_run_through_the_router_keeps_each_item_on_one_copy(cli, tmp_path: Path,
                                                             fleet: Fleet) -> None:  # fmt: skip
    res = _run(cli, fleet.base_url, tmp_path)
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    records = read_jsonl(run / "samples.jsonl")
    assert len(records) == 160 and all(r["outcome"] != "infra_error" for r in records)
    manifest = json.loads((run / "manifest.json").read_text())
    replicas = manifest["endpoint"]["replicas"]
    assert [r["url"] for r in replicas] == sorted(fleet.urls)  # read from the router's worker list
    assert all(r["version"] == "0.23.0" and r["template_probe_sha256"] for r in replicas)
    # consistent hashing on the item's session key: the 32 repeats of an item, one copy. Which
    # copy an item lands on follows the hash ring, which depends on the copies' (free, so
    # random) ports: all 5 items on one copy happens in about 1 run in 16 and is not a fault.
    copies: dict[str, set[int]] = defaultdict(set)
    for i in range(2):
        for seen in fleet.seen(i):
            copies[seen["session"]].add(i)
    assert len(copies) == 5 and all(len(c) == 1 for c in copies.values())
    assert sum(len(fleet.seen(i)) for i in range(2)) >= 160  # every request reached a copy


def test_a_copy_lost_mid_run_costs_no_sample(cli, tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, [("127.0.0.2", ["--delay", "0.05"]),
                             ("127.0.0.3", ["--delay", "0.05"])])  # fmt: skip
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "m1eval.cli", "run", "--suite", "aime24", "--split", "smoke",
             "--base-url", fleet.base_url, "--results-dir", str(tmp_path / "r"),
             "--no-progress", "--retry-base-delay", "0.2", "--concurrency", "4"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 30
        while len(fleet.seen(1)) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        answered_before = len(fleet.seen(1))
        fleet.procs[1].kill()
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        records = read_jsonl(only_run_dir(tmp_path / "r") / "samples.jsonl")
        assert len({r["sample_id"] for r in records}) == len(records) == 160
        assert all(r["outcome"] in ("scored", "model_failure") for r in records)
        # the survivor answered everything the lost copy had not (and what it lost in flight)
        assert len(fleet.seen(0)) + answered_before >= 160
    finally:
        fleet.close()


@pytest.mark.parametrize(("second", "code", "says"), [
    (["--release", "0.12.0"], 7, "vLLM version: 0.23.0 then, 0.12.0 now"),
    (["--max-model-len", "131072"], 7, "model card (id or window)"),
    (["--weights", "other-finetune"], 7, "answers: the fixed prompt at temperature 0 answers "
     "otherwise"),
    (["--chat-template", "minimax_m1_tools", "--model", "other/model"], 3,
     "does not serve MiniMaxAI/MiniMax-M1-80k"),
])  # fmt: skip
def test_copies_that_differ_are_refused(cli, tmp_path: Path, second: list[str], code: int,
                                        says: str) -> None:  # fmt: skip
    """Another vLLM, another window, other weights under the same card (only the answers
    differ): one run is never answered by two models."""
    fleet = Fleet(tmp_path, [("127.0.0.2", []), ("127.0.0.3", second)])
    try:
        res = _run(cli, fleet.base_url, tmp_path / "r", "--model", "MiniMaxAI/MiniMax-M1-80k",
                   "--any-model")  # fmt: skip
    finally:
        fleet.close()
    assert res.code == code and says in res.err, res.err
    assert res.err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_copies_are_compared_by_what_they_serve_not_where_the_weights_lie(
        cli, tmp_path: Path) -> None:  # fmt: skip
    """The same weights loaded from another path (another card ``root``) are the same model."""
    fleet = Fleet(tmp_path, [("127.0.0.2", []),
                             ("127.0.0.3", ["--root", "/mnt/other/MiniMax-M1-80k"])])
    try:
        res = _run(cli, fleet.base_url, tmp_path / "r", "--limit", "1")
    finally:
        fleet.close()
    assert res.code == 0, res.err


def test_listed_replicas_are_checked_without_a_router_list(cli, tmp_path: Path) -> None:
    """--replica URL names the copies when the router does not list them."""
    a, url_a = spawn(tmp_path, host="127.0.0.2")
    b, url_b = spawn(tmp_path, "--chat-template", "minimax_m1_tools", host="127.0.0.3")
    try:
        # the tools template renders the probe (no tools) like the plain one: alike
        res = _run(cli, url_a, tmp_path / "r", "--replica", url_a, "--replica", url_b,
                   "--limit", "1")  # fmt: skip
        assert res.code == 0, res.err
    finally:
        a.kill()
        b.kill()


def test_a_tau_episode_and_its_user_simulator_stay_on_one_copy(cli, tmp_path: Path,
                                                                fleet: Fleet) -> None:  # fmt: skip
    """The user simulator's requests carry the item's session key too: an episode's agent and
    user turns land on one copy (and reuse its prefix cache)."""
    import os

    tau = Path(os.environ["M1EVAL_TAU_DIR"])
    if not (tau / "retail").exists():
        pytest.skip("tau-bench data missing")
    res = cli("run", "--suite", "tau-bench-retail", "--split", "smoke", "--base-url",
              fleet.base_url, "--results-dir", tmp_path, "--no-progress", "--data-dir", tau)
    assert res.code == 0, res.err
    seen = [(i, s) for i in range(2) for s in fleet.seen(i)]
    assert seen and all(s["session"] for _, s in seen)  # agent and user requests alike
    copies: dict[str, set[int]] = defaultdict(set)
    for i, s in seen:
        copies[s["session"]].add(i)
    assert len(copies) == 3 and all(len(c) == 1 for c in copies.values())  # three tasks
