"""A tau-bench domain: a fresh database, tool dispatch with official-style errors, the reward.

Data is read in tau-bench's plain JSON form, as ``m1eval data pull --suite tau-bench`` writes
it (``<domain>/data/*.json``, ``wiki.md``, ``tools.json``, ``tasks_test.json``). The reward is
tau-bench's: 1 only if the final database equals the one obtained by replaying the task's gold
actions on a fresh copy, and every required output appears (case-insensitive, commas removed
from the reply) in what the agent told the user.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from m1eval.errors import DataError
from m1eval.hashing import stable_hash
from m1eval.tau import airline, retail

DOMAINS = {"airline": airline, "retail": retail}
DATA_FILES = {"airline": ("flights", "reservations", "users"),
              "retail": ("orders", "products", "users")}  # fmt: skip
RESPOND = "respond"
TAU_DIR_ENV = "M1EVAL_TAU_DIR"


def default_tau_dir() -> Path:
    """``M1EVAL_TAU_DIR``, else ``data/tau_bench`` (where ``m1eval data pull`` writes)."""
    override = os.environ.get(TAU_DIR_ENV)
    if override:
        return Path(override)
    return Path("data") / "tau_bench"


@dataclass(frozen=True)
class DomainData:
    domain: str
    root: Path
    wiki: str
    tools: list[dict[str, Any]]
    tasks: list[dict[str, Any]]

    def fresh_db(self) -> dict[str, Any]:
        """A private copy of the initial database (unpickled from a cached snapshot: about
        three times faster than ``copy.deepcopy`` of the same plain-JSON data)."""
        return pickle.loads(_db_snapshot(str(self.root), self.domain))


@cache
def _db(root: str, domain: str) -> dict[str, Any]:
    return {name: json.loads((Path(root) / domain / "data" / f"{name}.json").read_text())
            for name in DATA_FILES[domain]}  # fmt: skip


@cache
def _db_snapshot(root: str, domain: str) -> bytes:
    return pickle.dumps(_db(root, domain), protocol=pickle.HIGHEST_PROTOCOL)


def load_domain(domain: str, tau_dir: str | Path | None = None) -> DomainData:
    if domain not in DOMAINS:
        raise DataError(f"unknown TAU-bench domain {domain!r} (airline or retail)")
    root = Path(tau_dir) if tau_dir else default_tau_dir()
    base = root / domain
    try:
        return DomainData(
            domain=domain,
            root=root,
            wiki=(base / "wiki.md").read_text(),
            tools=json.loads((base / "tools.json").read_text()),
            tasks=json.loads((base / "tasks_test.json").read_text()),
        )
    except FileNotFoundError as exc:
        raise DataError(
            f"TAU-bench {domain} data not found under {root} ({exc.filename}); pass --data-dir "
            f"DIR where DIR/{domain}/ holds data/*.json, wiki.md, tools.json, tasks_test.json"
        ) from None


class Env:
    """One episode's database and the tools that act on it."""

    def __init__(self, data: DomainData) -> None:
        self.data = data
        self.module = DOMAINS[data.domain]
        self.db = data.fresh_db()

    def step(self, name: str, kwargs: Any) -> str | None:
        """Run a tool; a bad call returns an error string, as tau-bench's env does (arguments
        that are not an object fail as ``**`` fails on them there). None where tau-bench's
        tool returns nothing."""
        tool = self.module.TOOLS.get(name)
        if tool is None:
            return f"Unknown action {name}"
        try:
            return tool(data=self.db, **kwargs)
        except Exception as exc:  # missing or unknown arguments, wrong types, missing ids
            return f"Error: {exc}"

    def db_hash(self) -> str:
        return stable_hash(self.db)


def replay(data: DomainData, actions: list[dict[str, Any]]) -> tuple[list[str | None], Env]:
    """Execute actions in order on a fresh database; ``respond`` yields None."""
    env = Env(data)
    out: list[str | None] = []
    for action in actions:
        if action["name"] == RESPOND:
            out.append(None)
        else:
            out.append(env.step(action["name"], action.get("kwargs", {})))
    return out, env


_GOLD_HASHES: dict[tuple[str, str, str], str] = {}


def gold_env(data: DomainData, task: dict[str, Any]) -> Env:
    """A fresh database after the task's gold actions (as tau-bench replays them: neither
    replies nor terminating tools)."""
    gold = Env(data)
    terminate = set(DOMAINS[data.domain].TERMINATE_TOOLS)
    for action in task["actions"]:
        if action["name"] not in terminate and action["name"] != RESPOND:
            gold.step(action["name"], action["kwargs"])
    return gold


def gold_db_hash(data: DomainData, task: dict[str, Any]) -> str:
    """Hash of the database the task's gold actions leave: the same for every episode of the
    task, so it is replayed once per task and data folder, not once per episode."""
    key = (str(data.root), data.domain, stable_hash(task["actions"]))
    if key not in _GOLD_HASHES:
        _GOLD_HASHES[key] = gold_env(data, task).db_hash()
    return _GOLD_HASHES[key]


DIFF_KEPT = 20  # differences listed per episode; the count says how many there were
DIFF_VALUE_CHARS = 300


def db_difference(gold: Any, final: Any, limit: int = DIFF_KEPT) -> dict[str, Any]:
    """Where the episode's database differs from the gold one: ``{"n": count, "changes":
    [{"path", "gold", "actual"}]}``, paths like ``orders/#W123/status``, values as bounded
    JSON (``null`` where a side has no such key), at most ``limit`` listed in key order."""
    changes: list[dict[str, Any]] = []
    count = 0

    def walk(path: str, a: Any, b: Any) -> None:
        nonlocal count
        if a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(f"{path}/{key}" if path else str(key), a.get(key, _MISSING),
                     b.get(key, _MISSING))  # fmt: skip
            return
        count += 1
        if len(changes) < limit:
            changes.append({"path": path, "gold": _shown(a), "actual": _shown(b)})

    walk("", gold, final)
    return {"n": count, "changes": changes}


_MISSING = object()


def _shown(value: Any) -> str | None:
    if value is _MISSING:
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= DIFF_VALUE_CHARS else text[: DIFF_VALUE_CHARS - 1] + "…"


@dataclass
class Reward:
    reward: float
    db_match: bool
    outputs: dict[str, bool] = field(default_factory=dict)


def reward(data: DomainData, task: dict[str, Any], final_db_hash: str,
           replies: list[str]) -> Reward:  # fmt: skip
    """tau-bench's reward for an episode that ended within the step limit."""
    db_match = gold_db_hash(data, task) == final_db_hash
    value = 1.0 if db_match else 0.0
    outputs: dict[str, bool] = {}
    for output in task.get("outputs") or []:
        found = any(output.lower() in reply.lower().replace(",", "") for reply in replies)
        outputs[output] = found
        if not found:
            value = 0.0
    return Reward(value, db_match, outputs)
