"""The leaderboard's score plot: every marker visible, the legend over none of them."""

from __future__ import annotations

import pytest

from m1eval.reporting import plots


def _rows() -> list[dict]:
    rows = []
    for suite, paper in (("aime24", 86.0), ("mrcr", 73.4), ("swe-bench", 56.0)):
        for column, score in (("model-a", 100.0), ("model-b", 0.0)):
            rows.append({"suite": suite, "column": column, "score": score, "paper": paper,
                         "ci_low": max(0.0, score - 10), "ci_high": min(100.0, score + 10)})
    return rows


def test_score_plot_keeps_0_and_100_and_the_legend_off_the_axes() -> None:
    fig = plots.score_vs_paper_figure(_rows(), ["model-a", "model-b"])
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        low, high = ax.get_xlim()
        assert low < 0 and high > 100  # a score of 0 or 100 is not cut in half at the edge
        assert not ax.get_legend(), "a legend inside the axes can hide a marker"
        (legend,) = fig.legends
        labels = [t.get_text() for t in legend.get_texts()]
        assert sorted(labels) == ["model-a", "model-b", "paper"]
        box = legend.get_window_extent()
        axes_box = ax.get_window_extent()
        assert not box.overlaps(axes_box)
        renderer = fig.canvas.get_renderer()
        fig_box = fig.bbox
        assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1 and fig_box.y0 <= box.y0
        assert ax.get_tightbbox(renderer).y0 >= box.y1 - 1  # the x label sits above it
    finally:
        plots._plt().close(fig)


def test_score_plot_png_is_a_png() -> None:
    png = plots.score_vs_paper(_rows(), ["model-a", "model-b"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("rows", [[], [{"suite": "aime24", "column": "m", "score": None,
                                        "paper": None, "ci_low": None, "ci_high": None}]])
def test_score_plot_without_scores_draws_no_empty_legend(rows: list[dict]) -> None:
    fig = plots.score_vs_paper_figure(rows, ["m"])
    try:
        assert not fig.legends
    finally:
        plots._plt().close(fig)
