"""Our TAU-bench tools answer exactly what tau-bench's own tools answer: every gold call of the
first tasks of each domain, the same calls mutated (unknown ids, a missing argument, an extra
one, a wrong type), every tool with no or unknown arguments, and a fourth certificate. The
official answers were recorded from tau-bench's code by scripts/record_tau_observations.py."""

from __future__ import annotations

import copy
import functools
import json
import os
import pickle
from collections import defaultdict
from pathlib import Path

import pytest

from m1eval.tau.env import Env, load_domain

TAU = Path(os.environ["M1EVAL_TAU_DIR"])  # set by conftest (the shared real data)
RECORDED = Path(__file__).resolve().parent / "data" / "tau_official_observations.json"
ROWS = json.loads(RECORDED.read_text())["rows"]


@functools.cache
def _domain(domain: str):  # type: ignore[no-untyped-def]
    return load_domain(domain, TAU)


def _env(domain: str) -> Env:
    if not (TAU / domain).exists():
        pytest.skip("no tau-bench data")
    return Env(_domain(domain))


def _mismatches(env: Env, rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        got = env.step(r["name"], r["kwargs"])
        if got != r["observation"]:
            out.append(f"{r['name']}({r['kwargs']}) [{r['variant']}]\n  official: "
                       f"{str(r['observation'])[:200]}\n  ours:     {str(got)[:200]}")  # fmt: skip
    return out


@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_every_tool_with_no_or_unknown_arguments(domain: str) -> None:
    rows = [r for r in ROWS if r["domain"] == domain and r["task"] is None
            and r["variant"] != "certificate sequence"]  # fmt: skip
    mismatches = []
    for r in rows:
        mismatches += _mismatches(_env(domain), [r])
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["airline", "retail"])
def test_gold_and_mutated_calls_along_each_task(domain: str) -> None:
    by_task: dict[int, list[dict]] = defaultdict(list)
    for r in ROWS:
        if r["domain"] == domain and r["task"] is not None:
            by_task[r["task"]].append(r)
    assert len(by_task) >= 10
    mismatches = []
    for rows in by_task.values():
        env = _env(domain)
        for r in rows:
            if r["variant"] == "gold":
                mismatches += _mismatches(env, [r])
            else:  # on a copy of the database as it stands before the gold call
                probe = copy.copy(env)
                probe.db = pickle.loads(pickle.dumps(env.db))
                mismatches += _mismatches(probe, [r])
    assert not mismatches, f"{len(mismatches)} differ:\n" + "\n".join(mismatches[:20])


def test_a_fourth_certificate_answers_nothing() -> None:
    rows = [r for r in ROWS if r["variant"] == "certificate sequence"]
    assert [r["observation"] for r in rows][-1] is None
    assert not _mismatches(_env("airline"), rows)
