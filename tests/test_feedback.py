"""Feedback: an event marked normal joins the detector's normal footage and stops firing on that recording."""

from __future__ import annotations

import json

import numpy as np
import pytest

from live_fixtures import write_folder
from video_anomaly.cli import main
from video_anomaly.detector import DetectorConfig
from video_anomaly.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A motion detector of the small synthetic scene, saved, and one test video with a planted anomaly."""
    from video_anomaly.api import Detector
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos

    tmp = tmp_path_factory.mktemp("feedback")
    train, test = render_synthetic_videos(seed=0, height=48, width=64, n_train=5, n_test=3, frames=100)
    det = Detector.fit(
        [ArraySource(v.frames) for v in train],
        DetectorConfig(cues=("motion",), cue_settings={"motion": {"cell": 8}}, folds=5),
    )
    det.save(tmp / "det")
    return tmp, write_folder(test[2].frames, tmp / "cam" / "Test001")  # a planted cart that fires


def _events(run):
    return json.loads(next(run.glob("*.scores.json")).read_text())["events"]


def test_a_marked_event_stops_firing(scene, capsys):
    tmp, video = scene
    assert main(["score", "--model", str(tmp / "det"), str(video), "--out", str(tmp / "s1")]) == 0
    events = _events(tmp / "s1")
    assert events, "the planted anomaly should raise an event"
    ev = max(events, key=lambda e: e["peak_score"])
    capsys.readouterr()
    assert main(["feedback", str(tmp / "s1"), str(ev["id"]), "--normal", "--out", str(tmp / "det2")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["frames"] == [ev["start_frame"], ev["end_frame"]] and record["added_per_region"]["motion"] > 0
    doc = json.loads((tmp / "det2" / "detector.json").read_text())
    assert doc["meta"]["feedback"][0]["event"] == f"Test001:{ev['id']}" and "at" in doc["meta"]["feedback"][0]
    # Scored again with the corrected detector, no event overlaps the marked frames.
    assert main(["score", "--model", str(tmp / "det2"), str(video), "--out", str(tmp / "s2")]) == 0
    after = _events(tmp / "s2")
    assert not any(e["start_frame"] <= ev["end_frame"] and e["end_frame"] >= ev["start_frame"] for e in after)
    # The threshold was refitted from the stored calibration scores and the event's frames (now scored low).
    before, now = record["thresholds"]["motion"]
    assert np.isfinite(now) and now <= before * 1.05


def test_feedback_names_what_is_wrong(scene):
    from video_anomaly.api import Detector

    tmp, video = scene
    det = Detector.load(tmp / "det")
    with pytest.raises(DataError, match="has no event 99"):
        det.feedback(tmp / "s1", "99", out=tmp / "x")
    with pytest.raises(ConfigError, match="STEM:N"):
        det.feedback(tmp / "s1", "Test001:abc", out=tmp / "x")
    with pytest.raises(ConfigError, match="shipped"):
        Detector.load("ucsd-ped2").feedback(tmp / "s1", "1")
