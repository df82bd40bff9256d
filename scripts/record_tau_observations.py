"""Record what tau-bench's own tools answer, to test ours against (run once, by hand).

    python scripts/record_tau_observations.py TAU_BENCH_CHECKOUT [--tasks 12] [--out FILE]

TAU_BENCH_CHECKOUT is a checkout of sierra-research/tau-bench. Its tool classes and databases
are loaded from there (only ``tau_bench/envs/tool.py`` and the domains' ``tools/`` and ``data/``;
nothing that needs a model provider). For the first ``--tasks`` tasks of each domain, the gold
actions are replayed in order; before each one, the same call is also made on a copy of the
database as it stands then, mutated four ways: every string argument an unknown id, the first
argument missing, an extra argument, the first argument of the wrong type. Each tool is also
called with no arguments and with an unknown one on the initial database, and
with arguments that are not a JSON object (``[1]``), and ``send_certificate`` four times
for one user. Every call and the observation the official tool
returned (``str(e)`` behind ``Error:`` for an exception, as the official env does; None where
the tool returns nothing) go into a JSON file that ``tests/suites/test_tau_fidelity.py``
replays through our tools.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "suites" / "data" / "tau_official_observations.json"
DOMAINS = ("airline", "retail")


def _load_tools(checkout: Path, domain: str) -> dict[str, Any]:
    """name -> the official tool's ``invoke``, imported file by file."""
    envs = checkout / "tau_bench" / "envs"
    if "tau_bench.envs.tool" not in sys.modules:
        for name in ("tau_bench", "tau_bench.envs"):
            sys.modules.setdefault(name, types.ModuleType(name))
        spec = importlib.util.spec_from_file_location("tau_bench.envs.tool", envs / "tool.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["tau_bench.envs.tool"] = module
    tools = {}
    for path in sorted((envs / domain / "tools").glob("*.py")):
        if path.name == "__init__.py":
            continue
        # the real module name: Python names it in some argument errors
        name = f"tau_bench.envs.{domain}.tools.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for value in vars(module).values():
            if isinstance(value, type) and hasattr(value, "get_info") and value.__module__ == \
                    module.__name__:  # fmt: skip
                tools[value.get_info()["function"]["name"]] = value.invoke
    return tools


def _data(checkout: Path, domain: str) -> dict[str, Any]:
    folder = checkout / "tau_bench" / "envs" / domain / "data"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _step(tools: dict[str, Any], data: dict[str, Any], name: str, kwargs: Any) -> str | None:
    """What the official env's ``step`` makes of one call."""
    if name not in tools:
        return f"Unknown action {name}"
    try:
        return tools[name](data=data, **kwargs)  # a list here fails as it does in tau-bench
    except Exception as e:  # the official env's own rule
        return f"Error: {e}"


def _variants(kwargs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    strings = {k: "NOPE0000" for k, v in kwargs.items() if isinstance(v, str)}
    if strings:
        out.append(("unknown ids", {**kwargs, **strings}))
    if kwargs:
        first = next(iter(kwargs))
        out.append(("missing argument", {k: v for k, v in kwargs.items() if k != first}))
        out.append(("wrong type", {**kwargs, first: 42 if isinstance(kwargs[first], str)
                                   else "42"}))  # fmt: skip
    out.append(("extra argument", {**kwargs, "bogus": 1}))
    return out


def record(checkout: Path, tasks_dir: Path, n_tasks: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for domain in DOMAINS:
        tools = _load_tools(checkout, domain)
        fresh = _data(checkout, domain)
        for name in sorted(tools):
            for label, kwargs in (
                ("no arguments", {}),
                ("unknown argument", {"bogus": 1}),
                ("not an object", [1]),
            ):
                obs = _step(tools, copy.deepcopy(fresh), name, kwargs)
                rows.append({"domain": domain, "task": None, "step": None, "variant": label,
                             "name": name, "kwargs": kwargs, "observation": obs})  # fmt: skip
        tasks = json.loads((tasks_dir / domain / "tasks_test.json").read_text())
        for t, task in enumerate(tasks[:n_tasks]):
            data = copy.deepcopy(fresh)
            for s, action in enumerate(a for a in task["actions"] if a["name"] != "respond"):
                for label, kwargs in _variants(action["kwargs"]):
                    obs = _step(tools, copy.deepcopy(data), action["name"], kwargs)
                    rows.append({"domain": domain, "task": t, "step": s, "variant": label,
                                 "name": action["name"], "kwargs": kwargs,
                                 "observation": obs})  # fmt: skip
                obs = _step(tools, data, action["name"], action["kwargs"])
                rows.append({"domain": domain, "task": t, "step": s, "variant": "gold",
                             "name": action["name"], "kwargs": action["kwargs"],
                             "observation": obs})  # fmt: skip
        if "send_certificate" in tools:
            data = copy.deepcopy(fresh)
            user = sorted(data["users"])[0]
            for i in range(4):
                kwargs = {"user_id": user, "amount": 100}
                obs = _step(tools, data, "send_certificate", kwargs)
                rows.append({"domain": domain, "task": None, "step": i,
                             "variant": "certificate sequence", "name": "send_certificate",
                             "kwargs": kwargs, "observation": obs})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--tasks-dir", type=Path, default=ROOT.parent / "shared" / "data" /
                        "tau_bench")  # fmt: skip
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = record(args.checkout, args.tasks_dir, args.tasks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"python": sys.version.split()[0], "rows": rows},
                                   indent=1) + "\n")  # fmt: skip
    print(f"{len(rows)} calls recorded in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
