"""The serving regime of MiniMax-M1: memory per sequence, sequences per node, and decode
throughput from measured per-layer attention times.

Memory per sequence, per layer kind (bf16 KV, fp32 lightning state):

* a softmax layer holds K and V of every token: 2 · kv_heads · head_dim · 2 bytes a token
  (4,096 bytes at M1's 8 KV heads of 128);
* a lightning layer holds one state per head whatever the context: heads · head_dim² · 4
  bytes (4 MiB at 64 heads of 128).

M1 (70 lightning + 10 softmax layers) at 100K tokens holds 10 · 4,096 · 102,400 = 4.19 GB of
KV and 70 · 4 MiB = 0.29 GB of state; an all-softmax stack of the same shape (80 softmax
layers) holds 33.6 GB. The weights are what is left of the node for sequences: M1's 456B
parameters with the experts in int8 (the M1 vLLM profile's ``experts_int8``) and everything
else in bf16.

Throughput: a decode step of a batch of N sequences costs the per-layer attention times
measured at that batch (``latency.py``), summed over the stack's layers and divided over the
node's GPUs (tensor parallel, assumed perfect); tokens/s = N / step. Only attention is
counted: the MoE and projections cost the same per token in both stacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from m1eval.profiler.lightning import integrate_decode


@dataclass(frozen=True)
class Stack:
    """A MiniMax-M1-shaped model (the defaults) or a variant (``all_softmax``)."""

    layers: int = 80
    softmax_layers: int = 10
    heads: int = 64
    head_dim: int = 128
    kv_heads: int = 8
    hidden: int = 6144
    vocab: int = 200_064
    total_params: float = 456e9
    kv_bytes: int = 2
    state_bytes: int = 4

    @property
    def lightning_layers(self) -> int:
        return self.layers - self.softmax_layers

    def all_softmax(self) -> Stack:
        return Stack(**{**self.__dict__, "softmax_layers": self.layers})


def kv_bytes_per_token(stack: Stack) -> int:
    """One softmax layer's K and V for one token."""
    return 2 * stack.kv_heads * stack.head_dim * stack.kv_bytes


def state_bytes_per_layer(stack: Stack) -> int:
    """One lightning layer's state for one sequence, any length."""
    return stack.heads * stack.head_dim**2 * stack.state_bytes


def sequence_bytes(stack: Stack, context: int) -> dict[str, int]:
    kv = stack.softmax_layers * kv_bytes_per_token(stack) * context
    state = stack.lightning_layers * state_bytes_per_layer(stack)
    return {"softmax_kv": kv, "lightning_state": state, "total": kv + state}


def non_expert_params(stack: Stack) -> float:
    """Attention and embeddings (kept in bf16): a lightning layer's q, k, v, output gate and
    output projections (5 · hidden · heads · head_dim); a softmax layer's q and o (2 · hidden ·
    heads · head_dim) and k, v (2 · hidden · kv_heads · head_dim); input and output
    embeddings (2 · vocab · hidden)."""
    wide = stack.hidden * stack.heads * stack.head_dim
    narrow = stack.hidden * stack.kv_heads * stack.head_dim
    return (stack.lightning_layers * 5 * wide
            + stack.softmax_layers * (2 * wide + 2 * narrow)
            + 2 * stack.vocab * stack.hidden)  # fmt: skip


def weight_bytes(stack: Stack) -> float:
    """Experts in int8 (one byte), everything else in bf16 (two)."""
    rest = non_expert_params(Stack())  # the weights are M1's whatever the attention variant
    return 2 * rest + 1 * (stack.total_params - rest)


@dataclass(frozen=True)
class Node:
    gpus: int = 8
    gpu_bytes: float = 141e9  # H200 (143,771 MiB reported); an H100 has 80e9
    utilization: float = 0.85  # the profile's --gpu-memory-utilization
    workspace_fraction: float = 0.05  # activations, CUDA graphs, allocator slack

    @property
    def usable(self) -> float:
        return self.gpus * self.gpu_bytes * self.utilization * (1 - self.workspace_fraction)


def sequences_per_node(stack: Stack, node: Node, context: int) -> int:
    """Sequences of ``context`` tokens whose caches fit next to the weights."""
    free = node.usable - weight_bytes(stack)
    return max(0, math.floor(free / sequence_bytes(stack, context)["total"]))


def step_seconds(stack: Stack, light_s: float, soft_s: float, gpus: int) -> float:
    """A decode step of the whole attention stack, from one layer's measured times (at the
    batch and context of the step), split over the node's GPUs."""
    return (stack.lightning_layers * light_s + stack.softmax_layers * soft_s) / gpus


def interpolate_batch(measured: dict[int, float], batch: int) -> float:
    """A per-step time at ``batch`` from times measured at some batches (linear between
    them; beyond the largest, proportional to the batch)."""
    xs = sorted(measured)
    if batch > xs[-1]:
        return measured[xs[-1]] * batch / xs[-1]
    return float(np.interp(batch, xs, [measured[x] for x in xs]))


def project(batch: dict, node: Node, context: int = 102_400, total: int = 102_400) -> dict:
    """From measured batched decode (``latency_batch.measure``'s result): for M1 and an
    all-softmax stack of the same shape, the sequences of ``context`` tokens that fit on the
    node, the attention step at that concurrency and context, decode tokens/s per node, and
    the time to generate a ``total``-token answer with the node full (every sequence of the
    batch at the same position: the simple lockstep picture; contexts between the measured
    ones interpolated, below the smallest measured held at its time)."""
    light = {int(b): v["s"] for b, v in (batch.get("lightning") or {}).items() if v.get("s")}
    soft: dict[int, dict[int, float]] = {}
    for r in batch.get("softmax") or []:
        if r.get("best_s"):
            soft.setdefault(int(r["context"]), {})[int(r["batch"])] = float(r["best_s"])
    out: dict = {"context": context, "generated_tokens": total, "node": node.__dict__}
    for name, stack in (("m1", Stack()), ("all_softmax", Stack().all_softmax())):
        n = sequences_per_node(stack, node, context)
        entry: dict = {"sequences": n, "bytes_per_sequence": sequence_bytes(stack, context)}
        if n and soft and (light or not stack.lightning_layers):
            light_n = interpolate_batch(light, n) if stack.lightning_layers else 0.0
            steps = {c: step_seconds(stack, light_n, interpolate_batch(by_batch, n), node.gpus)
                     for c, by_batch in soft.items()}  # fmt: skip
            xs = sorted(steps)
            step = float(np.interp(context, xs, [steps[x] for x in xs]))
            entry.update(step_s=step, tokens_per_s=n / step,
                         generation_s=integrate_decode(steps, total))  # fmt: skip
        out[name] = entry
    m1, dense = out["m1"], out["all_softmax"]
    if m1.get("tokens_per_s") and dense.get("tokens_per_s"):
        out["throughput_ratio"] = m1["tokens_per_s"] / dense["tokens_per_s"]
        out["generation_ratio"] = m1["generation_s"] / dense["generation_s"]
    return out
