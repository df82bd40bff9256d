"""``--shard i/N`` and ``m1eval merge``: shards split a run by sample id, and their merge is
the run an unsharded invocation writes (summary byte for byte, samples in the same order)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from m1eval.config import parse_shard, shard_of
from m1eval.errors import ConfigError
from m1eval.results import load
from m1eval.testing.stub_server import StubConfig, StubServer
from m1eval.testing.vllm_emulator import EmulatorConfig, VllmEmulator
from tests.conftest import only_run_dir, read_jsonl

TAU = Path(os.environ["M1EVAL_TAU_DIR"])


def _run(cli, base_url: str, results: Path, *extra: str) -> None:
    res = cli(
        "run",
        "--suite",
        "aime24",
        "--split",
        "smoke",
        "--base-url",
        base_url,
        "--model",
        "stub-model",
        "--results-dir",
        results,
        "--no-progress",
        *extra,
    )
    assert res.code == 0, res.err


@pytest.fixture
def sharded(cli, tmp_path: Path) -> tuple[Path, list[Path]]:
    with StubServer(StubConfig(correct_rate=0.5, answers={"Find the": "33"})) as server:
        _run(cli, server.base_url, tmp_path / "full")
        for i in range(3):
            _run(cli, server.base_url, tmp_path / "shards", "--shard", f"{i}/3")
    return only_run_dir(tmp_path / "full"), sorted((tmp_path / "shards").iterdir())


def test_merge_equals_the_unsharded_run(cli, tmp_path: Path, sharded) -> None:
    full, shards = sharded
    sizes = [len(read_jsonl(d / "samples.jsonl")) for d in shards]
    assert sum(sizes) == 160 and all(40 <= n <= 70 for n in sizes)  # 5 items x avg@32
    for i, d in enumerate(shards):
        assert d.name.endswith(f"-shard-{i}of3")
        assert all(shard_of(r["sample_id"], 3) == i for r in read_jsonl(d / "samples.jsonl"))
    res = cli("merge", *shards, "--results-dir", tmp_path / "merged")
    assert res.code == 0, res.err
    merged = only_run_dir(tmp_path / "merged")
    assert merged.name == full.name
    assert (merged / "summary.json").read_bytes() == (full / "summary.json").read_bytes()
    # the same samples with the same answers and grades (the unsharded file is in the order
    # samples finished; the merged one in plan order)
    keys = ("sample_id", "item_id", "repeat", "outcome", "score", "answer")
    mine = sorted(tuple(r[k] for k in keys) for r in read_jsonl(merged / "samples.jsonl"))
    assert mine == sorted(tuple(r[k] for k in keys) for r in read_jsonl(full / "samples.jsonl"))
    manifest = json.loads((merged / "manifest.json").read_text())
    assert [s["index"] for s in manifest["shards"]] == [0, 1, 2]
    assert manifest["status"] == "complete" and "shard" not in manifest
    assert all(s["invocations"] and s["endpoint"] for s in manifest["shards"])
    assert len(load(merged)) == 160  # readers take the merged run like any other


def test_merge_refuses_what_is_not_one_whole_run(cli, tmp_path: Path, sharded) -> None:
    full, shards = sharded
    out = tmp_path / "m"
    cases = [
        (shards[:2], "shards 2/3 are missing"),
        ([shards[0], shards[0], shards[1], shards[2]], "shard 0/3 given twice"),
        ([full], "is not a shard"),
    ]
    for dirs, says in cases:
        res = cli("merge", *dirs, "--results-dir", out)
        assert res.code == 2 and says in res.err, res.err
    # a shard that lost samples (a killed shard): merge says which shards to rerun
    lines = (shards[1] / "samples.jsonl").read_text().splitlines(keepends=True)
    (shards[1] / "samples.jsonl").write_text("".join(lines[:-2]))
    res = cli("merge", *shards, "--results-dir", out)
    assert res.code == 2 and "2 samples are missing (shards 1/3): rerun those shards" in res.err
    assert not out.exists()
    # a shard of another configuration
    other = tmp_path / "other"
    shutil.copytree(shards[1], other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["config_hash"] = "f" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    res = cli("merge", shards[0], other, shards[2], "--results-dir", out)
    assert res.code == 2 and "different configurations" in res.err


def test_rerunning_a_shard_finishes_only_what_is_missing(cli, tmp_path: Path, sharded) -> None:
    _, shards = sharded
    lines = (shards[2] / "samples.jsonl").read_text().splitlines(keepends=True)
    (shards[2] / "samples.jsonl").write_text("".join(lines[:-5]))
    with StubServer(StubConfig(correct_rate=0.5, answers={"Find the": "33"})) as server:
        _run(cli, server.base_url, tmp_path / "shards", "--shard", "2/3")
        assert server.state.requests == 5
    assert cli("merge", *shards, "--results-dir", tmp_path / "merged").code == 0


def test_shards_of_an_agent_suite_merge_with_their_counters(cli, tmp_path: Path) -> None:
    """TAU counts its user simulator's requests outside the records: the shards' counts add
    up to the unsharded run's, so the merged summary is again byte for byte the same."""
    if not (TAU / "retail").exists():
        pytest.skip(f"tau-bench data not found at {TAU}")
    args = ("run", "--suite", "tau-bench-retail", "--split", "smoke", "--data-dir", TAU,
            "--protocol", "m1-80k", "--no-progress", "--repeats", "2")  # fmt: skip
    with VllmEmulator(EmulatorConfig()) as server:
        assert cli(*args, "--base-url", server.base_url, "--results-dir", tmp_path / "full"
                   ).code == 0  # fmt: skip
        for i in range(2):
            assert cli(*args, "--base-url", server.base_url, "--results-dir", tmp_path / "s",
                       "--shard", f"{i}/2").code == 0  # fmt: skip
    assert cli("merge", *sorted((tmp_path / "s").iterdir()), "--results-dir",
               tmp_path / "merged").code == 0  # fmt: skip
    full, merged = only_run_dir(tmp_path / "full"), only_run_dir(tmp_path / "merged")
    assert (merged / "summary.json").read_bytes() == (full / "summary.json").read_bytes()


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0", "1/2/3"])
def test_bad_shard_specs(text: str) -> None:
    with pytest.raises(ConfigError, match="use i/N"):
        parse_shard(text)
    assert parse_shard("2/5") == (2, 5)


def test_a_merge_is_complete_only_when_every_shard_is(cli, tmp_path: Path, sharded) -> None:
    """One shard whose run ended incomplete (here: its manifest says so) makes the merged run
    incomplete, whatever the others say."""
    _, shards = sharded
    manifest = json.loads((shards[1] / "manifest.json").read_text())
    manifest["status"] = "incomplete"
    (shards[1] / "manifest.json").write_text(json.dumps(manifest))
    assert cli("merge", *shards, "--results-dir", tmp_path / "merged").code == 0
    merged = json.loads((only_run_dir(tmp_path / "merged") / "manifest.json").read_text())
    assert merged["status"] == "incomplete"
    assert [s["status"] for s in merged["shards"]] == ["complete", "incomplete", "complete"]


def test_the_merged_manifest_keeps_every_shards_provenance(tmp_path: Path) -> None:
    """Field by field: the whole run's id, complete only when every shard is, the earliest
    start and the latest end, no invocations of its own, and one entry per shard with its
    index, count, id, directory, status, endpoint, serving, host, git and invocations."""
    from types import SimpleNamespace

    from m1eval.commands.merge import _merged_manifest

    def shard(i: int, status: str, created: str, ended: str) -> tuple[dict, Path]:
        m = {"run_id": f"r-shard-{i}of2", "status": status, "created_at": created,
             "ended_at": ended, "shard": {"index": i, "count": 2}, "config": {"seed": 1},
             "invocations": [f"cmd {i}"], "endpoint": {"url": f"u{i}"}, "serving": f"s{i}",
             "host": {"hostname": f"h{i}"}, "git": {"commit": f"c{i}"}}  # fmt: skip
        d = tmp_path / m["run_id"]
        d.mkdir()
        return m, d

    by_index = [shard(0, "complete", "2026-12-06T10:00:00", "2026-12-06T11:00:00"),
                shard(1, "complete", "2026-12-06T09:00:00", "2026-12-06T12:00:00")]
    plan = SimpleNamespace(run_id="r")
    m = _merged_manifest(plan, by_index, 2)  # type: ignore[arg-type]
    assert m["run_id"] == "r" and m["status"] == "complete"
    assert (m["created_at"], m["ended_at"]) == ("2026-12-06T09:00:00", "2026-12-06T12:00:00")
    assert m["invocations"] == [] and "shard" not in m and m["merged_at"]
    assert m["config"] == {"seed": 1} and m["endpoint"] == {"url": "u0"}  # the first shard's
    assert m["shards"] == [
        {"index": i, "count": 2, "run_id": f"r-shard-{i}of2",
         "run_dir": str((tmp_path / f"r-shard-{i}of2").resolve()), "status": "complete",
         "endpoint": {"url": f"u{i}"}, "serving": f"s{i}", "host": {"hostname": f"h{i}"},
         "git": {"commit": f"c{i}"}, "invocations": [f"cmd {i}"]} for i in (0, 1)]  # fmt: skip
    by_index[1][0]["status"] = "incomplete"
    assert _merged_manifest(plan, by_index, 2)["status"] == "incomplete"  # type: ignore[arg-type]
