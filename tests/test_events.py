"""Event tracking on hand-worked score sequences."""

from __future__ import annotations

import numpy as np
import pytest

from video_anomaly.events import EventTracker, events_to_mask


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
