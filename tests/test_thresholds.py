"""Thresholds from out-of-fold scores: folds of whole videos, the conformal quantile, its uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from video_anomaly.errors import ConfigError
from video_anomaly.fusion.thresholds import clopper_pearson, conformal_quantile, fit_threshold, video_folds


def test_folds_are_whole_videos_or_blocks_of_one_video():
    parts = video_folds([10, 20, 30, 40, 50, 60, 70], k=5)
    assert [(p.video, p.start, p.stop, p.fold) for p in parts][:2] == [(0, 0, 10, 0), (1, 0, 20, 1)]
    assert [p.fold for p in parts] == [0, 1, 2, 3, 4, 0, 1]
    assert len({p.fold for p in video_folds([5, 5], k=5)}) == 2
    blocks = video_folds([100], k=4)
    assert [(p.start, p.stop) for p in blocks] == [(0, 25), (25, 50), (50, 75), (75, 100)]
    with pytest.raises(ConfigError):
        video_folds([3], k=4)


def test_conformal_quantile_hand_cases():
    x = np.arange(1, 100, dtype=float)  # 99 scores: rank ceil(100 * 0.95) = 95
    assert conformal_quantile(x, 0.05) == 95
    assert conformal_quantile(x, 0.001) == 99  # too few scores: the largest
    lo, hi = clopper_pearson(1, 100)
    assert lo == pytest.approx(0.000253, abs=1e-5) and hi == pytest.approx(0.05446, abs=1e-4)
    assert clopper_pearson(0, 10)[0] == 0.0


def test_fit_threshold_records_what_it_rests_on():
    rng = np.random.default_rng(0)
    scores = [rng.normal(size=200) + (1.0 if i == 3 else 0.0) for i in range(5)]
    info = fit_threshold(scores, [0, 1, 2, 3, 4], 0.05, videos=5)
    assert info.frames == 1000 and info.videos == 5 and info.folds == 5
    assert info.rate <= 0.05 and info.interval[0] < info.rate < info.interval[1]
    # The shifted video gets the highest rate under a threshold set without it.
    assert int(np.argmax(info.fold_rates)) == 3 and "1000 frames of 5 videos" in info.line()


def test_motion_cross_fit_in_one_pass_equals_one_fit_per_fold():
    from video_anomaly.cues.motion import MotionCue
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos
    from video_anomaly.fusion.thresholds import out_of_fold_maps

    train, _ = render_synthetic_videos(seed=2, height=32, width=48, n_train=4, n_test=0, frames=30)
    sources = [ArraySource(v.frames) for v in train]
    parts = video_folds([30] * 4, k=2)
    slow = out_of_fold_maps(lambda: MotionCue(cell=8, k=16), sources, parts)
    cue = MotionCue(cell=8, k=16)
    fast = cue.cross_fit([s.iter_frames(None) for s in sources], [p.fold for p in parts])
    for a, b in zip(slow, fast):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    whole = MotionCue(cell=8, k=16).fit([s.iter_frames(None) for s in sources])
    np.testing.assert_allclose(cue.refs, whole.refs, rtol=1e-5, atol=1e-6)
