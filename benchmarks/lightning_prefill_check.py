"""Our Triton lightning prefill kernel alone, at small sizes, against the float64 recurrence
(a first check on a new GPU or after a kernel change):

    python benchmarks/lightning_prefill_check.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from m1eval.profiler.lightning import decay, recurrent, relative_error
from m1eval.profiler.lightning_prefill import prefill


def main() -> None:
    heads, d = 4, 128
    lam = decay(0, 80, heads)
    slopes = torch.tensor(-np.log(lam), device="cuda", dtype=torch.float32)
    rng = np.random.default_rng(0)
    configs = [
        {"C": c, "BV": bv, "num_warps": w, "STAGES": st}
        for c in (64, 128)
        for bv in (32, 64, 128)
        for w in (4, 8)
        for st in (1, 2)
    ]
    for t in (64, 200):
        q, k, v = (rng.standard_normal((heads, t, d)) * 0.1 for _ in range(3))
        ref, ref_state = recurrent(q, k, v, lam)
        to_gpu = [
            torch.tensor(x.transpose(1, 0, 2)[None], device="cuda", dtype=torch.bfloat16)
            for x in (q, k, v)
        ]
        for cfg in configs if t == 200 else configs[:1]:
            o, s = prefill(*to_gpu, slopes, cfg, final_state=True)
            torch.cuda.synchronize()
            got = o[0].float().cpu().numpy().transpose(1, 0, 2)
            print(
                t,
                cfg,
                f"out {relative_error(got, ref):.2e} "
                f"state {relative_error(s[0].cpu().numpy(), ref_state):.2e}",
                flush=True,
            )


def big() -> None:
    """One config at M1's prefill size: a crash here and not above is an indexing bug."""
    h, d, t = 64, 128, 102400
    slopes = torch.tensor(-np.log(decay(0, 80, h)), device="cuda", dtype=torch.float32)
    q, k, v = (torch.randn(1, t, h, d, device="cuda", dtype=torch.bfloat16) * 0.1 for _ in range(3))
    o = prefill(q, k, v, slopes)
    torch.cuda.synchronize()
    print("big ok", float(o.float().abs().mean()), flush=True)


if __name__ == "__main__":
    main()
    big()
