"""OpenAI-MRCR: the card's grader, o200k binning, the over-length policy, and runs on
self-made parquet in the exact upstream schema (m1eval.testing.mrcr_synth)."""

from __future__ import annotations

import json
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from m1eval.model.reasoning import split_reasoning
from m1eval.registry import get_suite
from m1eval.suites.mrcr import bin_label, count_message_tokens, grade
from m1eval.testing.mrcr_synth import make_mirror, make_row, write_parquet
from m1eval.testing.stub_server import StubConfig, StubServer, stub_prompt_tokens
from m1eval.tokenizers import o200k_count
from tests.conftest import only_run_dir, read_jsonl


def test_grade_hand_checked() -> None:
    assert grade("ABCxyz", "ABCxyz", "ABC") == 1.0
    assert grade("ABCxy", "ABCxyz", "ABC") == pytest.approx(0.8)  # 2*2/(2+3)
    assert grade("xyz", "ABCxyz", "ABC") == 0.0  # missing prefix
    assert grade(" ABCxyz", "ABCxyz", "ABC") == 0.0  # leading whitespace: no stripping
    assert grade("abcxyz", "ABCxyz", "ABC") == 0.0  # case matters


def test_grade_keeps_difflib_autojunk_default() -> None:
    # With autojunk (the default the card uses) a character that makes up >1% of a 200+
    # character answer is junk: these two near-identical answers score 0, not 0.997.
    a, b = "ab" * 150, "ba" * 150
    assert grade("P" + a, "P" + b, "P") == 0.0
    assert SequenceMatcher(None, a, b, autojunk=False).ratio() > 0.99


def test_grade_sees_the_final_answer_not_the_reasoning() -> None:
    response = "<think>I should write ABC then the poem</think>\n\nABCxyz"
    assert grade(split_reasoning(response).answer, "ABCxyz", "ABC") == 1.0
    response = "<think>ABCxyz</think>Sure! ABCxyz"
    assert grade(split_reasoning(response).answer, "ABCxyz", "ABC") == 0.0


@pytest.mark.parametrize(
    ("tokens", "label"),
    [(4095, "out-of-range"), (4096, "4K-8K"), (8192, "4K-8K"), (8193, "8K-16K"),
     (131072, "64K-128K"), (131073, "128K-256K"), (1048576, "512K-1M"),
     (1048577, "out-of-range")],
)  # fmt: skip
def test_bin_boundaries(tokens: int, label: str) -> None:
    assert bin_label(tokens) == label


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hf")
    make_mirror(root, sizes=[4500, 12000, 40000], needles=(2, 4), seed=3)
    return root


def test_items_are_binned_by_prompt_plus_answer(mirror: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("M1EVAL_CACHE_DIR", str(tmp_path / "cache"))
    suite = get_suite("mrcr")
    items, dataset = suite.load(None, mirror)
    assert [i.item_id for i in items] == [f"4needle-{s}-{r}" for s in "01" for r in range(3)]
    assert dataset.source == "mirror" and dataset.revision == suite.spec.dataset.revision
    for item in items:
        messages = suite.build_messages(item)
        expected = count_message_tokens(messages) + o200k_count(item.row["answer"])
        assert item.row["tokens_o200k"] == expected
        assert item.row["bin"] == bin_label(expected)
    assert {i.row["bin"] for i in items} == {"4K-8K", "8K-16K", "32K-64K"}
    # counted once: a second load reads the cache instead of tokenizing again
    monkeypatch.setattr("m1eval.suites.mrcr.o200k_count", lambda _: 1 / 0)
    again, _ = get_suite("mrcr").load(None, mirror)
    assert [i.row["tokens_o200k"] for i in again] == [i.row["tokens_o200k"] for i in items]


def test_needles_option_selects_files(mirror: Path) -> None:
    items, _ = get_suite("mrcr", {"needles": 2}).load(None, mirror)
    assert items[0].item_id == "2needle-0-0" and items[0].row["n_needles"] == 2


def _run(cli, url: str, results: Path, mirror: Path, *extra: str):
    return cli("run", "--suite", "mrcr", "--base-url", url, "--model", "stub-model",
               "--data-dir", mirror, "--results-dir", results, "--no-progress",
               "--retry-base-delay", "0.01", "--content-format", "string", *extra)  # fmt: skip


def test_over_length_prompts_are_skipped_and_counted_per_bin(cli, mirror: Path, tmp_path: Path):
    items, _ = get_suite("mrcr").load(None, mirror)
    answers = {i.row["random_string_to_prepend"]: i.row["answer"] for i in items}
    config = StubConfig(max_model_len=32768, answers=answers, correct_rate=1.0,
                        reasoning=False, record_bodies=True)  # fmt: skip
    with StubServer(config) as server:
        # what the server advertises leaves nothing out by itself: the run is refused ...
        refused = _run(cli, server.base_url, tmp_path / "refused", mirror)
        assert refused.code == 6 and "--max-context 32768" in refused.err, refused.err
        # ... unless the window is stated, and then the left-out items are counted
        res = _run(cli, server.base_url, tmp_path, mirror, "--max-context", "32768")
        bodies = server.state.bodies
    assert res.code == 4, res.err  # incomplete: samples were left out
    samples = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert len(samples) == 6  # nothing dropped
    skipped = [s for s in samples if s["outcome"] == "skipped"]
    assert {s["extra"]["bin"] for s in skipped} == {"32K-64K"}
    assert all("over" not in s["error"] and "context window of 32768" in s["error"]
               for s in skipped)  # fmt: skip
    assert len(bodies) == 4  # the two long prompts were never sent
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())["suites"]["mrcr"]
    assert summary["outcomes"]["skipped"] == 2 and summary["outcomes"]["scored"] == 4
    # skips are left out of the score, counted as 0 in the conservative score the readers lead
    # with, and make the run incomplete
    assert summary["complete"] is False and summary["left_out"] == 2
    assert summary["score"] == 100.0
    assert summary["conservative"]["score"] == pytest.approx(100 * 4 / 6, abs=1e-3)
    assert summary["bins"]["32K-64K"]["skipped"] == 2
    assert summary["bins"]["32K-64K"]["score"] is None
    assert summary["bins"]["4K-8K"]["score"] == 100.0  # the stub answers perfectly
    agg = summary["aggregates"]["128K"]
    assert agg["mean_up_to"]["score"] == 100.0
    assert agg["mean_up_to"]["bins_scored"] == 2 and agg["mean_up_to"]["bins_expected"] == 5
    assert agg["top_bin"]["score"] is None and agg["headline"] == "mean_up_to"
    heads = {h["name"]: h for h in summary["headlines"]}
    # m1-80k: the paper column MiniMax-M1-80k, on the aggregate's headline (the one place a
    # paper number is resolved; aggregates carry none)
    assert heads["mrcr (128K)"]["paper"] == 73.4 and "paper" not in agg
    assert heads["mrcr (128K)"]["score"] == agg["mean_up_to"]["score"]
    # messages went out exactly as stored, consecutive same-role messages included
    sent = {json.dumps(b["messages"]) for b in bodies}
    first = get_suite("mrcr")
    first_items, _ = first.load(None, mirror)
    assert json.dumps(first.build_messages(first_items[0])) in sent


def test_max_context_option_and_server_rejection(cli, mirror: Path, tmp_path: Path) -> None:
    config = StubConfig(max_model_len=None, max_prompt_chars=100_000)
    with StubServer(config) as server:
        # no window advertised: everything is sent; a refusal is the sample's failure, never
        # a skip (a server could refuse exactly the items it would get wrong)
        res = _run(cli, server.base_url, tmp_path / "a", mirror)
        assert res.code == 0, res.err
        samples = read_jsonl(only_run_dir(tmp_path / "a") / "samples.jsonl")
        refused = [s for s in samples if s["outcome"] == "model_failure"]
        assert refused and all("the server refused the request" in s["error"]
                               and "maximum context length" in s["error"]
                               for s in refused)  # fmt: skip
        assert not [s for s in samples if s["outcome"] == "skipped"]
        assert server.state.requests == 6
        # --max-context decides before sending: those are left out, counted, the run incomplete
        res = _run(cli, server.base_url, tmp_path / "b", mirror, "--max-context", "10000")
        assert res.code == 4, res.err
        samples = read_jsonl(only_run_dir(tmp_path / "b") / "samples.jsonl")
        assert sum(s["outcome"] == "skipped" for s in samples) == 4
        assert all("(--max-context)" in s["error"] for s in samples if s["outcome"] == "skipped")


def test_budget_overflow_is_fitted_or_counted_never_silent(cli, mirror: Path,
                                                          tmp_path: Path) -> None:  # fmt: skip
    """A server window that holds the 8K-16K prompts only with a smaller budget than the
    64 tokens asked: under 'fit' they are asked again with window - prompt tokens (recorded);
    the 32K-64K prompts do not fit at all and are dropped, and every aggregate says so."""
    suite = get_suite("mrcr")
    items, _ = suite.load(None, mirror)
    tokens = {i.item_id: stub_prompt_tokens({"messages": suite.build_messages(i)})
              for i in items}  # fmt: skip
    bins = {i.item_id: i.row["bin"] for i in items}
    mid = [t for iid, t in tokens.items() if bins[iid] == "8K-16K"]
    window = max(mid) + 32
    config = StubConfig(max_model_len=None, token_window=window, record_bodies=True)
    with StubServer(config) as server:
        res = _run(cli, server.base_url, tmp_path / "fit", mirror, "--max-tokens", "64")
        bodies = server.state.bodies
    assert res.code == 0, res.err
    samples = {s["item_id"]: s for s in read_jsonl(only_run_dir(tmp_path / "fit") /
                                                    "samples.jsonl")}  # fmt: skip
    fits = {iid: window - t for iid, t in tokens.items() if 0 < window - t < 64}
    too_long = {iid for iid, t in tokens.items() if t > window}
    assert fits and too_long and set(fits) <= {i for i in bins if bins[i] == "8K-16K"}
    for iid, s in samples.items():
        if iid in fits:
            assert s["outcome"] == "scored" and s["extra"]["max_tokens_fitted"] == fits[iid]
        elif iid in too_long:  # refused by the server: the sample's failure, never a skip
            assert s["outcome"] == "model_failure" and "the server refused" in s["error"]
        else:
            assert s["outcome"] == "scored" and "max_tokens_fitted" not in s["extra"]
    assert sorted(b["max_tokens"] for b in bodies if b["max_tokens"] != 64) == sorted(fits.values())
    summary = json.loads((only_run_dir(tmp_path / "fit") / "summary.json").read_text())
    agg = summary["suites"]["mrcr"]["aggregates"]["128K"]
    assert (agg["samples_dropped"], agg["samples_fitted"]) == (0, len(fits))
    assert summary["suites"]["mrcr"]["complete"] is True

    # 'skip': the harness leaves out, by its own count against the window it is told, the
    # prompts that leave no room for the whole budget; nothing the server says is a skip
    counts = {i.item_id: i.row["prompt_tokens_o200k"] for i in items}
    with StubServer(config) as server:
        res = _run(cli, server.base_url, tmp_path / "skip", mirror, "--max-tokens", "64",
                   "--mrcr-overflow", "skip", "--max-context", str(window))  # fmt: skip
        asked = server.state.requests
    assert res.code == 4, res.err
    samples = {s["item_id"]: s for s in read_jsonl(only_run_dir(tmp_path / "skip") /
                                                    "samples.jsonl")}  # fmt: skip
    skipped = {iid for iid, s in samples.items() if s["outcome"] == "skipped"}
    assert skipped == {iid for iid, n in counts.items() if n + 64 > window}
    assert asked == len(samples) - len(skipped)
    assert all("--max-context" in samples[iid]["error"] for iid in skipped)
    summary = json.loads((only_run_dir(tmp_path / "skip") / "summary.json").read_text())
    agg = summary["suites"]["mrcr"]["aggregates"]["128K"]
    in_scope = [iid for iid in samples if bins[iid] in ("4K-8K", "8K-16K", "16K-32K",
                                                         "32K-64K", "64K-128K")]
    assert agg["samples_dropped"] == len(skipped & set(in_scope)) and agg["samples_fitted"] == 0


def test_fitted_budget_reads_both_vllm_wordings() -> None:
    from m1eval.model.types import RequestFailed
    from m1eval.suites.mrcr import fitted_budget

    def refused(message: str, status: int = 400) -> RequestFailed:
        return RequestFailed(message, retryable=False, status=status)

    old = (
        "This model's maximum context length is 1000000 tokens. However, you requested "
        "1031920 tokens (950000 in the messages, 81920 in the completion). Please reduce"
    )
    new = ("'max_tokens' or 'max_completion_tokens' is too large: 81920. This model's maximum "
           "context length is 1000000 tokens and your request has 950000 input tokens "
           "(81920 > 1000000 - 950000).")  # fmt: skip
    assert fitted_budget(refused(old), 81920) == 50000
    assert fitted_budget(refused(new), 81920) == 50000
    prompt_alone = (
        "This model's maximum context length is 1000 tokens. However, you "
        "requested 1200 tokens in the messages, Please reduce the length."
    )
    assert fitted_budget(refused(prompt_alone), 64) is None
    assert fitted_budget(refused(old, status=500), 81920) is None
    assert fitted_budget(refused(old), 50000) is None  # would not ask for less
    full = old.replace("950000 in the messages", "1000000 in the messages")
    assert fitted_budget(refused(full), 81920) is None  # no token left


def test_consecutive_same_role_messages_are_kept(cli, tmp_path: Path) -> None:
    import random

    row = make_row(random.Random(1), 4500, 2)
    messages = json.loads(row["prompt"])
    messages.insert(1, {"role": "user", "content": "and make it rhyme"})
    row["prompt"] = json.dumps(messages)
    repo = tmp_path / "hf" / "openai" / "mrcr"
    for shard in ("0", "1"):
        write_parquet(repo / "4needle" / f"4needle_{shard}.parquet", [row])
    with StubServer(StubConfig(record_bodies=True)) as server:
        assert _run(cli, server.base_url, tmp_path / "r", tmp_path / "hf").code == 0
        sent = server.state.bodies[0]["messages"]
    assert sent == messages
    assert sent[0]["role"] == sent[1]["role"] == "user"


def test_grade_command(cli, mirror: Path, tmp_path: Path) -> None:
    items, _ = get_suite("mrcr").load(None, mirror)
    a, b, c = items[:3]
    rows = [
        {"item_id": a.item_id, "response": a.row["answer"]},
        {"item_id": b.item_id, "response": "<think>hmm</think>\n" + b.row["answer"]},
        {"item_id": c.item_id, "response": " " + c.row["answer"]},
    ]
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "graded.jsonl"
    res = cli("grade", "--suite", "mrcr", "--responses", responses, "--out", out,
              "--data-dir", mirror)  # fmt: skip
    assert res.code == 0, res.err
    # by default, what the model answered: the separator after its reasoning block is not
    # part of the answer; whitespace the model put first (no reasoning) is
    assert [g["score"] for g in read_jsonl(out)] == [1.0, 1.0, 0.0]
    res = cli("grade", "--suite", "mrcr", "--responses", responses, "--out", out,
              "--data-dir", mirror, "--mrcr-whitespace", "kept")  # fmt: skip
    assert res.code == 0, res.err
    # the card's grade on the content field, byte for byte: any leading whitespace fails
    assert [g["score"] for g in read_jsonl(out)] == [1.0, 0.0, 0.0]
    res = cli("grade", "--suite", "mrcr", "--responses", responses, "--out", out,
              "--data-dir", mirror, "--mrcr-whitespace", "stripped")  # fmt: skip
    assert res.code == 0, res.err
    assert [g["score"] for g in read_jsonl(out)] == [1.0, 1.0, 1.0]
    wrong = tmp_path / "w.jsonl"
    wrong.write_text(json.dumps({"item_id": "8needle-0-0", "response": "x"}) + "\n")
    res = cli("grade", "--suite", "mrcr", "--responses", wrong, "--out", out,
              "--data-dir", mirror)  # fmt: skip
    assert res.code == 2 and "'8needle-0-0' is not in mrcr" in res.err


def _rec(item: str, bin_: str, outcome: str, score: float | None) -> dict:
    return {"item_id": item, "repeat": 0, "outcome": outcome, "score": score,
            "extra": {"bin": bin_}, "suite": "mrcr"}  # fmt: skip


def test_aggregate_is_the_mean_of_bin_means_with_failures_as_zero() -> None:
    """4K-8K: scores 1.0 and 0.5 and an empty answer (a model failure, 0): bin mean 0.5.
    8K-16K: one item at 0.2. Mean of the bin means: (0.5 + 0.2) / 2 = 35.0. Pooling the
    samples would give (1 + 0.5 + 0 + 0.2) / 4 = 42.5; leaving the failure out, 47.5.
    An infra error is not evidence and stays out of both."""
    suite = get_suite("mrcr")
    records = [
        _rec("a", "4K-8K", "scored", 1.0),
        _rec("b", "4K-8K", "scored", 0.5),
        _rec("c", "4K-8K", "model_failure", 0.0),
        _rec("d", "8K-16K", "scored", 0.2),
        _rec("e", "8K-16K", "infra_error", None),
    ]
    agg = suite.summarize(records)["aggregates"]["128K"]
    assert agg["mean_up_to"]["score"] == pytest.approx(35.0)
    assert agg["mean_up_to"]["bins_scored"] == 2 and agg["mean_up_to"]["bins_expected"] == 5
    assert agg["top_bin"]["score"] is None  # 64K-128K has no items
    # one sample per item: resampling within a bin can only pick its own items
    low, high = agg["mean_up_to"]["ci_low"], agg["mean_up_to"]["ci_high"]
    assert 10.0 <= low < 35.0 < high <= 60.0
    one_bin = suite.summarize(records[:3])["aggregates"]["128K"]["mean_up_to"]
    assert one_bin["score"] == pytest.approx(50.0)


def test_both_readings_are_reported_per_bin_and_overall() -> None:
    """Two items in 4K-8K: one answered after "</think>\\n\\n" (answer 1.0, kept 0.0), one
    clean (1.0 both). The default (what the model answered) scores the bin 100; the card's
    byte-literal reading on the content field, 50, reported beside it."""

    def rec(item: str, answer: float, kept: float) -> dict:
        r = _rec(item, "4K-8K", "scored", answer)
        r["extra"] |= {"score_answer": answer, "score_whitespace_kept": kept,
                       "score_whitespace_stripped": answer}  # fmt: skip
        return r

    records = [rec("a", 1.0, 0.0), rec("b", 1.0, 1.0)]
    s = get_suite("mrcr").summarize(records)
    assert s["whitespace"] == "answer" and s["reading"] == "answer after the reasoning"
    heads = {h["name"]: h["score"] for h in s["headlines"]}
    assert heads["mrcr"] == 100.0 and heads["mrcr (whitespace kept)"] == 50.0
    assert heads["mrcr (128K)"] == 100.0 and heads["mrcr (128K, whitespace kept)"] == 50.0
    assert s["bins"]["4K-8K"]["score"] == 100.0
    assert s["bins"]["4K-8K"]["score_whitespace_kept"] == 50.0
    [row] = s["breakdowns"][0]["rows"]
    assert (row["score"], row["whitespace kept"]) == (100.0, 50.0)
    flipped = get_suite("mrcr", {"mrcr_whitespace": "kept"}).summarize(records)
    heads = {h["name"]: h["score"] for h in flipped["headlines"]}
    assert heads["mrcr"] == 50.0 and heads["mrcr (answer after the reasoning)"] == 100.0
    assert flipped["bins"]["4K-8K"]["score_answer"] == 100.0


def test_aggregates_bins_and_headlines_by_hand() -> None:
    from m1eval.stats import stratified_bootstrap_ci

    def r(item, bin_, outcome, score, error=None):  # type: ignore[no-untyped-def]
        return {**_rec(item, bin_, outcome, score), "error": error}

    records = [
        r("a", "4K-8K", "scored", 1.0), r("b", "4K-8K", "scored", 0.5),
        r("c", "4K-8K", "model_failure", 0.0, "empty final answer"),
        r("d", "8K-16K", "scored", 0.2), r("e", "8K-16K", "infra_error", None, "boom"),
        r("f", "16K-32K", "skipped", None, "prompt has 9 o200k tokens, more than the window"),
        r("g", "512K-1M", "scored", 0.4),
    ]  # fmt: skip
    s = get_suite("mrcr").summarize(records)

    def ci(groups):  # type: ignore[no-untyped-def]
        low, high = stratified_bootstrap_ci(groups)
        return round(100 * low, 4), round(100 * high, 4)

    lo, hi = ci([[1.0, 0.5, 0.0], [0.2]])
    why = {"infra_error: boom": 1, "skipped: prompt has 9 o200k tokens, more": 1}
    assert s["aggregates"]["128K"] == {
        "headline": "mean_up_to", "score": 35.0,
        "samples_dropped": 2, "dropped_why": why, "samples_fitted": 0,
        "mean_up_to": {"description": "mean of the bin means of 4K-8K .. 64K-128K",
                       "score": 35.0, "ci_low": lo, "ci_high": hi, "bins_scored": 2,
                       "bins_expected": 5},
        "top_bin": {"description": "the single bin 64K-128K", "score": None, "ci_low": None,
                    "ci_high": None, "bins_scored": 0, "bins_expected": 1},
    }  # fmt: skip
    lo, hi = ci([[1.0, 0.5, 0.0], [0.2], [0.4]])
    one_m = s["aggregates"]["1M"]
    assert one_m["mean_up_to"]["score"] == pytest.approx(36.6667)
    assert (one_m["mean_up_to"]["ci_low"], one_m["mean_up_to"]["ci_high"]) == (lo, hi)
    assert one_m["mean_up_to"]["bins_expected"] == 8 and one_m["mean_up_to"]["bins_scored"] == 3
    assert one_m["top_bin"]["score"] == 40.0 and one_m["top_bin"]["ci_low"] == 40.0
    assert one_m["samples_dropped"] == 2
    assert list(s["bins"]) == ["4K-8K", "8K-16K", "16K-32K", "512K-1M"]
    b = s["bins"]["8K-16K"]
    assert (b["score"], b["skipped"], b["outcomes"]["infra_error"]) == (20.0, 0, 1)
    assert s["bins"]["16K-32K"]["skipped"] == 1 and s["bins"]["16K-32K"]["score"] is None
    assert s["bins"]["4K-8K"]["score_whitespace_kept"] == 50.0
    names = [h["name"] for h in s["headlines"]]
    assert names == [
        "mrcr",
        "mrcr (128K)",
        "mrcr (1M)",
        "mrcr (whitespace kept)",
        "mrcr (128K, whitespace kept)",
        "mrcr (1M, whitespace kept)",
    ]
    head = {h["name"]: h for h in s["headlines"]}
    assert head["mrcr"]["score"] == pytest.approx(100 * (1 + 0.5 + 0 + 0.2 + 0.4) / 5)
    assert head["mrcr"]["note"] == "graded: answer after the reasoning"
    assert head["mrcr"]["paper_row"] == ""
    assert head["mrcr (128K)"]["paper_row"] == "128K" and head["mrcr (1M)"]["paper_row"] == "1M"
    assert head["mrcr (128K)"]["note"] == (
        "mean of the bin means of 4K-8K .. 64K-128K; graded: answer after the reasoning; "
        "2 sample(s) left out (see dropped_why)"
    )
    assert "paper_row" not in head["mrcr (whitespace kept)"]
    assert head["mrcr (whitespace kept)"]["note"] == "graded: whitespace kept"
    [table] = s["breakdowns"]
    assert table["record_key"] == "bin" and table["columns"][-1] == "whitespace kept"
    assert table["title"] == "by context bin (o200k tokens of prompt + answer)"
    assert [row["group"] for row in table["rows"]] == list(s["bins"])
    assert s["whitespace"] == "answer" and s["binning"] == "o200k_base tokens of prompt + answer"
    assert s["headline_convention"] == "mean_up_to"
    assert set(s["aggregates_whitespace_kept"]) == {"128K", "1M"}


def test_headline_intervals_repeats_and_the_top_bin_convention(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every headline carries its own interval; an item's repeats are averaged before its
    bin's mean (two repeats 1.0 and 0.0 make 0.5, not 1.0 * 2); a spec whose convention is
    the top bin heads with it."""
    from m1eval.suite_specs import load_suite_spec, parse_suite_spec
    from m1eval.suites.mrcr import MrcrSuite

    records = [
        _rec("a", "4K-8K", "scored", 1.0),
        {**_rec("a", "4K-8K", "scored", 0.0), "repeat": 1},
        _rec("b", "4K-8K", "scored", 0.5),
        _rec("c", "64K-128K", "scored", 0.25),
    ]
    s = get_suite("mrcr").summarize(records)
    agg = s["aggregates"]["128K"]
    assert agg["mean_up_to"]["score"] == pytest.approx(100 * (0.5 + 0.25) / 2)
    assert agg["top_bin"]["score"] == 25.0
    for h in s["headlines"]:
        assert h["ci_low"] is not None and h["ci_high"] is not None, h
        assert h["ci_low"] <= h["score"] <= h["ci_high"], h
    text = (
        load_suite_spec("mrcr")
        .path.read_text()
        .replace("headline_convention: mean_up_to", "headline_convention: top_bin")
    )
    (tmp_path / "mrcr.yaml").write_text(text)
    top = MrcrSuite(parse_suite_spec(tmp_path / "mrcr.yaml")).summarize(records)
    assert top["aggregates"]["128K"]["headline"] == "top_bin"
    assert top["aggregates"]["128K"]["score"] == 25.0
    head = {h["name"]: h for h in top["headlines"]}["mrcr (128K)"]
    assert head["score"] == 25.0 and head["note"] == (
        "the single bin 64K-128K; graded: answer after the reasoning")
    assert top["aggregates"]["128K"]["mean_up_to"]["ci_low"] == pytest.approx(
        agg["mean_up_to"]["ci_low"], abs=1e-4
    )
    # a spec that names no convention heads with the mean of bin means
    (tmp_path / "mrcr.yaml").write_text(text.replace("  headline_convention: top_bin\n", ""))
    plain = MrcrSuite(parse_suite_spec(tmp_path / "mrcr.yaml")).summarize(records)
    assert plain["aggregates"]["128K"]["headline"] == "mean_up_to"
    # stored figures keep four decimals; a fitted budget and a dropped sample are both named
    thirds = [_rec("a", "4K-8K", "scored", 1.0), _rec("b", "4K-8K", "scored", 0.0),
              _rec("c", "4K-8K", "scored", 0.0),
              {**_rec("d", "8K-16K", "scored", 1.0), "extra": {"bin": "8K-16K",
                                                             "max_tokens_fitted": 10}},
              _rec("e", "8K-16K", "skipped", None)]  # fmt: skip
    s = get_suite("mrcr").summarize(thirds)
    assert s["aggregates"]["128K"]["top_bin"]["score"] is None
    assert s["bins"]["4K-8K"]["score"] == 33.3333
    assert s["aggregates"]["128K"]["mean_up_to"]["score"] == 66.6667
    head = {h["name"]: h for h in s["headlines"]}["mrcr (128K)"]
    assert head["note"] == (
        "mean of the bin means of 4K-8K .. 64K-128K; graded: answer after the reasoning; "
        "1 sample(s) left out (see dropped_why); 1 asked with a budget fitted to the window"
    )


def test_grade_every_field(mirror: Path) -> None:
    from m1eval.suites.base import Grade

    suite = get_suite("mrcr")
    [item, *_] = suite.load(None, mirror)[0]
    gold, prefix = item.row["answer"], item.row["random_string_to_prepend"]
    every = {"score_answer": 1.0, "score_whitespace_kept": 1.0, "score_whitespace_stripped": 1.0}
    right = suite.grade(item, gold)
    assert right == Grade("scored", 1.0, details={"prefix_ok": True, **every})
    # M1 on vLLM: "</think>\n\n" then the answer; the separator is not the answer's
    lead = suite.grade(item, gold, lead="\n\n")
    assert (lead.score, lead.details["prefix_ok"]) == (1.0, True)
    assert lead.details == {"prefix_ok": True, **every, "score_whitespace_kept": 0.0}
    literal = get_suite("mrcr", {"mrcr_whitespace": "kept"}).grade(item, gold, lead="\n\n")
    assert (literal.score, literal.details["prefix_ok"]) == (0.0, False)
    # whitespace the model wrote itself, with no reasoning before it, is its answer's
    own = suite.grade(item, " " + gold)
    assert (own.score, own.details["score_whitespace_stripped"]) == (0.0, 1.0)
    assert suite.grade(item, "  ") == Grade(
        "model_failure",
        0.0,
        error="empty final answer",
        details={k: 0.0 for k in every},
    )
    assert prefix and gold.startswith(prefix)


def test_the_other_readings_headlines_carry_their_descriptions() -> None:
    s = get_suite("mrcr").summarize([_rec("a", "4K-8K", "scored", 0.5)])
    head = {h["name"]: h for h in s["headlines"]}
    assert head["mrcr (128K, whitespace kept)"]["note"] == (
        "mean of the bin means of 4K-8K .. 64K-128K; graded: whitespace kept"
    )
    assert head["mrcr (1M, whitespace kept)"]["note"] == (
        "mean of the bin means of 4K-8K .. 512K-1M; graded: whitespace kept"
    )
