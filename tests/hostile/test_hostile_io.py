"""Text a model or a user hands us, stored and read back without loss or traceback: lone
surrogates in completions, JSON Lines holding U+2028, deeply nested JSON, arbitrary bytes in
every file a command reads, and server text rendered into reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m1eval.store import RunStore, read_samples_file
from m1eval.swebench.predictions import read_predictions, write_predictions
from m1eval.testing import swebench_selftest as selftest
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import only_run_dir, read_jsonl

SURROGATE = "\ud800"


def test_the_store_keeps_lone_surrogates_escaped_and_counted(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    store.open("h")
    store.append({"sample_id": "a", "answer": f"x{SURROGATE}y{SURROGATE}", "extra": {}})
    store.append({"sample_id": "b", "answer": "fine", "extra": {}})
    store.log_prompt("p", [{"role": "user", "content": SURROGATE}])
    store.close()
    raw = (tmp_path / "run" / "samples.jsonl").read_bytes()
    raw.decode("utf-8")  # valid UTF-8 on disk
    records, _, torn = read_samples_file(tmp_path / "run" / "samples.jsonl")
    assert not torn and records["a"]["answer"] == f"x{SURROGATE}y{SURROGATE}"
    assert records["a"]["extra"]["escaped_chars"] == 2 and "escaped_chars" not in records["b"]
    again = RunStore(tmp_path / "run")
    done = again.open("h")
    again.drop(["b"])  # rewriting the file with the escaped record in it
    again.close()
    assert set(done) == {"a", "b"}
    assert set(read_samples_file(tmp_path / "run" / "samples.jsonl")[0]) == {"a"}


def test_a_surrogate_in_a_completion_does_not_stop_reruns(cli, tmp_path: Path) -> None:
    answers = {"$7 + 5$": f"\\boxed{{12}} {SURROGATE}", "divisors": f"{SURROGATE}\\boxed{{9}}"}
    args = ("run", "--suite", "aime24", "--split", "smoke", "--model", "stub-model",
            "--results-dir", tmp_path, "--no-progress", "--repeats", "1")  # fmt: skip
    with StubServer(StubConfig(answers=answers, correct_rate=1.0, reasoning=False)) as srv:
        first = cli(*args, "--base-url", srv.base_url)
        assert first.code == 0, first.err
        second = cli(*args, "--base-url", srv.base_url)
        assert second.code == 0, second.err
        asked = srv.state.requests
    assert asked == 5  # the rerun asked nothing again
    run = only_run_dir(tmp_path)
    records = read_jsonl(run / "samples.jsonl")
    assert len(records) == 5 and sum(r["score"] for r in records) == 2.0
    res = cli("results", "show", str(run))
    assert res.code == 0, res.err


def test_predictions_with_line_separators_round_trip(tmp_path: Path) -> None:
    patch = selftest.GOLD_PATCH.replace("return hi", "return hi  # \u2028\u2029\x0c\x1c\x85")
    rows = [{"instance_id": selftest.INSTANCE_ID, "model_name_or_path": "m", "model_patch": patch}]
    path = tmp_path / "predictions.jsonl"
    write_predictions(path, rows)
    assert read_predictions(path, {selftest.INSTANCE_ID}) == rows


def test_deeply_nested_user_json_is_a_one_line_error(cli, tmp_path: Path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    for name, args in (
        ("preds.jsonl", ("swe-bench", "grade", "--split", "smoke", "--predictions")),
        ("responses.jsonl", ("grade", "--suite", "aime24", "--split", "smoke", "--out",
                             str(tmp_path / "o.jsonl"), "--responses")),
        ("actions.json", ("tau", "replay", "--domain", "retail", "--actions")),
    ):  # fmt: skip
        path = tmp_path / name
        path.write_text(deep)
        res = cli(*args, path)
        assert res.code == 2, (name, res.err)
        assert res.err.count("\n") == 1 and "Traceback" not in res.err, res.err
        assert "nested deeper" in res.err or "expected" in res.err, res.err


def _run_dir(tmp_path: Path, model: str) -> Path:
    run = tmp_path / "results" / "r1"
    run.mkdir(parents=True)
    summary = {"run_id": "r1", "config_hash": "h", "model": model, "protocol": "m1-80k",
               "suites": {"aime24": {"score": 10.0, "ci_low": 0.0, "ci_high": 20.0,
                                     "metric": "avg@1", "n_items": 1, "n_samples": 1,
                                     "denominator": 1, "truncation_rate": 0.0, "complete": True,
                                     "outcomes": {"scored": 1, "model_failure": 0,
                                                  "infra_error": 0, "skipped": 0},
                                     "conservative": {"score": 10.0}, "paper": {}}}}  # fmt: skip
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "manifest.json").write_text(json.dumps({"run_id": "r1", "config": {"model": model}}))
    (run / "samples.jsonl").write_text("")
    return run


def test_report_markdown_escapes_what_the_server_said(cli, tmp_path: Path) -> None:
    model = "<img src=x onerror=alert(1)>|**bold**|[link](http://x)\n# heading"
    _run_dir(tmp_path, model)
    res = cli("report", str(tmp_path / "results"), "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "\\*\\*bold\\*\\*" in md and "\\[link\\]" in md and "\n# heading" not in md
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "<img src=x" not in html


JUNK = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"[" * 100_000,
            b'{"a":' * 50_000,
            b"\xff\xfe",
            b"null",
            b"[]",
            b"{}",
            b'{"instance_id": 1}',
            b'{"item_id": {}}',
            b"- - -\n: :",
            b"1" * 5000,
            b"!!python/object:os.system {}",
            b'"\\ud800"',
        ]
    ),
)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=JUNK)
def test_no_reader_shows_a_traceback(cli, tmp_path_factory, data: bytes) -> None:
    """Arbitrary bytes in every file a command reads: a result or a one-line error, never a
    traceback and never the catch-all for our own defects ("unexpected")."""
    tmp = tmp_path_factory.mktemp("junk")
    junk = tmp / "junk.jsonl"
    junk.write_bytes(data)
    run = _run_dir(tmp, "m")
    for name in ("summary.json", "manifest.json", "samples.jsonl"):
        victim = tmp / "victims" / name / "r1"
        shutil.copytree(run, victim)
        (victim / name).write_bytes(data)
    commands = [
        ("swe-bench", "grade", "--split", "smoke", "--predictions", junk),
        ("grade", "--suite", "aime24", "--split", "smoke", "--out", tmp / "o.jsonl",
         "--responses", junk),
        ("tau", "replay", "--domain", "retail", "--actions", junk),
        ("profile", "latency", "--from", junk, "--results-dir", tmp / "lat"),
    ]  # fmt: skip
    for name in ("summary.json", "manifest.json", "samples.jsonl"):
        victim = tmp / "victims" / name / "r1"
        commands += [("results", "show", victim), ("report", victim, "--out", tmp / "rep"),
                     ("compare", victim, run)]  # fmt: skip
    for args in commands:
        res = cli(*args)
        assert "Traceback (most" not in res.err, (args, res.err)
        assert "error: unexpected" not in res.err, (args, res.err)
        assert res.code == 0 or res.err.strip().count("\n") == 0, (args, res.err)


@pytest.mark.parametrize("payload", [b"[" * 100_000, b"a: " + b"[" * 100_000, b"\xff"])
def test_malformed_configs_are_one_line_errors(cli, tmp_path: Path, payload: bytes) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(payload)
    res = cli("run", "--suite", "aime24", "--split", "smoke", "--protocol", bad,
              "--base-url", "http://127.0.0.1:9/v1", "--model", "m")  # fmt: skip
    assert res.code == 2 and "Traceback (most" not in res.err, res.err
    assert "error: unexpected" not in res.err, res.err
