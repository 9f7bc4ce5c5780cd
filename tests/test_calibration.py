"""Calibration from normal frames only: quantiles, storage with the checkpoint, the command."""

from __future__ import annotations

import numpy as np
import pytest

from live_fixtures import N_TRAIN, PATCH, SIZE, TemporalMedian, calibrated_checkpoint, run_config
from video_anomaly.calibration import Calibration, calibrate, far_quantile
from video_anomaly.errors import CheckpointError, ConfigError


def test_far_quantile_hand_cases():
    x = np.arange(1, 101, dtype=float)  # 1..100
    t = far_quantile(x, 0.05)
    assert t == 95 and np.mean(x > t) == pytest.approx(0.05)
    assert far_quantile(x, 0.001) == 100  # too few values to resolve the rate: no normal frame alarms
    assert far_quantile([3.0], 0.5) == 3.0


def test_calibrate_hits_the_target_on_fresh_normal_frames():
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos

    train, _ = render_synthetic_videos(seed=1, height=48, width=64, n_train=4, n_test=0, frames=120)
    sources = [ArraySource(v.frames) for v in train]
    model, cfg = TemporalMedian(), run_config()
    # EMA weight 0.5: with heavier smoothing one fresh 111-frame video holds too few independent stretches
    # for its alarm rate to estimate the false-alarm rate.
    cal = calibrate(model, cfg, sources[:3], None, target_far=0.05, patch=PATCH, ema_alpha=0.5)
    assert cal.n_frames == 3 * (120 - 9) and cal.mean.shape == (SIZE // PATCH,) * 2
    assert np.all(cal.std > 0) and set(cal.thresholds) == {"patch_max", "patch_z", "seed"}
    # The held-back fourth normal video alarms at about the target rate.
    from video_anomaly.live import LiveDetector

    for score in ("patch_max", "patch_z", "seed"):
        det = LiveDetector(model, cfg, cal, score=score)
        alarms = [fs.alarm for f in train[3].frames if (fs := det.push(f)) is not None]
        assert np.mean(alarms) <= 0.05 + 0.1, (score, np.mean(alarms))
    with pytest.raises(ConfigError):
        calibrate(model, cfg, sources, None, target_far=1.5)


def test_calibration_is_stored_with_the_checkpoint(tmp_path, monkeypatch):
    from video_anomaly.checkpoint import load_checkpoint, save_checkpoint

    ckpt, _ = calibrated_checkpoint(tmp_path, monkeypatch)
    _, _, extras = load_checkpoint(ckpt)
    cal = Calibration.from_extras(extras)
    assert cal.target_far == 0.01 and cal.patch == PATCH and cal.n_frames == N_TRAIN * (120 - 9)
    assert extras["calibration"]["threshold"] == pytest.approx(cal.threshold)
    assert not cal.seen_in_training
    again = Calibration.from_extras({**dict(zip(["calibration"], [cal.to_extras()[0]["calibration"]])),
                                     "arrays": cal.to_extras()[1]})  # fmt: skip
    np.testing.assert_array_equal(again.std, cal.std)
    plain = save_checkpoint(tmp_path / "plain", TemporalMedian(), run_config())
    with pytest.raises(CheckpointError, match="not calibrated"):
        Calibration.from_extras(load_checkpoint(plain)[2], str(plain))
