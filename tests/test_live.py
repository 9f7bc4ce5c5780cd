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


def test_detector_matches_engine_and_calibration(setup, monkeypatch):
    from video_anomaly.inference import stream_live
    from video_anomaly.live import load_live
    from video_anomaly.scoring import patch_errors

    install_median(monkeypatch)
    ckpt, _, _ = setup
    det, model, cfg, cal = load_live(ckpt, device="cpu")
    assert (cal.patch, cal.size, cal.score) == (PATCH, SIZE, "patch_z")
    frames, _ = grass_videos(1)[0]
    frames = frames[:25]
    got = [det.push(f) for f in frames]
    T = cfg.data.clip_length
    assert all(g is None for g in got[: T - 1]) and all(g is not None for g in got[T - 1 :])
    from video_anomaly.data.frames import resize_stack

    ref = list(stream_live(model, resize_stack(frames, SIZE), clip_length=T, maps=True))
    raw = [float(((patch_errors(r.map, PATCH) - cal.mean) / cal.std).max()) for r in ref]
    np.testing.assert_allclose([g.raw for g in got[T - 1 :]], raw, rtol=1e-5)
    ema = raw[0]
    for g, x in zip(got[T - 1 :], raw):
        ema = cal.ema_alpha * x + (1 - cal.ema_alpha) * ema if g.index > T - 1 else x
        assert g.score == pytest.approx(ema, rel=1e-6) and g.alarm == (g.score > cal.threshold)
        x0, y0, x1, y1 = g.bbox
        assert 0 <= x0 < x1 <= frames.shape[2] and 0 <= y0 < y1 <= frames.shape[1]


def test_gap_restarts_the_clip(setup, monkeypatch):
    from video_anomaly.live import load_live

    install_median(monkeypatch)
    det, *_ = load_live(setup[0], device="cpu")
    frames, _ = grass_videos(1)[0]
    assert all(det.push(frames[i], i) is None for i in range(9))
    assert det.push(frames[9], 9).index == 9
    # Frames 10..19 dropped: the next window must not span the gap.
    assert all(det.push(frames[i], i) is None for i in range(20, 29))
    assert det.push(frames[29], 29).index == 29


def test_queue_drops_oldest_and_warns():
    from video_anomaly.sources import FrameQueue

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
    from video_anomaly.events import EventTracker
    from video_anomaly.live import load_live
    from video_anomaly.runner import run_source
    from video_anomaly.sources import LiveSource

    install_median(monkeypatch)
    det, *_ = load_live(setup[0], device="cpu")
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
    from video_anomaly.checkpoint import load_checkpoint
    from video_anomaly.cli import main

    install_median(monkeypatch)
    ckpt, _, tmp = setup
    target = load_checkpoint(ckpt)[2]["calibration"]["target_far"]
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
