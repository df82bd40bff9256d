"""The import graph reads one way: foundation -> data and configuration -> capabilities
(model client, sandbox, graders, environments) -> suites -> runs -> readers -> commands.
No module imports from a layer above its own (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "m1eval"

# first matching prefix wins; lower number = lower layer
LAYERS: list[tuple[str, int]] = [
    ("m1eval.commands", 6), ("m1eval.cli", 6), ("m1eval.lmeval.__main__", 6),
    ("m1eval.results", 5), ("m1eval.compare", 5), ("m1eval.terminal", 5),
    ("m1eval.reporting", 5),
    ("m1eval.runner", 4), ("m1eval.outcomes", 4), ("m1eval.evaluate", 4),
    ("m1eval.regrade", 4),
    ("m1eval.suites", 3), ("m1eval.lmeval", 3),
    ("m1eval.model", 2), ("m1eval.sandbox", 2), ("m1eval.graders", 2), ("m1eval.tau", 2),
    ("m1eval.swebench", 2), ("m1eval.testing", 2), ("m1eval.profiler", 2),
    ("m1eval.serving", 2), ("m1eval.cluster", 2),
    ("m1eval.suite_specs", 1), ("m1eval.protocols", 1), ("m1eval.config", 1),
    ("m1eval.chat_templates", 1),
    ("m1eval.data", 1), ("m1eval.store", 1), ("m1eval.tokenizers", 1),
    ("m1eval", 0),  # errors, records, hashing, boundedjson, fsutil, paths, stats, summary, ...
]  # fmt: skip


def layer(module: str) -> int:
    for prefix, n in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return n
    raise AssertionError(f"no layer for {module}")


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("m1eval"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("m1eval"))
    return found


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for target in imports(path):
            if target != "m1eval" and layer(target) > layer(module):
                upward.append(f"{module} ({layer(module)}) -> {target} ({layer(target)})")
    assert not upward, "\n".join(upward)


def test_no_library_code_names_the_shared_data_folder() -> None:
    offenders = [str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")
                 if '"shared"' in p.read_text() or "../shared" in p.read_text()]  # fmt: skip
    assert offenders == [], offenders
