"""Our warp-specialized lightning-attention prefill kernel (Gluon, Hopper).

The same arithmetic as :mod:`m1eval.profiler.lightning_prefill` with ``FORM`` 1 (decays on
the output of Q·S and on v), for one (sequence, head, block of BV value columns) per program,
but the work of a chunk is split between warps that run side by side instead of one stream
of instructions:

- a loader warp brings each chunk's q, k and v into a ring of ``NS`` shared-memory stages
  with TMA, ahead of their use;
- the *intra* warpgroup computes ``(Q_c K_cᵀ ⊙ M) V_c`` for each chunk and hands it over
  in shared memory (two buffers);
- the *state* warpgroup owns the state S (D × BV, fp32, in registers): for each chunk it
  computes ``(Q_c S) ⊙ λ^(i+1)``, updates ``S ← λ^C S + K_cᵀ (V_c ⊙ λ^(C-1-j))``, adds the
  intra part and stores the output with TMA.

The state's chain (two matrix products a chunk) no longer waits on the intra part or on
memory, which the one-stream kernel did at every step. ``WS`` 2 splits the work the other
way: Q·K, Q·S and the output in one warpgroup, the state alone in the other. The grid puts
the value blocks first, so a head's programs run side by side and read its q and k from L2
once. Measured on an H100 at 100K, batch 1 (2026-12-07): both splits with 2 to 4 stages
2.40-2.59 ms, the one-walk Triton kernel 3.42 ms or more, fla's chunk kernel 6.3-6.9 ms. The
inputs are [B, T, H, D] bf16 with T a whole number of chunks (the caller pads in front, as
for the Triton kernel).

Import needs nothing beyond the standard library; :func:`prefill` needs PyTorch and Triton
3.6 or later (Gluon) on a Hopper GPU.
"""

from __future__ import annotations

from typing import Any

# 12 warps (4 + 4 + 1, rounded to warpgroups) x 32 x 168 <= 65,536 registers; the intra
# warpgroup is given 152 a thread and the loader warp 24, the state warpgroup the rest
MAXNREG = 168


try:  # Gluon: Triton 3.6 or later with its CUDA back end (the GPU machine's, not CI's)
    from triton.experimental import gluon
    from triton.experimental.gluon import language as gl
    from triton.experimental.gluon.language.nvidia.hopper import (
        fence_async_shared,
        mbarrier,
        tma,
        warpgroup_mma,
        warpgroup_mma_wait,
    )
except ImportError:  # pragma: no cover - the kernel is then not defined
    gluon = None

if gluon is not None:

    @gluon.jit
    def program(q_desc, v_desc, slope_ptr, T, H: gl.constexpr, C: gl.constexpr):
        """This program's sequence, head and value block: (first row, q/k column, v/o column,
        chunks, the head's slope), and its (sequence, head) index."""
        vb = gl.program_id(0)
        bh = gl.program_id(1)
        D: gl.constexpr = q_desc.block_type.shape[1]
        BV: gl.constexpr = v_desc.block_type.shape[1]
        h = bh % H
        slope = gl.load(slope_ptr + h).to(gl.float32)
        return (bh // H * T, h * D, h * D + vb * BV, T // C, slope), bh

    @gluon.jit
    def stage_ring(q_desc, k_desc, v_desc, C: gl.constexpr, NS: gl.constexpr):
        """The ring of NS q/k/v stages and its barriers: ready (the loader's TMA landed) and
        empty (both consumers have left the stage)."""
        D: gl.constexpr = q_desc.block_type.shape[1]
        BV: gl.constexpr = v_desc.block_type.shape[1]
        q_bufs = gl.allocate_shared_memory(gl.bfloat16, [NS, C, D], q_desc.layout)
        k_bufs = gl.allocate_shared_memory(gl.bfloat16, [NS, C, D], k_desc.layout)
        v_bufs = gl.allocate_shared_memory(gl.bfloat16, [NS, C, BV], v_desc.layout)
        ready = gl.allocate_shared_memory(gl.int64, [NS, 1], mbarrier.MBarrierLayout())
        empty = gl.allocate_shared_memory(gl.int64, [NS, 1], mbarrier.MBarrierLayout())
        for i in gl.static_range(NS):
            mbarrier.init(ready.index(i), count=1)
            mbarrier.init(empty.index(i), count=2)  # the two warpgroups
        return q_bufs, k_bufs, v_bufs, ready, empty

    @gluon.jit
    def handover():
        """Two hand-over buffers' barriers: full (written) and empty (read)."""
        full = gl.allocate_shared_memory(gl.int64, [2, 1], mbarrier.MBarrierLayout())
        free = gl.allocate_shared_memory(gl.int64, [2, 1], mbarrier.MBarrierLayout())
        for i in gl.static_range(2):
            mbarrier.init(full.index(i), count=1)
            mbarrier.init(free.index(i), count=1)
        return full, free

    @gluon.jit
    def intra_mask(slope, C: gl.constexpr, layout: gl.constexpr):
        """M[i, j] = λ^(i-j) for j ≤ i, else 0, in the layout of Q_c K_cᵀ."""
        i = gl.arange(0, C, layout=gl.SliceLayout(1, layout)).to(gl.float32)
        j = gl.arange(0, C, layout=gl.SliceLayout(0, layout)).to(gl.float32)
        diff = i[:, None] - j[None, :]
        return gl.where(diff >= 0, gl.exp(-slope * gl.maximum(diff, 0.0)), 0.0)

    @gluon.jit
    def store_state(s_ptr, S, col_v, D: gl.constexpr, BV: gl.constexpr, layout: gl.constexpr):
        """The final state's D × BV block into the program's [D, D] fp32 state."""
        rows = gl.arange(0, D, layout=gl.SliceLayout(1, layout))
        cols = col_v % D + gl.arange(0, BV, layout=gl.SliceLayout(0, layout))
        gl.store(s_ptr + rows[:, None] * D + cols[None, :], S)

    @gluon.jit
    def loader(descs, stages, ready, empty, scalars, C: gl.constexpr, NS: gl.constexpr):
        """Each chunk's q, k and v into stage t % NS, once both consumers left it."""
        q_desc, k_desc, v_desc, _ = descs
        q_bufs, k_bufs, v_bufs = stages
        row0, col_qk, col_v, n_chunks, _ = scalars
        nbytes: gl.constexpr = (q_desc.block_type.nbytes + k_desc.block_type.nbytes
                                + v_desc.block_type.nbytes)  # fmt: skip
        for t in range(n_chunks):
            s = t % NS
            mbarrier.wait(empty.index(s), ((t // NS) & 1) ^ 1)  # a fresh barrier passes
            bar = ready.index(s)
            mbarrier.expect(bar, nbytes)
            row = row0 + t * C
            tma.async_copy_global_to_shared(q_desc, [row, col_qk], bar, q_bufs.index(s))
            tma.async_copy_global_to_shared(k_desc, [row, col_qk], bar, k_bufs.index(s))
            tma.async_copy_global_to_shared(v_desc, [row, col_v], bar, v_bufs.index(s))

    @gluon.jit
    def intra(descs, bufs, bars, scalars, C: gl.constexpr, NS: gl.constexpr):
        """(Q_c K_cᵀ ⊙ M) V_c per chunk, into the hand-over buffer t % 2."""
        q_bufs, k_bufs, v_bufs, _, _, oi_bufs, _ = bufs
        ready, empty, ifull, iempty = bars
        _, _, _, n_chunks, slope = scalars
        BV: gl.constexpr = v_bufs.type.shape[2]
        acc_l: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1],
                                                        instr_shape=[16, BV, 16])  # fmt: skip
        sc_l: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1],
                                                       instr_shape=[16, C, 16])  # fmt: skip
        p_l: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=acc_l, k_width=2)
        mask = intra_mask(slope, C, sc_l)
        zero_sc = gl.zeros([C, C], gl.float32, sc_l)
        zero_o = gl.zeros([C, BV], gl.float32, acc_l)
        for t in range(n_chunks):
            s = t % NS
            mbarrier.wait(ready.index(s), (t // NS) & 1)
            q_s, k_s, v_s = q_bufs.index(s), k_bufs.index(s), v_bufs.index(s)
            sc = warpgroup_mma(q_s, k_s.permute((1, 0)), zero_sc, use_acc=False, is_async=True)
            sc, q_s, k_s = warpgroup_mma_wait(num_outstanding=0, deps=(sc, q_s, k_s))
            p = gl.convert_layout((sc * mask).to(gl.bfloat16), p_l)
            o = warpgroup_mma(p, v_s, zero_o, use_acc=False, is_async=True)
            o, v_s = warpgroup_mma_wait(num_outstanding=0, deps=(o, v_s))
            mbarrier.arrive(empty.index(s), count=1)
            h = t % 2
            mbarrier.wait(iempty.index(h), ((t // 2) & 1) ^ 1)
            oi_bufs.index(h).store(o)
            mbarrier.arrive(ifull.index(h), count=1)

    @gluon.jit
    def state(descs, bufs, bars, scalars, s_ptr, C: gl.constexpr, NS: gl.constexpr,
              STORE_STATE: gl.constexpr):  # fmt: skip
        """The carried state, Q_c S, the sum with the intra part, the output's store."""
        o_desc = descs[3]
        q_bufs, k_bufs, v_bufs, s_smem, vdec_smem, oi_bufs, o_bufs = bufs
        ready, empty, ifull, iempty = bars
        row0, _, col_v, n_chunks, slope = scalars
        D: gl.constexpr = q_bufs.type.shape[2]
        BV: gl.constexpr = v_bufs.type.shape[2]
        acc_l: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1],
                                                        instr_shape=[16, BV, 16])  # fmt: skip
        v_l: gl.constexpr = gl.BlockedLayout([1, 8], [4, 8], [4, 1], [1, 0])
        pos_o = gl.arange(0, C, layout=gl.SliceLayout(1, acc_l)).to(gl.float32)
        q_decay = gl.exp(-slope * (pos_o + 1.0))  # λ^(i+1)
        pos_v = gl.arange(0, C, layout=gl.SliceLayout(1, v_l)).to(gl.float32)
        k_decay = gl.exp(-slope * (C - 1.0 - pos_v))  # λ^(C-1-j)
        bd = gl.exp(-slope * C)  # λ^C
        S = gl.zeros([D, BV], gl.float32, acc_l)
        s_smem.store(S.to(gl.bfloat16))
        fence_async_shared()
        zero_o = gl.zeros([C, BV], gl.float32, acc_l)
        for t in range(n_chunks):
            s = t % NS
            mbarrier.wait(ready.index(s), (t // NS) & 1)
            q_s, k_s, v_s = q_bufs.index(s), k_bufs.index(s), v_bufs.index(s)
            inter = warpgroup_mma(q_s, s_smem, zero_o, use_acc=False, is_async=True)
            vd = v_s.load(v_l).to(gl.float32) * k_decay[:, None]
            vdec_smem.store(vd.to(gl.bfloat16))
            fence_async_shared()  # v read and v_dec written before TMA and the MMA read them
            S = warpgroup_mma(k_s.permute((1, 0)), vdec_smem, S * bd, is_async=True)
            inter, S, q_s, k_s = warpgroup_mma_wait(num_outstanding=0,
                                                    deps=(inter, S, q_s, k_s))  # fmt: skip
            mbarrier.arrive(empty.index(s), count=1)
            s_smem.store(S.to(gl.bfloat16))  # the next chunk's Q·S reads it
            fence_async_shared()
            h = t % 2
            mbarrier.wait(ifull.index(h), (t // 2) & 1)
            out = inter * q_decay[:, None] + oi_bufs.index(h).load(acc_l)
            mbarrier.arrive(iempty.index(h), count=1)
            tma.store_wait(1)  # the store from this buffer two chunks ago is done
            o_s = o_bufs.index(h)
            o_s.store(out.to(gl.bfloat16))
            fence_async_shared()
            tma.async_copy_shared_to_global(o_desc, [row0 + t * C, col_v], o_s)
        tma.store_wait(0)
        if STORE_STATE:
            store_state(s_ptr, S, col_v, D, BV, acc_l)

    @gluon.jit
    def lightning_prefill_ws(q_desc, k_desc, v_desc, o_desc, s_ptr, slope_ptr, T,
                             H: gl.constexpr, C: gl.constexpr, NS: gl.constexpr,
                             STORE_STATE: gl.constexpr):  # fmt: skip
        D: gl.constexpr = q_desc.block_type.shape[1]
        BV: gl.constexpr = v_desc.block_type.shape[1]
        scalars, bh = program(q_desc, v_desc, slope_ptr, T, H, C)
        q_bufs, k_bufs, v_bufs, ready, empty = stage_ring(q_desc, k_desc, v_desc, C, NS)
        s_smem = gl.allocate_shared_memory(
            gl.bfloat16, [D, BV], gl.NVMMASharedLayout.get_default_for([D, BV], gl.bfloat16))
        vdec_smem = gl.allocate_shared_memory(gl.bfloat16, [C, BV], v_desc.layout)
        oi_bufs = gl.allocate_shared_memory(
            gl.float32, [2, C, BV], gl.NVMMASharedLayout.get_default_for([C, BV], gl.float32))
        o_bufs = gl.allocate_shared_memory(gl.bfloat16, [2, C, BV], o_desc.layout)
        ifull, iempty = handover()
        descs = (q_desc, k_desc, v_desc, o_desc)
        bufs = (q_bufs, k_bufs, v_bufs, s_smem, vdec_smem, oi_bufs, o_bufs)
        bars = (ready, empty, ifull, iempty)
        state_ptr = s_ptr + bh.to(gl.int64) * D * D
        gl.warp_specialize([
            (state, (descs, bufs, bars, scalars, state_ptr, C, NS, STORE_STATE)),
            (intra, (descs, bufs, bars, scalars, C, NS)),
            (loader, (descs, (q_bufs, k_bufs, v_bufs), ready, empty, scalars, C, NS)),
        ], [4, 1], [152, 24])  # fmt: skip

    @gluon.jit
    def outputs(o_desc, bufs, bars, scalars, C: gl.constexpr, NS: gl.constexpr):
        """(WS 2) Per chunk: Q_c K_cᵀ and Q_c S (S one chunk behind, from the state
        warpgroup) side by side, then λ^(i+1) ⊙ Q_c S + (Q_c K_cᵀ ⊙ M) V_c, stored with TMA."""
        q_bufs, k_bufs, v_bufs, s_bufs, _, o_bufs = bufs
        ready, empty, sfull, sempty = bars
        row0, _, col_v, n_chunks, slope = scalars
        BV: gl.constexpr = v_bufs.type.shape[2]
        acc_l: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1],
                                                        instr_shape=[16, BV, 16])  # fmt: skip
        sc_l: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1],
                                                       instr_shape=[16, C, 16])  # fmt: skip
        p_l: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=acc_l, k_width=2)
        mask = intra_mask(slope, C, sc_l)
        pos = gl.arange(0, C, layout=gl.SliceLayout(1, acc_l)).to(gl.float32)
        q_decay = gl.exp(-slope * (pos + 1.0))  # λ^(i+1)
        zero_sc = gl.zeros([C, C], gl.float32, sc_l)
        zero_o = gl.zeros([C, BV], gl.float32, acc_l)
        for t in range(n_chunks):
            s = t % NS
            h = t % 2
            mbarrier.wait(ready.index(s), (t // NS) & 1)
            mbarrier.wait(sfull.index(h), (t // 2) & 1)
            q_s, k_s, v_s, st_s = q_bufs.index(s), k_bufs.index(s), v_bufs.index(s), s_bufs.index(h)
            sc = warpgroup_mma(q_s, k_s.permute((1, 0)), zero_sc, use_acc=False, is_async=True)
            inter = warpgroup_mma(q_s, st_s, zero_o, use_acc=False, is_async=True)
            sc, inter, q_s, k_s, st_s = warpgroup_mma_wait(
                num_outstanding=0, deps=(sc, inter, q_s, k_s, st_s))
            mbarrier.arrive(sempty.index(h), count=1)
            p = gl.convert_layout((sc * mask).to(gl.bfloat16), p_l)
            o = warpgroup_mma(p, v_s, inter * q_decay[:, None], is_async=True)
            o, v_s = warpgroup_mma_wait(num_outstanding=0, deps=(o, v_s))
            mbarrier.arrive(empty.index(s), count=1)
            tma.store_wait(1)  # the store from this buffer two chunks ago is done
            o_s = o_bufs.index(h)
            o_s.store(o.to(gl.bfloat16))
            fence_async_shared()
            tma.async_copy_shared_to_global(o_desc, [row0 + t * C, col_v], o_s)
        tma.store_wait(0)

    @gluon.jit
    def state_chain(bufs, bars, scalars, s_ptr, C: gl.constexpr, NS: gl.constexpr,
                    STORE_STATE: gl.constexpr):  # fmt: skip
        """(WS 2) The carried state only: S ← λ^C S + K_cᵀ (V_c ⊙ λ^(C-1-j)) per chunk, each
        state before a chunk handed over in bf16 (two buffers: write w holds the state
        before chunk w)."""
        q_bufs, k_bufs, v_bufs, s_bufs, vdec_smem, _ = bufs
        ready, empty, sfull, sempty = bars
        _, _, col_v, n_chunks, slope = scalars
        D: gl.constexpr = q_bufs.type.shape[2]
        BV: gl.constexpr = v_bufs.type.shape[2]
        acc_l: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1],
                                                        instr_shape=[16, BV, 16])  # fmt: skip
        v_l: gl.constexpr = gl.BlockedLayout([1, 8], [4, 8], [4, 1], [1, 0])
        pos = gl.arange(0, C, layout=gl.SliceLayout(1, v_l)).to(gl.float32)
        k_decay = gl.exp(-slope * (C - 1.0 - pos))  # λ^(C-1-j)
        bd = gl.exp(-slope * C)  # λ^C
        S = gl.zeros([D, BV], gl.float32, acc_l)
        s_bufs.index(0).store(S.to(gl.bfloat16))  # write 0: the state before chunk 0
        fence_async_shared()
        mbarrier.arrive(sfull.index(0), count=1)
        for t in range(n_chunks):
            s = t % NS
            mbarrier.wait(ready.index(s), (t // NS) & 1)
            k_s, v_s = k_bufs.index(s), v_bufs.index(s)
            vd = v_s.load(v_l).to(gl.float32) * k_decay[:, None]
            vdec_smem.store(vd.to(gl.bfloat16))
            fence_async_shared()  # v read and v_dec written before TMA and the MMA see them
            S = warpgroup_mma(k_s.permute((1, 0)), vdec_smem, S * bd, is_async=True)
            S, k_s = warpgroup_mma_wait(num_outstanding=0, deps=(S, k_s))
            mbarrier.arrive(empty.index(s), count=1)
            w = t + 1  # the state before chunk t + 1 (the last one is not read)
            mbarrier.wait(sempty.index(w % 2), ((w // 2) & 1) ^ 1)
            s_bufs.index(w % 2).store(S.to(gl.bfloat16))
            fence_async_shared()
            mbarrier.arrive(sfull.index(w % 2), count=1)
        if STORE_STATE:
            store_state(s_ptr, S, col_v, D, BV, acc_l)

    @gluon.jit
    def lightning_prefill_ws2(q_desc, k_desc, v_desc, o_desc, s_ptr, slope_ptr, T,
                              H: gl.constexpr, C: gl.constexpr, NS: gl.constexpr,
                              STORE_STATE: gl.constexpr):  # fmt: skip
        D: gl.constexpr = q_desc.block_type.shape[1]
        BV: gl.constexpr = v_desc.block_type.shape[1]
        scalars, bh = program(q_desc, v_desc, slope_ptr, T, H, C)
        q_bufs, k_bufs, v_bufs, ready, empty = stage_ring(q_desc, k_desc, v_desc, C, NS)
        s_bufs = gl.allocate_shared_memory(
            gl.bfloat16, [2, D, BV], gl.NVMMASharedLayout.get_default_for([D, BV], gl.bfloat16))
        vdec_smem = gl.allocate_shared_memory(gl.bfloat16, [C, BV], v_desc.layout)
        o_bufs = gl.allocate_shared_memory(gl.bfloat16, [2, C, BV], o_desc.layout)
        sfull, sempty = handover()
        descs = (q_desc, k_desc, v_desc, o_desc)
        bufs = (q_bufs, k_bufs, v_bufs, s_bufs, vdec_smem, o_bufs)
        bars = (ready, empty, sfull, sempty)
        state_ptr = s_ptr + bh.to(gl.int64) * D * D
        gl.warp_specialize([
            (outputs, (o_desc, bufs, bars, scalars, C, NS)),
            (state_chain, (bufs, bars, scalars, state_ptr, C, NS, STORE_STATE)),
            (loader, (descs, (q_bufs, k_bufs, v_bufs), ready, empty, scalars, C, NS)),
        ], [4, 1], [152, 24])  # fmt: skip


def _kernel(split: int = 1) -> Any:
    """The kernel for a split of the work (``WS``): 1, Q·S and the output in the state's
    warpgroup; 2, Q·K, Q·S and the output in one warpgroup, the state alone in the other."""
    if gluon is None:
        raise ImportError("the warp-specialized kernel needs Triton 3.6 or later (Gluon)")
    return {1: lightning_prefill_ws, 2: lightning_prefill_ws2}[split]


def descriptors(q: Any, k: Any, v: Any, o: Any, chunk: int, bv: int) -> tuple[Any, ...]:
    """TMA descriptors over [B·T, H·D] views: q and k in chunks of C × D, v and o C × BV."""
    from triton.experimental.gluon import language as gl
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    batch, t, heads, d = q.shape
    flat = [x.view(batch * t, heads * d) for x in (q, k, v, o)]
    qk_layout = gl.NVMMASharedLayout.get_default_for([chunk, d], gl.bfloat16)
    v_layout = gl.NVMMASharedLayout.get_default_for([chunk, bv], gl.bfloat16)
    return (TensorDescriptor.from_tensor(flat[0], [chunk, d], qk_layout),
            TensorDescriptor.from_tensor(flat[1], [chunk, d], qk_layout),
            TensorDescriptor.from_tensor(flat[2], [chunk, bv], v_layout),
            TensorDescriptor.from_tensor(flat[3], [chunk, bv], v_layout))  # fmt: skip


def prefill(q: Any, k: Any, v: Any, o: Any, state: Any, slopes: Any,
            config: dict[str, int], final_state: bool = False) -> None:  # fmt: skip
    """Into ``o``: lightning attention over contiguous [B, T, H, D] bf16 q, k, v (T whole
    chunks) with fp32 per-head ``slopes``; the final state into ``state`` when asked."""
    import torch

    chunk, bv, stages = config["C"], config["BV"], config["STAGES"]
    batch, t, heads, d = q.shape
    if q.dtype != torch.bfloat16 or t % chunk or d % bv:
        raise ValueError("the warp-specialized kernel takes bf16 inputs of whole chunks")
    _kernel(config.get("WS", 1))[(d // bv, batch * heads)](
        *descriptors(q, k, v, o, chunk, bv), state, slopes, t, H=heads, C=chunk, NS=stages,
        STORE_STATE=final_state, num_warps=4, maxnreg=MAXNREG)  # fmt: skip
