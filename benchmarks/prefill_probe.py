"""Check and time chosen lightning-prefill configurations on a GPU, each in a process of its
own (a kernel that hangs or breaks the CUDA context takes only itself): its error against the
float64 recurrence at 1,000 tokens and against fla's chunk kernel at 32K, then its time at
100K for batch 1, beside fla's, in the same run. One JSON line per configuration.

    python benchmarks/prefill_probe.py '[{"KERNEL": "ws", "C": 64, "BV": 64, "STAGES": 3}]'
    PREFILL_PROBE_TIMEOUT_S=60 python benchmarks/prefill_probe.py    # the tuning's list

Needs a CUDA GPU, PyTorch, Triton and fla-core (as benchmarks/attention_latency.sh sets up).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from m1eval.profiler import latency
from m1eval.profiler.lightning import decay


def main() -> None:
    configs = json.loads(sys.argv[1]) if len(sys.argv) > 1 else latency.PREFILL_CONFIGS
    timeout = float(os.environ.get("PREFILL_PROBE_TIMEOUT_S", "90"))
    lam = decay(0, 80, latency.H)
    slopes_t = torch.tensor(-np.log(lam), device=latency.DEV, dtype=torch.float32)
    ref = latency.tune_reference(lam, slopes_t)
    fla_s, fla_err = latency.safe(latency.lightning_prefill, 102400, -slopes_t)
    print(json.dumps({"fla_100k_s": fla_s, "error": fla_err}), flush=True)
    for cfg in configs:
        try:
            child = subprocess.run([sys.executable, "-m", "m1eval.profiler.latency", "--tune-one",
                                    json.dumps(cfg), "102400", ref],
                                   capture_output=True, text=True, timeout=timeout)  # fmt: skip
            lines = child.stdout.strip().splitlines()
            row = json.loads(lines[-1]) if lines else {"error": child.stderr.strip()[-600:]}
        except subprocess.TimeoutExpired:
            row = {"error": f"timed out after {timeout:.0f} s"}
        if row.get("s") and fla_s:
            row["fla_over_ours"] = fla_s / row["s"]
        print(json.dumps({**cfg, **row}), flush=True)


if __name__ == "__main__":
    main()
