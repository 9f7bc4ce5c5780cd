"""The manifest of segments and the per-camera summary of a run; the records ``report`` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..outputs import atomic_output
from .markers import _read_markers, _write_json


def _write_manifest_and_summary(out, recordings, segments, done, rec_done, result) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    failed = {f["segment"]: f["error"] for f in result.failed}
    old_failed = _read_markers(out / "_state" / "failed")
    rows = []
    for s in segments:
        m = done.get(s.seg_id)
        err = failed.get(s.seg_id) or (old_failed.get(s.seg_id) or {}).get("error")
        rows.append({"segment": s.seg_id, "recording": s.rec.rec_id, "camera": s.rec.camera, "path": s.rec.path,
                     "k": s.k, "start": s.start, "end": s.end,
                     "status": "done" if m else ("failed" if err else "pending"), "error": None if m else err,
                     "frames": m["frames"] if m else None, "wall_s": m.get("wall_s") if m else None,
                     "worker": m.get("worker") if m else None})  # fmt: skip
    for f in result.recordings_failed:
        if not any(r["recording"] == f["recording"] for r in rows):
            rec = next(r for r in recordings if r.rec_id == f["recording"])
            rows.append({"segment": None, "recording": rec.rec_id, "camera": rec.camera, "path": rec.path, "k": None,
                         "start": None, "end": None, "status": "failed", "error": f["error"], "frames": None,
                         "wall_s": None, "worker": None})  # fmt: skip
    i64, f64, txt = pa.int64(), pa.float64(), pa.string()
    schema = pa.schema([("segment", txt), ("recording", txt), ("camera", txt), ("path", txt), ("k", i64),
                        ("start", i64), ("end", i64), ("status", txt), ("error", txt), ("frames", i64),
                        ("wall_s", f64), ("worker", txt)])  # fmt: skip
    with atomic_output(out / "segments.parquet") as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    per_cam: dict[str, dict[str, Any]] = {}
    for rec in recordings:
        c = per_cam.setdefault(rec.camera, {"camera": rec.camera, "recordings": 0, "recordings_done": 0,
                                            "recordings_failed": 0, "segments": 0, "segments_failed": 0, "frames": 0,
                                            "scored": 0, "alarms": 0, "hours": 0.0, "events": 0})  # fmt: skip
        c["recordings"] += 1
        doc = rec_done.get(rec.rec_id)
        failed_here = any(f["recording"] == rec.rec_id for f in result.recordings_failed)
        segs = [r for r in rows if r["recording"] == rec.rec_id and r["segment"] is not None]
        c["segments"] += len(segs)
        c["segments_failed"] += sum(r["status"] == "failed" for r in segs)
        if doc and not doc.get("error"):
            c["recordings_done"] += 1
            for k in ("frames", "scored", "alarms", "hours"):
                c[k] += doc[k]
            c["events"] += len(doc["events"])
        elif failed_here or any(r["status"] == "failed" for r in segs):
            c["recordings_failed"] += 1
    summary = []
    for c in per_cam.values():
        c["alarm_rate"] = c["alarms"] / c["scored"] if c["scored"] else None
        c["events_per_hour"] = c["events"] / c["hours"] if c["hours"] else None
        summary.append(c)
    schema = pa.schema([("camera", txt)] + [(k, i64) for k in ("recordings", "recordings_done", "recordings_failed",
                       "segments", "segments_failed", "frames", "scored", "alarms")] + [("hours", f64), ("events", i64),
                       ("alarm_rate", f64), ("events_per_hour", f64)])  # fmt: skip
    with atomic_output(out / "summary.parquet") as tmp:
        pq.write_table(pa.Table.from_pylist(summary, schema=schema), tmp)
    doc = {"engine": result.engine, "segments": result.segments, "segments_done_now": result.done,
           "segments_skipped": result.skipped, "segments_failed": len(result.failed),
           "recordings_failed": len(result.recordings_failed), "failures": result.failed + result.recordings_failed,
           "cameras": summary}  # fmt: skip
    _write_json(out / "summary.json", doc)
    return summary


def report_records(out: str | Path) -> list[dict[str, Any]]:
    """One record per scored recording, in the shape ``report.build_report`` reads from ``*.scores.json``
    (video, frames, fps, score, threshold, events), from an archive output's markers and settings."""
    out = Path(out)
    settings = json.loads((out / "archive.json").read_text())
    records = []
    for doc in sorted(_read_markers(out / "_state" / "recordings").values(), key=lambda d: (d["camera"], d["path"])):
        if doc.get("error"):
            continue
        records.append({"video": f"{doc['camera']}/{doc['name']}", "n_frames": doc["frames"], "fps": doc["fps"],
                        "score_name": settings["score"], "threshold": doc["threshold"],
                        "target_far": settings.get("target_far", float("nan")), "events": doc["events"]})  # fmt: skip
    return records
