"""Our lightning decode step as Triton kernels, and the launches the profiler times.

A decode step of one layer, per sequence·head: ``S ← λ·S + k vᵀ`` over a 128×128 fp32 state
and ``o = q·S``. Three ways to launch it:

- plain: one kernel reads the state, updates it, writes it and the output;
- PDL (programmatic dependent launch): the state is read before the kernel waits on the node
  before it (which made q, k, v), so that read overlaps that node's tail;
- deferred + PDL: the state in memory lags one token. Each step first applies the update
  left pending by the layer's previous step (``S ← d·S + k' v'ᵀ``, all from earlier tokens)
  and writes the state back, all before the wait; after it, only q, k, v are read and
  ``o = λ·(q·S) + (q·k)·v`` written, with (λ, k, v) left pending for the next step. The step
  lets its successor start as soon as it has drawn its ticket (below), so the states of
  several layers stream side by side while each step's short tail waits on its inputs.

A plain PDL step waits for its predecessor to finish before it lets its successor start, so
the layer's own step a token earlier, two or more nodes back, has finished: sound wherever
the node just before a step is not a step of the same layer (a model's decode never has one
layer's steps back to back; the timed stack cycles through 70 distinct layers). A deferred
step lets its successor start before it waits, so any number of steps may be in flight: it
first draws a ticket for its state block (steps started, steps finished; drawn before its
successor can start, so a layer's steps draw in order), waits until the layer's earlier step
has finished with the block (acquire), and marks its own step finished last (release).
:func:`chain_error` checks a launch against float64 through a CUDA graph of the tightest
arrangement (two layers).
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

import torch

H, D = 64, 128


class Config(NamedTuple):
    """A decode step's launch: block width over the state's columns, warps per program,
    programmatic dependent launch, the deferred update (only with PDL)."""

    bv: int
    warps: int
    pdl: bool = False
    deferred: bool = False

    @property
    def name(self) -> str:
        """``BV16-w2``, then ``-pdl`` or ``-deferred-pdl``."""
        return f"BV{self.bv}-w{self.warps}" + ("-deferred" if self.deferred else "") + (
            "-pdl" if self.pdl else "")


@cache
def step_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def step(s_ptr, q_ptr, k_ptr, v_ptr, lam_ptr, o_ptr, H: tl.constexpr, D: tl.constexpr,
             BV: tl.constexpr, PDL: tl.constexpr = False):  # fmt: skip
        """One decode step for sequence·head ``pid`` and BV state columns (with PDL, the
        state is read before the wait on the node before)."""
        pid = tl.program_id(0)
        cols = tl.program_id(1) * BV + tl.arange(0, BV)
        rows = tl.arange(0, D)
        ptrs = s_ptr + pid.to(tl.int64) * D * D + rows[:, None] * D + cols[None, :]
        state = tl.load(ptrs)
        if PDL:  # q, k, v (and the output buffer) belong to the node before: wait for it
            tl.extra.cuda.gdc_wait()
            tl.extra.cuda.gdc_launch_dependents()
        k = tl.load(k_ptr + pid * D + rows).to(tl.float32)
        v = tl.load(v_ptr + pid * D + cols).to(tl.float32)
        q = tl.load(q_ptr + pid * D + rows).to(tl.float32)
        state = state * tl.load(lam_ptr + pid % H) + k[:, None] * v[None, :]
        tl.store(ptrs, state)
        tl.store(o_ptr + pid * D + cols, tl.sum(q[:, None] * state, axis=0))

    return step


@cache
def deferred_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def deferred(s_ptr, pk_ptr, pv_ptr, pd_ptr, tick_ptr, q_ptr, k_ptr, v_ptr, lam_ptr, o_ptr,
                 H: tl.constexpr, D: tl.constexpr, BV: tl.constexpr,
                 PDL: tl.constexpr = False):  # fmt: skip
        """One decode step with the state one token behind: the pending update applied and
        written first, then the output from the updated state and this token's q, k, v,
        which are left pending. Each program keeps its own pending slot (k over all rows,
        v over its columns, the decay), so no program reads a slot another rewrites.

        With PDL the step lets its successor start once it has drawn its ticket, so steps
        of many layers move their states side by side; a ticket per slot (steps started,
        steps finished) makes a step wait for the same layer's step a token earlier, however
        many are in flight, before it touches the slot."""
        pid = tl.program_id(0)
        blk = tl.program_id(1)
        slot = pid * (D // BV) + blk
        ticket = tl.atomic_add(tick_ptr + 2 * slot, 1, sem="relaxed", scope="gpu")
        if PDL and ticket >= 0:  # the ticket taken (its value known) before any later step
            # can start: a layer's next step, however soon it starts, draws the next ticket
            tl.extra.cuda.gdc_launch_dependents()
        done = tl.atomic_add(tick_ptr + 2 * slot + 1, 0, sem="acquire", scope="gpu")
        while done < ticket:
            done = tl.atomic_add(tick_ptr + 2 * slot + 1, 0, sem="acquire", scope="gpu")
        tl.debug_barrier()
        cols = blk * BV + tl.arange(0, BV)
        rows = tl.arange(0, D)
        ptrs = s_ptr + pid.to(tl.int64) * D * D + rows[:, None] * D + cols[None, :]
        pk = tl.load(pk_ptr + slot * D + rows).to(tl.float32)
        pv = tl.load(pv_ptr + pid * D + cols).to(tl.float32)
        state = tl.load(ptrs) * tl.load(pd_ptr + slot) + pk[:, None] * pv[None, :]
        tl.store(ptrs, state)
        tl.debug_barrier()  # every warp has read the slot (the state stored needs it) before
        # any rewrites it below
        if PDL:  # q, k, v (and the output buffer) belong to the node before: wait for it
            tl.extra.cuda.gdc_wait()
        k_in = tl.load(k_ptr + pid * D + rows)
        v_in = tl.load(v_ptr + pid * D + cols)
        q = tl.load(q_ptr + pid * D + rows).to(tl.float32)
        lam = tl.load(lam_ptr + pid % H)
        qk = tl.sum(q * k_in.to(tl.float32), axis=0)
        out = lam * tl.sum(q[:, None] * state, axis=0) + qk * v_in.to(tl.float32)
        tl.store(o_ptr + pid * D + cols, out)
        tl.store(pk_ptr + slot * D + rows, k_in)
        tl.store(pv_ptr + pid * D + cols, v_in)
        tl.store(pd_ptr + slot, lam)
        tl.debug_barrier()  # every warp's stores issued before the step is marked finished
        tl.atomic_add(tick_ptr + 2 * slot + 1, 1, sem="release", scope="gpu")

    return deferred


@cache
def empty_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def touch(o_ptr, PDL: tl.constexpr = False):
        """One store per program: a kernel that moves next to nothing."""
        if PDL:
            tl.extra.cuda.gdc_wait()
            tl.extra.cuda.gdc_launch_dependents()
        tl.store(o_ptr + tl.program_id(0), 0.0)

    return touch


class Layer:
    """One layer's decode state for ``rows`` sequence·heads (fp32, [rows, D, D]), and, for a
    deferred launch, its pending update: nothing pending at the start (decay 1, k = 0)."""

    def __init__(self, state: torch.Tensor, cfg: Config) -> None:
        self.state, self.cfg = state, cfg
        rows, dev = state.shape[0], state.device
        self.pending: tuple[torch.Tensor, ...] = ()
        if cfg.deferred:
            blocks = D // cfg.bv
            self.pending = (torch.zeros(rows * blocks, D, device=dev, dtype=torch.bfloat16),
                            torch.zeros(rows, D, device=dev, dtype=torch.bfloat16),
                            torch.ones(rows * blocks, device=dev, dtype=torch.float32),
                            torch.zeros(rows * blocks * 2, device=dev, dtype=torch.int32))

    def step(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lam: torch.Tensor,
             o: torch.Tensor) -> None:  # fmt: skip
        """Launch one step (q, k, v bf16 [rows, D]; ``lam`` per head; ``o`` fp32 [rows, D])."""
        cfg, grid = self.cfg, (self.state.shape[0], D // self.cfg.bv)
        opts = {"H": H, "D": D, "BV": cfg.bv, "PDL": cfg.pdl, "num_warps": cfg.warps}
        if cfg.pdl:
            opts["launch_pdl"] = True
        if cfg.deferred:
            deferred_kernel()[grid](self.state, *self.pending, q, k, v, lam, o, **opts)
        else:
            step_kernel()[grid](self.state, q, k, v, lam, o, **opts)

    def effective_state(self) -> torch.Tensor:
        """The state with any pending update applied (float64), without touching it."""
        s = self.state.double()
        if not self.cfg.deferred:
            return s
        pk, pv, pd = (x.double() for x in self.pending[:3])
        blocks = D // self.cfg.bv
        pk = pk.reshape(-1, blocks, D)[:, 0]  # every block's copy holds the same k
        pd = pd.reshape(-1, blocks)[:, :1, None]
        return s * pd + pk[:, :, None] * pv[:, None, :]


def chain_error(lam: torch.Tensor, cfg: Config, layers: int = 2, tokens: int = 3,
                dev: str = "cuda", graph: bool = True) -> float:  # fmt: skip
    """Relative error against float64, the worst over outputs and final states, of
    ``tokens`` steps through ``layers`` layers, every step a node of one CUDA graph (the
    timed arrangement at its tightest: with two layers, a step's own state was last written
    two nodes back). A step that read its state or inputs too early shows as a wrong output
    or state. ``graph=False`` launches on the stream (Triton's interpreter has no graphs)."""
    heads = lam.shape[0]
    stack = [Layer(torch.randn(heads, D, D, device=dev) * 0.01, cfg) for _ in range(layers)]
    ref = [layer.state.double() for layer in stack]
    inputs = [[tuple(torch.randn(heads, D, device=dev, dtype=torch.bfloat16) for _ in range(3))
               for _ in range(layers)] for _ in range(tokens)]  # fmt: skip
    outs = [[torch.empty(heads, D, device=dev) for _ in range(layers)] for _ in range(tokens)]

    def run() -> None:
        for t in range(tokens):
            for i, layer in enumerate(stack):
                layer.step(*inputs[t][i], lam, outs[t][i])

    if graph:
        Layer(torch.zeros(heads, D, D, device=dev), cfg).step(*inputs[0][0], lam, outs[0][0])
        torch.cuda.synchronize()  # compiled before the capture
        captured = torch.cuda.CUDAGraph()
        with torch.cuda.graph(captured):
            run()
        captured.replay()
        torch.cuda.synchronize()
    else:
        run()
    worst, lam64 = 0.0, lam.double()[:, None, None]
    for t in range(tokens):
        for i in range(layers):
            q, k, v = (x.double() for x in inputs[t][i])
            ref[i] = ref[i] * lam64 + k[:, :, None] * v[:, None, :]
            want = torch.einsum("hk,hkv->hv", q, ref[i])
            worst = max(worst, float((outs[t][i].double() - want).norm() / want.norm()))
    for layer, want in zip(stack, ref, strict=True):
        worst = max(worst, float((layer.effective_state() - want).norm() / want.norm()))
    return worst
