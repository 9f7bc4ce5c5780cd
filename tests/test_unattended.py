"""Safe to run unattended (issue 21): nothing overwritten or half-written, a detector that cannot be silently
altered, any frame size and rate, signals and service accounts. Each test names the item of the issue it checks.

Live tests use the calibrated temporal-median stand-in of ``live_fixtures`` on the synthetic scene (a person walks
on the grass from frame ~43 to ~78 of each test video).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from live_fixtures import install_median, json_lines, main_with_sigterm_at, write_folder, write_video
from video_anomaly.cli import main


def _write_mp4(frames: np.ndarray, path: Path) -> Path:
    """H.264 MP4 with its index first (``faststart``), as cameras and web exports write it: a truncated copy
    still decodes up to the cut."""
    pytest.importorskip("av")
    return write_video(frames, path, options={"movflags": "faststart"})


# ------------------------------------------------------------------ 6. score stopped by SIGTERM


def test_score_sigterm_removes_partial_outputs_and_never_shows_a_half_written_overlay(
    ckpt, grass, tmp_path, monkeypatch, capsys
):
    from video_anomaly.outputs import output_stem

    install_median(monkeypatch)
    folder = write_folder(grass[0], tmp_path / "cam")
    out = tmp_path / "run"
    stem = output_stem(folder)
    seen: dict[str, object] = {}

    def look():  # what a SIGKILL here would leave: nothing under a final name (the overlay is written elsewhere)
        seen["final"] = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        seen["hidden"] = sorted(p.name for p in out.iterdir() if p.name.startswith("."))

    argv = ["score", str(ckpt), str(folder), "--out", str(out), "--overlay", "--device", "cpu"]
    rc = main_with_sigterm_at(argv, 60, monkeypatch, on_signal=look)
    err = capsys.readouterr().err
    assert rc == 143, err
    assert seen["final"] == [] and any(".overlay.mp4" in n for n in seen["hidden"]), seen
    end = json.loads(err.strip().splitlines()[-2])  # the summary, then "interrupted"
    assert end["end"] == "interrupted" and end["error"] == "SIGTERM" and end["inputs_done"] == 0
    assert not out.exists() or list(out.iterdir()) == []  # partial outputs (and the new --out) removed
    assert main(["score", str(ckpt), str(folder), "--out", str(out), "--overlay", "--device", "cpu"]) == 0
    assert (out / f"{stem}.overlay.mp4").stat().st_size > 1000


def test_failed_score_leaves_no_empty_out_folder(ckpt, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    short = write_folder(np.zeros((3, 48, 64), np.uint8), tmp_path / "short")
    out = tmp_path / "new" / "run"
    assert main(["score", str(ckpt), str(short), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "too short" in err
    assert not out.exists()


# ------------------------------------------------------------------ 7. service accounts and interrupts


def test_detector_and_checkpoint_files_follow_the_umask(ckpt, tmp_path):
    from live_fixtures import TemporalMedian, run_config
    from video_anomaly.seed.checkpoint import save_checkpoint

    mask = os.umask(0o027)
    try:
        save_checkpoint(tmp_path / "c", TemporalMedian(), run_config(), {})
    finally:
        os.umask(mask)
    for f in (tmp_path / "c").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o640, f
    for f in [ckpt / "detector.safetensors", ckpt / "detector.json", ckpt / "checkpoint" / "model.safetensors"]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask, f


def test_ctrl_c_while_a_stream_is_being_opened_exits_130_at_once(ckpt, monkeypatch, capsys):
    pytest.importorskip("av")
    install_median(monkeypatch)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))  # a port that never sends
    url = f"udp://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    import time

    t0 = time.monotonic()
    try:
        timer.start()
        rc = main(["watch", str(ckpt), url, "--timeout", "8", "--device", "cpu"])
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert rc == 130, capsys.readouterr().err
    assert time.monotonic() - t0 < 6  # not after --timeout


# ------------------------------------------------------------------ 9. same file name, two cameras


def test_same_file_name_from_two_cameras_gets_two_outputs_and_two_titles(ckpt, grass, tmp_path, monkeypatch, capsys):
    from video_anomaly.outputs import output_stem

    install_median(monkeypatch)
    cam1 = write_folder(grass[0], tmp_path / "cam1" / "video")
    cam2 = write_folder(grass[0][::-1].copy(), tmp_path / "cam2" / "video")
    out = tmp_path / "run"
    # Two calls: the second must neither refuse nor (with --overwrite) replace the first camera's results.
    assert main(["score", str(ckpt), str(cam1), "--out", str(out), "--device", "cpu"]) == 0
    assert main(["score", str(ckpt), str(cam2), "--out", str(out), "--overwrite", "--device", "cpu"]) == 0
    records = sorted(out.glob("*.scores.json"))
    assert len(records) == 2
    assert {json.loads(p.read_text())["path"] for p in records} == {str(cam1), str(cam2)}
    # A name is a function of the path alone: the same whatever else the call scores, however it is spelled.
    monkeypatch.chdir(tmp_path)
    assert output_stem("cam1/video") == output_stem(cam1) == output_stem("./cam1/../cam1/video")
    assert output_stem("cam1/video") != output_stem("cam2/video")
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "<h2>cam1/video</h2>" in html and "<h2>cam2/video</h2>" in html
    ids = [line.split('id="')[1].split('"')[0] for line in html.splitlines() if '<section class="video"' in line]
    assert len(set(ids)) == 2
    capsys.readouterr()


# ------------------------------------------------------------------ 11. report on a damaged scores.json


@pytest.mark.parametrize("content", ['{"video": "v", "n_frames": 1', "[1, 2]", "\xff\xfe"])
def test_report_on_a_truncated_or_edited_scores_json_is_one_line_naming_it(tmp_path, capsys, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / "v.scores.json").write_bytes(content.encode("latin-1"))
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(run / "v.scores.json") in err and "Traceback" not in err


# ------------------------------------------------------------------ 12. a truncated recording


def test_score_keeps_what_a_truncated_recording_decoded_and_names_it_once(ckpt, grass, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    full = _write_mp4(grass[0], tmp_path / "full.mp4")
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 3 // 4])
    out = tmp_path / "run"
    assert main(["score", str(ckpt), str(cut), "--out", str(out), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "truncated" in line]
    assert len(warnings) == 1 and warnings[0].count(str(cut)) == 1, captured.err
    rec = json.loads(next(out.glob("*.scores.json")).read_text())
    assert 60 < rec["n_frames"] < 120 and rec["events"]  # the person (frames ~43-78) is kept


# ------------------------------------------------------------------ 13. --size bounded


def test_size_is_bounded_with_a_clear_error(synthetic_root, capsys):
    from video_anomaly.cli import build_parser
    from video_anomaly.errors import ConfigError
    from video_anomaly.seed.config import DataConfig

    # Parsed only: before the bound, this command fitted until the kernel killed it (24 GB).
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", str(synthetic_root), "--cues", "ae", "--size", "4096", "--out", "r"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--size" in err and "1024" in err and "4096" in err and err.count("\n") == 1
    with pytest.raises(ConfigError, match="1024"):
        DataConfig(size=4096)


# ------------------------------------------------------------------ 5. other frame sizes, resolution changes


def _resized(frames: np.ndarray, h: int, w: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in frames])


def test_watch_resamples_a_slightly_different_frame_size_and_says_so_once(ckpt, grass, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    frames, labels = grass
    folder = write_folder(_resized(frames, 49, 65), tmp_path / "bigger")  # 65x49 against the fitted 64x48
    out = tmp_path / "events.jsonl"
    assert main(["watch", str(ckpt), str(folder), "--out", str(out), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    # Stated once as a line (the run's JSON summary on stderr lists the guard's lines as well).
    stated = [line for line in err.splitlines() if "resampled" in line and not line.startswith("{")]
    assert len(stated) == 1 and "65x49" in stated[0] and "64x48" in stated[0], err
    first, last = np.flatnonzero(labels)[[0, -1]]
    events = [m for m in json_lines(out.read_text()) if m["type"] == "event"]
    assert any(e["start_frame"] <= last and e["end_frame"] >= first for e in events), events


def test_score_keeps_the_guards_size_line_in_its_record(ckpt, grass, tmp_path, monkeypatch, capsys):
    """The guard judges the source's own frame size (before resampling hides it): its line is in the record."""
    import json

    install_median(monkeypatch)
    frames, _ = grass
    folder = write_folder(_resized(frames, 96, 96), tmp_path / "square")  # another aspect than the fitted 64x48
    out = tmp_path / "scores"
    assert main(["score", "--model", str(ckpt), str(folder), "--out", str(out), "--device", "cpu"]) == 0
    (record,) = [json.loads(f.read_text()) for f in out.glob("*.scores.json")]
    assert any("96x96" in m and "fitted on 64x48" in m for m in record["guard"]), record["guard"]
    assert sum("resampled" in line for line in capsys.readouterr().err.splitlines()) == 1


def test_a_stream_that_changes_resolution_mid_way_is_followed(ckpt, grass, monkeypatch):
    from video_anomaly.detector import Detector
    from video_anomaly.live.events import EventTracker
    from video_anomaly.live.runner import run_source
    from video_anomaly.live.sources import LiveSource

    install_median(monkeypatch)
    frames, labels = grass
    # 64x48 until frame 20, then the sender switches to 128x96 (the same scene), as a camera's profile change does.
    mixed = list(frames[:20]) + list(_resized(frames[20:], 96, 128))
    session = Detector.load(ckpt, device="cpu").session("fused")
    warnings: list[str] = []
    tracker = EventTracker(session.threshold, fps=10.0, source="cam")
    stats = run_source(
        session, LiveSource("cam", iter(mixed), 10.0, True), tracker=tracker, warn=warnings.append, drop=False
    )
    assert stats.end == "ended" and stats.frames == len(frames)
    assert sum("resampled" in w for w in warnings) == 1, warnings
    first, last = np.flatnonzero(labels)[[0, -1]]
    assert any(e.start_frame <= last and e.end_frame >= first for e in tracker.events)


# ------------------------------------------------------------------ 14. minor


def test_shipped_detectors_rebuild_hint_is_a_command_that_parses_with_both_cues():
    import shlex

    from video_anomaly import weights
    from video_anomaly.cli import build_parser

    for name, model in weights.MODELS.items():
        train = shlex.split(model["rebuild"].split(" && ")[0])
        args = build_parser().parse_args(train[1:])
        assert args.cues == "ae,motion" and args.size == 128, name


def test_data_info_quick_refuses_an_empty_train_folder(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "UCSDx"
    (root / "Train").mkdir(parents=True)
    (root / "Test" / "Test001").mkdir(parents=True)
    for i in range(12):
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "Test" / "Test001" / f"{i + 1:03d}.tif")
    assert main(["data", "info", str(root), "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(root / "Train") in err


def test_warnings_are_one_plain_line_and_exif_notes_are_dropped(tmp_path, monkeypatch, capsys):
    import warnings

    import video_anomaly.report as report
    from video_anomaly.errors import DataError

    def build_report(run_dir, **kwargs):
        warnings.warn("Corrupt EXIF data.  Expecting to read 12 bytes but only got 2. ", UserWarning, stacklevel=1)
        warnings.warn("calibration rests on only 8 held-out frames", UserWarning, stacklevel=1)
        raise DataError(run_dir, "no *.scores.json here")

    monkeypatch.setattr(report, "build_report", build_report)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "video-anomaly report: warning: calibration rests on only 8 held-out frames",
        f"video-anomaly report: error: {tmp_path}: no *.scores.json here",
    ]


def test_a_one_frame_input_is_one_frame(ckpt, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    one = write_folder(np.zeros((1, 48, 64), np.uint8), tmp_path / "one")
    assert main(["score", str(ckpt), str(one), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "1 frame:" in err and "1 frames" not in err


def test_reconnect_retries_a_stream_that_is_down_at_start_and_counts_frames_once(
    ckpt, grass, tmp_path, monkeypatch, capsys
):
    from live_fixtures import free_udp_port, udp_sender, write_ts

    pytest.importorskip("av")
    install_median(monkeypatch)
    port = free_udp_port()
    # Down at start; then the 120 frames over about 3 s, as a camera would send them (no retry may miss them all).
    data = write_ts(grass[0], tmp_path / "cam.ts").read_bytes()
    sender = udp_sender(data, port, delay=2.0, pace=3.0 / (len(data) / 1316))
    url = f"udp://127.0.0.1:{port}"
    rc = main(["watch", str(ckpt), url, "--timeout", "1", "--reconnect", "4", "--queue", "512", "--device", "cpu"])
    sender.join()
    err = capsys.readouterr().err
    assert rc == 3, err
    assert "retrying" in err and json.loads(err.splitlines()[-1])["frames"] > 30
    counts = {line.split("source lost after ")[1].split(" ")[0] for line in err.splitlines() if "lost after" in line}
    assert len(counts) == 1, err  # the reconnect's warning and the last line count the same frames


def test_garbled_mpegts_frames_are_said_not_dropped_silently(ckpt, grass, tmp_path, monkeypatch, capsys):
    from live_fixtures import write_ts

    pytest.importorskip("av")
    install_median(monkeypatch)
    data = bytearray(write_ts(grass[0], tmp_path / "cam.ts").read_bytes())
    rng = np.random.default_rng(0)
    n = len(data) // 188
    for pkt in range(n // 3, 2 * n // 3, 5):  # flip payload bytes (not the 4-byte TS headers) in the middle third
        for k in rng.integers(8, 188, 6):
            data[pkt * 188 + k] ^= 0xFF
    garbled = tmp_path / "garbled.ts"
    garbled.write_bytes(bytes(data))
    assert main(["watch", str(ckpt), str(garbled), "--out", str(tmp_path / "ev.jsonl"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "warning" in line and str(garbled) in line]
    assert 1 <= len(said) <= 3 and any("decoded with errors" in line for line in said), err


def test_resume_of_a_run_killed_before_its_first_checkpoint_says_what_to_do(synthetic_root, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_log.jsonl").write_text("")  # what a run killed in epoch 1 leaves
    argv = ["train", str(synthetic_root), "--cues", "ae", "--size", "32", "--out", str(run), "--resume", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "without --resume" in err and "first checkpoint" in err


# ------------------------------------------------------------------ 1. event logs and overlays append or refuse


def test_watch_out_appends_to_an_existing_event_log_unless_overwrite(ckpt, grass, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    folder = write_folder(grass[0], tmp_path / "cam")
    log = tmp_path / "events.jsonl"
    argv = ["watch", str(ckpt), str(folder), "--out", str(log), "--device", "cpu"]
    assert main(argv) == 0
    first = log.read_text()
    n = len(json_lines(first))
    assert n >= 1
    assert main(argv) == 0
    assert log.read_text().startswith(first) and len(json_lines(log.read_text())) == 2 * n
    assert main([*argv, "--overwrite"]) == 0
    assert log.read_text() == first
    capsys.readouterr()


def test_watch_overlay_never_replaces_an_existing_file_without_overwrite(ckpt, grass, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    folder = write_folder(grass[0][:30], tmp_path / "cam")
    overlay = tmp_path / "overlay.mp4"
    overlay.write_bytes(b"an earlier recording")
    argv = ["watch", str(ckpt), str(folder), "--overlay", str(overlay), "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(overlay) in err and "--overwrite" in err
    assert overlay.read_bytes() == b"an earlier recording"
    assert main([*argv, "--overwrite"]) == 0
    assert overlay.stat().st_size > 1000 and not list(tmp_path.glob(".overlay*"))
    capsys.readouterr()


_WATCH_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import pytest
from live_fixtures import install_median
install_median(pytest.MonkeyPatch())
from video_anomaly.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_watch_killed_and_restarted_three_times_on_one_event_log_keeps_every_event(ckpt, grass, tmp_path):
    import subprocess
    import sys
    import time

    frames, _ = grass
    folder = write_folder(np.concatenate([frames] * 4), tmp_path / "cam")  # four walks on the grass, 480 frames
    script = tmp_path / "watch.py"
    script.write_text(_WATCH_SCRIPT.format(tests=str(Path(__file__).parent)))
    log = tmp_path / "events.jsonl"
    argv = [sys.executable, str(script), "watch", str(ckpt), str(folder), "--out", str(log), "--device", "cpu"]
    kept = ""
    for run in range(4):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        if run < 3:  # killed (SIGKILL: no handler runs) once this run has written an event of its own
            while time.monotonic() < deadline and proc.poll() is None:
                text = log.read_text() if log.exists() else ""
                if any(m["type"] == "event" for m in json_lines(text[len(kept) :])):
                    break
                time.sleep(0.02)
            proc.kill()
        proc.wait(timeout=120)
        text = log.read_text()
        assert text.startswith(kept), f"run {run} lost earlier events"
        assert len(json_lines(text)) > len(json_lines(kept)), f"run {run} added nothing"
        kept = text
    # The uninterrupted fourth run alone saw all four walks; the killed ones saw at least one each.
    events = [m for m in json_lines(kept) if m["type"] == "event"]
    assert len(events) >= 3 + 4


# ------------------------------------------------------------------ 2. --resume of a motion-only run


def test_resume_of_a_motion_only_run_refuses_other_data(synthetic_root, tmp_path, capsys):
    from video_anomaly.data.synthetic import make_synthetic_scene

    run = tmp_path / "run"
    assert main(["train", str(synthetic_root), "--out", str(run), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    other = make_synthetic_scene(tmp_path / "other", seed=5, height=40, width=56, n_train=2, n_test=1, frames=40)
    capsys.readouterr()
    assert main(["train", str(other), "--out", str(run), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "differ" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    assert main(["train", str(synthetic_root), "--out", str(run), "--resume", "--quiet"]) == 0


# ------------------------------------------------------------------ 3, 8. a detector is one integrity unit


def _copy_detector(ckpt, tmp_path) -> Path:
    import shutil

    copy = tmp_path / "det"
    shutil.copytree(ckpt, copy)
    return copy


def _refused(det: Path, folder: Path, capsys, *words) -> str:
    assert main(["watch", str(det), str(folder), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "video-anomaly calibrate" in err, err
    assert all(w in err for w in words), err
    return err


def test_detector_json_is_covered_and_the_check_cannot_be_switched_off(ckpt, grass, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    folder = write_folder(grass[0][:20], tmp_path / "cam")
    det = _copy_detector(ckpt, tmp_path)
    doc = json.loads((det / "detector.json").read_text())
    # A threshold raised by hand (no alarm would ever fire).
    edited = dict(doc, thresholds={k: v + 40 for k, v in doc["thresholds"].items()})
    (det / "detector.json").write_text(json.dumps(edited, indent=1) + "\n")
    _refused(det, folder, capsys, "detector.json")
    # The list of checksums removed, then the weights damaged: still refused.
    det = _copy_detector(ckpt, tmp_path / "b")
    doc.pop("files", None)
    (det / "detector.json").write_text(json.dumps(doc, indent=1) + "\n")
    blob = det / "detector.safetensors"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    _refused(det, folder, capsys)
    # Every manifest-like file removed: refused too, never taken for a whole detector.
    det = _copy_detector(ckpt, tmp_path / "c")
    for p in det.iterdir():
        if p.is_file() and p.name not in ("detector.json", "detector.safetensors"):
            p.unlink()
    _refused(det, folder, capsys)


def test_a_save_killed_half_way_leaves_the_old_detector(ckpt, grass, tmp_path, monkeypatch, capsys):
    """A save is atomic (issue 30, item 4; it was refused as incomplete before): killed between two renames, the
    folder loads as the detector it was."""
    from video_anomaly.detector import Detector

    install_median(monkeypatch)
    folder = write_folder(grass[0][:20], tmp_path / "cam")
    det_dir = _copy_detector(ckpt, tmp_path)
    det = Detector.load(det_dir, device="cpu")
    old = dict(det.thresholds)
    det.thresholds = {k: v * 2 for k, v in det.thresholds.items()}
    real_replace = os.replace
    calls = {"n": 0}

    def killed_after_first_rename(src, dst):
        real_replace(src, dst)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt  # the process dies between two renames

    monkeypatch.setattr(os, "replace", killed_after_first_rename)
    with pytest.raises(KeyboardInterrupt):
        det.save(det_dir)
    monkeypatch.setattr(os, "replace", real_replace)
    assert Detector.load(det_dir, device="cpu").thresholds == old
    assert main(["watch", str(det_dir), str(folder), "--device", "cpu"]) == 0
    assert not [p.name for p in det_dir.iterdir() if ".tmp" in p.name or p.name == ".detector.new"]
    capsys.readouterr()


# ------------------------------------------------------------------ 4. duplicated frames


def test_duplicated_frames_score_like_the_original(ckpt, grass, monkeypatch):
    from video_anomaly.detector import Detector

    install_median(monkeypatch)
    frames, _ = grass
    det = Detector.load(ckpt, device="cpu")
    for score in ("motion", "fused"):
        s10 = det.session(score)
        ref = [s10.push(f, i) for i, f in enumerate(frames)]
        s30 = det.session(score)
        tripled = [s30.push(f, i) for i, f in enumerate(np.repeat(frames, 3, axis=0))]
        a = np.array([np.nan if r is None else r.score for r in ref])
        b = np.array([np.nan if r is None else r.score for r in tripled[2::3]])  # the last copy of each frame
        ok = np.isfinite(a)
        assert ok.sum() > 100 and np.isfinite(b[ok]).all(), score
        np.testing.assert_allclose(b[ok], a[ok], rtol=1e-5, err_msg=score)


# ------------------------------------------------------------------ 10. one line, exit 2


def test_watch_overlay_to_a_folder_or_an_unwritable_place_is_one_line(ckpt, grass, tmp_path, monkeypatch, capsys):
    install_median(monkeypatch)
    folder = write_folder(grass[0][:30], tmp_path / "cam")
    a_dir = tmp_path / "a_dir"
    a_dir.mkdir()
    assert main(["watch", str(ckpt), str(folder), "--overlay", str(a_dir), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(a_dir) in err and "Traceback" not in err
    # A place that cannot be written (root ignores modes: the file system's refusal is simulated): the events and
    # the summary still come out, then the error line, exit 2.
    import video_anomaly.live.overlay as overlay_mod

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(overlay_mod.OverlayWriter, "_open", refuse)
    target = tmp_path / "ro" / "overlay.mp4"
    rc = main(["watch", str(ckpt), str(folder), "--overlay", str(target), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert any(line.startswith("video-anomaly watch: error: ") and str(target) in line for line in err.splitlines())
    assert any('"type": "summary"' in line for line in err.splitlines()), err


def test_train_checks_out_before_fitting(synthetic_root, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(["train", str(synthetic_root), "--out", str(a_file / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(a_file) in err
    assert "fit:" not in err  # refused before any fitting


def test_calibrate_on_a_read_only_run_is_one_line_before_any_fit(ckpt, tmp_path, monkeypatch, capsys):
    import shutil

    install_median(monkeypatch)
    run = tmp_path / "run"
    shutil.copytree(ckpt, run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    real_open = Path.open

    def read_only(self, mode="r", *args, **kwargs):  # root ignores modes: the file system's refusal is simulated
        if self.parent == run and any(c in mode for c in "wxa"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", read_only)
    assert main(["calibrate", str(run), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(run) in err and "permission denied" in err and "fit:" not in err, err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
