"""Lightning attention as MiniMax defines it: decay, slopes, and reference computations.

Per head h of H, the slope is s_h = 2^(-8(h+1)/H); layer l of L scales it by
(1 - l/(L-1) + 1e-5); the per-step decay is exp(-s). The recurrence has no 1/sqrt(d) scale:

    S_t = decay · S_{t-1} + k_t^T v_t        o_t = q_t S_t

``recurrent`` is the float64 reference; ``chunked`` computes the same with the intra-chunk /
inter-chunk split the fast kernels use, so the two can be checked against each other on the
CPU; the GPU benchmark checks its kernels against ``recurrent``.
"""

from __future__ import annotations

import numpy as np


def slopes(n_heads: int = 64) -> np.ndarray:
    return np.array([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


def layer_slopes(layer: int, n_layers: int, n_heads: int = 64) -> np.ndarray:
    scale = 1.0 - layer / (n_layers - 1) + 1e-5 if n_layers > 1 else 1.0 + 1e-5
    return slopes(n_heads) * scale


def decay(layer: int, n_layers: int, n_heads: int = 64) -> np.ndarray:
    return np.exp(-layer_slopes(layer, n_layers, n_heads))


def recurrent(q: np.ndarray, k: np.ndarray, v: np.ndarray, lam: np.ndarray,
              state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """q, k, v: [H, T, d]; lam: [H]. Returns (o [H, T, d], final state [H, d, d])."""
    h, t, d = q.shape
    s = np.zeros((h, d, d)) if state is None else state.astype(np.float64).copy()
    out = np.empty((h, t, v.shape[-1]))
    for i in range(t):
        s = lam[:, None, None] * s + np.einsum("hk,hv->hkv", k[:, i], v[:, i])
        out[:, i] = np.einsum("hk,hkv->hv", q[:, i], s)
    return out, s


def chunked(q: np.ndarray, k: np.ndarray, v: np.ndarray, lam: np.ndarray,
            chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The chunkwise form: within a chunk a decay-masked q·k^T, across chunks a carried state."""
    h, t, d = q.shape
    s = np.zeros((h, d, v.shape[-1]))
    out = np.empty((h, t, v.shape[-1]))
    log_lam = np.log(lam)
    for start in range(0, t, chunk):
        qc, kc, vc = (x[:, start : start + chunk].astype(np.float64) for x in (q, k, v))
        n = qc.shape[1]
        idx = np.arange(n)
        # decay from position j to position i (i >= j): lam^(i-j)
        diff = idx[:, None] - idx[None, :]
        mask = np.where(diff >= 0, np.exp(log_lam[:, None, None] * np.maximum(diff, 0)), 0.0)
        intra = np.einsum("hid,hjd->hij", qc, kc) * mask
        within = np.einsum("hij,hjv->hiv", intra, vc)
        carried = np.einsum("hid,hdv->hiv", qc * np.exp(log_lam[:, None, None]
                                                        * (idx + 1)[None, :, None]), s)  # fmt: skip
        out[:, start : start + n] = within + carried
        # state after the chunk: lam^n · S + sum_j lam^(n-1-j) k_j^T v_j
        weights = np.exp(log_lam[:, None] * (n - 1 - idx)[None, :])
        s = np.exp(log_lam * n)[:, None, None] * s + np.einsum("hj,hjk,hjv->hkv", weights, kc, vc)
    return out, s


def fused_chunks(q: np.ndarray, k: np.ndarray, v: np.ndarray, lam: np.ndarray,
                 chunk: int = 64, block_v: int = 64) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The arithmetic of our Triton prefill kernel (``lightning_prefill``), in float64: the
    sequence left-padded with zero tokens to whole chunks; per block of ``block_v`` value
    columns, one walk over the chunks carrying S (d × block_v) with the fixed per-chunk
    factors λ^(i+1) (queries), λ^(C-1-j) (keys), λ^(i-j) (the intra-chunk mask), λ^C (S)."""
    h, t, d = q.shape
    dv = v.shape[-1]
    pad = (-t) % chunk
    q, k, v = (np.concatenate([np.zeros((h, pad, x.shape[-1])), x.astype(np.float64)], axis=1)
               for x in (q, k, v))  # fmt: skip
    slope = -np.log(lam)[:, None]
    pos = np.arange(chunk, dtype=np.float64)
    q_decay = np.exp(-slope * (pos + 1))  # [H, C]
    k_decay = np.exp(-slope * (chunk - 1 - pos))
    diff = pos[:, None] - pos[None, :]
    mask = np.where(diff >= 0, np.exp(-slope[:, :, None] * np.maximum(diff, 0)), 0.0)
    block_decay = np.exp(-slope * chunk)[:, :, None]  # [H, 1, 1]
    out = np.empty((h, t + pad, dv))
    states = []
    for v0 in range(0, dv, block_v):
        cols = slice(v0, v0 + block_v)
        s = np.zeros((h, d, min(block_v, dv - v0)))
        for start in range(0, t + pad, chunk):
            rows = slice(start, start + chunk)
            qc, kc, vc = q[:, rows], k[:, rows], v[:, rows, cols]
            scores = np.einsum("hid,hjd->hij", qc, kc) * mask
            out[:, rows, cols] = np.einsum("hij,hjv->hiv", scores, vc) + np.einsum(
                "hid,hdv->hiv", qc * q_decay[:, :, None], s
            )
            s = s * block_decay + np.einsum("hjd,hjv->hdv", kc * k_decay[:, :, None], vc)
        states.append(s)
    return out[:, pad:], np.concatenate(states, axis=2)


def segmented(q: np.ndarray, k: np.ndarray, v: np.ndarray, lam: np.ndarray, chunk: int = 64,
              segment: int = 256, local_segment: int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The arithmetic of the split prefill (``lightning_prefill`` with ``SEG`` and ``LSEG``),
    in float64: the sequence, left-padded to whole chunks, is cut into segments of
    ``segment`` tokens (the last may be shorter) that the GPU runs side by side. (1) The part
    before the last segment is cut into local segments (``local_segment`` tokens, a divisor
    of ``segment``; the segment itself by default), each computing its local state from zero,
    Σ λ^(end-1-t) k_tᵀ v_t, chunk by chunk; (2) a scan over them gives the state at each
    local segment's end, S[j] = λ^local_segment S[j-1] + local[j-1], and each segment starts
    from the one at its first token; (3) each segment walks its chunks from its initial
    state, as :func:`fused_chunks` walks the whole sequence."""
    h, t, d = q.shape
    local_segment = local_segment or segment
    if segment % chunk or local_segment % chunk or segment % local_segment:
        raise ValueError("segments must be whole numbers of chunks, local ones dividing them")
    pad = (-t) % chunk
    q, k, v = (np.concatenate([np.zeros((h, pad, x.shape[-1])), x.astype(np.float64)], axis=1)
               for x in (q, k, v))  # fmt: skip
    total = t + pad
    starts = list(range(0, total, segment))
    slope = -np.log(lam)
    k_decay = np.exp(-slope[:, None] * (chunk - 1 - np.arange(chunk)))  # [H, C]
    local = []
    for start in range(0, starts[-1], local_segment):  # (1) nothing reads the last segment's
        s = np.zeros((h, d, v.shape[-1]))
        for c in range(start, start + local_segment, chunk):
            kc, vc = k[:, c : c + chunk], v[:, c : c + chunk]
            s = np.exp(-slope * chunk)[:, None, None] * s + np.einsum(
                "hjd,hjv->hdv", kc * k_decay[:, :, None], vc)  # fmt: skip
        local.append(s)
    scanned = [np.zeros((h, d, v.shape[-1]))]
    for s in local:  # (2)
        scanned.append(np.exp(-slope * local_segment)[:, None, None] * scanned[-1] + s)
    ratio = segment // local_segment
    out = np.empty((h, total, v.shape[-1]))
    state = scanned[0]
    for i, start in enumerate(starts):  # (3)
        end = min(total, start + segment)
        out[:, start:end], state = recurrent(q[:, start:end], k[:, start:end], v[:, start:end],
                                             lam, state=scanned[i * ratio])  # fmt: skip
    return out[:, pad:], state


def blocks_carry_lambda_i(q: np.ndarray, k: np.ndarray, v: np.ndarray, lam: np.ndarray,
                          block: int = 256) -> np.ndarray:  # fmt: skip
    """vLLM 0.23's prefill arithmetic (``lightning_attn.py``), in float64: blocks of
    ``block`` tokens from the start (the last may be short), exact within a block, and the
    state carried from earlier blocks decayed by λ^i for the query at offset i of its block
    (``_fwd_none_diag_kernel``'s ``q_decay``), where the recurrence (and MiniMax's reference
    modelling code, ``query_decay`` over ``arange(block) + 1``) gives λ^(i+1). The carried
    state itself (state at the block's last token) is right, so only the cross-block term of
    every output after the first block is off, by a factor exp(slope) per head."""
    h, t, d = q.shape
    out = np.empty((h, t, v.shape[-1]))
    carried = np.zeros((h, d, v.shape[-1]))
    for start in range(0, t, block):
        qb, kb, vb = (x[:, start : start + block].astype(np.float64) for x in (q, k, v))
        within, end_state = recurrent(qb, kb, vb, lam)
        i = np.arange(qb.shape[1])
        decay_i = lam[:, None, None] ** i[None, :, None]  # λ^i, not λ^(i+1)
        out[:, start : start + block] = within + np.einsum("hid,hdv->hiv", qb * decay_i, carried)
        carried = lam[:, None, None] ** qb.shape[1] * carried + end_state
    return out


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-300))


def decode_state_bytes(n_heads: int = 64, d: int = 128, state_bytes: int = 4) -> int:
    """Bytes a lightning decode step must move: read and write the [H, d, d] state."""
    return 2 * n_heads * d * d * state_bytes


def softmax_decode_bytes(context: int, kv_heads: int = 8, d: int = 128, elem: int = 2) -> int:
    """Bytes a softmax decode step must move: read K and V of the whole context once."""
    return 2 * kv_heads * context * d * elem


def integrate_decode(step_s: dict[int, float], total: int) -> float:
    """Seconds to decode ``total`` tokens, one at each context 1..total, given per-step times
    measured at some contexts (linear interpolation between them, constant beyond the ends)."""
    xs = sorted(step_s)
    contexts = np.arange(1, total + 1)
    return float(np.interp(contexts, xs, [step_s[x] for x in xs]).sum())
