"""`score` outputs and the HTML report, checked in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from live_fixtures import calibrated_checkpoint, grass_videos, install_median, write_folder

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from video_anomaly.cli import main

    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("report")
    ckpt, root = calibrated_checkpoint(tmp, mp)
    install_median(mp)
    frames, _ = grass_videos(1)[0]
    folder = write_folder(frames, tmp / "grass0")
    out = tmp / "run"
    args = ["score", str(ckpt), str(folder), "--dataset", str(root), "--out", str(out), "--overlay", "--device", "cpu"]
    assert main(args) == 0
    assert main(["report", str(out)]) == 0
    yield out
    mp.undo()


def _stem(run_dir, name: str) -> str:
    """The output name of the input whose file name is ``name`` (a hash of its path follows the name)."""
    (path,) = run_dir.glob(f"{name}-*.scores.json")
    return path.name.removesuffix(".scores.json")


def test_score_writes_csv_json_plot_events(run_dir):
    grass0 = _stem(run_dir, "grass0")
    rec = json.loads((run_dir / f"{grass0}.scores.json").read_text())
    assert rec["n_frames"] == 120 and len(rec["scores"]) == 120 and rec["scores"][8] is None
    assert rec["events"] and all(ev["thumbnail"] for ev in rec["events"])
    with open(run_dir / f"{grass0}.scores.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 120 and float(rows[50]["score"]) == pytest.approx(rec["scores"][50], rel=1e-5)
    lines = (run_dir / f"{grass0}.events.jsonl").read_text().splitlines()
    assert [json.loads(x)["start_frame"] for x in lines] == [e["start_frame"] for e in rec["events"]]
    assert (run_dir / f"{grass0}.score.png").stat().st_size > 1000
    assert (run_dir / f"{grass0}.overlay.mp4").stat().st_size > 1000
    labelled = json.loads((run_dir / f"{_stem(run_dir, 'Test001')}.scores.json").read_text())
    assert labelled["labels"] is not None and any(labelled["labels"])


def test_report_is_self_contained(run_dir):
    from PIL import Image

    html = (run_dir / "report.html").read_text()
    assert html.count('class="video"') == 2 and 'class="regularity"' in html and 'class="events"' in html
    assert f'href="{_stem(run_dir, "grass0")}.overlay.mp4"' in html
    assert not re.search(r'src="(?!data:)', html)  # every image embedded
    for uri in re.findall(r'src="data:image/png;base64,([^"]+)"', html)[:3]:
        Image.open(io.BytesIO(base64.b64decode(uri))).verify()


def _chromium(url: str, tmp_path) -> tuple[str, list[str]]:
    flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    flags += "--disable-component-update --disable-sync --enable-logging=stderr --v=0 --dump-dom"
    cmd = [CHROMIUM, *flags.split(), f"--user-data-dir={tmp_path / 'profile'}", url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    return p.stdout, console


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_report_loads_in_headless_chromium_without_console_errors(run_dir, tmp_path):
    # The probe proves that console errors would be seen.
    probe = tmp_path / "probe.html"
    probe.write_text("<html><body><script>console.error('probe'); missing();</script></body></html>")
    _, console = _chromium(probe.as_uri(), tmp_path)
    assert any("probe" in c for c in console), console
    dom, console = _chromium((run_dir / "report.html").as_uri(), tmp_path)
    assert console == []
    assert dom.count('<section class="video"') == 2
    assert len(re.findall(r'<img class="regularity"', dom)) == 2
    assert len(re.findall(r'<tr class="event"', dom)) >= 1 and '<img class="thumb"' in dom
    assert f'<a class="overlay" href="{_stem(run_dir, "grass0")}.overlay.mp4"' in dom
    assert np.all([t in dom for t in ("Test001", "grass0")])


def _record(video: str, events: list[dict], scores=None, labels=None) -> dict:
    return {"video": video, "n_frames": 40, "fps": 10.0, "score_name": "fused", "threshold": 1.0, "target_far": 0.01,
            "events": events, "scores": scores or [0.5] * 40, "labels": labels}  # fmt: skip


def _event(ident: int, start: int, end: int, peak: float, peak_frame: int, thumbnail=None) -> dict:
    return {"type": "event", "id": ident, "start_frame": start, "end_frame": end, "start_time": start / 10,
            "end_time": (end + 1) / 10, "peak_frame": peak_frame, "peak_score": peak, "bbox": [0, 0, 8, 8],
            "thumbnail": thumbnail}  # fmt: skip


def test_report_without_labels_opens_with_events_per_recording_the_longest_and_the_highest(tmp_path):
    from video_anomaly.report import build_report

    (tmp_path / "a.scores.json").write_text(
        json.dumps(_record("a", [_event(1, 2, 5, 3.5, 3), _event(2, 10, 30, 2.0, 12)]))
    )
    (tmp_path / "b.scores.json").write_text(json.dumps(_record("b", [_event(1, 4, 8, 7.25, 6)])))
    (tmp_path / "c.scores.json").write_text(json.dumps(_record("c", [])))
    page = build_report(tmp_path).read_text()
    (summary,) = re.findall(r'<ul class="events-summary">(.*?)</ul>', page)
    assert page.index("events-summary") < page.index('class="video"')
    assert "3 event(s) in 3 recording(s) (a: 2, b: 1, c: 0)" in summary
    assert "longest: event 2 of a, 2.1 s (frames 10-30)" in summary
    assert "highest: event 1 of b, peak region score 7.25 at frame 6" in summary


def test_report_table_gives_the_objects_peak_beside_the_curve_at_that_frame(tmp_path):
    from video_anomaly.report import build_report

    scores = [0.5] * 40
    scores[12] = 1.74  # the frame value the curve shows where the object's region peaked at 3.04
    (tmp_path / "a.scores.json").write_text(json.dumps(_record("a", [_event(4, 10, 20, 3.04, 12)], scores)))
    page = build_report(tmp_path).read_text()
    head = re.search(r'<table class="events"><tr>(.*?)</tr>', page).group(1)
    assert "peak (object)" in head and "curve at peak" in head and 'title="the highest calibrated score' in head
    row = re.search(r'<tr class="event">(.*?)</tr>', page).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[0] == "4" and cells[5] == "3.04" and cells[6] == "1.74"


def test_report_table_names_the_object_of_an_event_where_it_has_one(tmp_path):
    from video_anomaly.report import build_report

    named = _event(1, 2, 5, 3.5, 3) | {"label": "bicycle", "track_id": 7}
    (tmp_path / "a.scores.json").write_text(json.dumps(_record("a", [named, _event(2, 10, 30, 2.0, 12)])))
    page = build_report(tmp_path).read_text()
    head = re.search(r'<table class="events"><tr>(.*?)</tr>', page).group(1)
    assert ">object</th>" in head
    cells = re.findall(r'<td class="object">(.*?)</td>', page)
    assert cells == ["bicycle #7", "-"]  # (events of a detector without the objects cue: no name)


def test_thumbnails_are_named_and_shown_by_the_events_id(run_dir):
    # The table showed each event's id (from 1) while thumbnails were numbered 0, 1, ... (issue 29).
    grass0 = _stem(run_dir, "grass0")
    rec = json.loads((run_dir / f"{grass0}.scores.json").read_text())
    assert rec["events"]
    for ev in rec["events"]:
        assert ev["thumbnail"] == f"{grass0}.event-{ev['id']}.png" and (run_dir / ev["thumbnail"]).is_file()
    html = (run_dir / "report.html").read_text()
    for ev in rec["events"]:
        assert f'<tr class="event"><td>{ev["id"]}</td>' in html and f'alt="event {ev["id"]} at frame' in html
