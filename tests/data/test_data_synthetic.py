"""The synthetic scene: deterministic, readable by load_ucsd, labels and masks consistent."""

from __future__ import annotations

import json

import numpy as np

from video_anomaly.data import load_dataset
from video_anomaly.data.synthetic import ANOMALY_KINDS, render_synthetic_videos

TINY = dict(height=48, width=64, n_train=1, n_test=3, frames=40)


def test_deterministic_from_seed():
    a_train, a_test = render_synthetic_videos(seed=3, **TINY)
    b_train, b_test = render_synthetic_videos(seed=3, **TINY)
    _, c_test = render_synthetic_videos(seed=4, **TINY)
    np.testing.assert_array_equal(a_train[0].frames, b_train[0].frames)
    for a, b in zip(a_test, b_test):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.masks, b.masks)
    assert not np.array_equal(a_test[0].frames, c_test[0].frames)


def test_test_videos_start_normal_and_cover_every_kind():
    train, test = render_synthetic_videos(seed=0, **TINY)
    assert not train[0].masks.any() and not train[0].labels.any()
    kinds = {a["kind"] for v in test for a in v.anomalies}
    assert kinds == set(ANOMALY_KINDS)
    for v in test:
        assert 1 <= len(v.anomalies) <= 2
        assert v.labels.any() and not v.labels[: 40 // 4].any()  # the first quarter is normal
        assert v.frames.dtype == np.uint8 and v.frames.shape == (40, 48, 64)
        np.testing.assert_array_equal(v.labels, v.masks.any(axis=(1, 2)))


def test_written_scene_reads_back_with_exact_labels_and_masks(synthetic_root):
    ds = load_dataset(synthetic_root)
    assert ds.name == "SyntheticPed"
    s = ds.summary()
    assert (s["train_videos"], s["train_frames"], s["test_videos"], s["test_frames"]) == (2, 80, 2, 80)
    assert s["test_videos_with_masks"] == 2 and s["test_abnormal_frames"] > 0
    _, test = render_synthetic_videos(seed=0, height=48, width=64, n_train=2, n_test=2, frames=40)
    for video, truth in zip(ds.test, test):
        np.testing.assert_array_equal(video.labels, truth.labels)
        np.testing.assert_array_equal(video.read_masks(), truth.masks)
        np.testing.assert_array_equal(video.source.frames(), truth.frames)  # .tif is lossless
    meta = json.loads((synthetic_root / "anomalies.json").read_text())
    first = meta["test"][0]["anomalies"][0]["first_frame"]
    assert ds.test[0].labels[first]


def test_anomalies_differ_from_walkers():
    """Bicycles move faster than any walker; grass walkers are off the walkway band at least part of the time."""
    _, test = render_synthetic_videos(seed=1, height=120, width=160, n_train=0, n_test=3, frames=60)
    for v in test:
        for a in v.anomalies:
            assert a["first_frame"] >= 15
    bike = [v for v in test if any(a["kind"] == "bicycle" for a in v.anomalies)]
    assert bike
    v = bike[0]
    frames = np.flatnonzero(v.labels)
    xs = [np.flatnonzero(v.masks[t].any(axis=0)).mean() for t in frames]
    assert np.max(np.abs(np.diff(xs))) > 2.5  # > the 2 px/frame walker top speed
