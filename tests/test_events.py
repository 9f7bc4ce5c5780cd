"""Event tracking on hand-worked score sequences."""

from __future__ import annotations

import numpy as np
import pytest

from video_anomaly.live.events import EventTracker, events_to_mask


def _run(scores, **kw):
    tr = EventTracker(1.0, fps=10, **kw)
    msgs = []
    for i, s in enumerate(scores):
        msgs += tr.update(i, s, bbox=(i, 0, i + 1, 1))
    msgs += tr.finish()
    return tr, msgs


def test_event_start_end_peak_and_box():
    scores = [0, 0, 2, 3, 5, 2, 0, 0, 0, 0, 0, 0]
    tr, msgs = _run(scores, end_after=3, min_length=2)
    assert [m["type"] for m in msgs] == ["event_start", "event"]
    assert msgs[0]["start_frame"] == 2 and msgs[0]["frame"] == 3  # announced once min_length is reached
    ev = msgs[1]
    assert (ev["start_frame"], ev["end_frame"], ev["peak_frame"], ev["peak_score"]) == (2, 5, 4, 5)
    assert ev["bbox"] == [4, 0, 5, 1]
    assert ev["start_time"] == pytest.approx(0.2) and ev["end_time"] == pytest.approx(0.6)


def test_short_dips_do_not_split_and_short_blips_are_dropped():
    scores = [2, 2, 0, 2, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0]
    tr, msgs = _run(scores, end_after=3, min_length=2)
    events = [m for m in msgs if m["type"] == "event"]
    assert [(e["start_frame"], e["end_frame"]) for e in events] == [(0, 4)]  # frame 9 alone is too short


def test_open_event_is_closed_at_the_end():
    tr, msgs = _run([0, 2, 2, 2], end_after=5, min_length=1)
    assert msgs[-1]["type"] == "event" and msgs[-1]["end_frame"] == 3
    mask = events_to_mask(tr.events, 5)
    np.testing.assert_array_equal(mask, [False, True, True, True, False])


def test_threshold_is_strict():
    _, msgs = _run([1.0] * 10, min_length=1)
    assert msgs == []


def _two_objects(n=30):
    """``(n, 6, 8)`` region maps: a slow object on the left for frames 0-24, a second one entering on the right at
    frame 8 and leaving after frame 17, two regions apart, so that the frame's alarm never stops in between."""
    maps = np.zeros((n, 6, 8), np.float32)
    for i in range(25):
        maps[i, 2:4, 1 + i // 10] = 3.0
    for i in range(8, 18):
        maps[i, 1, 5 + (i - 8) // 5] = 5.0
    return maps


def test_two_objects_in_one_frame_span_give_two_events():
    maps = _two_objects()
    tr = EventTracker(1.0, fps=10, end_after=3, min_length=3)
    image = np.zeros((60, 80), np.uint8)
    msgs = []
    for i, m in enumerate(maps):
        msgs += tr.update(i, float(m.max()), None, image, region_map=m)
    msgs += tr.finish()
    events = sorted((m for m in msgs if m["type"] == "event"), key=lambda e: e["start_frame"])
    assert [(e["start_frame"], e["end_frame"]) for e in events] == [(0, 24), (8, 17)]
    assert len({e["id"] for e in events}) == 2
    # Each event's box is its own object's, in frame pixels (10 px per region).
    assert events[0]["bbox"] == [10, 20, 20, 40] and events[1]["bbox"][1] == 10 and events[1]["bbox"][0] >= 50
    starts = [m for m in msgs if m["type"] == "event_start"]
    assert [s["id"] for s in starts] == [events[0]["id"], events[1]["id"]]
    # Without the region map the same scores give one frame-span event.
    tr1 = EventTracker(1.0, fps=10, end_after=3, min_length=3)
    one = [m for i, m in enumerate(maps) for m in tr1.update(i, float(m.max()))] + tr1.finish()
    assert [(e["start_frame"], e["end_frame"]) for e in one if e["type"] == "event"] == [(0, 24)]


def test_regions_count_only_on_alarmed_frames():
    maps = _two_objects()
    tr = EventTracker(1.0, fps=10, end_after=3, min_length=3)
    msgs = [m for i, m in enumerate(maps) for m in tr.update(i, 0.5, region_map=m)] + tr.finish()
    assert msgs == [] and not tr.in_event


@pytest.mark.slow
def test_ped2_test004_bicycle_raises_its_own_event(shared_datasets, tmp_path):
    """UCSD Ped2 Test004: a bicycle enters on the right (x > 300) at frame ~120 while the truck's event is open;
    with the shipped detector it raises its own event, with its own box (opt-in: --run-slow, real data)."""
    import json

    from video_anomaly.cli import main

    video = shared_datasets / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped2" / "Test" / "Test004"
    assert main(["score", "--model", "ucsd-ped2", str(video), "--out", str(tmp_path)]) == 0
    events = [json.loads(line) for line in (tmp_path / "Test004.events.jsonl").read_text().splitlines()]
    truck = [e for e in events if e["start_frame"] < 100 and e["end_frame"] > 150]
    bike = [e for e in events if 110 <= e["start_frame"] <= 135 and e["bbox"][0] >= 280]
    assert truck and bike and not set(map(id, truck)) & set(map(id, bike)), events


def test_a_live_tracker_keeps_the_last_events_without_their_frames():
    """``keep``: a run that lasts months holds the last few closed events, and none of their frames; without it
    (``score``) every event keeps its peak frame for the thumbnails."""
    scores = [0, 2, 3, 0, 0, 0] * 7  # seven events, each of frames 1-2 of a block of six
    image = np.full((4, 4), 7, np.uint8)

    def run(**kw):
        tr = EventTracker(1.0, fps=10, end_after=3, min_length=1, **kw)
        msgs = [m for i, s in enumerate(scores) for m in tr.update(i, s, (0, 0, 1, 1), image)] + tr.finish()
        return tr, [m for m in msgs if m["type"] == "event"]

    every, emitted = run()
    assert len(every.events) == len(emitted) == every.closed == 7
    assert all(ev.peak_image is not None for ev in every.events)
    live, emitted = run(keep=2)
    assert len(emitted) == live.closed == 7 and [ev.id for ev in live.events] == [6, 7]
    assert all(ev.peak_image is None for ev in live.events)
    assert [e["peak_frame"] for e in emitted] == [e["peak_frame"] for e in run()[1]]  # the messages are the same


def test_every_event_has_a_kind_anomaly_by_default():
    _, msgs = _run([0, 2, 2, 2, 0, 0, 0, 0, 0, 0], end_after=3, min_length=2)
    assert {m["kind"] for m in msgs} == {"anomaly"} and "cause" not in msgs[-1]


def test_a_cool_down_keeps_one_flickering_place_to_one_event():
    # Above for 3 frames, below for 4, again and again: without a cool-down each burst is an event.
    scores = ([2, 2, 2, 0, 0, 0, 0] * 6) + [0] * 10
    _, plain = _run(scores, end_after=3, min_length=2)
    _, cooled = _run(scores, end_after=3, min_length=2, cooldown=20)
    count = lambda msgs: sum(m["type"] == "event" for m in msgs)  # noqa: E731
    assert count(plain) == 6
    # Closed at frame 5 (3 below): quiet to frame 25, bursts at 7, 14, 21 not opened; frame 28's is, closed at 33:
    # quiet to 53, so frame 35's is not.
    assert count(cooled) == 2


def test_per_object_cool_down_is_per_place():
    tr = EventTracker(1.0, fps=10, end_after=2, min_length=1, cooldown=50)
    left, right = np.zeros((4, 8), np.float32), np.zeros((4, 8), np.float32)
    left[1, 1], right[1, 6] = 3.0, 3.0
    image = np.zeros((40, 80), np.uint8)
    seq = [left] * 3 + [left * 0] * 3 + [left] * 3 + [right] * 3 + [left * 0] * 3
    msgs = [m for i, m_ in enumerate(seq) for m in tr.update(i, float(m_.max()) or 0.0, None, image, region_map=m_)]
    msgs += tr.finish()
    starts = [m for m in msgs if m["type"] == "event_start"]
    # The left object's second burst falls in its cool-down; the right one, elsewhere, opens its own event.
    assert len(starts) == 2 and starts[1]["bbox"][0] > 40


def test_a_tamper_is_one_event_with_its_cause_and_holds_anomaly_events():
    from video_anomaly.fusion.guard import TamperVerdict

    tr = EventTracker(1.0, fps=10, end_after=2, min_length=1)
    msgs = []
    for i in range(40):
        tampered = 10 <= i < 30
        verdict = (
            TamperVerdict(True, "covered", "warning: camera tampered: ...", since=8, seen=i < 28) if tampered else None
        )
        # The score jumps on every tampered frame: without the hold that is a storm of anomaly events.
        msgs += tr.update(i, 5.0 if tampered and i % 3 else 0.0, (0, 0, 1, 1), tamper=verdict)
    msgs += tr.finish()
    assert [(m["type"], m["kind"]) for m in msgs] == [("event_start", "tamper"), ("event", "tamper")]
    ev = msgs[-1]
    assert (ev["start_frame"], ev["end_frame"], ev["cause"]) == (8, 27, "covered") and ev["bbox"] is None
    assert ev["message"].startswith("warning: camera tampered")


def test_tracker_settings_come_from_the_detector_unless_given():
    from types import SimpleNamespace

    from video_anomaly.detector import DetectorConfig

    det = SimpleNamespace(config=DetectorConfig(min_length=4, end_after=7, cooldown=9))
    tr = EventTracker.for_detector(det, 1.0, fps=10, min_length=2, cooldown=None)
    assert (tr.min_length, tr.end_after, tr.cooldown) == (2, 7, 9)
    with pytest.raises(Exception, match="cooldown"):
        DetectorConfig(cooldown=-1).check()
