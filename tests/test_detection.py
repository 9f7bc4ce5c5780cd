"""End to end on the synthetic scene: a few seconds of CPU training of the seed model finds the planted anomalies."""

from __future__ import annotations

import dataclasses

import pytest

from video_anomaly.api import Detector
from video_anomaly.config import RunConfig, ScoreConfig
from video_anomaly.data import load_dataset
from video_anomaly.data.synthetic import make_synthetic_scene


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = make_synthetic_scene(tmp_path_factory.mktemp("scene"), seed=3, height=60, width=80, n_train=3, n_test=3,
                                frames=60)  # fmt: skip
    data = load_dataset(root)
    cfg = RunConfig.from_dict(
        {
            "data": {"size": 32, "clip_step": 2},
            "train": {"epochs": 4, "lr": 1e-3, "seed": 0, "holdout_fraction": 0.2},
        }
    )
    det = Detector.train(data, tmp_path_factory.mktemp("run"), cfg, device="cpu", progress=False)
    return det, data


def test_seed_model_finds_planted_anomalies(trained, tmp_path):
    det, data = trained
    res = det.evaluate(data, tmp_path / "exact", protocol="exact", figures=False, progress=False)
    # Chance is 0.5. Measured on this machine: 0.98 with the seed's per-video normalisation, 0.84 without;
    # the floors leave room for run-to-run variation of a tiny, briefly trained model.
    assert res["frame_level"]["micro_normalized"]["auc"] > 0.85
    assert res["frame_level"]["micro"]["auc"] > 0.7


def test_live_calibrated_score_finds_planted_anomalies(trained, tmp_path):
    det, data = trained
    assert det.calibration is not None
    cfg = ScoreConfig(frame_scores="patch_max", normalize="none", ema_alpha=det.calibration.ema_alpha)
    det2 = dataclasses.replace(det, config=dataclasses.replace(det.config, score=cfg))
    res = det2.evaluate(data, tmp_path / "live", protocol="live", figures=False, progress=False)
    # Measured 0.73: causal, no per-video min/max, 4x4 patches of a 32x32 input.
    assert res["frame_level"]["micro"]["auc"] > 0.65
