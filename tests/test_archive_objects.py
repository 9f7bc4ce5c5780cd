"""``archive`` with the objects cue: events and their Parquet rows name the object (class and track id) as ``score``
does; the report of an archive run shows it; folders of an older format are refused.

A detector with the objects cue alone over ``live_fixtures.FakeObjectDetector`` (no ONNX model), fitted on the
synthetic scene's normal videos; one recording: a person walking on the grass (48x64, 60 frames), cut into
segments of 16 frames. The pool's spawned processes would not see the fake, so the segments run in this process
(``SegmentWorker``, as each pool process does).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from video_anomaly import archive  # noqa: E402
from video_anomaly.archive import backends  # noqa: E402
from video_anomaly.archive.parquet import TRACK_STRIDE  # noqa: E402
from video_anomaly.cli import main  # noqa: E402

N = 60
SEG = 16


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """``(detector folder, recording folder, score outputs folder)``; every run here sees the fake detector."""
    import cv2

    from live_fixtures import grass_videos, objects_detector

    det = objects_detector(tmp_path, monkeypatch)

    def in_process(self, segments):
        worker = backends.SegmentWorker(self.config)
        yield from (worker.run(seg) for seg in segments)

    monkeypatch.setattr(backends.LocalBackend, "run", in_process)
    rec = tmp_path / "cams" / "camA" / "walk"
    rec.mkdir(parents=True)
    for i, frame in enumerate(grass_videos(1)[0][0][:N]):
        cv2.imwrite(str(rec / f"{i:03d}.png"), frame)
    ref = tmp_path / "score"
    assert main(["score", "--model", str(det), str(rec), "--out", str(ref), "--threshold", "0"]) == 0
    return det, rec, ref


def test_archive_events_carry_the_objects_label_track_id_and_kind(setup, tmp_path):
    det, rec, ref = setup
    out = tmp_path / "out"
    base = ["archive", "--model", str(det), str(rec), "--out", str(out), "--engine", "local", "--workers", "1",
            "--quiet", "--threshold", "0", "--segment-frames", str(SEG)]  # fmt: skip
    assert main(base) == 0
    want = [json.loads(line) for line in next(ref.glob("*.events.jsonl")).read_text().splitlines()]
    got = archive.read_events(out).to_pylist()
    assert any("label" in w for w in want), "the score run named no object: the test would show nothing"
    assert len(got) == len(want) > 0
    for w, g in zip(want, got):
        assert (g["kind"], g["label"]) == (w["kind"], w.get("label"))
        # Track ids restart with each segment's tracker, offset by its number: segment 0's are those of `score`.
        k = g["track_id"] // TRACK_STRIDE
        assert k == g["peak_frame"] // SEG and (k > 0 or g["track_id"] == w["track_id"])
    # The alarmed frames keep their tracked objects; the others none.
    frames = archive.read_frames(out).to_pylist()
    assert all((r["objects"] is None) == (not r["alarm"]) for r in frames if r["score"] is not None)
    # The report of the archive run names them as that of the score run.
    assert main(["report", str(out)]) == 0
    named = {f"{g['label']} #{g['track_id']}" for g in got if g["label"]}
    cells = set(_object_cells((out / "report.html").read_text()))
    assert named <= cells
    # A folder of the former format (no objects in its rows) is refused, with the setting that differs.
    settings = json.loads((out / "archive.json").read_text())
    (out / "archive.json").write_text(json.dumps(settings | {"version": 2}))
    assert main(base) == 2


def _object_cells(page: str) -> list[str]:
    import re

    return re.findall(r'<td class="object">(.*?)</td>', page)


def test_events_of_a_detector_without_the_objects_cue_have_null_names():
    import pyarrow as pa

    from video_anomaly.archive.parquet import _event_row, _events_schema
    from video_anomaly.archive.recordings import Recording

    ev = {"source": "x", "start_frame": 0, "end_frame": 3, "start_time": 0.0, "end_time": 0.4, "peak_frame": 1,
          "peak_score": 2.0, "threshold": 1.0, "bbox": [0, 0, 8, 8], "kind": "anomaly"}  # fmt: skip
    rec = Recording(path="x", camera="c")
    (row,) = pa.Table.from_pylist([_event_row(rec, ev)], schema=_events_schema()).to_pylist()
    assert (row["kind"], row["label"], row["track_id"]) == ("anomaly", None, None)
    assert np.isfinite(row["peak_score"])
