"""What a run's checks of its server cost: the preflight (template rendering, counted window,
tool round trip, seed) and the identity (card, rendering, the fixed greedy prompt), against
the vLLM emulator as a healthy server, in the same run as the same command with
--skip-preflight.

    python benchmarks/preflight.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from m1eval.cli import main as m1eval
from m1eval.testing.vllm_emulator import EmulatorConfig, VllmEmulator

TAU = Path(os.environ.get("M1EVAL_TAU_DIR", "../shared/data/tau_bench"))


def _run(url: str, results: Path, suite: str, *extra: str) -> tuple[float, dict]:
    data = ["--data-dir", str(TAU)] if suite.startswith("tau") else []
    started = time.perf_counter()
    code = m1eval(["run", "--suite", suite, "--split", "smoke", "--base-url", url,
                   "--results-dir", str(results), "--no-progress", "--seed", "1", *data,
                   *extra])  # fmt: skip
    wall = time.perf_counter() - started
    assert code == 0, code
    [run] = [p for p in results.iterdir() if p.is_dir()]
    return wall, json.loads((run / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    suites = ["aime24", *(["tau-bench-retail"] if (TAU / "retail").exists() else [])]
    with VllmEmulator(EmulatorConfig()) as server, tempfile.TemporaryDirectory() as tmp:
        for suite in suites:
            checked, skipped, pre = [], [], []
            for k in range(args.repeat):
                wall, manifest = _run(server.base_url, Path(tmp) / f"{suite}-c{k}", suite)
                checked.append(wall)
                pre.append(manifest["preflight"]["seconds"])
                wall, _ = _run(server.base_url, Path(tmp) / f"{suite}-s{k}", suite,
                               "--skip-preflight")  # fmt: skip
                skipped.append(wall)
            checks = ", ".join(c["name"] for c in manifest["preflight"]["checks"])
            on, off = statistics.median(checked), statistics.median(skipped)
            print(f"{suite}: preflight ({checks}) median {statistics.median(pre):.3f} s; "
                  f"whole run median {on:.2f} s with it, {off:.2f} s with --skip-preflight "
                  f"(identity probes in both), ratio {on / off:.2f}x", file=sys.stderr)


if __name__ == "__main__":
    main()
