"""Nothing lost, nothing silent: runs that stop early, bad flags, bad paths, odd inputs, and the output helpers.

Live tests use the calibrated temporal-median stand-in of ``live_fixtures`` on the synthetic scene (a person walks
on the grass from frame ~43 to ~78 of each test video), served from 127.0.0.1 where a network is needed.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import socket
import threading
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from live_fixtures import (
    free_udp_port,
    grass_videos,
    install_median,
    json_lines,
    main_with_sigterm_at,
    udp_sender,
    write_folder,
    write_ts,
)
from video_anomaly.cli import build_parser, main
from video_anomaly.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def _summary(err: str) -> dict:
    return json.loads(err.strip().splitlines()[-1])


def _serve(handler_cls):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


# ------------------------------------------------------------------ 2. train never silently replaces a run


def test_train_refuses_to_replace_a_checkpoint_without_resume_or_overwrite(synthetic_root, tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "checkpoint" / "model.safetensors").write_bytes(b"old weights")
    assert main(["train", str(synthetic_root), "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err and "--overwrite" in err and "checkpoint" in err
    assert (run / "checkpoint" / "model.safetensors").read_bytes() == b"old weights"
    assert main(["train", str(synthetic_root), "--out", str(run), "--resume", "--overwrite"]) == 2
    assert "contradict" in capsys.readouterr().err


def test_train_max_steps_still_fits_the_detector(synthetic_root, tmp_path, capsys):
    """Item 17: a run stopped by --max-steps is calibrated all the same (and a motion-only run needs no steps)."""
    run = tmp_path / "run"
    assert main(["train", str(synthetic_root), "--out", str(run), "--cues", "ae,motion", "--size", "32",
                 "--max-steps", "1", "--quiet", "--device", "cpu", "--motion-cell", "8"]) == 0  # fmt: skip
    doc = json.loads((run / "detector.json").read_text())
    assert doc["cues"].keys() == {"ae", "motion"} and "not fitted on" in capsys.readouterr().out
    motion_only = ["--cues", "motion", "--motion-cell", "8"]
    assert main(["train", str(synthetic_root), "--out", str(tmp_path / "m"), *motion_only]) == 0
    assert json.loads((tmp_path / "m" / "detector.json").read_text())["cues"].keys() == {"motion"}


# ------------------------------------------------------------------ 3. per-frame times


def _write_vfr(frames: np.ndarray, times: list[float], path: Path) -> Path:
    """An MKV (H.264, near-lossless) whose frame i is presented at ``times[i]`` seconds."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        s.options = {"crf": "10", "preset": "ultrafast", "tune": "zerolatency"}
        for f, t in zip(frames, times):
            vf = av.VideoFrame.from_ndarray(np.repeat(f[..., None], 3, 2), format="rgb24")
            vf.pts, vf.time_base = round(t * 1000), Fraction(1, 1000)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_event_tracker_uses_each_frames_time():
    from video_anomaly.live.events import EventTracker

    tr = EventTracker(1.0, fps=10, end_after=2, min_length=2)
    times = [0.0, 0.1, 0.2, 5.0, 5.5, 6.0, 6.5, 7.0]
    scores = [0, 0, 0, 2, 3, 2, 0, 0]
    msgs = [m for i, (s, t) in enumerate(zip(scores, times)) for m in tr.update(i, s, t=t)] + tr.finish()
    start, event = msgs[0], msgs[-1]
    assert start["type"] == "event_start" and start["start_time"] == 5.0
    assert (event["start_frame"], event["end_frame"]) == (3, 5)
    assert event["start_time"] == 5.0 and event["end_time"] == pytest.approx(6.1)  # last frame + 1 / fps


def test_watch_reports_presentation_times_of_a_variable_rate_video(ckpt, grass, tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    install_median(monkeypatch)
    frames, _ = grass
    # 10 fps for 3 s, then one frame every 0.5 s: frame / fps would put frame 43 at 4.3 s, it is at 9.5 s.
    times = [i * 0.1 if i < 30 else 3.0 + (i - 30) * 0.5 for i in range(len(frames))]
    video = _write_vfr(frames, times, tmp_path / "vfr.mkv")
    from video_anomaly.live.sources import open_live_source

    got = [item.t for item in open_live_source(str(video)).timed_frames()]
    np.testing.assert_allclose(got, times, atol=1e-3)
    out = tmp_path / "events.jsonl"
    assert main(["watch", str(ckpt), str(video), "--out", str(out), "--device", "cpu"]) == 0
    events = [m for m in json_lines(out.read_text()) if m["type"] == "event"]
    assert events and any(e["start_frame"] >= 30 for e in events)
    for e in events:
        assert e["start_time"] == pytest.approx(times[e["start_frame"]], abs=1e-3)
        assert e["end_time"] == pytest.approx(times[e["end_frame"]] + 0.1, abs=1e-3)
    capsys.readouterr()


# ------------------------------------------------------------------ 5. a stream joined between keyframes


class _FakePacket:
    def __init__(self, frame=None):
        self.frame = frame

    def decode(self):
        import av

        if self.frame is None:
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
        return [self.frame]


class _FakeContainer:
    """What PyAV gives for a stream joined mid-GOP: packets that fail to decode until a keyframe arrives."""

    def __init__(self, n_bad: int, n_good: int):
        frame = lambda t: SimpleNamespace(to_ndarray=lambda format: np.full((8, 8), t, np.uint8), time=0.04 * t)  # noqa: E731
        self.packets = [_FakePacket() for _ in range(n_bad)] + [_FakePacket(frame(t)) for t in range(n_good)]
        stream = SimpleNamespace(average_rate=25, guessed_rate=25)
        self.streams = SimpleNamespace(video=[stream])
        self.size, self.duration = 10_000, None  # a transport with a length: its end is an end

    def demux(self, *args, **kwargs):
        return iter(self.packets)

    def decode(self, *args, **kwargs):
        for p in self.packets:
            yield from p.decode()

    def close(self):
        pass


def test_stream_joined_between_keyframes_skips_undecodable_packets_and_says_so_once(monkeypatch):
    av = pytest.importorskip("av")
    from video_anomaly.live.sources import open_live_source

    monkeypatch.setattr(av, "open", lambda *a, **k: _FakeContainer(n_bad=7, n_good=5))
    warnings: list[str] = []
    source = open_live_source("udp://127.0.0.1:5000", timeout_s=1, warn=warnings.append)
    items = list(source.timed_frames())
    assert [i.index for i in items] == [0, 1, 2, 3, 4]
    assert [i.t for i in items] == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16])
    assert len(warnings) == 1 and "keyframe" in warnings[0] and "udp://127.0.0.1:5000" in warnings[0]
    assert "Errno" not in warnings[0]


# ------------------------------------------------------------------ 6. ended, lost, interrupted


class _Score:
    """A stand-in detector: the score of a frame is its mean brightness."""

    clip_length = 1

    def push(self, frame, index=None):
        fs = dict(score=float(frame.mean()), bbox=(0, 0, 1, 1), frame=frame, map=None, tamper=None, objects=None)
        return SimpleNamespace(**fs)


def test_run_source_closes_the_open_event_when_the_source_is_lost():
    from video_anomaly.live.events import EventTracker
    from video_anomaly.live.runner import run_source
    from video_anomaly.live.sources import LiveSource, SourceLost

    def frames():
        for i in range(10):
            yield np.full((4, 4), 0 if i < 3 else 200, np.uint8)
        raise SourceLost("rtsp://cam/1", "timed out: no data for 1 s")

    for end_on_error in (True, False):
        msgs: list[dict] = []
        tracker = EventTracker(100, fps=10, min_length=2)
        source = LiveSource("rtsp://cam/1", frames(), 10.0, True)
        if end_on_error:
            stats = run_source(_Score(), source, tracker=tracker, emit=msgs.append, drop=False, end_on_error=True)
            assert (stats.end, stats.error, stats.frames) == ("lost", "timed out: no data for 1 s", 10)
        else:
            with pytest.raises(SourceLost):
                run_source(_Score(), source, tracker=tracker, emit=msgs.append, drop=False)
        assert [m["type"] for m in msgs] == ["event_start", "event"]
        assert (msgs[-1]["start_frame"], msgs[-1]["end_frame"]) == (3, 9)


class _TS:
    """Serve bytes of an MPEG-TS: ``dying`` requests send half of it chunked and drop the connection (a sender
    that dies: no Content-Length, no final chunk); later requests send the whole file with its length."""

    def __init__(self, data: bytes, dying: int):
        self.data, self.dying, self.requests = data, dying, 0

    def handler(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/MP2T")
                if owner.requests <= owner.dying:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = owner.data[: len(owner.data) // 2]
                    for i in range(0, len(half), 4096):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(half[i : i + 4096]), half[i : i + 4096]))
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    self.send_header("Content-Length", str(len(owner.data)))
                    self.end_headers()
                    self.wfile.write(owner.data)
                self.close_connection = True

            def log_message(self, *args):
                pass

        return Handler


def test_watch_dying_http_sender_is_lost_not_ended(ckpt, grass, tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    install_median(monkeypatch)
    frames, _ = grass
    server = _TS(write_ts(frames, tmp_path / "cam.ts").read_bytes(), dying=1)
    httpd, base = _serve(server.handler())
    out = tmp_path / "events.jsonl"
    try:
        rc = main(["watch", str(ckpt), f"{base}/cam.ts", "--out", str(out), "--queue", "512", "--device", "cpu"])
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err
    assert rc == 3, err
    assert "source lost" in err and "stopped" in err
    summary = _summary(err)
    assert summary["type"] == "summary" and summary["end"] == "lost" and 30 < summary["frames"] < len(frames)
    msgs = json_lines(out.read_text())
    # The person was still on the grass when the sender died: the open event is closed, not lost.
    assert msgs and msgs[-1]["type"] == "event" and msgs[-1]["end_frame"] >= summary["frames"] - 6
    assert sum(m["type"] == "event_start" for m in msgs) == sum(m["type"] == "event" for m in msgs)


def test_watch_reconnects_a_lost_stream(ckpt, grass, tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    install_median(monkeypatch)
    frames, _ = grass
    server = _TS(write_ts(frames, tmp_path / "cam.ts").read_bytes(), dying=1)
    httpd, base = _serve(server.handler())
    out = tmp_path / "events.jsonl"
    try:
        rc = main(["watch", str(ckpt), f"{base}/cam.ts", "--out", str(out), "--queue", "512", "--reconnect", "5",
                   "--device", "cpu"])  # fmt: skip
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err
    assert rc == 0, err
    assert server.requests == 2 and "reconnecting" in err and "reconnected" in err
    summary = _summary(err)
    assert summary["end"] == "ended" and summary["frames"] > len(frames)
    assert all(m["type"] in ("event_start", "event") for m in json_lines(out.read_text()))


def test_watch_closes_the_event_and_prints_the_summary_on_sigterm(ckpt, grass, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    frames, _ = grass
    folder = write_folder(frames, tmp_path / "frames")
    out = tmp_path / "events.jsonl"
    # The person is on the grass at frame 60.
    rc = main_with_sigterm_at(["watch", str(ckpt), str(folder), "--out", str(out), "--device", "cpu"], 60, monkeypatch)
    err = capsys.readouterr().err
    assert rc == 143, err
    summary = _summary(err)
    assert summary["end"] == "interrupted" and summary["error"] == "SIGTERM" and summary["frames"] <= 62
    msgs = json_lines(out.read_text())
    assert msgs[-1]["type"] == "event" and msgs[-1]["start_frame"] < 60 <= msgs[-1]["end_frame"] + 1


def test_watch_udp_stream_that_goes_silent_is_lost_with_a_plain_message(ckpt, grass, tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    install_median(monkeypatch)
    frames, _ = grass
    port = free_udp_port()
    sender = udp_sender(write_ts(frames, tmp_path / "cam.ts").read_bytes(), port)
    url = f"udp://127.0.0.1:{port}"
    rc = main(["watch", str(ckpt), url, "--timeout", "1", "--queue", "512", "--device", "cpu"])
    sender.join()
    err = capsys.readouterr().err
    assert rc == 3, err
    assert f"{url}: source lost" in err and "timed out: no data for 1 s" in err
    assert "Immediate exit" not in err and "Errno" not in err
    assert _summary(err)["end"] == "lost" and _summary(err)["frames"] > 30


# ------------------------------------------------------------------ 7. MPEG-TS files


def test_ts_files_are_read_by_watch_score_and_the_data_layer(ckpt, grass, tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    from video_anomaly.data import find_videos, open_source

    install_median(monkeypatch)
    frames, _ = grass
    (tmp_path / "cams").mkdir()
    ts = write_ts(frames[:40], tmp_path / "cams" / "cam.ts")
    assert main(["watch", str(ckpt), str(ts), "--out", str(tmp_path / "ev.jsonl"), "--device", "cpu"]) == 0
    assert _summary(capsys.readouterr().err)["frames"] == 40
    assert main(["score", str(ckpt), str(ts), "--out", str(tmp_path / "scores"), "--device", "cpu"]) == 0
    assert list((tmp_path / "scores").glob("*.scores.json"))
    assert [v.name for v in find_videos(tmp_path / "cams")] == ["cam"]
    (tmp_path / "cams" / "app.ts").write_text("export const x: number = 1;\n")  # TypeScript, not MPEG-TS
    assert [v.name for v in find_videos(tmp_path / "cams")] == ["cam"]
    with pytest.raises(DataError, match="not a video file") as e:
        open_source(tmp_path / "cams" / "app.ts")
    assert "Errno" not in str(e.value)
    capsys.readouterr()


# ------------------------------------------------------------------ 8. messages in the user's words


def test_unreachable_udp_stream_message_keeps_the_url_and_says_timed_out(ckpt, monkeypatch, capsys):
    pytest.importorskip("av")
    install_median(monkeypatch)
    url = f"udp://127.0.0.1:{free_udp_port()}"
    assert main(["watch", str(ckpt), url, "--timeout", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and url in err and "timed out" in err
    assert "Immediate exit" not in err and "Errno" not in err


def test_garbage_stream_message_says_invalid_data_without_errno(ckpt, tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    install_median(monkeypatch)
    (tmp_path / "junk.ts").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))

    class Quiet(handler.func):  # type: ignore[name-defined]
        def log_message(self, *args):
            pass

    httpd, base = _serve(functools.partial(Quiet, directory=str(tmp_path)))
    try:
        assert main(["watch", str(ckpt), f"{base}/junk.ts", "--timeout", "2", "--device", "cpu"]) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err
    assert f"{base}/junk.ts" in err and "not a video" in err and "Errno" not in err


# ------------------------------------------------------------------ 10. numeric flags checked at parse time


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["train", "D", "--out", "R", "--lr", "nan"], "--lr"),
        (["train", "D", "--out", "R", "--lr", "-0.0001"], "--lr"),
        (["train", "D", "--out", "R", "--holdout-fraction", "1"], "--holdout-fraction"),
        (["train", "D", "--out", "R", "--strides", "1,0"], "--strides"),
        (["train", "D", "--out", "R", "--epochs", "0"], "--epochs"),
        (["watch", "C", "S", "--threshold", "nan"], "--threshold"),
        (["watch", "C", "S", "--fps", "-5"], "--fps"),
        (["watch", "C", "S", "--timeout", "inf"], "--timeout"),
        (["watch", "C", "S", "--queue", "0"], "--queue"),
        (["watch", "C", "S", "--reconnect", "-1"], "--reconnect"),
        (["calibrate", "C", "--target-far", "1.5"], "--target-far"),
        (["calibrate", "C", "--ema-alpha", "0"], "--ema-alpha"),
        (["export", "C", "o.onnx", "--opset", "0"], "--opset"),
        (["bench", "--repeats", "-2"], "--repeats"),
        (["data", "synth", "out", "--frames", "0"], "--frames"),
        (["demo", "--epochs", "nan"], "--epochs"),
        (["--threads", "0", "data", "info", "x"], "--threads"),
    ],
)
def test_numeric_flags_are_checked_at_parse_time(argv, flag, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert flag in err and "expected" in err


def test_type_functions_accept_good_values():
    from video_anomaly.commands import _types as t

    assert t.positive_float("1e-4") == 1e-4 and t.finite_float("-3") == -3.0 and t.nonneg_int("0") == 0
    assert t.probability("0.01") == 0.01 and t.fraction("0") == 0.0 and t.weight("1") == 1.0
    assert t.positive_ints("1, 2") == (1, 2)
    for bad, fn in [("nan", t.finite_float), ("0", t.probability), ("1", t.probability), ("1.5", t.positive_int)]:
        with pytest.raises(argparse.ArgumentTypeError):
            fn(bad)


# ------------------------------------------------------------------ 11. output paths: one line, no traceback


def _run_folder(tmp_path: Path, event: dict | None = None) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    rec = {"video": "v", "n_frames": 10, "fps": 10, "score_name": "patch_max", "threshold": 1.0,
           "target_far": 0.01, "events": [event] if event else []}  # fmt: skip
    (run / "v.scores.json").write_text(json.dumps(rec))
    return run


def test_bad_output_paths_are_one_line_naming_the_path(tmp_path, monkeypatch, capsys):
    run = _run_folder(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = [
        (["report", str(run), "--out", str(a_file / "report.html")], str(a_file)),  # a file where a folder goes
        (["report", str(run), "--out", str(run)], str(run)),  # a folder where a file goes
        (["data", "synth", str(a_file / "sub"), "--frames", "8", "--height", "32", "--width", "32"], str(a_file)),
    ]
    for argv, path in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"video-anomaly {argv[0]}: error: ") and path in err, err
        assert "Traceback" not in err and "Errno" not in err

    def read_only(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", read_only)  # root ignores chmod: simulate a read-only folder
    assert main(["report", str(run), "--out", str(tmp_path / "ro" / "report.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "ro" / "report.html") in err and "permission denied" in err


# ------------------------------------------------------------------ 12, 13, 18. data info and the data layer


def _write_frames(folder: Path, n: int, size=(32, 32), start: int = 1) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    paths = []
    for i in range(start, start + n):
        p = folder / f"{i:03d}.tif"
        Image.fromarray(rng.integers(0, 255, size, dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def _ucsd(tmp_path: Path) -> Path:
    root = tmp_path / "UCSDx"
    _write_frames(root / "Train" / "Train001", 24)
    _write_frames(root / "Test" / "Test001", 24)
    return root


@pytest.mark.parametrize("damage", ["corrupt", "empty", "mixed", "no_train", "short"])
def test_data_info_refuses_what_train_would_refuse(tmp_path, capsys, damage):
    root = _ucsd(tmp_path)
    frame = root / "Train" / "Train001" / "005.tif"
    if damage == "corrupt":
        frame.write_bytes(frame.read_bytes()[:200])
    elif damage == "empty":
        frame.write_bytes(b"")
    elif damage == "mixed":
        _write_frames(frame.parent, 1, size=(40, 32), start=5)
    elif damage == "no_train":
        for p in frame.parent.iterdir():
            p.unlink()
        frame.parent.rmdir()
    else:
        for p in sorted(frame.parent.iterdir())[6:]:
            p.unlink()
    assert main(["data", "info", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    where = {"no_train": root / "Train", "short": frame.parent}.get(damage, frame)
    assert str(where) in err
    if damage != "no_train":  # --quick only counts (an empty Train folder is no error to the reader either)
        assert main(["data", "info", str(root), "--quick"]) == 0
        assert "checked" not in capsys.readouterr().out


def test_data_info_passes_a_good_dataset(tmp_path, capsys):
    assert main(["data", "info", str(_ucsd(tmp_path)), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checked"] is True


def test_data_info_on_a_ucsd_test_folder_does_not_count_mask_folders(synthetic_root, capsys):
    assert main(["data", "info", str(synthetic_root / "Test"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["train_videos"], s["test_videos"], s["test_videos_with_masks"]) == (0, 2, 2)
    assert s["test_videos_labelled"] == 2


def test_a_folder_of_videos_or_one_video_is_training_footage(tmp_path):
    pytest.importorskip("av")
    from video_anomaly.data import load_dataset

    frames, _ = grass_videos(1)[0]
    (tmp_path / "mine").mkdir()
    write_ts(frames[:20], tmp_path / "mine" / "cam1.ts")
    write_folder(frames[:15], tmp_path / "mine" / "cam2")
    ds = load_dataset(tmp_path / "mine")
    assert [(v.name, len(v)) for v in ds.train] == [("cam1", 20), ("cam2", 15)] and ds.test == []
    one = load_dataset(tmp_path / "mine" / "cam1.ts")
    assert [v.name for v in one.train] == ["cam1"] and one.test == []
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.txt").write_text("no video here")
    with pytest.raises(DataError, match="expected a video file") as e:
        load_dataset(tmp_path / "nothing")
    assert str(tmp_path / "nothing") in str(e.value) and "Train" in str(e.value)


# ------------------------------------------------------------------ 15. the HTML report escapes every value


def test_report_escapes_every_value_from_scores_json(tmp_path, capsys):
    evil = "<script>alert(1)</script>"
    event = {"start_frame": evil, "end_frame": 4, "start_time": evil, "end_time": 0.5, "peak_frame": evil,
             "peak_score": evil, "bbox": [0, 0, 1, 1], "thumbnail": "../../../../etc/passwd"}  # fmt: skip
    run = _run_folder(tmp_path, event)
    rec = json.loads((run / "v.scores.json").read_text())
    rec.update(n_frames=evil, fps=evil, threshold=evil, target_far=evil, video=evil)
    (run / "v.scores.json").write_text(json.dumps(rec))
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "base64" not in page  # the thumbnail path outside the run folder was not read
    capsys.readouterr()


# ------------------------------------------------------------------ 16. threads from the free cores


def test_choose_threads_counts_free_cores_and_obeys_requests(monkeypatch):
    import torch

    from video_anomaly import device

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(device, "_cpu_quota", lambda: None)
    monkeypatch.setattr(device, "_running_others", lambda: 0)
    try:
        monkeypatch.setattr(os, "getloadavg", lambda: (2.2, 2.0, 2.0))
        assert device.choose_threads() == 2 and torch.get_num_threads() == 2
        monkeypatch.setattr(os, "getloadavg", lambda: (7.0, 7.0, 7.0))
        assert device.choose_threads() == 1
        assert device.choose_threads(3) == 3 and torch.get_num_threads() == 3
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert device.choose_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        monkeypatch.setattr(device, "_cpu_quota", lambda: 1.5)  # a container started with --cpus 1.5
        assert device.choose_threads() == 2
        monkeypatch.setattr(device, "_running_others", lambda: 3)  # a load that began seconds ago
        monkeypatch.setattr(device, "_cpu_quota", lambda: None)
        assert device.choose_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert build_parser().parse_args(["--threads", "3", "data", "info", "x"]).threads == 3


# ------------------------------------------------------------------ 19. export says its check ran


def test_export_prints_the_measured_difference(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import torch

    from video_anomaly.seed.checkpoint import save_checkpoint
    from video_anomaly.seed.config import RunConfig
    from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder

    cfg = RunConfig().replace(data={"size": 32, "clip_length": 4}, model={"clip_length": 4})
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "ckpt", ConvLSTMAutoencoder().eval(), cfg)
    assert main(["export", str(ckpt), str(tmp_path / "m.onnx"), "--stages"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and all("max abs difference" in line for line in out), out
    diffs = [float(line.split("max abs difference ")[1].split()[0]) for line in out]
    assert all(0 <= d <= 1e-4 for d in diffs)


# ------------------------------------------------------------------ 20, 21. packaging and docs


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"
    (req,) = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    assert tuple(int(x) for x in req.split(">=")[1].split(".")[:1]) >= (77,)


def test_docs_links_to_readme_sections_exist():
    import re

    def anchor(heading: str) -> str:
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    anchors = {anchor(h) for h in re.findall(r"^#+ (.+)$", (ROOT / "README.md").read_text(), re.M)}
    for doc in (ROOT / "docs").glob("*.md"):
        text = doc.read_text()
        for target in re.findall(r"\]\((?:\.\./)?README\.md#([^)]+)\)", text):
            assert target in anchors, (doc.name, target)
        assert 'README, "Detection' not in text.replace("\n", " "), doc.name


# ------------------------------------------------------------------ outputs: names, overwrite, atomic writes


def test_output_stems_never_collide():
    from video_anomaly.outputs import output_stem

    paths = ["cam1/video.avi", "cam2/video.avi", "/data/a/x/v.mp4", "/data/b/x/v.mp4", "a b.mp4", "a_b.mp4",
             "Video.avi", "video.avi"] + [f"cam{i % 3}/sub{i % 2}/clip.avi" for i in range(6)]  # fmt: skip
    stems = [output_stem(p) for p in paths]
    # Distinct even on a case-insensitive file system; each keeps the input's (sanitised) file name.
    assert len({s.casefold() for s in set(stems)}) == len(set(paths))
    assert stems[0].startswith("video.avi-") and stems[4].startswith("a_b.mp4-")


def test_check_no_overwrite_names_the_flag(tmp_path):
    from video_anomaly.outputs import check_no_overwrite

    check_no_overwrite(tmp_path, ["a.csv", "b.json"], overwrite=False)
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(DataError, match="--overwrite") as e:
        check_no_overwrite(tmp_path, ["a.csv", "b.json"], overwrite=False)
    assert str(tmp_path / "b.json") in str(e.value)
    check_no_overwrite(tmp_path, ["a.csv", "b.json"], overwrite=True)


def test_atomic_output_replaces_on_success_and_leaves_nothing_on_failure(tmp_path):
    from video_anomaly.outputs import atomic_output

    target = tmp_path / "v.scores.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".json" and tmp != target
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["v.scores.json"]
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["v.scores.json"]


def test_cleanup_on_failure_removes_what_the_failed_block_wrote(tmp_path):
    from video_anomaly.outputs import cleanup_on_failure

    untouched, replaced, created = tmp_path / "keep.csv", tmp_path / "old.json", tmp_path / "new.png"
    untouched.write_text("keep")
    replaced.write_text("old")
    late = tmp_path / "late.mp4"
    with pytest.raises(KeyboardInterrupt):
        with cleanup_on_failure([untouched, replaced, created]) as outputs:
            created.write_text("new")
            time.sleep(0.01)
            replaced.write_text("new and longer")
            outputs.append(late)
            late.write_text("partial")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]
    with cleanup_on_failure([created]):
        created.write_text("kept on success")
    assert created.read_text() == "kept on success"


def test_resume_refuses_another_input_size(tmp_path, capsys):
    from video_anomaly.seed.checkpoint import save_checkpoint
    from video_anomaly.seed.config import RunConfig
    from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder

    cfg = RunConfig().replace(data={"size": 32})
    save_checkpoint(tmp_path / "run" / "checkpoint", ConvLSTMAutoencoder(), cfg, {})
    rc = main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--resume", "--size", "64", "--cues", "ae"])
    assert rc == 2 and "trained at 32x32; --size 64" in capsys.readouterr().err
