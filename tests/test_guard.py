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
    assert first < 300
    # Its view matches nothing of the fitted background: said as a moved camera, whose fix is a detector trained on
    # the new view; its alarms are not counted again as footage that does not fit.
    (msg,) = sess.guard.messages
    assert "camera tampered" in msg and "turned or shifted" in msg and "train a detector on its new view" in msg
    # Without the tamper statistics (a detector fitted before them) the alarm rate says it.
    det.meta.pop("tamper")
    sess = det.session()
    first = next(i for i, f in enumerate(other) if sess.push(f, i) is not None and sess.guard.messages)
    assert first < 300 and "fitted on 64x48 footage" in sess.guard.messages[0]


def _scene_frames(n=120, seed=0):
    from video_anomaly.data.synthetic import render_synthetic_videos

    train, _ = render_synthetic_videos(seed=seed, height=60, width=80, n_train=1, n_test=0, frames=n)
    return train[0].frames


def _verdicts(tamper, frames):
    return [tamper.check(f, i > 0 and np.array_equal(f, frames[i - 1]), i) for i, f in enumerate(frames)]


def test_tamper_each_cause_is_found_once_it_lasts_and_normal_footage_raises_none():
    import cv2

    from video_anomaly.fusion.guard import COVERED, DEFOCUSED, FROZEN, MOVED, Tamper, TamperConfig, fit_tamper

    frames = _scene_frames(160)
    fitted = fit_tamper([iter(frames[:80])], [80])
    assert {"background", "contrast", "sharpness", "match"} <= set(fitted)
    cfg = TamperConfig(hold=5, freeze=5)
    normal = _verdicts(Tamper(fitted, cfg), frames[80:])
    assert not any(v.suspect for v in normal)
    move = np.float32([[1, 0, -14], [0, 1, 5]])
    changes = {
        COVERED: lambda f: np.full_like(f, 20),
        DEFOCUSED: lambda f: cv2.GaussianBlur(f, (0, 0), 2.5),
        MOVED: lambda f: cv2.warpAffine(f, move, (80, 60), borderMode=cv2.BORDER_REPLICATE),
    }
    for cause, change in changes.items():
        seq = list(frames[80:100]) + [change(f) for f in frames[100:130]] + list(frames[130:160])
        got = _verdicts(Tamper(fitted, cfg), seq)
        causes = [v.cause for v in got]
        assert causes[:20] == [None] * 20 and cause in causes[20:26], (cause, causes)
        assert got[25].since == 20 and all(v.suspect for v in got[20:50])
        assert causes[-1] is None  # back to normal once the view is back
    frozen = list(frames[80:100]) + [frames[99]] * 30 + list(frames[100:130])
    got = _verdicts(Tamper(fitted, cfg), frozen)
    opened = next(v for v in got if v.cause)
    assert opened.cause == FROZEN and opened.since == 20
    # Without fitted statistics only a frozen camera is found: a covered one (flat, with sensor noise) is not.
    rng = np.random.default_rng(0)
    flat = [np.clip(20 + rng.normal(0, 2, frames[0].shape), 0, 255).astype(np.uint8) for _ in range(20)]
    assert not any(v.suspect for v in _verdicts(Tamper(None, cfg), flat))
    assert _verdicts(Tamper(None, cfg), [flat[0]] * 20)[-1].cause == FROZEN


def test_watch_a_covered_camera_gives_one_tamper_event_and_no_anomaly_storm(tmp_path):
    """The live path end to end (``Detector.watch`` over a frame folder): the guard's verdict reaches the tracker."""
    from PIL import Image

    from video_anomaly.api import Detector
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos
    from video_anomaly.detector import DetectorConfig

    train, _ = render_synthetic_videos(seed=0, height=48, width=64, n_train=5, n_test=0, frames=100)
    det = Detector.fit(
        [ArraySource(v.frames) for v in train[:4]],
        DetectorConfig(cues=("motion",), cue_settings={"motion": {"cell": 8}}),
    )
    rng = np.random.default_rng(1)
    frames = list(train[4].frames)
    for t in range(40, 70):  # covered for 3 s: a flat dark view with sensor noise
        frames[t] = np.clip(20 + rng.normal(0, 2, frames[t].shape), 0, 255).astype(np.uint8)
    folder = tmp_path / "cam"
    folder.mkdir()
    for t, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{t:03d}.png")
    heard, said = [], []
    session, _, tracker, _ = det.watch(str(folder), emit=heard.append, on_warning=said.append)
    done = [m for m in heard if m["type"] == "event"]
    tampers = [m for m in done if m["kind"] == "tamper"]
    assert len(tampers) == 1 and tampers[0]["cause"] == "covered"
    assert (tampers[0]["start_frame"], tampers[0]["end_frame"]) == (40, 69)
    assert not [m for m in done if m["kind"] == "anomaly" and m["end_frame"] >= 40 and m["start_frame"] < 80]
    assert sum("camera tampered" in m for m in said) == 1
