"""The detector's calibration from normal frames only: region statistics, thresholds, storage, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from live_fixtures import N_TRAIN, PATCH, TemporalMedian, calibrated_checkpoint, run_config
from video_anomaly.detector import Detector, DetectorConfig
from video_anomaly.errors import CheckpointError, ConfigError
from video_anomaly.fusion.calibration import far_quantile, fit_region_stats


def test_far_quantile_hand_cases():
    x = np.arange(1, 101, dtype=float)  # 1..100
    t = far_quantile(x, 0.05)
    assert t == 95 and np.mean(x > t) == pytest.approx(0.05)
    assert far_quantile(x, 0.001) == 100  # too few values to resolve the rate: no normal frame alarms
    assert far_quantile([3.0], 0.5) == 3.0


def test_region_stats_hand_cases():
    # Region (0, 0) always 1, region (0, 1) always 0 (a place where nothing happens), 200 frames.
    maps = np.zeros((200, 1, 2))
    maps[:, 0, 0] = 1.0
    maps[100:, 0, 1] = 0.0
    loc, scale = fit_region_stats(maps, "region_q99_floor")
    # The quiet region's own 99th percentile is 0: it is floored at the global 99th percentile (1.0).
    assert loc.tolist() == [[0, 0]] and scale.tolist() == [[1.0, 1.0]]
    loc, scale = fit_region_stats(maps, "region_z")
    assert loc.tolist() == [[1.0, 0.0]] and np.all(scale > 0)
    with pytest.raises(ConfigError):
        fit_region_stats(maps, "nope")


def test_threshold_hits_the_target_on_fresh_normal_frames():
    from video_anomaly.cues.ae import AECue
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos

    train, _ = render_synthetic_videos(seed=1, height=48, width=64, n_train=9, n_test=0, frames=120)
    sources = [ArraySource(v.frames) for v in train]
    ae = AECue(TemporalMedian(), run_config(), patch=PATCH, device="cpu")
    # The stand-in background model is judged per place (as in tests/live_fixtures.py): per-region z-scores,
    # smoothed; what is checked here is that the cross-fitted threshold holds on footage it never saw.
    cfg = DetectorConfig(cues=("ae", "motion"), target_far=0.05, cue_settings={"motion": {"cell": 8}}, holdout=0.5,
                         calibration="region_z", topk=3, ema_alpha=0.5)  # fmt: skip
    det = Detector.fit(sources[:8], cfg, ae=ae)
    assert set(det.thresholds) == {"ae", "motion", "fused"}
    # The motion cue: every frame but each video's first (no flow yet), scored by a cue fitted on other videos;
    # the autoencoder: the held-out half of each video.
    assert det.meta["calibration_frames"] == {"ae": 8 * 60, "motion": 8 * 119}
    info = det.meta["thresholds"]["motion"]
    assert (info["method"], info["videos"], info["frames"], info["folds"]) == ("video_cv", 8, 952, 5)
    assert info["interval"][0] <= info["rate"] <= info["interval"][1] and len(det.calibration_scores["fused"]) == 480
    # The held-back ninth normal video alarms at about the target rate, for every live score.
    for score in ("ae", "motion", "fused"):
        vs = det.score_video(iter(train[8].frames), score=score)
        assert vs.alarms[vs.scored].mean() <= 0.05 + 0.1, (score, vs.alarms.mean())
    with pytest.raises(ConfigError):
        Detector.fit(sources, DetectorConfig(target_far=1.5), ae=ae)
    with pytest.warns(UserWarning, match="only"):
        Detector.fit(
            sources[:1], DetectorConfig(cues=("ae", "motion"), cue_settings={"motion": {"cell": 8}}, holdout=0.2), ae=ae
        )


def test_detector_is_stored_and_verified(tmp_path, monkeypatch):
    from video_anomaly.api import Detector as ApiDetector
    from video_anomaly.cli import main

    run, _ = calibrated_checkpoint(tmp_path, monkeypatch)
    det = ApiDetector.load(run, device="cpu")
    doc = json.loads((run / "detector.json").read_text())
    assert doc["config"]["target_far"] == 0.01 and det.cues["ae"].patch == PATCH
    assert det.meta["calibration_frames"]["ae"] == N_TRAIN * 60
    listed = (run / "detector.sha256").read_text()
    for rel in ("detector.json", "detector.safetensors", "checkpoint/checkpoint.json", "checkpoint/model.safetensors"):
        assert f"  {rel}\n" in listed, rel
    # A changed file is refused, naming it.
    blob = run / "detector.safetensors"
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        ApiDetector.load(run, device="cpu")
    # The command refits and writes a verified detector again.
    assert main(["calibrate", str(run), "--device", "cpu", "--target-far", "0.02"]) == 0
    assert ApiDetector.load(run, device="cpu").config.target_far == 0.02
    with pytest.raises(CheckpointError, match="not a detector|autoencoder checkpoint"):
        ApiDetector.load(run / "checkpoint", device="cpu")


def test_video_cross_fitted_threshold_holds_on_a_held_out_normal_video():
    """The motion detector's threshold, cross-fitted by whole videos, gives a new normal video of the same scene
    about the target rate (one video of 119 scored frames: within a few frames of the 5% target)."""
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos

    train, _ = render_synthetic_videos(seed=1, height=48, width=64, n_train=9, n_test=0, frames=120)
    cfg = DetectorConfig(cues=("motion",), target_far=0.05, cue_settings={"motion": {"cell": 8}}, folds=4)
    det = Detector.fit([ArraySource(v.frames) for v in train[:8]], cfg)
    assert det.meta["thresholds"]["motion"]["folds"] == 4
    vs = det.score_video(iter(train[8].frames))
    rate = vs.alarms[vs.scored].mean()
    assert 0.0 < rate <= 0.05 + 0.04, rate
    # One training video only: cross-fitted by blocks of time.
    one = Detector.fit(
        [ArraySource(np.concatenate([v.frames for v in train[:4]]))],
        DetectorConfig(cues=("motion",), cue_settings={"motion": {"cell": 8}}),
    )
    assert one.meta["thresholds"]["motion"]["videos"] == 1 and one.meta["thresholds"]["motion"]["folds"] == 5
