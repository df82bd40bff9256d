"""Our lightning-attention prefill kernel (Triton): one pass over the sequence per head and
block of value columns, the state kept on chip.

fla's ``chunk_simple_gla`` computes every chunk's state in one kernel, writes them all to
memory (for 100K tokens and 64 heads, 1,600 states of 128×128 per head) and reads them back
in a second kernel. Here one program owns one (sequence, head, block of BV value columns): it
walks the chunks in order, and for each chunk of C tokens computes

    O_c   = (Q_c K_cᵀ ⊙ M) V_c + (Q_c ⊙ λ^(i+1)) S          M[i, j] = λ^(i-j) for j ≤ i, else 0
    S     ← λ^C S + (K_c ⊙ λ^(C-1-j))ᵀ V_c

with S (D × BV, fp32) never leaving registers. Only Q, K, V are read and O written. MiniMax's
definition: per-head decay λ = exp(-slope), no 1/√d scale. A sequence is left-padded with
zero tokens to a whole number of chunks: zeros add nothing to S and change no output, so the
final state is exact. :func:`m1eval.profiler.lightning.fused_chunks` is the same arithmetic in
NumPy, checked against the float64 recurrence on the CPU.

At batch 1 that is 64 × (128 / BV) programs, fewer than a GPU has room for; with ``SEG`` the
sequence is also cut into segments that run side by side (:func:`m1eval.profiler.lightning.
segmented` is that arithmetic in NumPy): each segment's local state, a scan that turns them
into initial states, then each segment's walk from its initial state.

``FORM`` picks where the decays are applied, the same sums either way: 0 scales q (C × D)
and k (C × D) before their products; 1 scales the product Q_c S (C × BV) and v (C × BV), so
q and k reach the matrix units as loaded and fewer elements are scaled per chunk; 2 does as
1 over two chunks a step (the second chunk's queries meet the first chunk's keys through a
C × C block decayed by λ^(C+i-j)), so the state, whose update chains every step to the
last, is converted and updated once per 2C tokens, for 21% more matrix FLOPs. Measured on
an H100 at 100K (2026-12-07): 0 took 3.39 ms, 1 3.48 ms, 2 6.2 ms or more.

Import needs only NumPy; :func:`prefill` needs PyTorch and Triton on a CUDA GPU.
"""

from __future__ import annotations

import functools
import math
from typing import Any


@functools.lru_cache(maxsize=1)
def _main_kernel() -> Any:
    """(3) Each segment (or the whole sequence) from its initial state: outputs, and the
    final state when asked."""
    import triton
    import triton.language as tl

    @triton.jit
    def lightning_prefill_kernel(
        q_ptr, k_ptr, v_ptr, o_ptr, s_ptr, st_ptr, slope_ptr, T, SEG, NSEG, NSLOT, RATIO,
        H: tl.constexpr, D: tl.constexpr, C: tl.constexpr, BV: tl.constexpr,
        STAGES: tl.constexpr, STORE_STATE: tl.constexpr, HAS_INIT: tl.constexpr,
        FORM: tl.constexpr, STEP: tl.constexpr,
    ):  # fmt: skip
        vb = tl.program_id(0)
        bh = tl.program_id(1)
        seg = tl.program_id(2)
        b = bh // H
        h = bh % H
        slope = tl.load(slope_ptr + h).to(tl.float32)
        offs_c = tl.arange(0, C)
        offs_d = tl.arange(0, D)
        offs_v = vb * BV + tl.arange(0, BV)
        pos = offs_c.to(tl.float32)
        q_decay = tl.exp(-slope * (pos + 1.0))  # λ^(i+1)
        k_decay = tl.exp(-slope * (C - 1.0 - pos))  # λ^(C-1-j)
        diff = pos[:, None] - pos[None, :]
        mask = tl.where(diff >= 0, tl.exp(-slope * tl.maximum(diff, 0.0)), 0.0)
        bd = tl.exp(-slope * C)  # λ^C, a chunk's decay
        row_stride = H * D
        base = b.to(tl.int64) * T * row_stride + h * D
        state = tl.zeros([D, BV], dtype=tl.float32)
        if HAS_INIT:  # noqa: SIM102 - the segment's initial state (segment 0 starts at zero)
            if seg > 0:
                # the scanned state at token seg * SEG: slot seg * RATIO (RATIO local
                # segments of the first pass to one segment here)
                st_off = ((bh.to(tl.int64) * NSLOT + seg * RATIO) * D * D
                          + offs_d[:, None] * D + offs_v[None, :])  # fmt: skip
                state = tl.load(st_ptr + st_off)
        for start in tl.range(seg * SEG, tl.minimum(T, seg * SEG + SEG), STEP, num_stages=STAGES):
            rows = (start + offs_c).to(tl.int64)
            qk_off = base + rows[:, None] * row_stride + offs_d[None, :]
            v_off = base + rows[:, None] * row_stride + offs_v[None, :]
            q = tl.load(q_ptr + qk_off)
            k = tl.load(k_ptr + qk_off)
            v = tl.load(v_ptr + v_off)
            scores = tl.dot(q, tl.trans(k)) * mask  # [C, C]
            out = tl.dot(scores.to(v.dtype), v)  # within the chunk
            if FORM == 2:  # the next chunk too: one state step per 2C tokens (λ^C: bd)
                nxt = C * row_stride
                q2, k2 = tl.load(q_ptr + qk_off + nxt), tl.load(k_ptr + qk_off + nxt)
                v2 = tl.load(v_ptr + v_off + nxt)
                within = tl.dot(q2, tl.trans(k2)) * mask
                across = tl.dot(q2, tl.trans(k)) * tl.exp(-slope * (C + diff))  # λ^(C+i-j)
                out2 = tl.dot(across.to(v.dtype), v, tl.dot(within.to(v.dtype), v2))
                s_in = state.to(v.dtype)
                out += tl.dot(q, s_in) * q_decay[:, None]
                out2 += tl.dot(q2, s_in) * (q_decay * bd)[:, None]  # λ^(C+i+1)
                tl.store(o_ptr + v_off, out.to(o_ptr.dtype.element_ty))
                tl.store(o_ptr + v_off + nxt, out2.to(o_ptr.dtype.element_ty))
                v_dec = (v.to(tl.float32) * (k_decay * bd)[:, None]).to(v.dtype)  # λ^(2C-1-j)
                v2_dec = (v2.to(tl.float32) * k_decay[:, None]).to(v.dtype)
                state = tl.dot(tl.trans(k2), v2_dec, tl.dot(tl.trans(k), v_dec, state * bd * bd))
            elif FORM == 1:  # decays on the small tiles: q and k go to the MMAs as loaded
                out += tl.dot(q, state.to(v.dtype)) * q_decay[:, None]
                tl.store(o_ptr + v_off, out.to(o_ptr.dtype.element_ty))
                v_dec = (v.to(tl.float32) * k_decay[:, None]).to(v.dtype)
                state = state * bd + tl.dot(tl.trans(k), v_dec)
            else:
                q_dec = (q.to(tl.float32) * q_decay[:, None]).to(v.dtype)
                out += tl.dot(q_dec, state.to(v.dtype))  # from the chunks before
                tl.store(o_ptr + v_off, out.to(o_ptr.dtype.element_ty))
                k_dec = (k.to(tl.float32) * k_decay[:, None]).to(v.dtype)
                state = state * bd + tl.dot(tl.trans(k_dec), v)
        if STORE_STATE:  # noqa: SIM102 - a constexpr, then a run-time test (Triton)
            if seg == NSEG - 1:
                s_off = bh.to(tl.int64) * D * D + offs_d[:, None] * D + offs_v[None, :]
                tl.store(s_ptr + s_off, state)

    return lightning_prefill_kernel


@functools.lru_cache(maxsize=1)
def _segment_state_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def segment_state_kernel(
        k_ptr, v_ptr, st_ptr, slope_ptr, T, SEG, NSLOT,
        H: tl.constexpr, D: tl.constexpr, C: tl.constexpr, BV: tl.constexpr,
        STAGES: tl.constexpr, FORM: tl.constexpr,
    ):  # fmt: skip
        """(1) Local segment ``seg``'s state from zero (SEG tokens), into slot seg + 1 of
        ``st`` (NSLOT slots per sequence and head)."""
        vb = tl.program_id(0)
        bh = tl.program_id(1)
        seg = tl.program_id(2)
        b = bh // H
        h = bh % H
        slope = tl.load(slope_ptr + h).to(tl.float32)
        offs_c = tl.arange(0, C)
        offs_d = tl.arange(0, D)
        offs_v = vb * BV + tl.arange(0, BV)
        k_decay = tl.exp(-slope * (C - 1.0 - offs_c.to(tl.float32)))
        bd = tl.exp(-slope * C)  # λ^C, a chunk's decay
        row_stride = H * D
        base = b.to(tl.int64) * T * row_stride + h * D
        state = tl.zeros([D, BV], dtype=tl.float32)
        first = seg * SEG
        for start in tl.range(first, first + SEG, C, num_stages=STAGES):
            rows = (start + offs_c).to(tl.int64)
            k = tl.load(k_ptr + base + rows[:, None] * row_stride + offs_d[None, :])
            v = tl.load(v_ptr + base + rows[:, None] * row_stride + offs_v[None, :])
            if FORM >= 1:
                v_dec = (v.to(tl.float32) * k_decay[:, None]).to(v.dtype)
                state = state * bd + tl.dot(tl.trans(k), v_dec)
            else:
                k_dec = (k.to(tl.float32) * k_decay[:, None]).to(v.dtype)
                state = state * bd + tl.dot(tl.trans(k_dec), v)
        st_off = ((bh.to(tl.int64) * NSLOT + seg + 1) * D * D + offs_d[:, None] * D
                  + offs_v[None, :])  # fmt: skip
        tl.store(st_ptr + st_off, state)

    return segment_state_kernel


@functools.lru_cache(maxsize=1)
def _segment_scan_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def segment_scan_kernel(st_ptr, slope_ptr, SEG, NSEG, H: tl.constexpr, D: tl.constexpr,
                            BV: tl.constexpr):  # fmt: skip
        """(2) Local states into initial states, in place: S₀[s] = λ^SEG S₀[s-1] + local
        (SEG the local segment, NSEG the slots per sequence and head)."""
        vb = tl.program_id(0)
        bh = tl.program_id(1)
        h = bh % H
        seg_decay = tl.exp(-tl.load(slope_ptr + h).to(tl.float32) * SEG)
        offs_d = tl.arange(0, D)
        offs_v = vb * BV + tl.arange(0, BV)
        running = tl.zeros([D, BV], dtype=tl.float32)
        for s in range(1, NSEG):
            off = (bh.to(tl.int64) * NSEG + s) * D * D + offs_d[:, None] * D + offs_v[None, :]
            running = running * seg_decay + tl.load(st_ptr + off)
            tl.store(st_ptr + off, running)

    return segment_scan_kernel


def _kernels() -> tuple[Any, Any, Any]:
    return _main_kernel(), _segment_state_kernel(), _segment_scan_kernel()


# SEG 0: one program walks the whole sequence (per head and block of value columns); SEG > 0
# (a whole number of chunks): segments of SEG tokens run side by side (local states, a scan
# of the states, then the outputs), so a single sequence fills the GPU. NSEG, where given,
# sets the number of segments instead (SEG follows from the length). LSEG, where given, is
# the first pass's segment (a divisor of SEG): its local states are finer than the segments
# of the last pass, so the first pass fills the GPU while the last pass keeps few segments
# (each segment but the last reads its K and V twice). KERNEL "ws" runs the warp-specialized
# kernel of :mod:`m1eval.profiler.lightning_prefill_ws` instead (C, BV, STAGES: its ring of
# stages; segments do not apply).
DEFAULT_CONFIG = {"C": 64, "BV": 64, "num_warps": 4, "STAGES": 2, "SEG": 0, "FORM": 0}


def step(config: dict[str, int]) -> int:
    """Tokens one step of the walk takes: a chunk, or two chunks (FORM 2)."""
    return config["C"] * (2 if config.get("FORM") == 2 else 1)


def segments(total: int, config: dict[str, int]) -> tuple[int, int, int]:
    """(segment, number of segments, local segment) for a padded length ``total``: the
    segment is the whole sequence where the configuration does not split it. Segments are
    whole steps of the walk, local segments whole chunks."""
    seg, walk = config.get("SEG") or 0, step(config)
    c, local = config["C"], config.get("LSEG") or 0
    nseg = config.get("NSEG") or 0
    if nseg > 1:  # segments of whole local segments and steps, as even as they come
        unit = math.lcm(local, walk) if local else walk
        seg = -(-total // nseg // unit) * unit
    if local % c or (local and seg % local):
        raise ValueError(f"LSEG ({local}) must be a whole number of chunks ({c}) and divide "
                         f"SEG ({seg})")  # fmt: skip
    if seg % walk:
        raise ValueError(f"SEG ({seg}) must be a whole number of chunks ({walk} tokens a "
                         "step of the walk)")  # fmt: skip
    if not 0 < seg < total:
        return total, 1, total
    return seg, -(-total // seg), local or seg


def prefill(q: Any, k: Any, v: Any, slopes: Any, config: dict[str, int] | None = None,
            final_state: bool = False) -> Any:  # fmt: skip
    """Lightning attention over [B, T, H, D] bf16 q, k, v with per-head ``slopes`` (decay
    exp(-slope)); returns o [B, T, H, D] (and the fp32 state [B, H, D, D] when asked)."""
    import torch

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    batch, t, heads, d = q.shape
    pad = (-t) % step(cfg)  # whole steps of the walk
    total = t + pad
    seg, nseg, local_seg = segments(total, cfg)
    if pad:  # zeros in front: no contribution to the state, no change to any output
        zeros = q.new_zeros(batch, pad, heads, d)
        q, k, v = (torch.cat([zeros, x], dim=1) for x in (q, k, v))
    q, k, v = (x.contiguous() for x in (q, k, v))
    o = torch.empty_like(q)
    state = torch.empty(batch, heads, d, d, device=q.device, dtype=torch.float32) \
        if final_state else o  # fmt: skip
    slopes = slopes.to(torch.float32).contiguous()
    if cfg.get("KERNEL") == "ws":  # warp-specialized (Gluon): one walk, no segments
        from m1eval.profiler import lightning_prefill_ws

        lightning_prefill_ws.prefill(q, k, v, o, state, slopes, cfg, final_state)
    else:
        _walk(q, k, v, o, state, slopes, cfg, (total, seg, nseg, local_seg), final_state)
    o = o[:, pad:]
    return (o, state) if final_state else o


def _walk(q: Any, k: Any, v: Any, o: Any, state: Any, slopes: Any, cfg: dict[str, int],
          lengths: tuple[int, int, int, int], final_state: bool) -> None:  # fmt: skip
    """The Triton kernels into ``o`` (and ``state``): the local states and their scan where
    the sequence is split, then each segment's walk. ``lengths``: (padded length, segment,
    number of segments, local segment)."""
    import torch

    total, seg, nseg, local_seg = lengths
    batch, _, heads, d = q.shape
    c, bv = cfg["C"], cfg["BV"]
    main, local, scan = _kernels()
    split = nseg > 1
    ratio = seg // local_seg
    nlocal = (nseg - 1) * ratio  # local states before the last segment: all that is read
    st = o
    if split:
        st = torch.empty(batch * heads, nlocal + 1, d, d, device=q.device, dtype=torch.float32)
        local[(d // bv, batch * heads, nlocal)](
            k, v, st, slopes, total, local_seg, nlocal + 1, H=heads, D=d, C=c, BV=bv,
            STAGES=cfg["STAGES"], FORM=cfg["FORM"], num_warps=cfg["num_warps"])  # fmt: skip
        scan[(d // bv, batch * heads)](st, slopes, local_seg, nlocal + 1, H=heads, D=d, BV=bv,
                                       num_warps=4)  # fmt: skip
    main[(d // bv, batch * heads, nseg)](
        q, k, v, o, state, st, slopes, total, seg, nseg, nlocal + 1, ratio, H=heads, D=d,
        C=c, BV=bv, STAGES=cfg["STAGES"], STORE_STATE=final_state, HAS_INIT=split,
        FORM=cfg["FORM"], STEP=step(cfg), num_warps=cfg["num_warps"])  # fmt: skip


def chunk_flops(tokens: int, heads: int = 64, d: int = 128, chunk: int = 64) -> float:
    """Matrix FLOPs of the chunked form (what a kernel of this design must compute): per token
    and head, Q·Kᵀ and (·)V within the chunk (2·2·C·D), Q·S and Kᵀ·V across chunks (2·2·D²)."""
    return float(tokens) * heads * (4 * chunk * d + 4 * d * d)
