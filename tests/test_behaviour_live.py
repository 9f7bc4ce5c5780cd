"""The behaviour models wired to the objects cue: fitted in ``Detector.fit`` on the cue's tracks of the training
footage, kept with the detector, and scored live through the event tracker (tiny scenes, injected detections)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_objects_cue import FakeDetector, normal_video, scene
from video_anomaly.cues.objects import ObjectsCue

FPS = 10.0


def fitted_detector(monkeypatch, cues=("objects",)):
    from video_anomaly.data.records import ArraySource
    from video_anomaly.detector import Detector, DetectorConfig

    monkeypatch.setattr(ObjectsCue, "detector", property(lambda self: FakeDetector()))
    cfg = DetectorConfig(cues=cues, folds=2, cue_settings={"objects": {"input_size": [64, 96], "every": 1}})
    return Detector.fit([ArraySource(normal_video(s, 60)) for s in range(4)], cfg)


def live_messages(det, frames) -> list[dict]:
    """Every event message of ``frames`` pushed live, as ``runner.run_source`` feeds the tracker."""
    from video_anomaly.live.events import EventTracker

    sess = det.session(keep_maps=True)
    tracker = EventTracker.for_detector(det, sess.threshold, fps=FPS, source="test")
    msgs = []
    for i, frame in enumerate(frames):
        fs = sess.push(frame, i)
        if fs is not None:
            msgs += tracker.update(i, fs.score, fs.bbox, fs.frame, t=i / FPS, region_map=fs.map, objects=fs.objects)
    return msgs + tracker.finish()


def standing_scene() -> np.ndarray:
    """A person standing still at x = 30 for 8 s while another walks past."""
    return scene(80, [(200, 40, 30, 0.0, 12, 5), (200, 38, 0, 1.5, 12, 5)], seed=11)


def lingering(msgs: list[dict]) -> list[dict]:
    return [m for m in msgs if m["type"] == "event" and m["kind"] == "lingering"]


def test_a_person_standing_where_people_pass_raises_a_lingering_event(monkeypatch):
    det = fitted_detector(monkeypatch)
    assert det.behaviour is not None and det.behaviour["lingering"].stays
    msgs = live_messages(det, standing_scene())
    got = lingering(msgs)
    assert got, [m.get("kind") for m in msgs]
    ev = got[0]
    assert ev["label"] == "person" and isinstance(ev["track_id"], int)
    assert ev["bbox"][0] == pytest.approx(30, abs=3)  # the one standing, not the walker
    assert ev["start_frame"] <= ev["peak_frame"] <= ev["end_frame"] and ev["threshold"] == 1.0
    assert any(m["type"] == "event_start" and m["kind"] == "lingering" and m["id"] == ev["id"] for m in msgs)
    # People walking as in training raise no behaviour event.
    walking = [m for m in live_messages(det, normal_video(21, 60)) if m.get("kind") not in ("anomaly", "tamper")]
    assert walking == []


def test_save_load_keeps_the_behaviour_models(monkeypatch, tmp_path):
    from video_anomaly.detector import Detector

    det = fitted_detector(monkeypatch)
    det.save(tmp_path / "det")
    doc = json.loads((tmp_path / "det" / "detector.json").read_text())
    assert doc["behaviour"]["stays"]
    back = Detector.load(tmp_path / "det")
    assert set(back.behaviour) == {"lingering", "direction", "time_of_day"}
    for kind, table in (("lingering", "stays"), ("direction", "speeds"), ("direction", "headings")):
        a, b = getattr(det.behaviour[kind], table), getattr(back.behaviour[kind], table)
        assert a and set(a) == set(b)
        assert all(np.allclose(a[k], b[k], atol=1e-5) for k in a)
    frames = standing_scene()
    before, after = lingering(live_messages(det, frames)), lingering(live_messages(back, frames))
    assert [(e["track_id"], e["start_frame"]) for e in before] == [(e["track_id"], e["start_frame"]) for e in after]


def test_a_detector_without_the_objects_cue_has_no_behaviour(monkeypatch, tmp_path):
    from video_anomaly.detector import Detector
    from video_anomaly.live.events import EventTracker

    det = fitted_detector(monkeypatch, cues=("motion",))
    assert det.behaviour is None
    assert EventTracker.for_detector(det, 1.0, fps=FPS).behaviour is None
    assert all(m["kind"] == "anomaly" for m in live_messages(det, standing_scene()))
    det.save(tmp_path / "det")
    assert "behaviour" not in json.loads((tmp_path / "det" / "detector.json").read_text())
    assert Detector.load(tmp_path / "det").behaviour is None


def test_a_track_that_ends_closes_its_event():
    from video_anomaly.live.behaviour import BehaviourConfig, BehaviourScorer

    class Always:
        def score(self, track):
            return 2.0

    scorer = BehaviourScorer({"lingering": Always()}, BehaviourConfig(min_duration_s=0.2), keep=False)
    msgs = []
    for i in range(5):
        msgs += scorer.update(1, "person", i / FPS, [0, 0, 5, 5])
    assert [m["type"] for m in msgs] == ["event_start"]
    closed = scorer.end_track(1)
    assert [m["type"] for m in closed] == ["event"] and closed[0]["track_id"] == 1
    assert scorer.track_ids == [] and scorer.events == [] and scorer.finish() == []


def test_the_ucsd_reader_gives_the_manifest_start(tmp_path):
    from live_fixtures import write_folder
    from video_anomaly.data.ucsd import load_ucsd
    from video_anomaly.errors import DataError

    root = tmp_path / "Scene"
    write_folder(normal_video(0, 3), root / "Train" / "Train001")
    write_folder(normal_video(1, 3), root / "Train" / "Train002")
    assert load_ucsd(root).train[0].start is None  # no manifest: no clock
    rows = [{"video": "Train001", "split": "train", "start": "2026-03-03T01:07:00"}]
    (root / "manifest.json").write_text(json.dumps({"videos": rows}))
    got = {v.name: v.start for v in load_ucsd(root).train}
    assert got["Train001"].hour == 1 and got["Train002"] is None
    (root / "manifest.json").write_text(json.dumps({"videos": [{"video": "Train001", "split": "train",
                                                                "start": "at one"}]}))  # fmt: skip
    with pytest.raises(DataError, match="manifest.json"):
        load_ucsd(root)


def test_serve_stores_a_behaviour_event_with_its_kind(tmp_path):
    """The worker's recorder, given the run's behaviour scorer, records a lingering event with its kind and label."""
    pytest.importorskip("sqlalchemy")
    from video_anomaly.detector import FrameScore
    from video_anomaly.live.behaviour import BehaviourConfig, BehaviourScorer
    from video_anomaly.serve.config import CameraConfig
    from video_anomaly.serve.recorder import EventRecorder
    from video_anomaly.serve.store import Store

    class Dwell:  # anyone who has been seen for over half a second lingers
        def score(self, track):
            return 2.0 * (track.t[-1] - track.t[0])

    store = Store(f"sqlite:///{tmp_path / 'e.sqlite'}", tmp_path / "media")
    store.migrate()
    cam = CameraConfig("yard", "x", "y", min_length=3, end_after=5, pre_roll_s=0.0, post_roll_s=0.0)
    scorer = BehaviourScorer({"lingering": Dwell()}, BehaviourConfig(min_duration_s=0.3), keep=False)
    rec = EventRecorder(cam, store, "run1", 1.0, FPS, lambda *a, **f: None, scorer)
    person = {"track_id": 4, "label": "person", "box": [8, 8, 16, 24]}
    for i in range(20):
        frame = np.full((32, 48), 40, np.uint8)
        objects = [person] if i < 15 else None  # it leaves at frame 15: its event closes
        rec.on_frame(i, i / FPS, FrameScore(i, 0.1, 0.1, False, (0, 0, 8, 8), None, frame, objects=objects))
    rec.finish()
    got = [r for r in store.list() if r["kind"] == "lingering"]
    assert len(got) == 1 and got[0]["object_label"] == "person" and str(got[0]["track_id"]) == "4"
    assert got[0]["status"] == "closed" and got[0]["start_frame"] < 15 <= got[0]["end_frame"] + 2
    store.close()


def test_one_object_under_new_track_ids_and_a_frozen_view_raise_one_event():
    from types import SimpleNamespace

    from video_anomaly.live.behaviour import BehaviourConfig, BehaviourScorer
    from video_anomaly.live.events import EventTracker

    class Dwell:  # seconds seen, in units of half a second
        def score(self, track):
            return 2.0 * (track.t[-1] - track.t[0])

    def run(frames):
        scorer = BehaviourScorer({"lingering": Dwell()}, BehaviourConfig(min_duration_s=0.2))
        tracker = EventTracker(1.0, fps=FPS, behaviour=scorer)
        image, msgs = np.zeros((64, 96), np.uint8), []
        for i, (objects, tamper) in enumerate(frames):
            msgs += tracker.update(i, 0.0, None, image, t=i / FPS, objects=objects, tamper=tamper)
        return [m for m in msgs + tracker.finish() if m["type"] == "event"]

    at = lambda tid, x: [{"track_id": tid, "label": "person", "box": [x, 10, x + 6, 30]}]  # noqa: E731
    # Its track breaks twice (a missed detection), a few pixels on: one event (the later tracks are within its
    # cool-down); overlapping tracks of one object (a duplicate) keep it open until the last ends.
    got = run([(at(1 + i // 12, 20 + i // 12), None) for i in range(36)])
    assert len(got) == 1 and got[0]["track_id"] == 1
    both = [(at(1, 20) + (at(2, 22) if i >= 3 else []), None) for i in range(12)]
    got = run(both + [(at(2, 22), None) for _ in range(10)])
    assert len(got) == 1 and got[0]["track_id"] == 1 and got[0]["end_frame"] == 21
    # Two people far apart: two events.
    got = run([(at(1, 5) + at(2, 80), None) for _ in range(20)])
    assert sorted(e["track_id"] for e in got) == [1, 2]
    # A repeated frame (the same objects list again) and a frame suspected of tampering add nothing: a person
    # seen on 3 frames then frozen for 30 never lingers.
    seen = at(1, 20)
    frozen = [(at(1, 20), None) for _ in range(3)] + [(seen, None)] * 30
    assert run(frozen) == []
    suspect = SimpleNamespace(suspect=True, cause=None, seen=False, since=None, message=None)
    assert run([(at(1, 20), None) for _ in range(3)] + [(at(1, 20), suspect) for _ in range(30)]) == []


def test_a_box_carried_out_of_view_is_no_object():
    from video_anomaly.live.behaviour import BehaviourConfig, BehaviourScorer, in_view
    from video_anomaly.live.events import EventTracker

    class Dwell:
        def score(self, track):
            return 2.0 * (track.t[-1] - track.t[0])

    assert in_view([90, 10, 96, 30], (64, 96)) and not in_view([91, 10, 98, 30], (64, 96))
    tracker = EventTracker(1.0, fps=FPS, behaviour=BehaviourScorer({"lingering": Dwell()}, BehaviourConfig()))
    image, msgs = np.zeros((64, 96), np.uint8), []
    for i in range(40):  # the last box of a walker who left, kept at the edge: nobody lingers
        objects = [{"track_id": 1, "label": "person", "box": [91, 10, 98, 30]}]
        msgs += tracker.update(i, 0.0, None, image, t=i / FPS, objects=objects)
    assert msgs + tracker.finish() == []


def test_time_of_day_needs_the_region_empty_of_any_class_at_that_hour():
    from datetime import datetime

    from video_anomaly.live.behaviour import BehaviourConfig, OccupancyModel, Regions, Track

    cfg = BehaviourConfig(grid=(1, 2))
    regions = Regions(cfg.grid, (10, 20))
    night, day = datetime(2026, 3, 3, 1), datetime(2026, 3, 3, 10)
    visits = {(0, "person", day.hour // 3): 20, (0, "fire hydrant", night.hour // 3): 20,  # a walker misread by night
              (1, "person", day.hour // 3): 20}  # fmt: skip
    model = OccupancyModel(regions, cfg, {night.hour // 3: 3600.0, day.hour // 3: 3600.0}, visits)
    left = Track(1, "fire hydrant", np.array([0.0]), np.array([[2.0, 2.0, 4.0, 8.0]]))
    right = Track(2, "person", np.array([0.0]), np.array([[12.0, 2.0, 14.0, 8.0]]))
    assert model.score(left, day) < 1.0  # the region is busy by day, whatever the class is read as
    assert model.score(right, night) > 1.0  # busy by day, empty by night
    assert model.score(right, day) < 1.0 and model.score(right, None) == 0.0
