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
    stem = next((tmp / "s1").glob("*.scores.json")).name[: -len(".scores.json")]  # Test001-<hash of its path>
    assert stem.startswith("Test001") and "at" in doc["meta"]["feedback"][0]
    assert doc["meta"]["feedback"][0]["event"] == f"{stem}:{ev['id']}"
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


def test_serve_mark_normal_feeds_the_cameras_detector(scene, tmp_path):
    """The camera service's "mark normal" learns the event's clip into the camera's detector folder (and never
    changes a shipped detector in place)."""
    import shutil
    from types import SimpleNamespace

    from live_fixtures import write_video

    pytest.importorskip("av")
    from video_anomaly.api import Detector
    from video_anomaly.data.frames import open_source
    from video_anomaly.serve.service import feedback_hook

    tmp, video = scene
    det_dir = shutil.copytree(tmp / "det", tmp_path / "det")
    frames = np.stack(list(open_source(video).iter_frames(None)))
    (tmp_path / "media").mkdir()
    write_video(frames, tmp_path / "media" / "clip.mp4")
    cams = {"yard": str(det_dir), "shipped": "ucsd-ped2"}
    config = SimpleNamespace(
        camera=lambda name: SimpleNamespace(detector=cams[name]), store=SimpleNamespace(media=tmp_path / "media")
    )
    on_label = feedback_hook(config)
    assert on_label({"camera": "yard", "id": 7, "clip": "clip.mp4"}, "confirmed") is None
    said = on_label({"camera": "yard", "id": 7, "clip": "clip.mp4"}, "normal")
    assert said.startswith("stored and learnt"), said
    record = Detector.load(det_dir).meta["feedback"][0]
    assert record["event"] == "serve:yard:7" and record["added_per_region"]["motion"] > 0
    said = on_label({"camera": "shipped", "id": 8, "clip": "clip.mp4"}, "normal")
    assert "shipped detector is not changed" in said
