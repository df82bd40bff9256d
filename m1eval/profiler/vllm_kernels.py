"""vLLM's own lightning-attention Triton kernels, the ones a served MiniMax-M1 runs, loaded at
run time from a vLLM wheel's ``vllm/model_executor/layers/lightning_attn.py`` (its path is
passed in; nothing of vLLM is part of this project).

That file imports three things from the rest of vLLM: ``current_platform`` (it asks only
``is_cuda()``), ``tl``/``triton`` re-exported by ``vllm.triton_utils``, and ``PAD_SLOT_ID``
(-1 in vLLM's attention utilities). :func:`load` provides exactly those under their module
names while the file executes, then removes them again, so the rest of the process sees no
``vllm`` package. The kernels are called the way vLLM's MiniMax layer calls them
(``vllm/model_executor/layers/mamba/linear/minimax_linear_attn.py``): q, k, v cast to fp32
(``qkv.to(torch.float32)``), prefill through ``lightning_attention(q, k, v, slope_rate,
block_size=256, kv_history)`` on [B, H, T, D], decode through
``linear_decode_forward_triton(q, k, v, kv_cache, slope_rate, slot_idx)`` on [B, H, 1, D]
with the per-sequence state in a slot of an [slots, H, D, D] fp32 cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

PAD_SLOT_ID = -1  # vllm.v1.attention.backends.utils.PAD_SLOT_ID
STUBBED = ("vllm", "vllm.platforms", "vllm.triton_utils", "vllm.v1", "vllm.v1.attention",
           "vllm.v1.attention.backends", "vllm.v1.attention.backends.utils")  # fmt: skip


class _CudaPlatform:
    @staticmethod
    def is_cuda() -> bool:
        return True


def _stubs() -> dict[str, types.ModuleType]:
    mods = {name: types.ModuleType(name) for name in STUBBED}
    mods["vllm.platforms"].current_platform = _CudaPlatform()  # type: ignore[attr-defined]
    triton_utils = mods["vllm.triton_utils"]
    try:
        import triton
        import triton.language as tl
    except ImportError:  # the file itself will fail to import, with its own words
        triton = tl = None  # type: ignore[assignment]
    triton_utils.triton = triton  # type: ignore[attr-defined]
    triton_utils.tl = tl  # type: ignore[attr-defined]
    mods["vllm.v1.attention.backends.utils"].PAD_SLOT_ID = PAD_SLOT_ID  # type: ignore[attr-defined]
    return mods


def load(path: str | Path) -> types.ModuleType:
    """The file as a module named ``vllm_lightning_attn`` (``sha256`` and ``path`` attached),
    with the vLLM names it imports stubbed only while it executes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no vLLM lightning_attn.py at {path}")
    saved = {name: sys.modules.get(name) for name in STUBBED}
    if any(saved.values()):
        raise RuntimeError("a real vllm package is imported in this process; load the file "
                           "in a process of its own")  # fmt: skip
    sys.modules.update(_stubs())
    try:
        spec = importlib.util.spec_from_file_location("vllm_lightning_attn", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name in STUBBED:
            sys.modules.pop(name, None)
    module.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()  # type: ignore[attr-defined]
    module.path = str(path)  # type: ignore[attr-defined]
    return module


def prefill(module: Any, q: Any, k: Any, v: Any, slopes: Any, block_size: int = 256) -> Any:
    """vLLM's prefill on our layout: [B, T, H, D] in, [B, T, H, D] fp32 out. As vLLM's
    MiniMax layer serves it: q, k, v cast to fp32 and laid out [1, H, T, D], one sequence
    per call (its prefix function asserts a batch of one; the kernel's offsets are 32-bit,
    so one call for 4 sequences of 100K tokens reads out of bounds)."""
    import torch

    outs = []
    for i in range(q.shape[0]):
        qh, kh, vh = (x[i:i + 1].to(torch.float32).transpose(1, 2).contiguous()
                      for x in (q, k, v))  # fmt: skip
        out, _ = module.lightning_attention(qh, kh, vh, slopes.to(torch.float32),
                                            block_size=block_size, kv_history=None)  # fmt: skip
        outs.append(out.transpose(1, 2))
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def decode_inputs(batch: int, heads: int, d: int, layers: int, device: str = "cuda"
                  ) -> dict[str, Any]:  # fmt: skip
    """Buffers for ``layers`` layers' decode steps as vLLM holds them: one fp32 state cache of
    ``batch`` slots per layer, fp32 q, k, v [B, H, 1, D], slot indices 0..B-1."""
    import torch

    return {
        "caches": [torch.randn(batch, heads, d, d, device=device) * 0.01 for _ in range(layers)],
        "q": torch.randn(batch, heads, 1, d, device=device),
        "k": torch.randn(batch, heads, 1, d, device=device),
        "v": torch.randn(batch, heads, 1, d, device=device),
        "slots": torch.arange(batch, device=device, dtype=torch.int64),
    }  # fmt: skip


def decode_step(module: Any, bufs: dict[str, Any], layer: int, slopes: Any) -> Any:
    """One layer's decode step through vLLM's kernel (its default BLOCK_SIZE, 32)."""
    return module.linear_decode_forward_triton(bufs["q"], bufs["k"], bufs["v"],
                                               bufs["caches"][layer], slopes,
                                               bufs["slots"])  # fmt: skip
