"""The objects cue on a hand-made scene, detections injected at the object detector's boundary.

The scene: a dark textured floor, bright boxes walking along a lower band. A fake detector "finds" every bright
box and names it by its grey level (200: person, 120: bicycle), as the real detector would name what it sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from video_anomaly.cues.objects import ObjectsConfig, ObjectsCue
from video_anomaly.cues.tracks import Tracker, best_object

H, W = 64, 96
NAMES = ("person", "bicycle")
LEVELS = {200: 0, 120: 1}  # grey level of a drawn object -> its class


@dataclass
class FakeDetections:
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    names: tuple = NAMES

    def __len__(self):
        return len(self.boxes)


class FakeDetector:
    """Finds the drawn boxes (connected pixels of one of ``LEVELS``); counts its calls."""

    def __init__(self, find: bool = True):
        self.calls, self.find = 0, find

    def detect(self, frame, *, input_size=None, min_score=0.2):
        import cv2

        self.calls += 1
        boxes, labels = [], []
        for level, label in LEVELS.items():
            if not self.find:
                break
            n, _, stats, _ = cv2.connectedComponentsWithStats((frame == level).astype(np.uint8))
            for x, y, w, h, area in stats[1:n]:
                if area >= 6:
                    boxes.append([x, y, x + w, y + h])
                    labels.append(label)
        k = len(boxes)
        return FakeDetections(np.asarray(boxes, np.float32).reshape(k, 4), np.full(k, 0.9, np.float32),
                              np.asarray(labels, np.int64))  # fmt: skip


def floor(rng) -> np.ndarray:
    return rng.integers(20, 60, (H, W)).astype(np.uint8)


def scene(n: int, movers, seed: int = 0) -> np.ndarray:
    """``(n, H, W)`` uint8: ``movers`` = (level, y, x0, vx, h, w) boxes walking along x."""
    rng = np.random.default_rng(seed)
    bg = floor(rng)
    out = np.empty((n, H, W), np.uint8)
    for t in range(n):
        f = bg.copy()
        for level, y, x0, vx, h, w in movers:
            x = int(x0 + vx * t) % (W - w)
            f[y : y + h, x : x + w] = level
        out[t] = f
    return out


def normal_video(seed: int, n: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    movers = [(200, int(rng.integers(36, 46)), int(rng.integers(0, 60)), float(rng.uniform(1, 2)), 12, 5)
              for _ in range(2)]  # fmt: skip
    return scene(n, movers, seed)


def cue_config(**kw) -> ObjectsConfig:
    return ObjectsConfig(input_size=(64, 96), every=1, **kw)


def fitted(detector=None) -> ObjectsCue:
    cue = ObjectsCue(cue_config(), detector=detector or FakeDetector())
    return cue.fit([normal_video(s) for s in range(4)])


def test_a_class_never_seen_in_a_region_scores_above_the_normal_objects():
    cue = fitted()
    test = scene(20, [(200, 40, 10, 1.5, 12, 5), (120, 38, 50, -1.5, 12, 5)], seed=9)
    person, bicycle = [], []
    for m in cue.stream(test):
        for o in [] if m is None else m.objects:
            (person if o["label"] == "person" else bicycle).append(o["score"])
    assert person and bicycle
    assert min(bicycle) > max(person), (max(person), min(bicycle))
    # The map paints that score where the bicycle is.
    m = list(cue.stream(test))[-1]
    assert float(np.asarray(m).max()) == pytest.approx(max(o["score"] for o in m.objects), abs=1e-4)
    # With the position among the features (position_weight > 0), a person where people never walk scores above
    # the people on the walkway.
    placed = ObjectsCue(cue_config(position_weight=1.0), detector=FakeDetector()).fit(
        [normal_video(s) for s in range(4)]
    )
    test = scene(20, [(200, 40, 10, 1.5, 12, 5), (200, 4, 50, -1.5, 12, 5)], seed=9)
    low, high = [], []
    for m in placed.stream(test):
        for o in [] if m is None else m.objects:
            (high if o["box"][1] < 20 else low).append(o["score"])
    assert low and high and min(high) > max(low), (max(low), min(high))


def test_a_still_scene_makes_no_detector_call():
    det = FakeDetector()
    cue = fitted(det)
    det.calls = 0
    still = np.repeat(normal_video(5, 1), 12, axis=0)
    maps = list(cue.stream(still))
    assert det.calls == 0
    assert maps[0] is None and all(float(np.asarray(m).max()) == 0.0 for m in maps[1:])
    # The same scene moving calls it, at most every `every`-th frame.
    det.calls = 0
    cue3 = ObjectsCue(ObjectsConfig(input_size=(64, 96), every=3), detector=det)
    list(cue3.track_objects(normal_video(5, 13)))
    assert 1 <= det.calls <= 4


def test_tracks_keep_their_ids():
    tr = Tracker()
    a, b = np.array([0, 0, 10, 20], np.float32), np.array([50, 0, 60, 20], np.float32)
    first = tr.update(np.stack([a, b]), np.ones(2), np.zeros(2, np.int64))
    ids = [t.id for t in first]
    for step in range(1, 5):
        moved = np.stack([a + [2 * step, 0, 2 * step, 0], b - [2 * step, 0, 2 * step, 0]])
        got = tr.update(moved[::-1], np.ones(2), np.zeros(2, np.int64))  # order of detections shuffled
        assert sorted(t.id for t in got) == sorted(ids)
        assert {t.id: float(t.box[0]) for t in got}[ids[0]] == pytest.approx(2 * step)
    # Through the cue: one walker keeps one id, carried by the flow between detector runs.
    cue = ObjectsCue(ObjectsConfig(input_size=(64, 96), every=3), detector=FakeDetector())
    seen = [fo.ids.tolist() for fo in cue.track_objects(scene(15, [(200, 40, 5, 1.5, 12, 5)])) if fo is not None]
    assert {i for ids in seen for i in ids} == {1}


def test_events_carry_the_label_and_track_id():
    from video_anomaly.live.events import EventTracker

    objects = [{"track_id": 7, "label": "bicycle", "box": [40, 30, 60, 50]},
               {"track_id": 3, "label": "person", "box": [0, 0, 10, 20]}]  # fmt: skip
    assert best_object(objects, (45, 35, 70, 60))["track_id"] == 7
    for region_map in (None, np.array([[0.0, 0.0], [0.0, 5.0]], np.float32)):
        tr = EventTracker(1.0, fps=10, min_length=2, end_after=1)
        msgs, image = [], np.zeros((H, W), np.uint8)
        for i, s in enumerate([0.5, 3.0, 4.0, 3.0, 0.2]):
            msgs += tr.update(i, s, (40, 32, 80, 64), image, region_map=region_map, objects=objects)
        msgs += tr.finish()
        start = next(m for m in msgs if m["type"] == "event_start")
        end = next(m for m in msgs if m["type"] == "event")
        assert start["label"] == end["label"] == "bicycle" and end["track_id"] == 7
    # Without objects, events keep their former fields only.
    tr = EventTracker(1.0, fps=10, min_length=1, end_after=1)
    assert "label" not in (tr.update(0, 3.0, (0, 0, 5, 5)) + tr.finish())[-1]


def test_the_live_session_names_the_object_of_an_alarm(monkeypatch):
    from video_anomaly.data.records import ArraySource
    from video_anomaly.detector import Detector, DetectorConfig

    monkeypatch.setattr(ObjectsCue, "detector", property(lambda self: FakeDetector()))
    cfg = DetectorConfig(cues=("objects",), folds=2, cue_settings={"objects": {"input_size": [64, 96], "every": 1}})
    det = Detector.fit([ArraySource(normal_video(s, 40)) for s in range(4)], cfg)
    test = scene(20, [(200, 40, 10, 1.5, 12, 5), (120, 38, 50, -1.5, 12, 5)], seed=9)
    verdicts = [fs for fs in det.stream(test) if fs is not None]
    top = max(verdicts, key=lambda fs: fs.score)
    assert top.label == "bicycle" and isinstance(top.track_id, int)


def test_save_load_round_trip_gives_the_same_maps():
    cue = fitted()
    meta, arrays = cue.state_dict()
    back = ObjectsCue.from_state(meta, arrays)
    back.detector = FakeDetector()
    test = scene(12, [(200, 40, 10, 1.5, 12, 5), (120, 20, 50, -1.5, 12, 5)], seed=3)
    for a, b in zip(cue.stream(test), back.stream(test)):
        assert (a is None and b is None) or (np.array_equal(a, b) and a.objects == b.objects)
    assert back.names == NAMES and back.input_size == (64, 96)


def test_train_drops_the_cue_when_the_detector_finds_few_objects(monkeypatch):
    from video_anomaly.data.records import ArraySource
    from video_anomaly.detector import Detector, DetectorConfig

    monkeypatch.setattr(ObjectsCue, "detector", property(lambda self: FakeDetector(find=False)))
    lines = []
    cfg = DetectorConfig(cues=("motion", "objects"), folds=2, cue_settings={"motion": {"cell": 8}})
    det = Detector.fit([ArraySource(normal_video(s, 40)) for s in range(4)], cfg, log=lines.append)
    assert list(det.cues) == ["motion"] and det.config.cues == ("motion",) and det.config.score == "motion"
    assert "objects" in det.meta["dropped_cues"]
    assert any("objects cue is left out" in line and "objects per training frame" in line for line in lines)


def test_the_flow_is_computed_once_per_frame_for_motion_and_objects(monkeypatch):
    """Beside the objects cue, the motion cue reads the same flow it computes alone, and DIS runs once a frame."""
    import cv2

    from video_anomaly.cues.base import OneFrameFeed
    from video_anomaly.cues.motion import MotionCue

    frames = normal_video(3, 12)
    alone = list(MotionCue(cell=8).features(frames))
    calls = []
    real = cv2.DISOpticalFlow_create

    class Counting:
        def __init__(self, preset):
            self.dis = real(preset)

        def calc(self, a, b, flow):
            calls.append(1)
            return self.dis.calc(a, b, flow)

    monkeypatch.setattr(cv2, "DISOpticalFlow_create", Counting)
    objects = ObjectsCue(cue_config(max_side=240), detector=FakeDetector())
    feeds = OneFrameFeed(), OneFrameFeed()
    streams = objects.track_objects(feeds[0]), MotionCue(cell=8).features(feeds[1])
    shared = []
    for f in frames:
        feeds[0].put(f)
        next(streams[0])
        feeds[1].put(f)
        shared.append(next(streams[1]))
    assert len(calls) == len(frames) - 1
    assert all((a is None and b is None) or np.array_equal(a, b) for a, b in zip(alone, shared))


def test_frames_of_another_size_are_refused_naming_the_cue():
    from video_anomaly.errors import DataError

    other = np.zeros((12, H + 8, W), np.uint8)
    with pytest.raises(DataError, match="objects cue: training video 1"):
        ObjectsCue(cue_config(), detector=FakeDetector()).fit([normal_video(0), other])
    with pytest.raises(DataError, match=f"objects cue: frame 0 is {W}x{H + 8}"):
        list(fitted().stream(other))
