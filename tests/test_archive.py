"""``archive``: segments scored by workers equal ``score`` on whole recordings; resume after a kill; faults.

Three tiny recordings of the synthetic scene (48x64, 40 frames: two frame folders of camera A, one H.264 file of
camera B that starts two seconds before midnight), a motion detector fitted on the scene's normal videos, and
segments of 8 frames, so that every recording is cut four times. The threshold is set (for both ``score`` and
``archive``) at the median score of the ``score`` run, so that events are many and long and one crosses a cut.
The Ray tests share one local Ray with 2 CPUs (its start-up is paid once per module).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")

from video_anomaly import api, archive  # noqa: E402
from video_anomaly.cli import main  # noqa: E402

SEG = 8
EVENT_KEYS = ("source", "start_frame", "end_frame", "start_time", "end_time", "peak_frame", "peak_score", "threshold")


@pytest.fixture(scope="module")
def setup(synthetic_root, tmp_path_factory):
    """``(detector, manifest, recordings {name: path}, score outputs folder, threshold)``."""
    from live_fixtures import write_ts
    from video_anomaly.data.frames import list_images, read_image

    tmp = tmp_path_factory.mktemp("archive")
    det = tmp / "det"
    # The motion cue alone: its history is bounded (see docs/archive.md for the appearance cue)
    assert (
        main(["train", str(synthetic_root), "--out", str(det), "--cues", "motion", "--motion-cell", "8", "--quiet"])
        == 0
    )
    test = next(p for p in [synthetic_root / "Test", *synthetic_root.glob("*/Test")] if p.is_dir())
    cams = tmp / "cams"
    recs = {}
    for name in ("Test001", "Test002"):
        recs[name] = shutil.copytree(test / name, cams / "camA" / name)
    frames = np.stack([read_image(p) for p in list_images(test / "Test001")])[::-1].copy()  # other motion
    (cams / "camB").mkdir()
    recs["clip.ts"] = write_ts(frames, cams / "camB" / "clip.ts")
    manifest = tmp / "manifest.csv"
    manifest.write_text(
        "path,camera,start\n"
        f"{recs['Test001']},camA,2026-11-03T08:00:00+01:00\n"
        f"{recs['Test002']},camA,2026-11-03T09:00:00+01:00\n"
        f"{recs['clip.ts']},camB,2026-11-03T23:59:58+01:00\n"
    )
    first = tmp / "score0"
    assert main(["score", "--model", str(det), *map(str, recs.values()), "--out", str(first)]) == 0
    scores = [v for p in first.glob("*.scores.json") for v in json.loads(p.read_text())["scores"] if v is not None]
    threshold = float(np.median(scores))
    ref = tmp / "score"
    cmd = ["score", "--model", str(det), *map(str, recs.values()), "--out", str(ref), "--threshold", repr(threshold)]
    assert main(cmd) == 0
    return det, manifest, recs, ref, threshold


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _run(setup, out, **kw):
    det, manifest, _, _, threshold = setup
    kw.setdefault("workers", 2)
    return api.score_archive(det, [manifest], out, segment_frames=SEG, threshold=threshold, progress=False, **kw)


def _tables(out):
    frames = archive.read_frames(out).drop_columns(["time"]).to_pylist()
    return frames, archive.read_events(out).to_pylist()


def _check_equivalent(setup, out):
    """Per-frame scores to 1e-6 and identical events, recording by recording, against ``score``'s files."""
    _, _, recs, ref, _ = setup
    frames = archive.read_frames(out)
    events = archive.read_events(out)
    crossing = 0
    for name in recs:
        mine = [r for r in frames.to_pylist() if r["recording"].rsplit("-", 1)[0] == name]
        want = json.loads(next(ref.glob(f"{name}-*.scores.json")).read_text())  # name + 8 hex of the path
        assert [r["frame"] for r in mine] == list(range(want["n_frames"]))
        a = np.array([np.nan if r["score"] is None else r["score"] for r in mine])
        b = np.array([np.nan if v is None else v for v in want["scores"]])
        assert np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-6)
        want_ev = [json.loads(line) for line in next(ref.glob(f"{name}-*.events.jsonl")).read_text().splitlines()]
        got_ev = [r for r in events.to_pylist() if r["recording"].rsplit("-", 1)[0] == name]
        assert len(want_ev) == len(got_ev) > 0
        for w, g in zip(want_ev, got_ev):
            assert {k: g[k] for k in EVENT_KEYS} == {k: w[k] for k in EVENT_KEYS}
            assert [g["x0"], g["y0"], g["x1"], g["y1"]] == w["bbox"]
            cuts = range(SEG, want["n_frames"], SEG)
            crossing += any(w["start_frame"] < c <= w["end_frame"] for c in cuts)
    assert crossing > 0, "no event crosses a segment cut: the test would not show the merge"


def test_archive_on_ray_equals_score(setup, local_ray, tmp_path):
    out = tmp_path / "out"
    res = _run(setup, out, engine="ray")
    assert res.ok and res.engine == "ray" and res.segments == 15 and res.done == 15
    _check_equivalent(setup, out)
    # Partitions by camera and day: camera B's recording crosses midnight (in its own UTC offset).
    days = {p.parent.name for p in (out / "frames").glob("camera=camB/*/*.parquet")}
    assert days == {"day=2026-11-03", "day=2026-11-04"}
    summary = {c["camera"]: c for c in json.loads((out / "summary.json").read_text())["cameras"]}
    assert summary["camA"]["frames"] == 80 and summary["camA"]["recordings_done"] == 2
    assert summary["camB"]["hours"] == pytest.approx(40 / 10 / 3600)
    assert 0 < summary["camA"]["alarm_rate"] < 1


def test_local_pool_gives_the_same_outputs(setup, local_ray, tmp_path):
    ray_out, pool_out = tmp_path / "ray", tmp_path / "pool"
    _run(setup, ray_out, engine="ray")
    res = _run(setup, pool_out, engine="local")
    assert res.ok and res.engine == "local"
    assert _tables(pool_out) == _tables(ray_out)
    _check_equivalent(setup, pool_out)


def test_resume_after_the_driver_is_killed(setup, local_ray, tmp_path):
    """A driver killed (SIGKILL) after 3 segments; the rerun redoes only the others; the output equals a whole run."""
    det, manifest, _, _, threshold = setup
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal
        from video_anomaly.api import score_archive
        seen = []
        def on_segment(marker):
            seen.append(marker)
            if len(seen) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        score_archive({str(det)!r}, [{str(manifest)!r}], {str(out)!r}, segment_frames={SEG}, threshold={threshold!r},
                      engine="ray", workers=2, address={local_ray.get_runtime_context().gcs_address!r},
                      progress=False, on_segment=on_segment)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # A kill mid-write can leave a marker's hidden temporary file (``.NAME.tmp.json``): not a marker.
    segs = (out / "_state" / "segments").glob("[!.]*.json")
    markers = {p.name: p.stat().st_mtime_ns for p in segs}
    assert 3 <= len(markers) < 15
    res = _run(setup, out, engine="ray")
    assert res.ok and res.skipped == len(markers) and res.done == 15 - len(markers)
    for name, mtime in markers.items():  # segments done before the kill were not redone
        assert (out / "_state" / "segments" / name).stat().st_mtime_ns == mtime
    whole = tmp_path / "whole"
    _run(setup, whole, engine="ray")
    assert _tables(out) == _tables(whole)
    assert not list(out.rglob(".*.tmp*"))


def test_a_marker_write_cut_by_a_kill_is_not_a_marker_and_is_removed(setup, tmp_path):
    """A driver killed while a marker was being written leaves its hidden temporary file: the rerun neither counts
    it as a segment done nor leaves it behind."""
    out = tmp_path / "out"
    first = _run(setup, out, engine="local", workers=1)
    segs = out / "_state" / "segments"
    real = sorted(segs.glob("*.json"))
    stale = segs / f".{real[0].name}.0badcafe.tmp.json"
    stale.write_text(real[0].read_text())  # a whole JSON document under a temporary name
    real[0].unlink()  # that segment's write never finished
    res = _run(setup, out, engine="local", workers=1)
    assert res.ok and res.skipped == first.segments - 1 and res.done == 1
    assert not list(out.rglob(".*.tmp*"))


def test_corrupt_recordings_are_reported_and_skipped(setup, tmp_path, capsys):
    """A file that is no video and a frame folder with a damaged frame: both named, the rest scored, exit 1, and
    no segment of theirs marked done; the good recordings' outputs are unchanged."""
    det, _, recs, _, threshold = setup
    cams = tmp_path / "cams"
    shutil.copytree(recs["Test001"], cams / "camA" / "Test001")
    (cams / "camA" / "broken.mp4").write_bytes(os.urandom(4096))
    damaged = shutil.copytree(recs["Test002"], cams / "camA" / "Test002")
    bad = sorted(damaged.iterdir())[20]
    bad.write_bytes(b"not an image")
    out = tmp_path / "out"
    cmd = ["archive", "--model", str(det), str(cams), "--out", str(out), "--segment-frames", str(SEG),
           "--threshold", repr(threshold), "--engine", "local", "--workers", "2", "--quiet"]  # fmt: skip
    assert main(cmd) == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err and bad.name in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recordings_failed"] == 1 and summary["segments_failed"] >= 1
    done = [json.loads(p.read_text()) for p in (out / "_state" / "segments").glob("[!.]*.json")]
    damaged_id = archive.Recording(str(damaged), "camA").rec_id
    ks = sorted(m["k"] for m in done if m["recording"] == damaged_id)
    assert 2 not in ks  # frames 16..23 hold the damaged frame 20
    assert not [p for p in (out / "events").rglob("*.parquet") if p.name.startswith("Test002")]
    good = archive.Recording(str(cams / "camA" / "Test001"), "camA").rec_id
    frames = archive.read_frames(out, recording=good)
    assert frames.num_rows == 40
    # Fixed and rerun: only what failed is redone, and the run is complete.
    shutil.copy(recs["Test002"] / bad.name, bad)
    (cams / "camA" / "broken.mp4").unlink()
    from video_anomaly import Detector

    res = Detector.load(det).score_archive([cams / "camA" / "Test001", damaged], out, segment_frames=SEG,
                                           threshold=threshold, engine="local", workers=1, progress=False)  # fmt: skip
    assert res.ok and res.skipped == len(done)


def test_rerun_with_other_settings_is_refused_and_report_reads_the_output(setup, tmp_path, capsys):
    det, _, recs, _, threshold = setup
    out = tmp_path / "out"
    base = ["archive", "--model", str(det), str(recs["Test001"]), "--out", str(out), "--engine", "local",
            "--workers", "1", "--quiet", "--threshold", repr(threshold)]  # fmt: skip
    assert main([*base, "--segment-frames", "16"]) == 0
    assert main([*base, "--segment-frames", "8"]) == 2
    assert "segment_frames" in capsys.readouterr().err
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "camA/Test001" in page and page.count('class="event"') >= 1


def test_a_killed_ray_worker_is_restarted_and_its_segment_retried(setup, local_ray, tmp_path):
    killed = []

    def on_segment(marker):
        if not killed:  # the worker that just finished a segment has its next one queued
            killed.append(int(marker["worker"].rsplit(":", 1)[1]))
            os.kill(killed[0], signal.SIGKILL)

    out, whole = tmp_path / "out", tmp_path / "whole"
    res = _run(setup, out, engine="ray", on_segment=on_segment)
    assert killed and res.ok and res.done == 15
    _run(setup, whole, engine="ray")
    assert _tables(out) == _tables(whole)
