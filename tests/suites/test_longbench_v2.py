"""LongBench-v2: official templates, truncation, answer extraction, the two-pass CoT protocol,
and the category breakdown, on self-made items in the upstream JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m1eval.model.reasoning import split_reasoning
from m1eval.registry import get_suite
from m1eval.suites.longbench_v2 import (
    TEMPLATE_0SHOT,
    TEMPLATE_0SHOT_COT,
    extract_answer,
    fill,
    truncate_middle,
)
from m1eval.testing.stub_server import StubConfig, StubServer
from m1eval.tokenizers import o200k_count
from tests.conftest import only_run_dir, read_jsonl

ROW = {
    "question": " What is X? ", "choice_A": "a ", "choice_B": "b", "choice_C": "c", "choice_D": "d",
}  # fmt: skip


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("The correct answer is (B)", "B"),
        ("The correct answer is **(C)**", "C"),  # markdown bold is removed first
        ("**The correct answer is C**", "C"),  # the bare form, second pattern
        # first match, with both matches in the pattern's exact case
        ("The correct answer is (A). Wait. The correct answer is (B)", "A"),
        ("The correct answer is D, or maybe The correct answer is C", "D"),
        # the parenthesised form wins over an earlier bare one
        ("The correct answer is C. No: The correct answer is (B)", "B"),
        ("I think it's (B)", None),
        ("The correct answer is (E)", None),
        ("the correct answer is (B)", None),  # case-sensitive, as upstream
    ],
)
def test_extract_answer_official_cases(response: str, letter: str | None) -> None:
    assert extract_answer(response) == letter


def test_reasoning_that_mentions_another_letter_first_is_not_graded() -> None:
    response = "<think>The correct answer is (A)... no.</think>The correct answer is (D)"
    assert extract_answer(split_reasoning(response).answer) == "D"


def test_template_bytes() -> None:
    prompt = fill(TEMPLATE_0SHOT, ROW, "  The doc.  ")
    assert prompt == (
        "Please read the following text and answer the question below.\n\n"
        "<text>\nThe doc.\n</text>\n\n"
        "What is the correct answer to this question: What is X?\n"
        "Choices:\n(A) a\n(B) b\n(C) c\n(D) d\n\n"
        'Format your response as follows: "The correct answer is (insert answer here)".'
    )
    cot = fill(TEMPLATE_0SHOT_COT, ROW, "The doc.")
    assert cot.endswith("(D) d\n\nLet\u2019s think step by step:")  # the curly apostrophe
    assert "questions below" in cot


def test_fill_order_is_official_doc_first() -> None:
    # $DOC$ is filled first, so placeholders inside the document are filled too, as upstream.
    prompt = fill(TEMPLATE_0SHOT, ROW, "see $Q$ and $C_A$")
    assert "see What is X? and a" in prompt


def test_truncate_middle_slices_like_upstream() -> None:
    ids = list(range(10))
    assert truncate_middle(ids, 4) == [0, 1, 8, 9]
    assert truncate_middle(ids, 5) == [0, 1, 7, 8, 9]  # ids[:5//2] + ids[-5//2:]
    assert truncate_middle(ids, 10) == ids


def _run(cli, url: str, results: Path, *extra: str):
    return cli("run", "--suite", "longbench-v2", "--split", "smoke", "--base-url", url,
               "--model", "stub-model", "--results-dir", results, "--no-progress",
               "--content-format", "string", "--retry-base-delay", "0.01", *extra)  # fmt: skip


def test_truncation_keeps_head_and_tail_in_o200k(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(record_bodies=True)) as server:  # no /tokenize: o200k fallback
        res = _run(cli, server.base_url, tmp_path, "--max-prompt-tokens", "60")
        bodies = server.state.bodies
    assert res.code == 0, res.err
    run = only_run_dir(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["run_context"]["tokenizer"] == "o200k_base"
    assert manifest["identity"]["tokenizer"] == "o200k_base"
    for body in bodies:
        prompt = body["messages"][0]["content"]
        assert prompt.startswith("Please read the following text")
        assert prompt.endswith('"The correct answer is (insert answer here)".')
        assert abs(o200k_count(prompt) - 60) <= 2  # decode/re-encode may merge at the seam
    samples = read_jsonl(run / "samples.jsonl")
    assert all(s["extra"]["prompt_truncated"] for s in samples)
    assert all(s["extra"]["prompt_tokens_full"] > 60 for s in samples)


def test_cot_is_two_passes(cli, tmp_path: Path) -> None:
    answers = {"Quay Road": "The correct answer is (B)"}
    config = StubConfig(record_bodies=True, answers=answers, correct_rate=1.0)
    with StubServer(config) as server:
        res = _run(cli, server.base_url, tmp_path, "--cot", "--limit", "1")
        bodies = server.state.bodies
    assert res.code == 0, res.err
    first, second = (b["messages"][0]["content"] for b in bodies)
    assert first.endswith("Let\u2019s think step by step:") and "<text>" in first
    assert "The text is too long and omitted here." in second and "<text>" not in second
    # $COT$ is the first pass's final answer, reasoning removed
    assert (
        "Let\u2019s think step by step: The correct answer is (B)\n\nBased on the above" in second
    )
    [sample] = read_jsonl(only_run_dir(tmp_path) / "samples.jsonl")
    assert sample["score"] == 1.0 and sample["extracted_answer"] == "B"
    assert sample["extra"]["first_pass_answer"] == "The correct answer is (B)"
    assert sample["attempts"] == 2
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    assert summary["suites"]["longbench-v2"]["prompting"] == "cot"


def test_categories_empty_outputs_and_failed_requests(cli, tmp_path: Path) -> None:
    """Four items: right, wrong, an empty output, a failed request. The official scripts
    leave out the empty output and the failed request (score 1/2); counting the empty output
    as wrong gives 1/3, and the failed request too, 1/4."""
    answers = {
        "Quay Road": "The correct answer is (B)",  # easy, short: right
        "nesting pairs": "The correct answer is (A)",  # hard, medium: wrong (gold B)
        "alan-miskei": "",  # easy, long: thinks, then says nothing
    }
    config = StubConfig(answers=answers, correct_rate=1.0, fail_prompts=("pipeline(data)",))
    with StubServer(config) as server:
        res = _run(cli, server.base_url, tmp_path, "--max-attempts", "1")
    assert res.code == 4  # one failed request
    s = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())["suites"]["longbench-v2"]
    cats = s["categories"]
    assert cats["Overall"] == {"score": 50.0, "empty_as_wrong": pytest.approx(100 / 3, abs=1e-3),
                               "failures_as_wrong": 25.0, "n": 4, "n_empty": 1,
                               "n_infra_error": 1}  # fmt: skip
    assert (cats["Easy"]["score"], cats["Easy"]["empty_as_wrong"]) == (100.0, 50.0)
    assert cats["Hard"]["score"] == 0.0 and cats["Hard"]["failures_as_wrong"] == 0.0
    assert cats["Hard"]["n_infra_error"] == 1
    assert cats["Short"]["score"] == 100.0 and cats["Short"]["failures_as_wrong"] == 50.0
    assert cats["Long"] == {"score": None, "empty_as_wrong": 0.0, "failures_as_wrong": 0.0,
                            "n": 1, "n_empty": 1, "n_infra_error": 0}  # fmt: skip
    assert s["outcomes"] == {"scored": 2, "model_failure": 1, "infra_error": 1, "skipped": 0}
    official, empty_wrong, literal = s["headlines"]
    assert official["name"] == "longbench-v2" and official["score"] == 50.0
    assert empty_wrong["score"] == pytest.approx(100 / 3, abs=1e-3)
    # a literal pred.py run sees M1's content, "<think>…</think>" included: not empty, wrong
    assert literal["name"] == "longbench-v2 (pred.py on the served content)"
    assert literal["score"] == pytest.approx(100 / 3, abs=1e-3) and literal["paper"] is None
    assert official["paper"] is not None and empty_wrong["paper"] is None
    res = cli("report", only_run_dir(tmp_path), "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "empty = wrong" in text and "50.0" in text


def test_grade_command(cli, tmp_path: Path) -> None:
    rows = [
        {"item_id": "lb-smoke-001", "response": "<think>(A)?</think>The correct answer is **(B)**"},
        {"item_id": "lb-smoke-002", "response": "The correct answer is C"},
        {"item_id": "lb-smoke-003", "response": "Mountains."},
    ]
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "g.jsonl"
    res = cli("grade", "--suite", "longbench-v2", "--split", "smoke", "--responses", responses,
              "--out", out)  # fmt: skip
    assert res.code == 0, res.err
    graded = read_jsonl(out)
    assert [(g["score"], g["outcome"], g["extracted_answer"]) for g in graded] == [
        (1.0, "scored", "B"), (0.0, "scored", "C"), (0.0, "model_failure", None),
    ]  # fmt: skip


def test_options_apply_only_to_their_suite(cli) -> None:
    res = cli("run", "--suite", "aime24", "--cot")
    assert res.code == 2 and "--cot does not apply to suite aime24" in res.err
    res = cli("run", "--suite", "longbench-v2", "--needles", "8")
    assert res.code == 2 and "--needles does not apply to suite longbench-v2" in res.err


def test_suite_items() -> None:
    items, _ = get_suite("longbench-v2").load("smoke", None)
    assert [i.item_id for i in items] == [f"lb-smoke-00{i}" for i in range(1, 5)]
    assert "context" not in items[0].row  # documents are read when asked, not held


def test_an_empty_first_pass_ends_the_item_as_in_pred_py() -> None:
    suite = get_suite("longbench-v2", {"cot": True})
    [item, *_] = suite.load("smoke", None)[0]
    messages = suite.build_messages(item)
    # pred.py: `if output == '': continue`; whitespace is an output, and goes on as a COT
    assert suite.followup_messages(item, messages, "") is None
    assert suite.followup_messages(item, messages, " \n") is not None
    assert suite.followup_messages(item, messages, "Step 1 ...") is not None
    grade = suite.grade(item, "")
    assert (grade.outcome, grade.error, grade.details) == (
        "model_failure",
        "empty output",
        {"empty_output": True},
    )


def test_whitespace_is_a_wrong_answer_not_an_empty_one() -> None:
    """pred.py leaves out only an output equal to ''; "  " is judged (no answer: wrong), and
    so is a separator after the reasoning with nothing behind it."""
    suite = get_suite("longbench-v2")
    [item, *_] = suite.load("smoke", None)[0]
    for answer, lead in (("  ", ""), ("", "\n\n"), ("\n", "")):
        grade = suite.grade(item, answer, lead)
        assert grade.outcome == "model_failure" and grade.score == 0.0
        assert "empty_output" not in (grade.details or {}) and grade.error != "empty output"
    records = [_lb("1", "easy", "short", "scored", 1.0),
               {**_lb("2", "easy", "short", "model_failure", 0.0)}]  # fmt: skip
    assert get_suite("longbench-v2").summarize(records)["categories"]["Overall"]["score"] == 50.0


def test_the_literal_pred_py_reading_of_m1s_content() -> None:
    """vLLM serves M1 with its reasoning inline: pred.py's first "The correct answer is" may
    be the reasoning's, and a reply cut off inside its reasoning is not empty there."""
    from m1eval.suites.longbench_v2 import pred_py_reading

    suite = get_suite("longbench-v2")
    [item, *_] = suite.load("smoke", None)[0]
    gold = item.row["answer"]
    other = next(x for x in "ABCD" if x != gold)
    musing = f"Maybe the correct answer is ({other})... The correct answer is ({other})?"
    grade = suite.grade(item, f"The correct answer is ({gold})", "\n\n", musing)
    assert grade.score == 1.0  # what the model answered
    assert grade.details == {"pred_py_empty": False, "pred_py_answer": other,
                             "pred_py_score": 0.0}  # fmt: skip
    cut = pred_py_reading(gold, f"so The correct answer is ({gold})", "", closed=False)
    assert cut == {"pred_py_empty": False, "pred_py_answer": gold, "pred_py_score": 1.0}
    assert pred_py_reading(gold, "", "")["pred_py_empty"] is True
    # summarized: sample 1 right by default but wrong literally; sample 2 cut off (left out by
    # default) but right literally; sample 3 graded without its reasoning reads the same
    records = [
        {**_lb("1", "easy", "short", "scored", 1.0)},
        {**_lb("2", "easy", "short", "model_failure", 0.0, empty=True)},
        {**_lb("3", "easy", "short", "scored", 1.0)},
    ]
    records[0]["extra"] |= {"pred_py_empty": False, "pred_py_score": 0.0}
    records[1]["extra"] |= {"pred_py_empty": False, "pred_py_score": 1.0}
    heads = {h["name"]: h["score"] for h in suite.summarize(records)["headlines"]}
    assert heads["longbench-v2"] == 100.0
    assert heads["longbench-v2 (pred.py on the served content)"] == pytest.approx(200 / 3,
                                                                                   abs=1e-3)


def _lb(item: str, difficulty: str, length: str, outcome: str, score: float | None,
        empty: bool = False) -> dict:  # fmt: skip
    extra = {"difficulty": difficulty, "length": length}
    if empty:
        extra["empty_output"] = True
    return {"item_id": item, "repeat": 0, "outcome": outcome, "score": score, "extra": extra}


def test_summary_by_hand() -> None:
    """Five items: right (easy short), wrong (easy medium), empty (hard long), failed request
    (hard short), no answer in a non-empty reply (hard medium). Every figure worked out."""
    from m1eval.stats import bootstrap_ci

    records = [
        _lb("1", "easy", "short", "scored", 1.0),
        _lb("2", "easy", "medium", "scored", 0.0),
        _lb("3", "hard", "long", "model_failure", 0.0, empty=True),
        _lb("4", "hard", "short", "infra_error", None),
        _lb("5", "hard", "medium", "model_failure", 0.0),
    ]
    s = get_suite("longbench-v2").summarize(records)

    def cat(score, empty_wrong, fail_wrong, n, n_empty, n_infra):  # type: ignore[no-untyped-def]
        return {"score": score, "empty_as_wrong": empty_wrong, "failures_as_wrong": fail_wrong,
                "n": n, "n_empty": n_empty, "n_infra_error": n_infra}  # fmt: skip

    assert s["categories"] == {
        "Overall": cat(33.3333, 25.0, 20.0, 5, 1, 1),
        "Easy": cat(50.0, 50.0, 50.0, 2, 0, 0),
        "Hard": cat(0.0, 0.0, 0.0, 3, 1, 1),
        "Short": cat(100.0, 100.0, 50.0, 2, 0, 1),
        "Medium": cat(0.0, 0.0, 0.0, 2, 0, 0),
        "Long": cat(None, 0.0, 0.0, 1, 1, 0),
    }
    [table] = s["breakdowns"]
    assert table["title"] == "by category" and table["record_key"] is None
    assert table["columns"] == ["score", "empty as wrong", "failures as wrong", "n",
                                "empty outputs", "failed requests"]  # fmt: skip
    assert table["rows"][3] == {"group": "Short", "score": 100.0, "empty as wrong": 100.0,
                                "failures as wrong": 50.0, "n": 2, "empty outputs": 0,
                                "failed requests": 1}  # fmt: skip
    assert [r["group"] for r in table["rows"]] == list(s["categories"])
    low, high = bootstrap_ci([1.0, 0.0, 0.0])
    low4, high4 = bootstrap_ci([1.0, 0.0, 0.0, 0.0])
    assert s["headlines"] == [
        {"name": "longbench-v2", "score": 33.3333, "ci_low": round(100 * low, 4),
         "ci_high": round(100 * high, 4), "paper": None,
         "note": "empty outputs left out, as the official pred.py/result.py do",
         "paper_row": ""},
        {"name": "longbench-v2 (empty = wrong)", "score": 25.0, "ci_low": round(100 * low4, 4),
         "ci_high": round(100 * high4, 4), "paper": None,
         "note": "empty outputs counted as wrong answers"},
        # graded without their reasoning, the samples read under pred.py as by default
        {"name": "longbench-v2 (pred.py on the served content)", "score": 33.3333,
         "ci_low": round(100 * low, 4), "ci_high": round(100 * high, 4), "paper": None,
         "note": "a literal pred.py run on vLLM's content for M1: the reasoning inline, the "
         "first 'The correct answer is' anywhere, only '' left out"},
    ]  # fmt: skip
    assert s["prompting"] == "0shot"
    assert get_suite("longbench-v2", {"cot": True}).summarize(records)["prompting"] == "cot"


def test_grade_every_field() -> None:
    from m1eval.suites.base import Grade

    suite = get_suite("longbench-v2")
    [item, *_] = suite.load("smoke", None)[0]
    gold = item.row["answer"]
    other = next(x for x in "ABCD" if x != gold)
    assert suite.grade(item, f"The correct answer is ({gold})") == Grade(
        "scored", 1.0, extracted_answer=gold, gold=gold, vote_key=gold
    )
    assert suite.grade(item, f"The correct answer is ({other})") == Grade(
        "scored", 0.0, extracted_answer=other, gold=gold, vote_key=other, cause="wrong choice"
    )
    assert suite.grade(item, "I think B") == Grade(
        "model_failure", 0.0, gold=gold, error='no "The correct answer is (X)" in the final answer'
    )
    assert suite.grade(item, "") == Grade("model_failure", 0.0, gold=gold, error="empty output",
                                          details={"empty_output": True})  # fmt: skip


def test_summary_notes_say_what_the_score_leaves_out() -> None:
    s = get_suite("longbench-v2").summarize([_lb("1", "easy", "short", "scored", 2 / 3)])
    assert s["categories"]["Overall"]["score"] == 66.6667  # four decimals
    assert s["breakdowns"][0]["note"] == ("score leaves out empty outputs and failed requests, "
                                          "as the official scripts do")  # fmt: skip
    assert s["denominators"].startswith("score leaves out empty outputs and failed requests "
                                        "(official); empty_as_wrong counts")  # fmt: skip


def test_served_layouts_read_as_pred_py_reads_them() -> None:
    """Replies as vLLM serves M1 (reasoning inline), with the verdicts LongBench's own pred.py
    gave them (``scripts/record_longbench_extraction.py``): the literal reading agrees with
    pred.py on the whole content, the default with pred.py on the content after the reasoning
    block, left-out outputs and extracted letters alike."""
    from m1eval.model.reasoning import split_reasoning
    from m1eval.suites.longbench_v2 import pred_py_reading

    data = json.loads((Path(__file__).parent / "data" /
                       "longbench_served_layouts.json").read_text())  # fmt: skip
    assert data["upstream"].startswith("THUDM/LongBench@") and len(data["cases"]) >= 30
    suite = get_suite("longbench-v2")
    [item, *_] = suite.load("smoke", None)[0]
    gold = item.row["answer"]
    for case in data["cases"]:
        split = split_reasoning(case["content"])
        if split.unclosed:  # cut off inside its reasoning: never graded, left out
            literal = pred_py_reading(gold, split.reasoning, "", closed=False)
            default = {"skipped": True, "pred": None}
        else:
            literal = pred_py_reading(gold, split.reasoning, split.lead + split.answer)
            grade = suite.grade(item, split.answer, split.lead, split.reasoning)
            default = {"skipped": bool((grade.details or {}).get("empty_output")),
                       "pred": grade.extracted_answer}  # fmt: skip
        assert {"skipped": literal["pred_py_empty"], "pred": literal["pred_py_answer"]} == (
            case["official_literal"]), case["id"]
        assert default == case["official_after_reasoning"], case["id"]


def test_the_second_pass_and_the_literal_reading_field_by_field() -> None:
    from m1eval.suites.longbench_v2 import TEMPLATE_0SHOT_COT_ANS, fill

    suite = get_suite("longbench-v2", {"cot": True})
    [item, *_] = suite.load("smoke", None)[0]
    gold = item.row["answer"]
    other = next(x for x in "ABCD" if x != gold)
    first = suite.build_messages(item)
    second = suite.followup_messages(item, first, "  Step 1: read.\n")
    assert second == [*first[:-1], {"role": "user", "content": fill(
        TEMPLATE_0SHOT_COT_ANS, item.row, "", cot="Step 1: read.")}]  # fmt: skip
    # the literal reading is kept on every kind of grade, and can be right where the answer is
    # not, or wrong where it is right
    plain = get_suite("longbench-v2")
    none = plain.grade(item, "I am not sure.", "\n\n", f"The correct answer is ({gold})")
    assert none.outcome == "model_failure" and none.details == {
        "pred_py_empty": False, "pred_py_answer": gold, "pred_py_score": 1.0}
    wrong = plain.grade(item, f"The correct answer is ({other})", "", "thinking")
    assert (wrong.score, wrong.details["pred_py_score"]) == (0.0, 0.0)
    records = [
        {**_lb("1", "easy", "short", "scored", 1.0)},
        {**_lb("2", "easy", "short", "scored", 1.0)},
        {**_lb("3", "easy", "short", "scored", 0.0)},
        {**_lb("4", "easy", "short", "model_failure", 0.0, empty=True)},
    ]
    records[0]["extra"] |= {"pred_py_empty": False, "pred_py_score": 0.0}
    records[1]["extra"] |= {"pred_py_empty": True, "pred_py_score": 0.0}
    records[3]["extra"] |= {"pred_py_empty": False, "pred_py_score": 1.0}
    heads = {h["name"]: h for h in plain.summarize(records)["headlines"]}
    # default: 1, 1, 0 (item 4 left out) -> 66.6667; literal: 0, 0, 1 (item 2 left out) -> 33.3333
    assert heads["longbench-v2"]["score"] == 66.6667
    literal = heads["longbench-v2 (pred.py on the served content)"]
    assert literal["score"] == 33.3333
    from m1eval.summary import summarize_suite

    expected = summarize_suite([{**records[0], "score": 0.0}, records[2],
                                {**records[3], "score": 1.0}], binary=False)  # fmt: skip
    assert (literal["ci_low"], literal["ci_high"]) == (expected["ci_low"], expected["ci_high"])
