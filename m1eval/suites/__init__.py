"""Suite adapters: each knows its data, its prompts and its grader, and nothing of HTTP."""

from m1eval.suites.base import Grade, Item, Suite
from m1eval.suites.registry import get_suite

__all__ = ["Grade", "Item", "Suite", "get_suite"]
