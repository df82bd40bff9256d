"""Suite adapters: each knows its data, its prompts and its grader, and nothing of HTTP.

Suites are looked up by name through :func:`m1eval.registry.get_suite`."""

from m1eval.suites.base import AnswerSuite, Grade, Item, Suite

__all__ = ["AnswerSuite", "Grade", "Item", "Suite"]
