"""The lm-eval bridge: `m1eval run --suite lm-eval:<task>` on the bundled M1 task YAMLs and on
an arbitrary lm-eval task (its own filters and metrics), and the `m1eval` model under lm-eval's
own command line. The server is m1eval's stub OpenAI-compatible server (real HTTP, scripted
answers), so every grade is known in advance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from m1eval.results import load
from m1eval.testing.stub_server import StubConfig, StubServer
from tests.conftest import only_run_dir, read_jsonl

pytest.importorskip("lm_eval")

MATH_ANSWERS = {"frac{1}{2} + ": "\\boxed{\\frac{5}{6}}", "positive root": "\\boxed{\\sqrt{2}}",
                "divisors": "9", "ordered pair": "\\boxed{(2,1)}"}  # fmt: skip


def test_math500_through_the_runner(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(answers=MATH_ANSWERS, correct_rate=0.6)) as server:
        args = ["run", "--suite", "lm-eval:m1_math500", "--split", "smoke", "--base-url",
                server.base_url, "--model", "stub-model", "--results-dir", tmp_path,
                "--no-progress", "--seed", "3"]  # fmt: skip
        res = cli(*args)
        assert res.code == 0, res.err
        again = cli(*args)
        assert "16 reused, 0 asked" in again.out
    run = only_run_dir(tmp_path)
    assert run.name.startswith("lm-eval-m1_math500-stub-model-m1-80k-")
    samples = read_jsonl(run / "samples.jsonl")
    assert len(samples) == 4 * 4  # four smoke problems, avg@4 from the task's metadata
    assert len({s["seed"] for s in samples}) == 16  # a seed per repeat
    for s in samples:
        assert s["outcome"] == "scored"
        # the stub answers verbatim when "correct" and cuts the answer otherwise
        full = any(s["answer"] == v or s["answer"].endswith(f"\\boxed{{{v}}}.")
                   for v in MATH_ANSWERS.values())  # fmt: skip
        assert s["score"] == (1.0 if full else 0.0), s["answer"]
        assert s["extra"]["metrics"] == {"exact_match,none": s["score"]}
    summary = json.loads((run / "summary.json").read_text())["suites"]["lm-eval:m1_math500"]
    assert summary["paper"] == {"column": "MiniMax-M1-80k", "score": 96.8,
                                "metric": "accuracy (avg@4 here)"}  # fmt: skip
    assert summary["score"] == pytest.approx(100 * sum(s["score"] for s in samples) / 16, abs=0.1)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["dataset"]["source"] == "bundled"
    assert manifest["identity"]["suite_options"]["lm_eval"] == "0.4.13"
    assert manifest["suite"]["deviations"]  # footnoted in reports
    df = load(run)
    assert set(df["suite"]) == {"lm-eval:m1_math500"} and len(df) == 16


def test_bundled_tasks_grade_hand_checked_answers() -> None:
    from m1eval.registry import get_suite

    math = get_suite("lm-eval:m1_math500", {})
    items = {i.item_id: i for i in math.load("smoke", None)[0]}
    half = items["smoke/prealgebra/1.json"]
    for reply, score in (("\\boxed{\\dfrac{5}{6}}", 1.0), ("so \\boxed{5/6}", 1.0),
                         ("\\boxed{\\frac{6}{5}}", 0.0), ("5/6", 0.0), ("", 0.0)):  # fmt: skip
        assert math.grade(half, reply).score == score, reply
    pair = items["smoke/algebra/4.json"]
    assert math.grade(pair, "\\boxed{(2, 1)}").score == 1.0
    assert math.grade(pair, "\\boxed{(1, 2)}").score == 0.0

    gpqa = get_suite("lm-eval:m1_gpqa_diamond", {})
    for item in gpqa.load("smoke", None)[0]:
        doc = item.row["doc"]
        # the shuffle keeps the gold letter on the correct answer, the same on every load
        assert doc["options"]["ABCD".index(doc["gold"])] == doc["Correct Answer"].strip()
        assert gpqa.grade(item, f"\\boxed{{{doc['gold']}}}").score == 1.0
        assert gpqa.grade(item, f"The answer is \\boxed{{({doc['gold']})}}").score == 1.0
        assert gpqa.grade(item, f"\\boxed{{\\text{{{doc['gold']}}}}}").score == 1.0
        wrong = next(c for c in "ABCD" if c != doc["gold"])
        assert gpqa.grade(item, f"\\boxed{{{wrong}}}").score == 0.0
        assert gpqa.grade(item, doc["gold"]).score == 0.0  # an unboxed letter is not an answer
        assert f"{doc['gold']}) {doc['Correct Answer'].strip()}" in \
            gpqa.build_messages(item)[0]["content"]  # fmt: skip
    again = get_suite("lm-eval:m1_gpqa_diamond", {})
    assert [i.row["doc"]["gold"] for i in again.load("smoke", None)[0]] == \
        [i.row["doc"]["gold"] for i in gpqa.load("smoke", None)[0]]  # fmt: skip

    mmlu = get_suite("lm-eval:m1_mmlu_pro", {})
    items = {i.item_id: i for i in mmlu.load("smoke", None)[0]}
    planet = items["70002"]  # four options only: E-J are not answers
    assert mmlu.grade(planet, "\\boxed{D}").score == 1.0
    assert mmlu.grade(planet, "\\boxed{J}").score == 0.0
    assert "J)" not in mmlu.build_messages(planet)[0]["content"]
    assert mmlu.grade(items["70001"], "\\boxed{B. Na}").score == 1.0


TINY = """\
task: tiny_arith
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["Question:"]
  temperature: 0.0
filter_list:
  - name: boxed
    filter:
      - function: regex
        regex_pattern: "boxed\\\\{{(\\\\d+)\\\\}}"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def _tiny_task(tmp_path: Path, **replace: str) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir(exist_ok=True)
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {a} + {b}?", "answer": str(a + b)})
                            + "\n" for a, b in ((7, 5), (2, 2), (10, 20))))  # fmt: skip
    text = TINY.format(data=data)
    for old, new in replace.items():
        text = text.replace(old, new)
    (folder / "tiny.yaml").write_text(text)
    return folder


def test_any_lm_eval_task_with_its_own_filters_and_metrics(cli, tmp_path: Path,
                                                           monkeypatch) -> None:  # fmt: skip
    """A task reading its own files (``dataset_path: json`` with ``data_files``) reads them
    wherever the mirror of hub datasets is (``M1EVAL_DATA_DIR`` set or not)."""
    monkeypatch.setenv("M1EVAL_DATA_DIR", str(tmp_path / "mirror-without-this-task"))
    folder = _tiny_task(tmp_path)
    answers = {"7 + 5": "12", "2 + 2": "4", "10 + 20": "30"}
    with StubServer(StubConfig(answers=answers, correct_rate=0.5, record_bodies=True)) as server:
        res = cli("run", "--suite", "lm-eval:tiny_arith", "--lm-eval-include", folder,
                  "--base-url", server.base_url, "--model", "stub-model", "--repeats", "4",
                  "--results-dir", tmp_path / "results", "--no-progress")  # fmt: skip
        assert res.code == 0, res.err
        bodies = server.state.bodies
    # the protocol's sampling, not the task's greedy default; "until" is not sent to the server
    assert {b["temperature"] for b in bodies} == {1.0} and all("stop" not in b for b in bodies)
    content = bodies[0]["messages"][-1]["content"]  # m1-80k sends plain strings
    assert content.startswith("Question: What is")
    samples = read_jsonl(only_run_dir(tmp_path / "results") / "samples.jsonl")
    assert len(samples) == 12
    for s in samples:
        assert s["score"] == (1.0 if int(s["extracted_answer"]) == int(s["gold"]) else 0.0)
        assert set(s["extra"]["metrics"]) == {"exact_match,boxed"}
    assert {s["item_id"] for s in samples} == {"0", "1", "2"}  # document index as id


def test_stop_strings_cut_the_final_answer_only() -> None:
    from m1eval.lmeval.suite import stop_at

    assert stop_at("12\n\nQuestion: next", ["Question:", "\n\n"]) == "12"
    assert stop_at("no stop here", ["Question:"]) == "no stop here"
    assert stop_at("x", []) == "x"


@pytest.mark.parametrize(
    ("replace", "args", "cause"),
    [
        ({}, ["--suite", "lm-eval:no_such_task_anywhere"], "unknown lm-eval task"),
        ({"output_type: generate_until": "output_type: multiple_choice"}, [],
         "log-probabilities"),
        ({"aggregation: mean": "aggregation: median"}, [], "not a mean"),
        ({}, ["--suite", "aime24", "--num-fewshot", "2"], "lm-eval:<task> suites only"),
        ({"dataset_path: json": "dataset_path: acme/tiny"}, ["--data-dir", "/nonexistent"],
         "not found under --data-dir"),
    ],
)  # fmt: skip
def test_bad_tasks_fail_with_one_line(cli, tmp_path: Path, replace: dict, args: list,
                                      cause: str) -> None:  # fmt: skip
    folder = _tiny_task(tmp_path, **replace)
    base = ["run", "--suite", "lm-eval:tiny_arith", "--lm-eval-include", str(folder),
            "--base-url", "http://127.0.0.1:9/v1",
            "--results-dir", str(tmp_path / "r")]  # fmt: skip
    res = cli(*base, *args)
    assert res.code in (2, 3) and cause in res.err, res.err
    assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_m1eval_model_under_lm_eval_cli(tmp_path: Path) -> None:
    """lm-eval drives the task; repeats of one prompt get distinct seeds at the protocol's
    sampling (lm-eval's own API models send one fixed seed)."""
    folder = _tiny_task(tmp_path, **{"test_split: test": "test_split: test\nrepeats: 3"})
    answers = {"7 + 5": "12", "2 + 2": "4", "10 + 20": "30"}
    with StubServer(StubConfig(answers=answers, correct_rate=1.0, record_bodies=True)) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "m1eval.lmeval", "--model", "m1eval", "--model_args",
             f"base_url={server.base_url},model=stub-model,seed=0", "--tasks", "tiny_arith",
             "--include_path", str(folder), "--apply_chat_template",
             "--output_path", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        bodies = server.state.bodies
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "exact_match" in proc.stdout
    assert len(bodies) == 9
    by_prompt: dict[str, set[int]] = {}
    for b in bodies:
        by_prompt.setdefault(json.dumps(b["messages"]), set()).add(b["seed"])
        assert b["temperature"] == 1.0 and b["top_p"] == 0.95
    assert len(by_prompt) == 3 and all(len(seeds) == 3 for seeds in by_prompt.values())
    result = next((tmp_path / "out").rglob("results_*.json"))
    scores = json.loads(result.read_text())["results"]["tiny_arith"]
    assert scores["exact_match,boxed"] == 1.0


def test_lm_eval_runs_in_the_report(cli, tmp_path: Path) -> None:
    with StubServer(StubConfig(answers=MATH_ANSWERS, correct_rate=0.6)) as server:
        res = cli("run", "--suite", "lm-eval:m1_math500", "--split", "smoke", "--base-url",
                  server.base_url, "--model", "stub-model", "--results-dir", tmp_path / "r",
                  "--no-progress")  # fmt: skip
        assert res.code == 0, res.err
    res = cli("report", tmp_path / "r", "--out", tmp_path / "report")
    assert res.code == 0, res.err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| lm-eval:m1_math500 | 96.8 (MiniMax-M1-80k) |" in md
    assert "(avg@4) at T=1.0" in md  # the task's deviation, footnoted


def test_m1eval_model_refuses_log_likelihood_requests() -> None:
    """Multiple-choice-by-likelihood tasks cannot run on a chat endpoint: a clear refusal."""
    from m1eval.errors import ConfigError
    from m1eval.lmeval.model import M1evalLM

    lm = M1evalLM(base_url="http://127.0.0.1:9/v1", model="m")
    for call in (lm.loglikelihood, lm.loglikelihood_rolling):
        with pytest.raises(ConfigError, match="no log-probabilities"):
            call([])


def test_a_reply_cut_off_before_any_answer_is_a_truncation_failure() -> None:
    """As AIME counts it: a reply the token budget cut off (finish_reason length) with no box
    and nothing the task's filters extract is a model failure, not a scored zero; the same
    text that ended normally, or a cut-off reply with a (wrong) boxed answer, is scored."""
    import asyncio

    from m1eval.model.types import Completion
    from m1eval.registry import get_suite
    from m1eval.suites.base import Solution

    math = get_suite("lm-eval:m1_math500", {})
    item = {i.item_id: i for i in math.load("smoke", None)[0]}["smoke/prealgebra/1.json"]

    def judge(text: str, finish: str) -> tuple[str, float]:
        c = Completion.of_text(text)
        c = type(c)(**{**c.__dict__, "finish_reason": finish})
        g = asyncio.run(math.score(item, Solution(c)))
        return g.outcome, g.score

    assert judge("Let me first compute the numerator, which", "length") == ("model_failure", 0.0)
    assert judge("Let me first compute the numerator, which", "stop") == ("scored", 0.0)
    assert judge("so the answer is \\boxed{6/5}", "length") == ("scored", 0.0)
    assert judge("\\boxed{\\dfrac{5}{6}}", "length") == ("scored", 1.0)
