"""Record LiveCodeBench's own verdicts on the corpus in ``tests/suites/lcb_corpus.py``.

Runs the official grader (``lcb_runner/evaluation``, read from a git checkout of
LiveCodeBench at a pinned commit; nothing of it is copied into this project) inside the
sandbox image, the same Python and numpy our sandbox runs programs with, one program at a
time through its ``evaluate_generations_by_problem`` (a ``multiprocessing`` child per program,
6 s per test, as ``lcb_runner`` runs it). Writes ``tests/suites/data/lcb_official_verdicts.json``.

    python scripts/record_lcb_verdicts.py --lcb-repo PATH [--commit SHA]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.suites.lcb_corpus import as_json  # noqa: E402

COMMIT = "28fef95ea8c9f7a547c8329f2cd3d32b92c1fa24"
FILES = ("testing_util.py", "compute_code_generation_metrics.py", "pass_k_utils.py")
OUT = ROOT / "tests" / "suites" / "data" / "lcb_official_verdicts.json"
DRIVER = '''
import json, sys
sys.path.insert(0, "/lcb")
import numpy as np
from lcb_runner.evaluation.compute_code_generation_metrics import evaluate_generations_by_problem
data = json.load(open("/lcb/corpus.json"))
out = {}
for prog in data["programs"]:
    p = data["problems"][prog["problem"]]
    io = {"inputs": p["inputs"], "outputs": p["outputs"]}
    if p["fn_name"]:
        io["fn_name"] = p["fn_name"]
    res, meta = evaluate_generations_by_problem(([prog["code"]], {"input_output": json.dumps(io)},
                                                 False, 6))
    results = [bool(x) if isinstance(x, (bool, np.bool_)) else int(x) for x in res[0]]
    out[prog["id"]] = {"passed": bool(np.all(np.array(res[0]) > 0)), "results": results,
                       "error_code": meta[0].get("error_code")}
    print(prog["id"], out[prog["id"]]["passed"], file=sys.stderr, flush=True)
json.dump(out, open("/out/verdicts.json", "w"))
'''
TQDM_STUB = "def tqdm(*args, **kwargs):\n    raise RuntimeError('not used by the recorder')\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lcb-repo", required=True, help="a git checkout of LiveCodeBench")
    ap.add_argument("--commit", default=COMMIT)
    ap.add_argument("--image", default="m1eval-sandbox:bookworm-py3-numpy")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    commit = subprocess.run(["git", "-C", args.lcb_repo, "rev-parse", args.commit], check=True,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as out:
        pkg = Path(tmp) / "lcb_runner" / "evaluation"
        pkg.mkdir(parents=True)
        (pkg.parent / "__init__.py").write_text("")
        (pkg / "__init__.py").write_text("")  # upstream's imports every metric; one is needed
        for name in FILES:
            text = subprocess.run(["git", "-C", args.lcb_repo, "show",
                                   f"{commit}:lcb_runner/evaluation/{name}"],
                                  check=True, capture_output=True, text=True).stdout  # fmt: skip
            (pkg / name).write_text(text)
        (Path(tmp) / "tqdm.py").write_text(TQDM_STUB)
        (Path(tmp) / "corpus.json").write_text(as_json())
        (Path(tmp) / "driver.py").write_text(DRIVER)
        run = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{tmp}:/lcb:ro",
                              "-v", f"{out}:/out",
                              args.image, "python3", "/lcb/driver.py"],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
        if run.returncode != 0:
            sys.exit(f"the official grader failed: {run.stderr[-2000:]}")
        # programs print to the grader's own stdout: the verdicts travel in a file
        verdicts = json.loads((Path(out) / "verdicts.json").read_text())
    image = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", args.image],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    record = {"recorded_by": "scripts/record_lcb_verdicts.py",
              "upstream": f"LiveCodeBench/LiveCodeBench@{commit}",
              "image": f"{args.image} ({image[:19]})", "verdicts": verdicts}  # fmt: skip
    args.out.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    passed = sum(v["passed"] for v in verdicts.values())
    print(f"{len(verdicts)} programs, {passed} pass officially -> {args.out}")


if __name__ == "__main__":
    main()
