"""Bad input: one line on stderr, a non-zero exit code, no traceback, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m1eval.model.embedded import free_port


def _one_line_error(res, code: int, needle: str) -> None:
    assert res.code == code, (res.code, res.err)
    assert "Traceback" not in res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("m1eval: error: ")
    assert needle in lines[0], lines[0]


def test_unknown_suite(cli, tmp_path: Path) -> None:
    res = cli("run", "--suite", "aime2099", "--results-dir", tmp_path / "r")
    _one_line_error(res, 2, "unknown suite 'aime2099' (known suites: aime24, aime25")
    assert not (tmp_path / "r").exists()


def test_malformed_suite_yaml(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "aime24.yaml").write_text("name: aime24\ndataset: [unclosed\n")
    monkeypatch.setenv("M1EVAL_SUITES_DIR", str(tmp_path))
    res = cli("run", "--suite", "aime24", "--results-dir", tmp_path / "r")
    _one_line_error(res, 2, "malformed YAML in")
    assert " at line " in res.err
    assert not (tmp_path / "r").exists()


def test_manifest_missing_field(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "aime24.yaml").write_text("name: aime24\nadapter: aime\nprotocol: {}\n")
    monkeypatch.setenv("M1EVAL_SUITES_DIR", str(tmp_path))
    _one_line_error(cli("run", "--suite", "aime24"), 2, "missing 'dataset'")


def test_unreachable_endpoint(cli, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url", url, "--model", "m",
              "--results-dir", tmp_path / "r")  # fmt: skip
    _one_line_error(res, 3, f"cannot reach model server at {url}")
    assert not (tmp_path / "r").exists()


def test_missing_dataset_names_repo_revision_and_option(cli, tmp_path: Path) -> None:
    res = cli("run", "--suite", "aime24", "--data-dir", tmp_path, "--results-dir", tmp_path / "r")
    _one_line_error(res, 2, "HuggingFaceH4/aime_2024")
    assert "2fe88a2f1091d5048c0f36abc874fb997b3dd99a" in res.err and "--data-dir" in res.err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"item_id": "1", "response": "x"}\nnot json\n', "line 2: not valid JSON"),
        ('{"response": "x"}\n', "line 1: missing 'item_id'"),
        ('{"item_id": "1"}\n', "line 1: missing 'response'"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        ('{"item_id": "999", "response": "x"}\n', "item_id '999' is not in aime24"),
        ("", "has no responses"),
    ],
)
def test_malformed_responses_file(cli, tmp_path: Path, content: str, needle: str) -> None:
    responses = tmp_path / "responses.jsonl"
    responses.write_text(content)
    out = tmp_path / "graded.jsonl"
    res = cli("grade", "--suite", "aime24", "--split", "smoke", "--responses", responses,
              "--out", out)  # fmt: skip
    _one_line_error(res, 2, needle)
    assert not out.exists()


def test_bad_option_value(cli) -> None:
    res = cli("run", "--suite", "aime24", "--limit", "0")
    assert res.code == 2 and "--limit: expected a positive integer" in res.err


def test_bad_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from m1eval.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--suite", "aime24", "--limit", "zero"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("m1eval: error: argument --limit")


def test_invalid_run_id(cli, tmp_path: Path) -> None:
    res = cli("run", "--suite", "aime24", "--run-id", "../escape", "--results-dir", tmp_path)
    _one_line_error(res, 2, "invalid --run-id")


def test_grade_happy_path(cli, tmp_path: Path) -> None:
    responses = tmp_path / "responses.jsonl"
    rows = [
        {"item_id": "1", "response": "<think>\\boxed{13}</think>so \\boxed{012}"},
        {"item_id": 2, "response": "\\boxed{8}"},
        {"item_id": "3", "response": "no idea"},
        {"item_id": "4", "response": "<think>long thought that never ends"},
    ]
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "graded.jsonl"
    res = cli("grade", "--suite", "aime24", "--split", "smoke", "--responses", responses,
              "--out", out)  # fmt: skip
    assert res.code == 0, res.err
    graded = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(g["item_id"], g["score"], g["outcome"], g["extracted_answer"]) for g in graded] == [
        ("1", 1.0, "scored", "012"),
        ("2", 0.0, "scored", "8"),
        ("3", 0.0, "model_failure", None),
        ("4", 0.0, "model_failure", None),
    ]


def test_the_embedded_model_gets_string_content(cli, capsys) -> None:  # type: ignore[no-untyped-def]
    """llama.cpp's server cannot read list-of-parts content: the m1-80k protocol's shape is
    adapted for it with a note; asking for parts explicitly is one line, before any start."""
    from m1eval.commands.run import _content_format

    assert _content_format(None, "parts", embedded=True) == "string"
    assert "sent as strings" in capsys.readouterr().err
    assert _content_format(None, "parts", embedded=False) == "parts"
    assert _content_format("string", "parts", embedded=False) == "string"
    res = cli("run", "--suite", "aime24", "--split", "smoke", "--model", "embedded",
              "--protocol", "m1-80k", "--content-format", "parts", "--no-progress")  # fmt: skip
    assert res.code == 2 and res.err.count("\n") == 1 and "string content" in res.err


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--temperature", "-1", "temperature must be between 0 and 2"),
     ("--temperature", "2.5", "temperature must be between 0 and 2"),
     ("--top-p", "5", "top_p must be in (0, 1]"), ("--top-p", "0", "top_p must be in (0, 1]"),
     ("--stall-timeout", "0", "--stall-timeout: expected a number > 0"),
     ("--stall-timeout", "-1", "--stall-timeout: expected a number > 0"),
     ("--retry-base-delay", "-0.5", "--retry-base-delay: expected a number >= 0"),
     ("--max-tokens", "0", "--max-tokens: expected a positive integer"),
     ("--concurrency", "0", "--concurrency: expected a positive integer"),
     ("--user-temperature", "-1", "--user-temperature must be between 0 and 2"),
     ("--user-temperature", "2.1", "--user-temperature must be between 0 and 2")],
)  # fmt: skip
def test_nonsense_sampling_is_refused_at_the_door(cli, tmp_path, flag, value, says) -> None:  # type: ignore[no-untyped-def]
    suite = "tau-bench-retail" if flag.startswith("--user") else "aime24"
    res = cli("run", "--suite", suite, "--split", "smoke", "--base-url",
              "http://127.0.0.1:9/v1", "--model", "m", flag, value, "--results-dir", tmp_path,
              "--no-progress")  # fmt: skip
    assert res.code == 2 and says in res.err and res.err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("args", "says"),
    [(("compare", "a", "b", "--alpha", "0"), "--alpha: expected a number in (0, 1]"),
     (("compare", "a", "b", "--min-effect", "-1"), "--min-effect: expected a number >= 0"),
     (("serve", "embedded", "--port", "70000"), "--port: expected a port number"),
     (("serve", "vllm", "--startup-timeout", "0"), "--startup-timeout: expected a number > 0"),
     (("doctor", "--base-url", "http://127.0.0.1:9/v1", "--probe-max-tokens", "0"),
      "--probe-max-tokens: expected a positive integer")],
)  # fmt: skip
def test_nonsense_options_of_other_commands_are_refused(cli, args, says) -> None:  # type: ignore[no-untyped-def]
    res = cli(*args)
    assert res.code == 2 and says in res.err and res.err.count("\n") == 1, res.err


def test_sampling_ranges_of_protocol_files_are_checked(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A protocol file's sampling keys are held to the ranges servers accept, like flags."""
    for key, value, says in (("min_p", 1.5, "min_p must be between 0 and 1"),
                             ("presence_penalty", 3, "presence_penalty must be between -2 and 2"),
                             ("top_k", -2, "top_k must be -1 (off)")):  # fmt: skip
        proto = tmp_path / f"{key}.yaml"
        proto.write_text(f"name: {key}\nsampling:\n  {key}: {value}\n")
        res = cli("run", "--suite", "aime24", "--split", "smoke", "--base-url",
                  "http://127.0.0.1:9/v1", "--model", "m", "--protocol", str(proto),
                  "--results-dir", tmp_path / "r", "--no-progress")  # fmt: skip
        assert res.code == 2 and says in res.err and res.err.count("\n") == 1, res.err
        assert not (tmp_path / "r").exists()


def test_grade_says_what_it_graded_in_words(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"item_id": "60", "response": "\\\\boxed{1}"}) + "\n")
    out = tmp_path / "g.jsonl"
    res = cli("grade", "--suite", "aime24", "--split", "smoke", "--responses", responses,
              "--out", out)  # fmt: skip
    if res.code == 2 and "not in aime24" in res.err:  # the smoke split's own ids
        from m1eval.registry import get_suite

        [item, *_] = get_suite("aime24").load("smoke", None)[0]
        responses.write_text(json.dumps({"item_id": item.item_id,
                                         "response": "\\\\boxed{1}"}) + "\n")  # fmt: skip
        res = cli("grade", "--suite", "aime24", "--split", "smoke", "--responses", responses,
                  "--out", out)  # fmt: skip
    assert res.code == 0, res.err
    assert res.out.startswith("graded 1 response (") and "0 infra_error" in res.out


def test_an_unreachable_hub_fails_at_once_in_one_line(cli, tmp_path, monkeypatch) -> None:
    """No --data-dir and no hub: one line naming the fix, no retries, no warnings."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("M1EVAL_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # an empty cache
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    from m1eval.data import hub_reachable

    assert hub_reachable() is False
    res = cli("run", "--suite", "aime24", "--base-url", "http://127.0.0.1:9/v1", "--model", "x",
              "--results-dir", tmp_path / "r")  # fmt: skip
    assert res.code == 2
    assert res.err.strip().splitlines() == [
        "m1eval: error: dataset HuggingFaceH4/aime_2024 is not in the local cache and the "
        "Hugging Face hub cannot be reached; pass --data-dir DIR (or set M1EVAL_DATA_DIR) where "
        "DIR/HuggingFaceH4/aime_2024/ (or DIR/hf/HuggingFaceH4/aime_2024/) is a snapshot"
    ]


def test_one_data_root_serves_every_suite() -> None:
    """The shared data root holds hf/<org>/<dataset> and tau_bench/<domain>: the same
    --data-dir finds both (and the same folders named directly)."""
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "hf").is_dir() or not (SHARED_DATA / "tau_bench").is_dir():
        pytest.skip(f"no shared data at {SHARED_DATA}")
    from m1eval.registry import get_suite

    for data_dir in (SHARED_DATA, SHARED_DATA / "hf"):
        items, ds = get_suite("aime24").load("train", data_dir)
        assert len(items) == 30 and ds.source == "mirror"
    for data_dir in (SHARED_DATA, SHARED_DATA / "tau_bench"):
        items, _ = get_suite("tau-bench-retail").load("test", data_dir)
        assert len(items) == 115


@pytest.mark.parametrize(("args", "says"), [
    (["run", "--suite", "aime24", "--base-url", "localhost:18081"],
     "argument --base-url: expected an http:// or https:// URL, got 'localhost:18081' "
     "(e.g. http://localhost:18081/v1)"),
    (["run", "--suite", "aime24", "--base-url", "http://:80/v1"],
     "argument --base-url: no host in 'http://:80/v1'"),
    (["run", "--suite", "aime24", "--base-url", "http://h:port/v1"],
     "argument --base-url: not a URL: 'http://h:port/v1'"),
    (["doctor", "--base-url", "ftp://h/v1"],
     "argument --base-url: expected an http:// or https:// URL, got 'ftp://h/v1'"),
    (["run", "--suite", "aime24", "--replica", "h:1"],
     "argument --replica: expected an http:// or https:// URL, got 'h:1'"),
    (["run", "--suite", "aime24", "--protocol", "./nope.yaml", "--base-url", "http://h:1/v1"],
     "no protocol file nope.yaml (a protocol is a known name or a .yaml file; known: "),
    (["run", "--suite", "aime24", "--tokenizer", "o200k", "--base-url", "http://h:1/v1"],
     "--tokenizer: aime24 counts no prompt tokens with it (only longbench-v2 truncates "
     "prompts); drop it"),
])  # fmt: skip
def test_options_that_cannot_work_are_refused_at_the_door(cli, args, says) -> None:  # type: ignore[no-untyped-def]
    res = cli(*args)
    assert res.code == 2 and res.out == ""
    assert res.err.startswith(f"m1eval: error: {says}"), res.err
    assert len(res.err.strip().splitlines()) == 1
