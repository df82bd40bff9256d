"""The warp-specialized prefill kernel (Gluon) compiled ahead of time for Hopper (sm_90) on
the CPU, both splits of its work: its PTX is read for what makes it the design it claims to
be (warps in partitions of their own with registers moved between them, TMA loads and
stores, asynchronous warpgroup MMAs, mbarriers). Whether it computes the right numbers is
checked on the GPU, against the float64 recurrence and fla, before any configuration is
timed (``m1eval.profiler.latency.tune_one``); Gluon has no interpreter to run it here.

Needs Triton 3.6 or later with its CUDA back end (not part of the project's install);
skipped without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

if importlib.util.find_spec("triton") is None:
    pytest.skip("needs Triton", allow_module_level=True)

# Run in a process of its own: the interpreted tests import Triton under TRITON_INTERPRET=1
_COMPILE = """
import json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.experimental.gluon import language as gl
from triton.experimental.gluon._runtime import GluonASTSource
from m1eval.profiler import lightning_prefill_ws as ws

split, stages, store_state = json.loads(sys.argv[1])
c, bv, d = 64, 64, 128
qk = gl.NVMMASharedLayout.get_default_for([c, d], gl.bfloat16)
vo = gl.NVMMASharedLayout.get_default_for([c, bv], gl.bfloat16)
qk_t, vo_t = f"tensordesc<bf16[{c}, {d}],{qk!r}>", f"tensordesc<bf16[{c}, {bv}],{vo!r}>"
sig = {"q_desc": qk_t, "k_desc": qk_t, "v_desc": vo_t, "o_desc": vo_t, "s_ptr": "*fp32",
       "slope_ptr": "*fp32", "T": "i32"}
ce = {"H": 64, "C": c, "NS": stages, "STORE_STATE": store_state}
src = GluonASTSource(ws._kernel(split), {**sig, **dict.fromkeys(ce, "constexpr")},
                     constexprs=ce, attrs={(4,): [["tt.divisibility", 16]],
                                           (5,): [["tt.divisibility", 16]]})
out = triton.compile(src, target=GPUTarget("cuda", 90, 32),
                     options={"num_warps": 4, "maxnreg": ws.MAXNREG})
print(json.dumps({"ptx": out.asm["ptx"], "warps": out.metadata.num_warps,
                  "shared": out.metadata.shared}))
"""


def _compiled(split: int, stages: int, store_state: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", _COMPILE,
                           json.dumps([split, stages, store_state])],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    if done.returncode != 0 and ("ImportError" in done.stderr
                                 or "ModuleNotFoundError" in done.stderr):  # fmt: skip
        pytest.skip(f"no Gluon with a CUDA back end here: "
                    f"{done.stderr.strip().splitlines()[-1]}")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("split", "stages"), [(1, 2), (2, 3), (2, 4)])
def test_the_kernel_is_warp_specialized_with_tma_and_warpgroup_mmas(split: int,
                                                                    stages: int) -> None:
    got = _compiled(split, stages)
    ptx = got["ptx"]
    # a 4-warp partition, a 4-warp worker and a 1-warp loader, rounded to whole warpgroups
    assert got["warps"] == 12
    assert "setmaxnreg.inc" in ptx and "setmaxnreg.dec" in ptx  # registers moved between them
    # q and k (two 128-byte-wide boxes each) and v by TMA, the output stored by TMA
    loads = ptx.count("cp.async.bulk.tensor.2d.shared::")
    stores = ptx.count("cp.async.bulk.tensor.2d.global.shared::cta")
    assert loads >= 3 and stores >= 1
    assert "mbarrier.try_wait.parity" in ptx and "mbarrier.arrive" in ptx
    assert "wgmma.mma_async" in ptx and "wgmma.wait_group" in ptx
    assert "fence.proxy.async.shared::cta" in ptx  # generic stores made visible to TMA/MMA
    # the stage ring, the state in bf16 and the output buffers fit one SM's shared memory
    assert got["shared"] <= 227 * 1024


@pytest.mark.parametrize("split", [1, 2])
def test_the_final_state_is_stored_only_when_asked(split: int) -> None:
    without = _compiled(split, 2)["ptx"]
    with_state = _compiled(split, 2, store_state=True)["ptx"]
    assert "st.global" not in without
    # a 128 x 64 block of fp32 over one warpgroup: 64 values a thread
    assert with_state.count("st.global") >= 16
