"""Figures are written where asked; runs of flagged frames are found for shading."""

from __future__ import annotations

import numpy as np

from video_anomaly import plots


def test_spans_are_inclusive_runs():
    assert plots._spans(np.array([0, 1, 1, 0, 1], bool)) == [(1, 2), (4, 4)]
    assert plots._spans(np.zeros(3, bool)) == []


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    s = rng.random(40)
    labels = np.zeros(40, bool)
    labels[10:20] = True
    p = plots.plot_score(s, tmp_path / "sub" / "score.png", threshold=0.5, alarms=s > 0.5, labels=labels, title="t")
    assert p.exists() and p.read_bytes()[:4] == b"\x89PNG"
    p3 = plots.plot_roc([("a", np.array([0, 0.5, 1]), np.array([0, 0.8, 1]))], tmp_path / "roc.png")
    assert p3.exists()
    p4 = plots.plot_loss_curve([1, 2, 3], [1.0, 0.05, 0.01], tmp_path / "loss.png", val_losses=[1.2, 0.1, 0.02])
    assert p4.exists() and p4.stat().st_size > 1000


def test_score_legend_covers_no_part_of_the_curve():
    # The legend inside the axes hid the demo's only threshold crossing (issue 29): it must lie outside them.
    s = np.r_[np.zeros(30), np.linspace(0, 2, 10)]  # the crossing is in the top right, where a legend would go
    fig = plots.score_figure(s, threshold=1.0, alarms=s > 1.0, labels=s > 0.5, title="t")
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    (ax,) = fig.axes
    (legend,) = fig.legends
    box, axes_box = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert len(legend.get_texts()) == 4
    assert box.y1 <= axes_box.y0  # wholly below the axes
    assert box.y0 >= 0 and box.x0 >= 0 and box.x1 <= fig.bbox.x1  # and on the figure
    plots._pyplot().close(fig)
