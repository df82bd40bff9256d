"""``m1eval data pull --suite tau-bench``: the plain JSON form from the upstream repository.

Upstream (sierra-research/tau-bench) keeps its tasks as Python source (``TASKS = [Task(...,
actions=[Action(name=..., kwargs={...})])]``) and each tool's schema in a ``get_info`` method.
Both are read with ``ast``, as literals: downloaded code is parsed, never executed.
"""

from __future__ import annotations

import ast
import io
import json
import shutil
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

from m1eval.errors import DataError
from m1eval.fsutil import atomic_write_json

REPO = "sierra-research/tau-bench"
REVISION = "59a200c"
ARCHIVE = "https://codeload.github.com/{repo}/tar.gz/{rev}"


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
    return None


def _value(node: ast.AST) -> Any:
    """A literal, where ``Action(...)`` and ``Task(...)`` calls become dicts of their keywords."""
    if _call_name(node) in ("Action", "Task"):
        assert isinstance(node, ast.Call)
        return {kw.arg: _value(kw.value) for kw in node.keywords if kw.arg}
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values, strict=True)}
    return ast.literal_eval(node)


def parse_tasks(source: str) -> list[dict[str, Any]]:
    """Tasks from a ``tasks_test.py``: the list assigned to a TASKS-like name."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if any(n.upper().startswith("TASKS") for n in names):
                tasks = _value(node.value)
                for i, task in enumerate(tasks):
                    task.setdefault("outputs", [])
                    task["task_id"] = i
                return tasks
    raise DataError("no TASKS list in the tasks file")


def parse_tool_info(source: str) -> dict[str, Any]:
    """The dict returned by a tool class's ``get_info``."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "get_info":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    return _value(stmt.value)
    raise DataError("no get_info in the tool file")


def tool_order(init_source: str) -> list[str]:
    """Tool class names in the order of the domain's ALL_TOOLS list."""
    tree = ast.parse(init_source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            return [e.id for e in node.value.elts if isinstance(e, ast.Name)]
    raise DataError("no ALL_TOOLS list in tools/__init__.py")


def convert(source: Path, out: Path) -> None:
    """``source`` is a tau-bench checkout; write ``out/<domain>/`` in the plain JSON form."""
    for domain in ("airline", "retail"):
        env = source / "tau_bench" / "envs" / domain
        if not env.is_dir():
            raise DataError(f"{env} not found: is {source} a tau-bench checkout?")
        target = out / domain
        (target / "data").mkdir(parents=True, exist_ok=True)
        for path in sorted((env / "data").glob("*.json")):
            shutil.copyfile(path, target / "data" / path.name)
        shutil.copyfile(env / "wiki.md", target / "wiki.md")
        atomic_write_json(target / "tasks_test.json",
                          parse_tasks((env / "tasks_test.py").read_text()))  # fmt: skip
        tools_dir = env / "tools"
        by_class: dict[str, dict[str, Any]] = {}
        for path in sorted(tools_dir.glob("*.py")):
            if path.name == "__init__.py":
                continue
            tree = ast.parse(path.read_text())
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    by_class[node.name] = parse_tool_info(ast.unparse(node))
        order = tool_order((tools_dir / "__init__.py").read_text())
        missing = [name for name in order if name not in by_class]
        if missing:
            raise DataError(f"{domain}: no schema found for {', '.join(missing)}")
        atomic_write_json(target / "tools.json", [by_class[name] for name in order])


def download(rev: str, dest: Path) -> Path:
    """Fetch the repository at ``rev`` and unpack it under ``dest``; return the checkout."""
    url = ARCHIVE.format(repo=REPO, rev=rev)
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:
            data = resp.read()
    except OSError as exc:
        raise DataError(f"cannot download {url}: {exc}; pass --source DIR (a checkout)") from None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise DataError(f"unexpected archive layout from {url}")
    return roots[0]


def describe(out: Path) -> str:
    counts = {d: len(json.loads((out / d / "tasks_test.json").read_text()))
              for d in ("airline", "retail")}  # fmt: skip
    return ", ".join(f"{d}: {n} tasks" for d, n in counts.items())
