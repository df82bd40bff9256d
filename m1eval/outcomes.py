"""The one rule for how grading a model's output ends.

A model under test is an adversary: anything it writes may be crafted to break the grader.
If grading raised and the sample were left out of the score as an infra error, a model could
raise its own score by making its wrong answers unreadable. So:

- a generation cut off inside its reasoning has no final answer: a ``model_failure``
  (truncated), never graded;
- a grader that returns decides the outcome itself (``scored`` or ``model_failure``);
- a grader that raises :class:`~m1eval.errors.InfraFault` reports a failure proven
  independent of the output (a missing image, a daemon fault, a dataset row that cannot be
  decoded): the sample is an ``infra_error``, re-attempted on the next run;
- a grader that raises anything else failed *on the output*: the sample is a
  ``model_failure`` with the cause, scored 0 and kept in the denominator;
- a :class:`~m1eval.errors.ServingError` (a judge's server configured wrong) is no sample's
  outcome: it stops the run.

The runner, ``m1eval grade`` and ``m1eval swe-bench grade`` all grade through
:func:`grade_output`; nothing else calls a suite's :meth:`~m1eval.suites.base.Suite.score`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from m1eval.artifacts import ArtifactWriter
from m1eval.errors import InfraFault, ServingError
from m1eval.model.types import Completion
from m1eval.records import MODEL_FAILURE
from m1eval.suites.base import Grade, Item, Solution, Suite

ERROR_CHARS = 500  # the cause recorded for a failure: enough to read, never the whole output
TRUNCATED = "truncated: the reasoning never closed, so there is no final answer"


@dataclass(frozen=True)
class InfraFailure:
    """Grading could not happen for a reason that says nothing about the output."""

    cause: str


def describe(exc: BaseException) -> str:
    """``Type: message``, on one line and bounded (a message may quote the output)."""
    text = " ".join(str(exc).split())
    if len(text) > ERROR_CHARS:
        text = text[: ERROR_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def grade_answer(
    suite: Suite, item: Item, answer: str, lead: str = "", unclosed: bool = False,
    files: ArtifactWriter | None = None,
) -> Grade | InfraFailure:  # fmt: skip
    """Grade a final answer produced elsewhere (``m1eval grade``, a predictions file) under the
    same rule; ``lead`` is the whitespace the reasoning split removed before it, ``unclosed``
    says the reasoning never closed."""
    completion = replace(Completion.of_text(answer), answer_lead=lead,
                         reasoning_truncated=unclosed)  # fmt: skip
    return await grade_output(suite, item, Solution(completion, files=files))


async def grade_output(suite: Suite, item: Item, solution: Solution) -> Grade | InfraFailure:
    """Grade a solution (its answer has the reasoning removed) under the rule above; never
    raises ``Exception``."""
    if solution.completion.reasoning_truncated:
        details = {"empty_output": True, **suite.truncated_details(item, solution)}
        return Grade(MODEL_FAILURE, 0.0, error=TRUNCATED, details=details,
                     cause="truncated: the reasoning never closed")
    finish_reason = solution.completion.finish_reason
    try:
        grade = await suite.score(item, solution)
    except ServingError:  # a judge's server configured wrong: the run stops
        raise
    except InfraFault as fault:
        return InfraFailure(describe(fault))
    except Exception as exc:
        grade = Grade.failure(f"grading failed on the model's output: {describe(exc)}",
                              cause=f"grading failed on the model's output: {type(exc).__name__}")
    if not isinstance(grade, Grade):
        return Grade.failure(f"grader returned {type(grade).__name__}, not a grade")
    if grade.error and finish_reason == "length":
        grade = replace(grade, error=f"truncated (finish_reason=length): {grade.error}",
                        cause=f"truncated (finish_reason=length): {grade.cause or grade.error}")
    return grade
