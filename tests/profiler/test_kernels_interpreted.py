"""The profiler's Triton kernels run for real, on the CPU, through Triton's interpreter
(``TRITON_INTERPRET=1``), at small sizes, against the float64 recurrence: our prefill (whole
sequence and split into segments, padding and a short last segment), our decode step, and,
where ``$VLLM_LIGHTNING`` names vLLM 0.23's ``lightning_attn.py``, vLLM's prefill and decode
as served.

Needs PyTorch and Triton (not part of the project's install: they are the GPU machine's);
skipped without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from m1eval.profiler.lightning import blocks_carry_lambda_i, recurrent, relative_error

# Triton reads this when it is imported (no other test imports Triton)
os.environ["TRITON_INTERPRET"] = "1"
torch = pytest.importorskip("torch")
pytest.importorskip("triton")


@pytest.fixture(autouse=True)
def _interpreted():
    """Kernels are built anew, under the interpreter."""
    from m1eval.profiler import decode_kernels, lightning_prefill

    kernels = (lightning_prefill._main_kernel, lightning_prefill._segment_state_kernel,
               lightning_prefill._segment_scan_kernel, decode_kernels.step_kernel,
               decode_kernels.deferred_kernel, decode_kernels.empty_kernel)  # fmt: skip
    for kernel in kernels:
        kernel.cache_clear()
    yield
    for kernel in kernels:
        kernel.cache_clear()


def _inputs(h: int, t: int, d: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((h, t, d)) * 0.3 for _ in range(3))


def _torch(*xs: np.ndarray) -> list:
    """[H, T, D] float64 arrays as [1, T, H, D] float32 tensors (the kernels' layout)."""
    return [torch.tensor(x.transpose(1, 0, 2)[None], dtype=torch.float32) for x in xs]


@pytest.mark.parametrize(("t", "config"), [
    (100, {"C": 16, "BV": 16, "SEG": 0}),    # one walk, a padded first chunk
    (100, {"C": 16, "BV": 16, "SEG": 32}),   # split: 4 segments, the last short
    (128, {"C": 16, "BV": 32, "SEG": 48}),   # whole chunks, a whole last segment
    (37, {"C": 16, "BV": 8, "SEG": 16}),     # padding filling most of the first chunk
    (100, {"C": 16, "BV": 16, "SEG": 64, "LSEG": 16}),  # local states finer than segments
    (200, {"C": 16, "BV": 16, "NSEG": 3, "LSEG": 32}),  # 3 segments of 2 local ones each
    (100, {"C": 16, "BV": 32, "NSEG": 2}),   # 2 segments of whole chunks
])  # fmt: skip
# decays on q and k, or on the output and v; two chunks a step
@pytest.mark.parametrize("form", [0, 1, 2])
def test_our_prefill_kernel_equals_the_recurrence(t: int, config: dict, form: int) -> None:
    from m1eval.profiler.lightning_prefill import prefill

    if form == 2 and (config.get("SEG") or 0) % (2 * config["C"]):  # segments: whole steps
        config = {**config, "SEG": 2 * config["SEG"]}
    lam = np.exp(-np.array([0.05, 0.9]))
    q, k, v = _inputs(2, t, 32, t)
    ref, ref_state = recurrent(q, k, v, lam)
    slopes = torch.tensor(-np.log(lam), dtype=torch.float32)
    out, state = prefill(*_torch(q, k, v), slopes,
                         {"num_warps": 4, "STAGES": 1, "FORM": form, **config},
                         final_state=True)  # fmt: skip
    assert relative_error(out[0].double().numpy().transpose(1, 0, 2), ref) < 1e-5
    assert relative_error(state[0].double().numpy(), ref_state) < 1e-5


@pytest.mark.parametrize("config", [{"C": 16, "BV": 16, "SEG": 0},
                                    {"C": 16, "BV": 16, "SEG": 32}])  # fmt: skip
def test_a_batch_is_walked_with_both_value_blocks_of_a_head_side_by_side(
        config: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Two sequences of two heads equal the recurrence each; and every launch puts the value
    blocks first in its grid, so a head's value blocks are neighbouring programs (they run in
    the same wave and read that head's q and k from L2 once). Only the launches are recorded
    around the real kernels, which run."""
    from m1eval.profiler import lightning_prefill

    grids: list[tuple[int, ...]] = []
    real = lightning_prefill._kernels

    class _Recorded:
        def __init__(self, kernel: object) -> None:
            self.kernel = kernel

        def __getitem__(self, grid: tuple[int, ...]) -> object:
            grids.append(grid)
            return self.kernel[grid]

    monkeypatch.setattr(lightning_prefill, "_kernels",
                        lambda: tuple(_Recorded(kernel) for kernel in real()))  # fmt: skip
    lam = np.exp(-np.array([0.05, 0.9]))
    seqs = [_inputs(2, 64, 32, seed) for seed in (1, 2)]
    q, k, v = (torch.cat(xs) for xs in zip(*(_torch(*seq) for seq in seqs), strict=True))
    slopes = torch.tensor(-np.log(lam), dtype=torch.float32)
    out, state = lightning_prefill.prefill(q, k, v, slopes, {"num_warps": 4, "STAGES": 1,
                                                             "FORM": 0, **config},
                                           final_state=True)  # fmt: skip
    for b, seq in enumerate(seqs):
        ref, ref_state = recurrent(*seq, lam)
        assert relative_error(out[b].double().numpy().transpose(1, 0, 2), ref) < 1e-5
        assert relative_error(state[b].double().numpy(), ref_state) < 1e-5
    assert grids and all(grid[:2] == (32 // config["BV"], 2 * 2) for grid in grids)


def test_a_segment_that_is_not_whole_chunks_is_refused() -> None:
    from m1eval.profiler.lightning_prefill import prefill

    q = torch.zeros(1, 64, 2, 32)
    with pytest.raises(ValueError, match="whole number of chunks"):
        prefill(q, q, q, torch.ones(2), {"C": 16, "SEG": 40})
    with pytest.raises(ValueError, match="whole number of chunks"):  # a step is two chunks
        prefill(q, q, q, torch.ones(2), {"C": 16, "SEG": 48, "FORM": 2})


@pytest.mark.parametrize("bv", [8, 16, 64])  # the block widths the GPU run tries
def test_our_decode_step_equals_one_step_of_the_recurrence(bv: int) -> None:
    from m1eval.profiler.decode_kernels import step_kernel

    h, d = 2, 64
    lam = np.exp(-np.array([0.05, 0.9]))
    rng = np.random.default_rng(3)
    s0 = rng.standard_normal((h, d, d)) * 0.1
    q, k, v = (rng.standard_normal((h, d)) for _ in range(3))
    s1 = lam[:, None, None] * s0 + k[:, :, None] * v[:, None, :]
    state = torch.tensor(s0, dtype=torch.float32)
    out = torch.empty(h, d, dtype=torch.float32)
    step_kernel()[(h, d // bv)](
        state, *(torch.tensor(x, dtype=torch.float32) for x in (q, k, v)),
        torch.tensor(lam, dtype=torch.float32), out, H=h, D=d, BV=bv)  # fmt: skip
    assert relative_error(out.double().numpy(), np.einsum("hk,hkv->hv", q, s1)) < 1e-5
    assert relative_error(state.double().numpy(), s1) < 1e-5


def _vllm():
    path = os.environ.get("VLLM_LIGHTNING") or str(
        Path(__file__).resolve().parents[2] / ".vllm" / "lightning_attn.py")  # fmt: skip
    if not Path(path).is_file():
        pytest.skip("no vLLM lightning_attn.py ($VLLM_LIGHTNING)")
    from m1eval.profiler import vllm_kernels

    return vllm_kernels.load(path)


def test_vllm_prefill_is_exact_within_a_block_and_decays_the_carried_state_by_lambda_i(
        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """vLLM 0.23's served prefill: exact for the first 256 tokens, then off by the cross-block
    decay (λ^i where the recurrence has λ^(i+1)); :func:`blocks_carry_lambda_i` is that
    arithmetic, and vLLM's output equals it to fp32 rounding."""
    from m1eval.profiler import vllm_kernels

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    module = _vllm()
    lam = np.exp(-np.array([0.05, 0.9]))
    q, k, v = _inputs(2, 600, 128, 7)
    ref, _ = recurrent(q, k, v, lam)
    got = vllm_kernels.prefill(module, *_torch(q, k, v), torch.tensor(-np.log(lam)))
    got = got[0].double().numpy().transpose(1, 0, 2)
    assert relative_error(got[:, :256], ref[:, :256]) < 1e-5
    assert relative_error(got, ref) > 1e-2
    assert relative_error(got, blocks_carry_lambda_i(q, k, v, lam)) < 1e-5


def test_vllm_decode_step_equals_one_step_of_the_recurrence() -> None:
    from m1eval.profiler import vllm_kernels

    module = _vllm()
    h, d = 2, 128
    lam = np.exp(-np.array([0.05, 0.9]))
    rng = np.random.default_rng(4)
    s0 = rng.standard_normal((h, d, d)) * 0.1
    q, k, v = (rng.standard_normal((h, d)) for _ in range(3))
    s1 = lam[:, None, None] * s0 + k[:, :, None] * v[:, None, :]
    bufs = {"caches": [torch.tensor(s0[None], dtype=torch.float32)],
            **{n: torch.tensor(x, dtype=torch.float32)[None, :, None]
               for n, x in (("q", q), ("k", k), ("v", v))},
            "slots": torch.zeros(1, dtype=torch.int64)}  # fmt: skip
    got = vllm_kernels.decode_step(module, bufs, 0, torch.tensor(-np.log(lam)))
    assert relative_error(got.reshape(h, d).double().numpy(),
                          np.einsum("hk,hkv->hv", q, s1)) < 1e-5  # fmt: skip
    assert relative_error(bufs["caches"][0][0].double().numpy(), s1) < 1e-5


def test_the_empty_node_probe_launches_one_kernel_per_layer(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:  # fmt: skip
    """The graph-node probe: one launch of the empty kernel per layer, each into its own
    buffer, every program storing its zero; the time is per layer. (The CUDA graph is the
    GPU's: here a stand-in runs the stack once and says it took 7 s.)"""
    from m1eval.profiler import latency_batch

    monkeypatch.setattr(latency_batch, "DEV", "cpu")
    made = []
    real = torch.empty

    def ones(*shape, **kw):
        made.append(real(*shape, **kw).fill_(1.0))
        return made[-1]

    monkeypatch.setattr(torch, "empty", ones)
    calls = []

    def graph_step_time(stack, steps_per_graph: int, replays: int) -> float:
        stack()
        calls.append(steps_per_graph)
        return 7.0

    per_layer = latency_batch.empty_node_cold(graph_step_time, layers=3, programs=16)
    assert per_layer == pytest.approx(7.0 / 3) and calls == [1]
    assert len(made) == 3 and all(b.shape == (16,) and (b == 0).all() for b in made)


@pytest.mark.parametrize("bv", [16, 64])
def test_deferred_decode_equals_the_recurrence_through_layers_and_tokens(bv: int) -> None:
    """The deferred step (the state in memory one token behind, the pending update applied
    first) gives the recurrence's outputs and, with its pending update applied, its state:
    three tokens through two layers, against float64. The plain step through the same chain
    too. (PDL itself needs a GPU: the chain runs on the stream here.)"""
    from m1eval.profiler.decode_kernels import Config, chain_error

    lam = torch.tensor(np.exp(-np.array([0.05, 0.9, 0.3])), dtype=torch.float32)
    for cfg in (Config(bv, 1, deferred=True), Config(bv, 1)):
        assert chain_error(lam, cfg, layers=2, tokens=3, dev="cpu", graph=False) < 1e-5


def test_a_pdl_launch_is_timed_only_where_its_chain_check_passed(monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:  # fmt: skip
    """Decode tuning: a PDL launch whose chain check against float64 failed, gave NaN or did
    not run is listed as not timed, never chosen, however fast it would have been; the
    plainly launched steps are timed, and the fastest of them is kept beside the winner.
    (Timing needs a GPU: a stand-in gives each launch a time, the PDL ones fastest.)"""
    from m1eval.profiler import latency_batch
    from m1eval.profiler.decode_kernels import Config

    configs = [Config(16, 2), Config(64, 4), Config(16, 1, pdl=True), Config(64, 4, pdl=True),
               Config(32, 4, pdl=True), Config(64, 4, pdl=True, deferred=True)]  # fmt: skip
    monkeypatch.setattr(latency_batch, "DECODE_CONFIGS", configs)
    speed = {c.name: (1.0 if c.pdl else 3.0) + c.bv / 1000 for c in configs}
    monkeypatch.setattr(latency_batch, "lightning_decode_cold",
                        lambda batch, lam, gst, l2, free, cfg: (speed[cfg.name], 70))  # fmt: skip
    checks = {"BV16-w1-pdl": {"vs_fp64": float("nan")}, "BV64-w4-pdl": {"vs_fp64": 3e-2},
              "BV32-w4-pdl": {"vs_fp64": None, "error": "RuntimeError: no graph"},
              "BV64-w4-deferred-pdl": {"vs_fp64": 9e-8}}  # fmt: skip
    got = latency_batch.lightning_decode_best(1, None, None, 0, 0.0, checks)
    assert got["config"] == "BV64-w4-deferred-pdl" and got["s"] == speed["BV64-w4-deferred-pdl"]
    assert got["plain_s"] == speed["BV16-w2"]
    for name in ("BV16-w1-pdl", "BV64-w4-pdl", "BV32-w4-pdl"):
        assert got["tried"][name]["s"] is None
        assert got["tried"][name]["error"].startswith("not timed: its PDL chain check")
    assert latency_batch.lightning_decode_best(1, None, None, 0, 0.0, None)["config"] == "BV16-w2"
