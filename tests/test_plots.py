"""Figures are written where asked and the dip finder picks separated minima."""

from __future__ import annotations

import numpy as np

from video_anomaly import plots


def test_deepest_dips_are_separated():
    sr = np.ones(50)
    sr[[10, 11, 30]] = [0.1, 0.05, 0.2]
    assert plots.deepest_dips(sr, k=2, min_gap=5) == [11, 30]
    assert plots._spans(np.array([0, 1, 1, 0, 1], bool)) == [(1, 2), (4, 4)]


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    sr = 1 - rng.random(40) * 0.1
    labels = np.zeros(40, bool)
    labels[10:20] = True
    frames = rng.integers(0, 255, (40, 16, 16), dtype=np.uint8)
    p = plots.plot_regularity(sr, tmp_path / "sub" / "reg.png", labels=labels, frames=frames, title="t")
    assert p.exists() and p.read_bytes()[:4] == b"\x89PNG"
    p2 = plots.plot_regularity(sr, tmp_path / "plain.png")
    assert p2.exists()
    p3 = plots.plot_roc([("a", np.array([0, 0.5, 1]), np.array([0, 0.8, 1]))], tmp_path / "roc.png")
    assert p3.exists()
    p4 = plots.plot_loss_curve([1, 2, 3], [1.0, 0.05, 0.01], tmp_path / "loss.png", val_losses=[1.2, 0.1, 0.02])
    assert p4.exists() and p4.stat().st_size > 1000
