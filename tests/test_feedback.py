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
    assert ev["regions"] and record["regions"] == "the event's object"  # its object's regions, as score tracked it
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
    # A tamper event is no view of this camera to learn.
    import shutil

    shutil.copytree(tmp / "s1", tmp / "s3")
    scores = next((tmp / "s3").glob("*.scores.json"))
    rec = json.loads(scores.read_text())
    rec["events"][0].update(kind="tamper", cause="covered", message="warning: camera tampered: ...")
    scores.write_text(json.dumps(rec))
    with pytest.raises(ConfigError, match="tamper event, not an anomaly"):
        det.feedback(tmp / "s3", str(rec["events"][0]["id"]), out=tmp / "x")


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
    h, w = frames.shape[1:]
    # The store's curve of an event over the whole clip: [s, object score, x0, y0, x1, y1, frame score] per frame.
    curve = [[round(k / 10, 3), 3.0, 0, 0, w, h, 3.0] for k in range(len(frames))]
    row = {
        "camera": "yard",
        "id": 7,
        "clip": "clip.mp4",
        "curve": curve,
        "start_ts": 50.0,
        "end_ts": 50.1 + curve[-1][0],
    }
    assert on_label(row, "confirmed") is None
    assert "nothing learnt" in on_label({**row, "curve": None}, "normal")  # no object to learn: not every region
    said = on_label(row, "normal")
    assert said.startswith("stored and learnt"), said
    record = Detector.load(det_dir).meta["feedback"][0]
    assert record["event"] == "serve:yard:7" and record["added_per_region"]["motion"] > 0
    said = on_label({**row, "camera": "shipped", "id": 8}, "normal")
    assert "shipped detector is not changed" in said


# ------------------------------------------------- issue 30: a correction never damages the detector (items 1-5)


@pytest.fixture(params=["trained", "shipped"])
def det_copy(request, scene, tmp_path):
    """A detector folder of one's own: a copy of the trained synthetic one, or of the shipped ``ucsd-ped2``."""
    import shutil

    from video_anomaly import weights

    tmp, _ = scene
    src = tmp / "det" if request.param == "trained" else weights.folder("ucsd-ped2")
    return shutil.copytree(src, tmp_path / "det")


def _two_objects(shape, n=24) -> np.ndarray:
    """``(n, H, W)`` uint8: a still textured scene where two blocks move at once, one in the left quarter and one
    in the right third of the frame."""
    h, w = shape
    rng = np.random.default_rng(0)
    bg = rng.integers(60, 120, size=(h, w), dtype=np.uint8)
    frames = np.repeat(bg[None], n, axis=0)
    bh, bw = h // 4, w // 10
    for t in range(n):
        y = h // 3 + (t % 6) * max(1, h // 40)
        for x0 in (w // 20 + t % 4, int(0.7 * w) + t % 4):
            frames[t, y : y + bh, x0 : x0 + bw] = 230 - 8 * (t % 5)
    return frames


def _two_events(det_dir, tmp) -> tuple:
    """A ``score`` record of ``_two_objects`` with two overlapping events, one per block (their regions as the
    tracker writes them), and the recording."""
    from video_anomaly.api import Detector

    det = Detector.load(det_dir)
    h, w = det.frame_shape
    frames = _two_objects((h, w))
    video = write_folder(frames, tmp / "cam" / "Cam")
    bh, bw = h // 4, w // 10

    def event(i, x0):
        regions = [[f, x0, h // 3, x0 + bw + 4, h // 3 + bh + h // 6] for f in range(4, 20)]
        return {"id": i, "start_frame": 4, "end_frame": 19, "bbox": regions[0][1:], "regions": regions}

    record = {"recording": str(video.resolve()), "detector": str(det_dir), "events": [event(1, w // 20),
              event(2, int(0.7 * w))]}  # fmt: skip
    run = tmp / "run"
    run.mkdir()
    (run / "Cam.scores.json").write_text(json.dumps(record))
    return run, frames


def _left_maps(det, frames) -> dict:
    """Per cue that learns, its raw maps of ``frames`` on the cells of the left quarter (the other object)."""
    out = {}
    for name, cue in det.cues.items():
        if hasattr(cue, "absorb"):
            maps = np.stack([m for m in cue.stream(iter(frames)) if m is not None])
            gh, gw = cue.grid_shape(det.frame_shape)
            x1 = np.array([[cue.region_box(r, c, det.frame_shape)[2] for c in range(gw)] for r in range(gh)])
            left = x1 <= 0.3 * det.frame_shape[1]
            out[name] = maps[:, left]
    return out


def test_feedback_item1_learns_the_marked_objects_regions_only(det_copy, tmp_path):
    from video_anomaly.api import Detector

    run, frames = _two_events(det_copy, tmp_path)
    before = _left_maps(Detector.load(det_copy), frames)
    record = Detector.load(det_copy).feedback(run, "Cam:2")
    assert record["added_per_region"]["motion"] > 0
    # The other object's frames are not taken for normal ones either: the threshold is not raised over it.
    before_t, now_t = record["thresholds"][Detector.load(det_copy).config.score]
    assert now_t <= before_t * 1.05
    after = _left_maps(Detector.load(det_copy), frames)
    for name in before:  # the other object's cells learnt nothing: their maps are unchanged
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_feedback_item2_the_same_event_is_learnt_once(det_copy, tmp_path, capsys):
    from video_anomaly.api import Detector

    run, _ = _two_events(det_copy, tmp_path)
    assert main(["feedback", str(run), "Cam:1", "--normal"]) == 0
    once = Detector.load(det_copy)
    capsys.readouterr()
    assert main(["feedback", str(run), "Cam:1", "--normal"]) == 0
    assert "learnt already" in capsys.readouterr().err
    again = Detector.load(det_copy)
    assert len(again.meta["feedback"]) == 1 and again.thresholds == once.thresholds


def test_feedback_item3_two_at_once_both_count(det_copy, tmp_path):
    """Two feedbacks on one detector, each loaded before the other saved (two commands at once): both kept."""
    from video_anomaly.api import Detector

    run, _ = _two_events(det_copy, tmp_path)
    first, second = Detector.load(det_copy), Detector.load(det_copy)
    first.feedback(run, "Cam:1")
    second.feedback(run, "Cam:2")
    assert {r["event"] for r in Detector.load(det_copy).meta["feedback"]} == {"Cam:1", "Cam:2"}


def test_feedback_item3_another_process_waits_for_the_lock(scene, tmp_path, monkeypatch):
    """While one feedback learns and saves, the folder's lock is held against every other process."""
    import shutil

    from video_anomaly.api import Detector

    det_dir = shutil.copytree(scene[0] / "det", tmp_path / "det")
    run, _ = _two_events(det_dir, tmp_path)
    seen = _lock_probe(det_dir, monkeypatch)
    Detector.load(det_dir).feedback(run, "Cam:1")
    assert seen == [1]  # BlockingIOError: held


def _lock_probe(det_dir, monkeypatch) -> list:
    """Whether another process could take ``det_dir``'s save lock (``LOCK_EX | LOCK_NB``: 1 = held) while the
    detector learns (each ``mark_normal``), appended to the list returned."""
    import subprocess
    import sys

    import video_anomaly.fusion.feedback as fb

    probe = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, 6)"
    seen, real = [], fb.mark_normal

    def learning(*args, **kw):
        lock = det_dir / ".detector.lock"
        seen.append(subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True).returncode)
        return real(*args, **kw)

    monkeypatch.setattr(fb, "mark_normal", learning)
    return seen


def test_serve_mark_normal_learns_the_marked_object_only_under_the_lock(det_copy, tmp_path, monkeypatch):
    """Serve's "mark normal" of one of two objects moving at once is the feedback of `video-anomaly feedback`:
    only its object's regions (its box per frame, from the event's curve) are learnt, so the other object's cells
    score as before and its event still fires; under the folder's file lock; once."""
    from types import SimpleNamespace

    from live_fixtures import write_video

    pytest.importorskip("av")
    from video_anomaly.api import Detector
    from video_anomaly.serve.service import feedback_hook

    det = Detector.load(det_copy)
    h, w = det.frame_shape
    frames = _two_objects((h, w))
    before = _left_maps(det, frames)
    (tmp_path / "media").mkdir()
    write_video(frames[2:22], tmp_path / "media" / "clip.mp4")  # 2 frames of pre-roll, the event 4..19, post-roll
    x0, bh, bw = int(0.7 * w), h // 4, w // 10
    box = [x0, h // 3, x0 + bw + 4, h // 3 + bh + h // 6]  # the right-hand object
    curve = [[round((k - 2) / 10, 3), 3.0, *box, 3.0] for k in range(18)]  # the store's rows, s from its start
    row = {"camera": "yard", "id": 2, "clip": "clip.mp4", "curve": curve, "start_ts": 100.0, "end_ts": 101.6}
    config = SimpleNamespace(
        camera=lambda name: SimpleNamespace(detector=str(det_copy)), store=SimpleNamespace(media=tmp_path / "media")
    )
    seen = _lock_probe(det_copy, monkeypatch)
    on_label = feedback_hook(config)
    said = on_label(row, "normal")
    assert said.startswith("stored and learnt"), said
    assert seen == [1]  # the detector folder's lock, held against other processes (a `feedback` command)
    after = Detector.load(det_copy)
    record = after.meta["feedback"][-1]
    assert record["event"] == "serve:yard:2" and record["regions"] == "the event's object"
    assert record["frames"] == [2, 17] and record["added_per_region"]["motion"] > 0  # the event's frames of the clip
    before_t, now_t = record["thresholds"][after.config.score]
    assert now_t <= before_t * 1.05  # the other object's frames did not join the normal scores
    for name, maps in _left_maps(after, frames).items():  # the other object's cells learnt nothing
        np.testing.assert_array_equal(maps, before[name], err_msg=name)
    assert "already learnt" in on_label(row, "normal") and seen == [1]  # learnt once


class _Killed(BaseException):
    """A kill -9 stand-in: raised from inside the save, past every ``except Exception``."""


def test_feedback_item4_a_save_killed_anywhere_leaves_a_whole_detector(det_copy, monkeypatch):
    """Killed at each rename of the save in turn, the folder loads as the old detector or the new one."""
    import os

    from video_anomaly.api import Detector

    real = os.replace
    for kill_at in range(1, 30):
        calls = []

        def replace(a, b, *args, kill_at=kill_at, calls=calls):
            calls.append(b)
            if len(calls) == kill_at:
                raise _Killed
            return real(a, b, *args)

        det = Detector.load(det_copy)
        n = len(det.meta.get("feedback") or [])
        det.meta["feedback"] = [*(det.meta.get("feedback") or []), {"event": f"kill-{kill_at}"}]
        monkeypatch.setattr(os, "replace", replace)
        try:
            det.save(det_copy)
            finished = True
        except _Killed:
            finished = False
        monkeypatch.setattr(os, "replace", real)
        assert len(Detector.load(det_copy).meta.get("feedback") or []) in (n, n + 1), kill_at
        if finished:
            break
    assert finished and kill_at > 2


def test_feedback_item5_refuses_a_recording_replaced_since_score(det_copy, tmp_path):
    from video_anomaly.api import Detector

    _, frames = _two_events(det_copy, tmp_path)
    video = tmp_path / "cam" / "Cam"
    assert main(["score", "--model", str(det_copy), str(video), "--out", str(tmp_path / "s")]) == 0
    rec_file = next((tmp_path / "s").glob("*.scores.json"))
    rec = json.loads(rec_file.read_text())
    rec["events"] = [{"id": 1, "start_frame": 4, "end_frame": 19}]  # an event, whatever this detector raised
    rec_file.write_text(json.dumps(rec))
    write_folder(frames[::-1].copy(), video)  # the same names and sizes, other footage
    with pytest.raises(DataError, match="not the recording that was scored"):
        Detector.load(det_copy).feedback(tmp_path / "s", "1")


def test_feedback_item4_the_remedy_says_the_feedback_it_drops(synthetic_root, tmp_path, capsys):
    """The remedy a refusal names, ``calibrate``, refits from the training footage: the message and calibrate say
    that the feedback given is lost, never silently."""
    from video_anomaly.api import Detector
    from video_anomaly.errors import CheckpointError

    run = tmp_path / "run"
    assert main(["train", str(synthetic_root), "--out", str(run), "--cues", "motion", "--motion-cell", "8"]) == 0
    det = Detector.load(run)
    det.meta["feedback"] = [{"event": "Test001:1"}, {"event": "Test001:2"}]
    det.save(run)
    (run / "detector.sha256").unlink()
    with pytest.raises(CheckpointError, match="feedback given since is lost"):
        Detector.load(run)
    capsys.readouterr()
    assert main(["calibrate", str(run)]) == 0
    assert "feedback on 2 events marked normal is not kept" in capsys.readouterr().err
