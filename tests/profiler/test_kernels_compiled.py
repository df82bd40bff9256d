"""The PDL decode kernels compiled ahead of time for Hopper (sm_90) on the CPU, their PTX
read: what a step reads or writes before ``griddepcontrol.wait`` overlaps the node before it
on the GPU, and must be only what that node does not write (the state, and the deferred
step's own pending update); q, k and v, and every store of a plain step, come after the
wait. The order is the compiler's, which the Triton source cannot pin, so it is checked
here, in what the GPU would run.

Needs Triton with its CUDA back end (not part of the project's install); skipped without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("triton") is None:
    pytest.skip("needs PyTorch and Triton", allow_module_level=True)

# Run in a process of its own: Triton fixes interpreted or compiled when it is imported, and
# the interpreted tests import it under TRITON_INTERPRET=1
_COMPILE = """
import json, re, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from m1eval.profiler import decode_kernels

factory, signature, constexprs, warps = json.loads(sys.argv[1])
kernel = getattr(decode_kernels, factory)()
src = ASTSource(kernel, {**signature, **dict.fromkeys(constexprs, "constexpr")},
                constexprs=constexprs)
compiled = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})
keep = re.compile(r"^\\s*(?:@!?%p\\d+\\s+)?(ld\\.global\\S*|st\\.global\\S*|atom\\.\\S*|bar\\.sync|"
                  r"barrier\\.sync\\S*|griddepcontrol\\.\\w+)")
print(json.dumps([m.group(1) for line in compiled.asm["ptx"].splitlines()
                  if (m := keep.match(line))]))
"""


def _ptx(factory: str, signature: dict[str, str], constexprs: dict[str, object],
         warps: int) -> list[str]:  # fmt: skip
    """The kernel's PTX for sm_90, as its global loads and stores (predicated or not),
    barriers and grid-dependency instructions, in order."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", _COMPILE,
                           json.dumps([factory, signature, constexprs, warps])],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    if done.returncode != 0 and "ImportError" in done.stderr:  # another Triton's layout
        pytest.skip(f"Triton's ahead-of-time compiler is not where expected: "
                    f"{done.stderr.strip().splitlines()[-1]}")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _split(ops: list[str], after_ticket: bool = False) -> tuple[list[str], list[str]]:
    """(before, after) the wait, the launch of dependents left out; exactly one wait, and
    one launch of dependents: right after the wait, or (``after_ticket``) after the ticket
    is drawn (the first operation) and before its count of finished steps is first read."""
    waits = [i for i, op in enumerate(ops) if op == "griddepcontrol.wait"]
    launches = [i for i, op in enumerate(ops) if op == "griddepcontrol.launch_dependents"]
    assert len(waits) == 1 and len(launches) == 1, ops
    if after_ticket:
        assert ops[0].startswith("atom.global.gpu.relaxed.add"), ops
        polls = [i for i, op in enumerate(ops) if op.startswith("ld.global.gpu.acquire")]
        assert 0 < launches[0] < polls[0], ops
    else:
        assert launches[0] == waits[0] + 1, ops
    kept = [op for op in ops if op != "griddepcontrol.launch_dependents"]
    wait = kept.index("griddepcontrol.wait")
    return kept[:wait], kept[wait + 1:]


SIG = {"q_ptr": "*bf16", "k_ptr": "*bf16", "v_ptr": "*bf16", "lam_ptr": "*fp32",
       "o_ptr": "*fp32"}  # fmt: skip


@pytest.mark.parametrize(("bv", "warps"), [(16, 1), (64, 4)])
def test_pdl_step_reads_only_its_state_before_the_wait(bv: int, warps: int) -> None:
    ops = _ptx("step_kernel", {"s_ptr": "*fp32", **SIG},
               {"H": 64, "D": 128, "BV": bv, "PDL": True}, warps)  # fmt: skip
    before, after = _split(ops)
    assert before and all(op.startswith("ld.global") and op.endswith("b32") for op in before)
    assert sum(op.startswith("ld.global") and "b16" in op for op in after) >= 3  # q, k, v
    assert any(op.startswith("st.global") for op in after)


@pytest.mark.parametrize(("bv", "warps"), [(16, 1), (64, 4)])
def test_deferred_step_moves_its_state_before_the_wait_and_q_k_v_after(bv: int,
                                                                      warps: int) -> None:
    """The slot's ticket taken, then the successor may start. One thread reads the count of
    finished steps (acquire) until the layer's earlier step has finished, and a barrier
    holds every warp until then. Before the wait: the state and the pending update
    read, the state written, a barrier (every warp has read the pending slot before any
    rewrites it). After: q, k, v read, the output and the new pending update written, a
    barrier, and the step marked finished (release); the state is not touched again."""
    sig = {"s_ptr": "*fp32", "pk_ptr": "*bf16", "pv_ptr": "*bf16", "pd_ptr": "*fp32",
           "tick_ptr": "*i32", **SIG}  # fmt: skip
    ops = _ptx("deferred_kernel", sig, {"H": 64, "D": 128, "BV": bv, "PDL": True}, warps)
    # the ticket first, then the launch of dependents: a layer's next step, however soon it
    # starts, draws the next ticket
    before, after = _split(ops, after_ticket=True)
    polls = [i for i, op in enumerate(before) if op.startswith("ld.global.gpu.acquire")]
    first_load = next(i for i, op in enumerate(before)
                      if op.startswith("ld.global") and "acquire" not in op)  # fmt: skip
    assert polls and polls[-1] < first_load
    assert "bar.sync" in before[polls[-1]:first_load]
    stores = [i for i, op in enumerate(before) if op.startswith("st.global")]
    assert stores and all(before[i].endswith("b32") for i in stores)  # the fp32 state
    assert "bar.sync" in before[stores[-1]:]
    assert sum(op.startswith("ld.global") and "b16" in op for op in after) >= 3  # q, k, v
    # the state (a BV x 128 block of fp32) is stored before; after, only the output and the
    # pending decay are fp32 stores
    assert len(stores) >= 16
    assert sum(op.startswith("st.global") and op.endswith("b32") for op in after) <= 4
    assert any(op.startswith("st.global") and "b16" in op for op in after)  # pending k, v
    assert after[-1].startswith("atom.global.gpu.release.add")  # finished, last
    last_store = max(i for i, op in enumerate(after) if op.startswith("st.global"))
    assert "bar.sync" in after[last_store:-1]


def test_plain_step_has_no_grid_dependency_control() -> None:
    ops = _ptx("step_kernel", {"s_ptr": "*fp32", **SIG},
               {"H": 64, "D": 128, "BV": 16, "PDL": False}, 1)  # fmt: skip
    assert not any(op.startswith("griddepcontrol") for op in ops)
