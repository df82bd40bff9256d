"""Extract the command-line flags of ``vllm serve`` from released vLLM wheels, without
installing them, into ``m1eval/serving/vllm_cli_flags.json``.

    pip download --no-deps vllm==0.23.0 -d wheels/
    python scripts/extract_vllm_flags.py wheels/vllm-*.whl

The parser of ``vllm serve`` is built in two files: ``vllm/engine/arg_utils.py`` names every
engine flag as a literal in ``add_argument("--flag", ...)``, and
``vllm/entrypoints/openai/cli_args.py`` adds literal flags plus one flag per field of its
``*FrontendArgs`` dataclasses (``--`` + the field name with dashes). Both are read with
``ast`` from the wheel; the wheel's name and SHA-256 are recorded beside the flags.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "m1eval" / "serving" / "vllm_cli_flags.json"
SOURCES = ("vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py")


def literal_flags(tree: ast.AST) -> set[str]:
    flags = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):  # fmt: skip
            for arg in node.args:
                if isinstance(arg, ast.Constant) and str(arg.value).startswith("--"):
                    flags.add(str(arg.value))
    return flags


def frontend_fields(tree: ast.AST) -> set[str]:
    flags = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith("FrontendArgs"):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    flags.add("--" + item.target.id.replace("_", "-"))
    return flags


def extract(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        version = None
        flags: set[str] = set()
        for name in SOURCES:
            tree = ast.parse(zf.read(name).decode("utf-8"))
            flags |= literal_flags(tree)
            if name.endswith("cli_args.py"):
                flags |= frontend_fields(tree)
        text = zf.read("vllm/_version.py").decode()
        match = re.search(r"version = '([^']+)'", text) or re.search(r'version = "([^"]+)"', text)
        version = match.group(1) if match else wheel.name.split("-")[1]
    return {
        "version": version,
        "wheel": wheel.name,
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "read": list(SOURCES),
        "flags": sorted(flags),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wheels", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    table = json.loads(args.out.read_text()) if args.out.exists() else {"versions": {}}
    table["how"] = ("scripts/extract_vllm_flags.py: ast of vllm/engine/arg_utils.py and "
                    "vllm/entrypoints/openai/cli_args.py read from each wheel")  # fmt: skip
    for wheel in args.wheels:
        entry = extract(wheel)
        table["versions"][entry["version"]] = entry
        print(f"{entry['version']}: {len(entry['flags'])} flags from {wheel.name}")
    table["versions"] = dict(
        sorted(
            table["versions"].items(), key=lambda kv: [int(x) for x in re.findall(r"\d+", kv[0])]
        )
    )
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
