"""The guard for footage that does not fit the detector: frame size, frame rate, alarm rate over a window."""

from __future__ import annotations

import numpy as np

from video_anomaly.fusion.guard import Fitted, Guard, GuardConfig


def _guard(**kw) -> Guard:
    return Guard(Fitted((158, 238), 10.0, 0.01), GuardConfig(**kw))


def test_sizes_small_change_is_stated_other_aspect_warns():
    g = _guard()
    assert g.start((158, 238), 10.0) == [] and g.resampled_from is None
    (msg,) = _guard().start((160, 240), None)
    assert msg.startswith("note:") and "resampled to the fitted 238x158" in msg
    (msg,) = _guard().start((480, 640, 3), 10.0)
    assert msg.startswith("warning:") and "fitted on 238x158" in msg and "train one on this camera" in msg


def test_frame_rate_off_warns_unknown_rates_do_not():
    assert _guard().start((158, 238), 11.0) == []
    assert _guard().start((158, 238), None) == []
    (msg,) = _guard().start((158, 238), 25.0)
    assert "10 frames/s" in msg and "25 frames/s" in msg
    assert Guard(Fitted((158, 238), None, 0.01)).start((158, 238), 25.0) == []


def test_alarm_rate_warns_once_within_the_window_and_not_at_the_target_rate():
    rng = np.random.default_rng(0)
    g = _guard(window=300, max_alarm_share=0.3)
    heard = []
    g.on_message = heard.append
    # Normal footage: the alarm on for about 1% of frames, plus one real event of 60 frames.
    alarms = rng.random(3000) < 0.01
    alarms[1000:1060] = True
    assert [m for a in alarms for m in g.update(a)] == [] and heard == []
    # Footage that does not fit: the alarm on for 60% of frames; warned within the first 300 frames, once.
    g = _guard(window=300, max_alarm_share=0.3)
    first = None
    for i, a in enumerate(rng.random(1000) < 0.6):
        if g.update(a) and first is None:
            first = i
    assert first is not None and first < 300
    assert len(g.messages) == 1 and "alarm has been on for" in g.messages[0] and "238x158" in g.messages[0]


def test_a_resized_other_camera_warns_the_training_camera_does_not():
    import cv2

    from video_anomaly.api import Detector
    from video_anomaly.cues.motion import synthetic_sequence
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos
    from video_anomaly.detector import DetectorConfig

    train, _ = render_synthetic_videos(seed=0, height=48, width=64, n_train=7, n_test=0, frames=150)
    det = Detector.fit(
        [ArraySource(v.frames) for v in train[:5]],
        DetectorConfig(cues=("motion",), cue_settings={"motion": {"cell": 8}}),
    )
    # Two more normal videos of the training camera: no warning.
    own = det.score_video(iter(np.concatenate([train[5].frames, train[6].frames])))
    assert own.warnings == []
    # Another camera (larger, faster textured walkers on another background) resized to the fitted 64x48.
    other = [cv2.resize(f, (64, 48), interpolation=cv2.INTER_AREA) for f in synthetic_sequence(300, (96, 128), 5)]
    sess = det.session()
    first = next(i for i, f in enumerate(other) if sess.push(f, i) is not None and sess.guard.messages)
    assert first < 300 and "fitted on 64x48 footage" in sess.guard.messages[0]
