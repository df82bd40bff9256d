"""The analytic FLOPs model against the numbers Figure 1 of the MiniMax-M1 report is drawn with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m1eval.errors import ConfigError
from m1eval.profiler.flops import CONFIG_DIR, cost, load_config, profile

K = 1024


def test_paper_figure_coefficients() -> None:
    m1 = cost(load_config("minimax-m1"), "paper-figure")
    r1 = cost(load_config("deepseek-r1"), "paper-figure")
    qwen = cost(load_config("qwen3-235b-a22b"), "paper-figure")
    assert m1.softmax_b == 8 * 64 * (128 + 2 * 128)  # eight softmax layers, as drawn
    assert r1.softmax_b == 61 * 128 * (192 + 2 * 128)
    assert qwen.softmax_b == 94 * 64 * (128 + 2 * 128)
    assert m1.lightning == 72 * 64 * 128 * 128 * 128
    # ~46B activated parameters for M1, ~37B for R1, ~22B for Qwen3 (2 FLOPs each per token)
    assert 44e9 < m1.weights / 2 < 49e9
    assert 36e9 < r1.weights / 2 < 39e9
    assert 21e9 < qwen.weights / 2 < 23e9


def test_paper_figure_ratios() -> None:
    ratios = profile("paper-figure", (64 * K, 100 * K))["ratios"]["minimax-m1/deepseek-r1"]
    assert ratios[str(64 * K)] == pytest.approx(0.385, abs=0.003)
    assert ratios[str(100 * K)] == pytest.approx(0.29, abs=0.005)


def test_config_and_standard_conventions() -> None:
    config = cost(load_config("minimax-m1"), "config")
    assert config.softmax_b == 10 * 64 * (128 + 2 * 128)
    assert config.lightning == 70 * 64 * 128**3
    standard = cost(load_config("minimax-m1"), "standard")
    assert standard.lightning == 70 * 4 * 64 * 128 * 128
    assert standard.softmax_b == 10 * 64 * (128 + 128)
    r1 = cost(load_config("deepseek-r1"), "standard")
    absorbed = cost(load_config("deepseek-r1"), "mla-absorbed")
    assert absorbed.softmax_b == 61 * 128 * ((512 + 64) + 512)  # keys and values in the latent
    assert absorbed.softmax_b > r1.softmax_b  # absorption trades FLOPs for KV-cache bytes


def test_totals_are_a_plus_b() -> None:
    c = cost(load_config("minimax-m1"), "paper-figure")
    assert c.total(1000) == pytest.approx(c.a * 1000 + c.softmax_b * 1000**2)
    split = c.split(1000)
    assert split["total"] == pytest.approx(
        split["weights"] + split["lightning_attention"] + split["softmax_attention"]
    )


def test_any_config_json_of_a_known_family(tmp_path: Path) -> None:
    cfg = json.loads((CONFIG_DIR / "minimax-m1.json").read_text())
    cfg["attn_type_list"] = [1] * 80  # an all-softmax stack of the same shape
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    dense = cost(load_config(str(path)), "config")
    assert dense.softmax_b == 80 * 64 * 384 and dense.lightning == 0
    (tmp_path / "other.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ConfigError, match="unsupported model_type 'llama'"):
        cost(load_config(str(tmp_path / "other.json")), "config")


def test_cli(cli, tmp_path: Path) -> None:
    res = cli("profile", "flops", "--format", "json", "--lengths", "65536,102400",
              "--results-dir", tmp_path)  # fmt: skip
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["convention"] == "paper-figure"
    assert set(out["models"]) == {"minimax-m1", "deepseek-r1", "qwen3-235b-a22b"}
    assert set(out["models"]["minimax-m1"]) == {"65536", "102400"}
    run = tmp_path / "profile-flops-paper-figure"
    assert (run / "flops.png").stat().st_size > 10_000
    assert json.loads((run / "flops.json").read_text())["ratios"]
    table = cli("profile", "flops", "--convention", "standard", "--results-dir", tmp_path)
    assert table.code == 0 and "minimax-m1/deepseek-r1" in table.out and "100K" in table.out
    bad = cli("profile", "flops", "--lengths", "8k", "--results-dir", tmp_path)
    assert bad.code == 2 and "--lengths must be integers" in bad.err


def test_each_model_has_one_colour_in_every_flops_plot() -> None:
    """The CLI's plot and the report's draw each model in the same colour."""
    from m1eval.profiler.flops import MODELS, model_color

    colours = [model_color(m) for m in MODELS]
    assert len(set(colours)) == len(MODELS) and model_color("minimax-m1") == "tab:blue"
    import inspect

    from m1eval.profiler import flops
    from m1eval.reporting import plots

    assert "model_color(name)" in inspect.getsource(plots.flops_curves)
    assert "model_color(name)" in inspect.getsource(flops.plot)
