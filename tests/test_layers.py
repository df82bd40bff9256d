"""The import graph reads one way: foundation -> data and configuration -> capabilities
(model client, sandbox, graders, environments) -> suites -> the lm-eval bridge -> the suite
registry -> runs -> readers -> commands. No module imports from a layer above its own
(function-level imports and modules loaded by name through importlib included). No function
of the package is longer than MAX_FUNCTION_LINES (the in-container agent and the test
emulators aside), and the command line's front door stays small."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "m1eval"

# first matching prefix wins; lower number = lower layer
LAYERS: list[tuple[str, int]] = [
    ("m1eval.commands", 60), ("m1eval.cli", 60), ("m1eval.lmeval.__main__", 60),
    ("m1eval.results", 50), ("m1eval.compare", 50), ("m1eval.terminal", 50),
    ("m1eval.reporting", 50),
    ("m1eval.runner", 40), ("m1eval.outcomes", 40), ("m1eval.evaluate", 40),
    ("m1eval.regrade", 40), ("m1eval.run_plan", 40), ("m1eval.run_files", 40),
    ("m1eval.preflight", 40),
    ("m1eval.registry", 36),
    ("m1eval.lmeval", 33),
    ("m1eval.suites", 30),
    ("m1eval.model", 20), ("m1eval.sandbox", 20), ("m1eval.graders", 20), ("m1eval.tau", 20),
    ("m1eval.swebench", 20), ("m1eval.testing", 20), ("m1eval.profiler", 20),
    ("m1eval.serving", 20), ("m1eval.cluster", 20),
    ("m1eval.suite_specs", 10), ("m1eval.protocols", 10), ("m1eval.config", 10),
    ("m1eval.chat_templates", 10), ("m1eval.run_format", 10),
    ("m1eval.data", 10), ("m1eval.store", 10), ("m1eval.tokenizers", 10),
    ("m1eval", 0),  # errors, records, hashing, boundedjson, fsutil, paths, stats, summary, ...
]  # fmt: skip
MAX_FUNCTION_LINES = 80
LONG_ALLOWED = ("m1eval/sandbox/agent.py", "m1eval/testing/stub_server.py",
                "m1eval/testing/vllm_emulator.py")  # fmt: skip
CLI_MAX_LINES = 200


def layer(module: str) -> int:
    for prefix, n in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return n
    raise AssertionError(f"no layer for {module}")


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    root = PACKAGE.parent
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """The m1eval modules a file imports: import statements, and every string that names an
    m1eval module (what importlib.import_module or a table of module names loads)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("m1eval"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("m1eval"))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and node.value.startswith("m1eval.") and _is_module(node.value)):  # fmt: skip
            found.add(node.value)
    return found


def test_importlib_loads_are_seen() -> None:
    """The registry loads the lm-eval bridge by name and the front door loads each command by
    name: both show in the graph the layering is checked on."""
    assert "m1eval.lmeval.suite" in imports(PACKAGE / "registry.py")
    assert "m1eval.commands.run" in imports(PACKAGE / "cli.py")


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


def test_no_function_is_longer_than_the_limit() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE.parent))
        if rel in LONG_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "\n".join(long)


def test_the_front_door_is_small() -> None:
    assert len((PACKAGE / "cli.py").read_text().splitlines()) < CLI_MAX_LINES
