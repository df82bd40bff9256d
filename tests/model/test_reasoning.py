"""Reasoning is stored apart from the answer, and never graded."""

from __future__ import annotations

from m1eval.model.reasoning import split_reasoning
from m1eval.registry import get_suite
from m1eval.suites.base import Item


def test_think_block_is_separated() -> None:
    s = split_reasoning("<think>try \\boxed{1}</think>Final: \\boxed{2}")
    assert s.reasoning == "try \\boxed{1}"
    assert s.answer == "Final: \\boxed{2}"
    assert not s.unclosed


def test_closing_tag_only_when_template_opened_the_block() -> None:
    s = split_reasoning("thinking...\n</think>\n\\boxed{5}")
    assert s.reasoning == "thinking..."
    assert s.answer == "\\boxed{5}"


def test_unclosed_think_means_no_answer() -> None:
    s = split_reasoning("<think>I am still thinking \\boxed{7}")
    assert s.unclosed
    assert s.answer == ""


def test_separate_reasoning_field() -> None:
    s = split_reasoning("\\boxed{3}", reasoning_field="because")
    assert (s.reasoning, s.answer, s.unclosed) == ("because", "\\boxed{3}", False)


def test_plain_answer_is_kept_byte_for_byte() -> None:
    s = split_reasoning("  \\boxed{3}  ")
    assert (s.reasoning, s.answer) == ("", "  \\boxed{3}  ")


def test_whitespace_after_reasoning_is_a_separator() -> None:
    assert split_reasoning("<think>x</think>\n\nABC hello ").answer == "ABC hello "
    assert split_reasoning("\n\nABC", reasoning_field="thought").answer == "ABC"


def test_grader_ignores_boxes_in_reasoning() -> None:
    suite = get_suite("aime24")
    item = Item("1", {"id": 1, "problem": "p", "answer": "012"})
    split = split_reasoning("<think>maybe \\boxed{12}</think>I say \\boxed{13}")
    assert suite.grade(item, split.answer).score == 0.0
    split = split_reasoning("<think>maybe \\boxed{13}</think>I say \\boxed{12}")
    assert suite.grade(item, split.answer).score == 1.0
