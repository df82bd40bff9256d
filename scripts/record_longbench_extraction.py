"""Record what LongBench's own ``pred.py`` makes of served replies.

Reads ``pred.py`` from a git checkout of THUDM/LongBench (nothing of it is copied into this
project), takes its ``extract_answer`` and applies ``get_pred``'s handling of one output
(``if output == '': continue``; ``response = output.strip()``; ``extract_answer(response)``)
to each content in ``tests/suites/data/longbench_served_layouts.json``: the reply as vLLM
serves MiniMax-M1 (reasoning inline) and the same rule on the content after the reasoning
block. Writes the verdicts into that file.

    python scripts/record_longbench_extraction.py --longbench-repo PATH [--commit SHA]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ROOT / "tests" / "suites" / "data" / "longbench_served_layouts.json"
COMMIT = "2e00731f8d0bff23dc4325161118e0e53e8b0e8b"


def official_extract(source: str):  # type: ignore[no-untyped-def]
    """pred.py's ``extract_answer``, compiled from its source alone (pred.py imports a model
    stack at the top that grading does not need)."""
    tree = ast.parse(source)
    [fn] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "extract_answer"]
    namespace: dict = {"re": re}
    exec(compile(ast.Module([fn], []), "pred.py", "exec"), namespace)
    return namespace["extract_answer"]


def judge(extract, output: str) -> dict:  # type: ignore[no-untyped-def]
    if output == "":
        return {"skipped": True, "pred": None}
    return {"skipped": False, "pred": extract(output.strip())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--longbench-repo", required=True)
    ap.add_argument("--commit", default=COMMIT)
    args = ap.parse_args()
    commit = subprocess.run(["git", "-C", args.longbench_repo, "rev-parse", args.commit],
                            check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    source = subprocess.run(["git", "-C", args.longbench_repo, "show", f"{commit}:pred.py"],
                            check=True, capture_output=True, text=True).stdout  # fmt: skip
    extract = official_extract(source)
    data = json.loads(LAYOUTS.read_text())
    for case in data["cases"]:
        content = case["content"]
        after = content[content.rfind("</think>") + len("</think>"):] if "</think>" in content \
            else ("" if content.lstrip().startswith("<think>") else content)  # fmt: skip
        case["official_literal"] = judge(extract, content)
        case["official_after_reasoning"] = judge(extract, after)
    data["recorded_by"] = "scripts/record_longbench_extraction.py"
    data["upstream"] = f"THUDM/LongBench@{commit}:pred.py"
    LAYOUTS.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(data['cases'])} layouts recorded -> {LAYOUTS}")


if __name__ == "__main__":
    main()
