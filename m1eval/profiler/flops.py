"""Cumulative FLOPs to generate L tokens, from model configs, under named conventions.

F(L) = a·L + b·L²: ``a`` is the per-token cost that does not depend on the context (weights,
2 × active matmul parameters, lm_head included; lightning attention's constant cost), ``b``
comes from softmax attention, whose per-token cost grows with the context.

Conventions:

- ``paper-figure``: reproduces the curves of Figure 1 of the MiniMax-M1 report. M1 is costed
  with 72 lightning + 8 softmax layers (its config has 70 + 10), a per-lightning-layer
  constant of 64·128·128·128 and b = 8·64·(128 + 2·128); DeepSeek-R1 with b = 61·128·(192 +
  2·128) and 61 layers × 9 experts; Qwen3-235B with b = 94·64·(128 + 2·128).
- ``config``: the same accounting with the real layer counts.
- ``standard``: lightning decode as its recurrence (4·H·d² per layer per token); softmax
  attention as 2·H·(d_qk + d_v) per token per context position; R1's MLA uncompressed.
- ``mla-absorbed``: as ``standard``, but R1's attention as its decode kernels run it, in the
  compressed latent space (keys of kv_lora_rank + rope dims, values of kv_lora_rank), with the
  absorbed projections paid per token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m1eval.errors import ConfigError

CONFIG_DIR = Path(__file__).with_name("configs")
MODELS = ("minimax-m1", "deepseek-r1", "qwen3-235b-a22b")
CONVENTIONS = ("paper-figure", "config", "standard", "mla-absorbed")
DEFAULT_LENGTHS = (8 * 1024, 32 * 1024, 64 * 1024, 100 * 1024, 128 * 1024)


@dataclass(frozen=True)
class Cost:
    """F(L) = a·L + b·L², with a split into weights and lightning attention."""

    weights: float  # per token
    lightning: float  # per token (constant in the context)
    softmax_b: float  # coefficient of L²

    @property
    def a(self) -> float:
        return self.weights + self.lightning

    def total(self, length: int) -> float:
        return self.a * length + self.softmax_b * length * length

    def split(self, length: int) -> dict[str, float]:
        return {
            "weights": self.weights * length,
            "lightning_attention": self.lightning * length,
            "softmax_attention": self.softmax_b * length * length,
            "total": self.total(length),
        }


def load_config(name_or_path: str) -> dict[str, Any]:
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no model config {name_or_path} (known: {', '.join(MODELS)})") from None
    except ValueError:
        raise ConfigError(f"{path} is not valid JSON") from None


def family(config: dict[str, Any]) -> str:
    kind = str(config.get("model_type", ""))
    if kind.startswith("minimax"):
        return "minimax"
    if kind in ("deepseek_v3", "deepseek_v2"):
        return "deepseek"
    if kind in ("qwen3_moe", "qwen2_moe"):
        return "qwen-moe"
    raise ConfigError(f"unsupported model_type {kind!r} (MiniMax, DeepSeek-V3/R1, Qwen3-MoE)")


def cost(config: dict[str, Any], convention: str) -> Cost:
    if convention not in CONVENTIONS:
        raise ConfigError(f"unknown convention {convention!r} ({', '.join(CONVENTIONS)})")
    return {"minimax": _minimax, "deepseek": _deepseek, "qwen-moe": _qwen}[family(config)](
        config, convention
    )


def _minimax(c: dict[str, Any], convention: str) -> Cost:
    hidden, heads, d = c["hidden_size"], c["num_attention_heads"], c.get("head_dim", 128)
    kv_heads = c["num_key_value_heads"]
    layers = c["num_hidden_layers"]
    n_softmax = sum(1 for t in c.get("attn_type_list", []) if t == 1) or layers // 8
    if convention == "paper-figure":
        n_softmax = 8  # what Figure 1 is drawn with
    n_light = layers - n_softmax
    inner = heads * d
    light_proj = hidden * 3 * inner + hidden * inner + inner * hidden  # qkv, output gate, out
    soft_proj = hidden * (inner + 2 * kv_heads * d) + inner * hidden
    experts = c["num_experts_per_tok"] * 3 * hidden * c["intermediate_size"]
    lm_head = hidden * c["vocab_size"]
    active = n_light * light_proj + n_softmax * soft_proj + layers * experts + lm_head
    if convention in ("paper-figure", "config"):
        lightning = n_light * heads * d * d * d  # the figure's per-layer constant, 64·128³
        b = n_softmax * heads * (d + 2 * d)
    else:
        lightning = n_light * 4 * heads * d * d  # state update k^T v and readout q·S
        b = n_softmax * heads * (d + d)
    return Cost(2.0 * active, float(lightning), float(b))


def _deepseek(c: dict[str, Any], convention: str) -> Cost:
    hidden, heads, layers = c["hidden_size"], c["num_attention_heads"], c["num_hidden_layers"]
    q_rank, kv_rank = c["q_lora_rank"], c["kv_lora_rank"]
    d_nope, d_rope, d_v = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    d_qk = d_nope + d_rope
    mla = (hidden * q_rank + q_rank * heads * d_qk + hidden * (kv_rank + d_rope)
           + kv_rank * heads * (d_nope + d_v) + heads * d_v * hidden)  # fmt: skip
    per_expert = 3 * hidden * c["moe_intermediate_size"]
    routed = c["num_experts_per_tok"] + c.get("n_shared_experts", 0)
    dense = c.get("first_k_dense_replace", 0)
    lm_head = hidden * c["vocab_size"]
    extra = 0.0
    if convention == "paper-figure":
        # Figure 1 counts 9 experts in every one of the 61 layers plus 3 dense FFNs.
        active = (layers * mla + layers * routed * per_expert
                  + dense * 3 * hidden * c["intermediate_size"] + lm_head)  # fmt: skip
        b = layers * heads * (d_qk + 2 * d_v)
    else:
        moe_layers = layers - dense
        active = (layers * mla + moe_layers * routed * per_expert
                  + dense * 3 * hidden * c["intermediate_size"] + lm_head)  # fmt: skip
        if convention == "config":
            b = layers * heads * (d_qk + 2 * d_v)
        elif convention == "standard":
            b = layers * heads * (d_qk + d_v)
        else:  # mla-absorbed: attention in the latent space, absorbed projections per token
            b = layers * heads * ((kv_rank + d_rope) + kv_rank)
            active -= layers * kv_rank * heads * (d_nope + d_v)
            extra = 2.0 * layers * heads * (d_nope * kv_rank + kv_rank * d_v)
    return Cost(2.0 * active + extra, 0.0, float(b))


def _qwen(c: dict[str, Any], convention: str) -> Cost:
    hidden, heads, layers = c["hidden_size"], c["num_attention_heads"], c["num_hidden_layers"]
    d, kv_heads = c.get("head_dim", 128), c["num_key_value_heads"]
    attn = hidden * (heads * d + 2 * kv_heads * d) + heads * d * hidden
    experts = c["num_experts_per_tok"] * 3 * hidden * c["moe_intermediate_size"]
    active = layers * (attn + experts) + hidden * c["vocab_size"]
    if convention in ("paper-figure", "config"):
        b = layers * heads * (d + 2 * d)
    else:
        b = layers * heads * (d + d)
    return Cost(2.0 * active, 0.0, float(b))


def profile(
    convention: str, lengths: tuple[int, ...] = DEFAULT_LENGTHS, models: tuple[str, ...] = MODELS
) -> dict[str, Any]:
    """``{"convention", "models": {name: {"<length>": flops}}, "split", "ratios"}``."""
    costs = {m: cost(load_config(m), convention) for m in models}
    out: dict[str, Any] = {
        "convention": convention,
        "models": {m: {str(n): c.total(n) for n in lengths} for m, c in costs.items()},
        "split": {m: {str(n): c.split(n) for n in lengths} for m, c in costs.items()},
        "coefficients": {
            m: {"a": c.a, "b": c.softmax_b, "weights": c.weights, "lightning": c.lightning}
            for m, c in costs.items()
        },
    }
    if "minimax-m1" in costs:
        out["ratios"] = {
            f"minimax-m1/{other}": {str(n): costs["minimax-m1"].total(n) / costs[other].total(n)
                                    for n in lengths}
            for other in costs if other != "minimax-m1"
        }  # fmt: skip
    return out


def model_color(name: str) -> str:
    """One colour per model in every FLOPs plot (the CLI's and the report's)."""
    palette = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
    order = list(MODELS)
    return palette[(order.index(name) if name in order else len(order)) % len(palette)]


def plot(costs: dict[str, Cost], path: Path, convention: str, max_length: int = 131072) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [i * max_length / 256 for i in range(257)]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, c in costs.items():
        ax.plot([x / 1024 for x in xs], [c.total(int(x)) for x in xs], label=name,
                color=model_color(name))  # fmt: skip
    ax.set_xlabel("generated tokens (K = 1024)")
    ax.set_ylabel("cumulative FLOPs")
    ax.set_title(f"FLOPs to generate L tokens ({convention})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
