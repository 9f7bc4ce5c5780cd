"""Live detection: the detector, the drop policy and end-to-end `watch` on the synthetic scene."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from live_fixtures import PATCH, SIZE, calibrated_checkpoint, grass_videos, install_median, write_folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("live")
    ckpt, root = calibrated_checkpoint(tmp, mp)
    yield ckpt, root, tmp
    mp.undo()


def _events(text: str) -> list[dict]:
    return [m for m in map(json.loads, text.splitlines()) if m["type"] == "event"]


def test_session_matches_cues_and_calibration(setup, monkeypatch):
    """Each pushed frame's score is the fused calibrated map's top-k mean, smoothed by the EMA, as documented."""
    from video_anomaly.api import Detector
    from video_anomaly.fusion.calibration import to_grid

    install_median(monkeypatch)
    run, _, _ = setup
    det = Detector.load(run, device="cpu")
    assert det.config.cues == ("ae", "motion") and det.cues["ae"].patch == PATCH and det.cues["ae"].size == SIZE
    frames, _ = grass_videos(1)[0]
    frames = frames[:25]
    sess = det.session("fused")
    got = [sess.push(f) for f in frames]
    T = det.cues["ae"].clip_length
    assert all(g is None for g in got[: T - 1]) and all(g is not None for g in got[T - 1 :])
    ae_maps = list(det.cues["ae"].stream(iter(frames)))
    motion_maps = list(det.cues["motion"].stream(iter(frames)))
    ema = None
    for t in range(T - 1, len(frames)):
        fused = None
        for c, m in (("ae", ae_maps[t]), ("motion", motion_maps[t])):
            loc, scale = det.stats[c]
            z = to_grid((m - loc) / scale, det.grid)
            fused = z if fused is None else np.maximum(fused, z)
        raw = float(np.sort(fused.ravel())[-det.config.topk :].mean())
        a = det.config.ema_alpha
        ema = raw if ema is None else a * raw + (1 - a) * ema
        g = got[t]
        assert g.raw == pytest.approx(raw, rel=1e-5) and g.score == pytest.approx(ema, rel=1e-5)
        assert g.alarm == (g.score > det.threshold("fused"))
        x0, y0, x1, y1 = g.bbox
        assert 0 <= x0 < x1 <= frames.shape[2] and 0 <= y0 < y1 <= frames.shape[1]


def test_gap_restarts_the_clip(setup, monkeypatch):
    from video_anomaly.api import Detector

    install_median(monkeypatch)
    sess = Detector.load(setup[0], device="cpu").session("fused")
    frames, _ = grass_videos(1)[0]
    assert all(sess.push(frames[i], i) is None for i in range(9))
    assert sess.push(frames[9], 9).index == 9
    # Frames 10..19 dropped: the next window must not span the gap.
    assert all(sess.push(frames[i], i) is None for i in range(20, 29))
    assert sess.push(frames[29], 29).index == 29


def test_api_and_cli_give_identical_scores_for_every_live_score(setup, monkeypatch, tmp_path):
    from video_anomaly.api import Detector
    from video_anomaly.cli import main
    from video_anomaly.fusion.scores import scores_for

    install_median(monkeypatch)
    run, _, _ = setup
    frames, _ = grass_videos(1)[0]
    folder = write_folder(frames[:40], tmp_path / "clip")
    det = Detector.load(run, device="cpu")
    # every live score of this detector (ae, motion, fused); test_api's twin covers a detector with every cue
    for name in scores_for(det.cues):
        out = tmp_path / f"cli-{name}"
        assert main(["score", "--model", str(run), str(folder), "--score", name, "--out", str(out),
                     "--device", "cpu"]) == 0  # fmt: skip
        rec = json.loads(next(out.glob("*.scores.json")).read_text())
        cli = np.array([np.nan if v is None else v for v in rec["scores"]])
        api = det.score(folder, name)
        ok = api.scored
        np.testing.assert_allclose(cli[ok], api.frame_scores[ok], rtol=1e-6)
        assert np.isnan(cli[~ok]).all() and rec["threshold"] == pytest.approx(det.threshold(name))


def test_queue_drops_oldest_and_warns():
    from video_anomaly.live.sources import FrameQueue

    warnings: list[str] = []
    q = FrameQueue(8, policy="drop", keep=3, warn=warnings.append)
    for i in range(20):
        q.put((i, 0.0, None))
    q.close()
    got = []
    while (item := q.get()) is not None:
        got.append(item[0])
    assert got == sorted(got) and got[-1] == 19 and len(got) <= 8
    assert q.dropped == 20 - len(got) and len(warnings) == 1 and "dropped" in warnings[0]


def test_slow_scorer_on_live_source_drops_and_says_so(setup, monkeypatch):
    from video_anomaly.api import Detector
    from video_anomaly.live.events import EventTracker
    from video_anomaly.live.runner import run_source
    from video_anomaly.live.sources import LiveSource

    install_median(monkeypatch)
    det = Detector.load(setup[0], device="cpu").session()
    frames, _ = grass_videos(1)[0]

    def camera():  # 200 fps source
        for f in frames:
            time.sleep(0.005)
            yield f

    real_push = det.push

    def slow_push(frame, index=None):
        time.sleep(0.02)
        return real_push(frame, index)

    det.push = slow_push
    warnings: list[str] = []
    stats = run_source(det, LiveSource("cam", camera(), 200.0, True), tracker=EventTracker(1e9, fps=200),
                       queue=16, warn=warnings.append)  # fmt: skip
    assert stats.dropped > 0 and warnings and stats.frames + stats.dropped == len(frames)
    assert stats.latency_max_s < 16 * 0.02 + 1.0  # bounded by the queue, not by the stream length


def test_watch_finds_planted_anomalies_with_target_false_alarm_rate(setup, monkeypatch, capsys):
    from video_anomaly.api import Detector
    from video_anomaly.cli import main

    install_median(monkeypatch)
    ckpt, _, tmp = setup
    target = Detector.load(ckpt, device="cpu").config.target_far
    n_normal = n_alarm = 0
    for k, (frames, labels) in enumerate(grass_videos(2)):
        folder = write_folder(frames, tmp / f"grass{k}")
        out = tmp / f"events{k}.jsonl"
        csv_dir = tmp / f"scores{k}"
        assert main(["watch", str(ckpt), str(folder), "--out", str(out), "--device", "cpu"]) == 0
        events = _events(out.read_text())
        first, last = np.flatnonzero(labels)[[0, -1]]
        assert any(e["start_frame"] <= last and e["end_frame"] >= first for e in events), (events, first, last)
        for e in events:
            assert e["end_time"] == pytest.approx((e["end_frame"] + 1) / 10.0)
        # Frame-level false alarms on normal frames, from the same live scores (`score` command).
        assert main(["score", str(ckpt), str(folder), "--out", str(csv_dir), "--device", "cpu"]) == 0
        rec = json.loads(next(csv_dir.glob("*.scores.json")).read_text())
        s = np.array([np.nan if v is None else v for v in rec["scores"]])
        ok = np.isfinite(s) & ~labels[: len(s)]
        n_normal += int(ok.sum())
        n_alarm += int((s[ok] > rec["threshold"]).sum())
    capsys.readouterr()
    far = n_alarm / n_normal
    # Tolerance: the target plus 3 binomial standard errors at this many frames, plus 0.02 for the
    # calibration's own sampling error (a few hundred frames).
    assert far <= target + 3 * np.sqrt(target * (1 - target) / n_normal) + 0.02, far


def test_watch_keeps_a_bounded_number_of_closed_events(setup, monkeypatch):
    """`watch`'s tracker (the command's, serve's workers', the archive's) holds at most ``keep_events`` closed
    events and counts them all: a camera watched for months does not keep a frame per event it ever saw."""
    from video_anomaly.api import Detector, watch
    from video_anomaly.live.watch import KEEP_EVENTS

    install_median(monkeypatch)
    ckpt, _, tmp = setup
    frames, _ = grass_videos(1)[0]
    folder = write_folder(frames, tmp / "bounded")
    det = Detector.load(ckpt, device="cpu")
    emitted: list[dict] = []
    *_, tracker, stats = watch(det, str(folder), emit=emitted.append, keep_events=0)
    events = [m for m in emitted if m["type"] == "event"]
    assert stats.end == "ended" and events and tracker.closed == len(events) and tracker.events == []
    *_, tracker, _ = watch(det, str(folder))
    assert tracker.keep == KEEP_EVENTS and len(tracker.events) == tracker.closed == len(events)


def test_scores_are_causal(setup, monkeypatch):
    """Changing the frames after t changes no score up to t."""
    from video_anomaly.api import Detector

    install_median(monkeypatch)
    det = Detector.load(setup[0], device="cpu")
    frames, _ = grass_videos(1)[0]
    a = det.score_video(iter(frames[:60])).frame_scores
    other = frames.copy()
    other[40:] = 255 - other[40:]
    b = det.score_video(iter(other[:60])).frame_scores
    np.testing.assert_array_equal(a[:40], b[:40])
    assert not np.allclose(a[40:], b[40:])


def test_evaluate_command_prints_every_metric(setup, monkeypatch, capsys, tmp_path):
    from video_anomaly.cli import main

    install_median(monkeypatch)
    run, root, _ = setup
    for score in ("fused", "seed"):
        out = tmp_path / score
        assert main(["evaluate", "--model", str(run), str(root), "--score", score, "--out", str(out), "--quiet",
                     "--device", "cpu"]) == 0  # fmt: skip
        text = capsys.readouterr().out
        res = json.loads((out / "evaluation.json").read_text())
        assert "| frame AUC | micro | none |" in text and "| frame AUC | macro |" in text
        assert set(res["frame_level"]) == {"micro", "micro_normalized", "macro", "macro_normalized"}
        if score == "fused":  # a live score has region maps: pixel-level and region/track criteria
            assert "pixel-level AUC" in text and "RBDC" in text and "TBDC" in text
            assert 0 <= res["rbdc_tbdc"]["rbdc"] <= 1 and 0 <= res["pixel_level"]["auc"] <= 1
            assert (out / "scores" / "Test001.png").stat().st_size > 1000
        else:
            assert res["pixel_level"] is None and res["threshold"] is None
        # The command's saved scores equal the API's, for the live and the exact protocol alike.
        from video_anomaly.api import Detector
        from video_anomaly.data import load_dataset

        video = load_dataset(root).test[0]
        api = Detector.load(run, device="cpu").score(video, score).frame_scores
        saved = np.load(out / "arrays.npz")[f"{video.name}/score"]
        np.testing.assert_allclose(saved, api, rtol=1e-6)


def test_score_outputs_never_collide_and_never_overwrite(setup, monkeypatch, tmp_path, capsys):
    from video_anomaly.cli import main

    install_median(monkeypatch)
    run, _, _ = setup
    frames, _ = grass_videos(1)[0]
    a = write_folder(frames[:30], tmp_path / "cam1" / "video")
    b = write_folder(frames[30:60], tmp_path / "cam2" / "video")
    out = tmp_path / "out"
    assert main(["score", "--model", str(run), str(a), str(b), "--out", str(out), "--device", "cpu"]) == 0
    names = sorted(p.name for p in out.glob("*.scores.json"))
    assert len(names) == 2 and names[0] != names[1], names
    before = {p: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["score", "--model", str(run), str(a), str(b), "--out", str(out), "--device", "cpu"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.iterdir()} == before
    assert main(["score", "--model", str(run), str(a), "--out", str(out), "--overwrite", "--device", "cpu"]) == 0


def test_too_short_input_is_one_line_and_leaves_nothing(setup, monkeypatch, tmp_path, capsys):
    from video_anomaly.cli import main

    install_median(monkeypatch)
    run, _, _ = setup
    frames, _ = grass_videos(1)[0]
    short = write_folder(frames[:1], tmp_path / "short")
    out = tmp_path / "out"
    assert (
        main(["score", "--model", str(run), str(short), "--score", "motion", "--out", str(out), "--device", "cpu"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "short" in err[0] and "at least 2 frames" in err[0], err
    assert not any(out.glob("*")), list(out.glob("*"))
