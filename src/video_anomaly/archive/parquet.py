"""Parquet out: the per-frame parts of a segment, a recording's events merged across cuts (one tracker over its frames),
and readers of both."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..outputs import atomic_output, safe_name
from .markers import _write_json
from .recordings import UNDATED, Recording
from .segments import Segment


def _frame_times(rec: Recording, t_s: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """Wall-clock times (int64 microseconds since the epoch, UTC) and the day (in the start time's own UTC offset:
    the camera's day) of every frame; ``(None, ["undated", ...])`` without a start time."""
    start = rec.start_time()
    if start is None:
        return None, [UNDATED] * len(t_s)
    utc_us = int(round(start.timestamp() * 1e6)) + np.round(np.asarray(t_s, np.float64) * 1e6).astype(np.int64)
    offset_us = int(start.utcoffset().total_seconds() * 1e6)
    day_no = (utc_us + offset_us) // 86_400_000_000
    names = {int(d): (datetime(1970, 1, 1) + timedelta(days=int(d))).date().isoformat() for d in np.unique(day_no)}
    return utc_us, [names[int(d)] for d in day_no]


# Per alarmed frame: the region map (flattened), its grid and the frame's size; None on other frames.
MAP_COLUMNS = ("map", "map_h", "map_w", "frame_h", "frame_w")


def _objects_type():
    """Per alarmed frame of a detector with the objects cue: its tracked objects (what names an event's object,
    ``cues.tracks.best_object``); None on other frames and without the cue."""
    import pyarrow as pa

    return pa.list_(pa.struct([("track_id", pa.int64()), ("label", pa.string()), ("box", pa.list_(pa.int32()))]))


# Each segment's objects cue tracks afresh (from its overlap frames), so its track ids restart: segment k's are
# offset by k * TRACK_STRIDE, unique within a recording (segment 0's are those of `score`; an object crossing a
# cut gets a new id there).
TRACK_STRIDE = 1_000_000


def frame_objects(fs, segment: int) -> list[dict] | None:
    """The ``objects`` cell of a frame's row in segment number ``segment``: its tracked objects when it alarmed
    (``FrameScore.objects``), track ids offset by ``segment * TRACK_STRIDE``; None otherwise."""
    objects = getattr(fs, "objects", None) if fs is not None and fs.alarm else None
    if objects is None:
        return None
    return [{"track_id": segment * TRACK_STRIDE + int(o["track_id"]), "label": o["label"],
             "box": [int(v) for v in o["box"]]} for o in objects]  # fmt: skip


def _frames_schema():
    import pyarrow as pa

    return pa.schema(
        [("recording", pa.string()), ("segment", pa.int32()), ("frame", pa.int64()), ("t_s", pa.float64()),
         ("time", pa.timestamp("us", tz="UTC")), ("score", pa.float64()), ("raw", pa.float64()),
         ("alarm", pa.bool_()), ("x0", pa.int32()), ("y0", pa.int32()), ("x1", pa.int32()), ("y1", pa.int32()),
         ("map", pa.list_(pa.float32())), ("map_h", pa.int32()), ("map_w", pa.int32()), ("frame_h", pa.int32()),
         ("frame_w", pa.int32()), ("objects", _objects_type())]
    )  # fmt: skip


def _write_parts(seg: Segment, cols: dict[str, list], threshold: float, out: Path) -> list[str]:
    """One Parquet part per day the segment's frames fall on; returns their paths relative to ``out``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(cols["frame"])
    if n == 0:
        return []
    times, days = _frame_times(seg.rec, np.asarray(cols["t_s"], np.float64))
    score = pa.array(cols["score"], pa.float64())
    alarm = [v is not None and v > threshold for v in cols["score"]]
    table = pa.table(
        {
            "recording": pa.array([seg.rec.rec_id] * n, pa.string()),
            "segment": pa.array([seg.k] * n, pa.int32()),
            "frame": pa.array(cols["frame"], pa.int64()),
            "t_s": pa.array(cols["t_s"], pa.float64()),
            "time": pa.array(times if times is not None else [None] * n, pa.timestamp("us", tz="UTC")),
            "score": score,
            "raw": pa.array(cols["raw"], pa.float64()),
            "alarm": pa.array(alarm, pa.bool_()),
            **{k: pa.array(cols[k], pa.int32()) for k in ("x0", "y0", "x1", "y1", *MAP_COLUMNS[1:])},
            "map": pa.array(cols["map"], pa.list_(pa.float32())),
            "objects": pa.array(cols["objects"], _objects_type()),
        },
        schema=_frames_schema(),
    )
    parts = []
    day_arr = np.asarray(days)
    for day in dict.fromkeys(days):
        rel = Path("frames") / f"camera={safe_name(seg.rec.camera)}" / f"day={day}" / f"{seg.seg_id}.parquet"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(out / rel) as tmp:
            pq.write_table(table.filter(pa.array(day_arr == day)), tmp)
        parts.append(rel.as_posix())
    return parts


def _event_row(rec: Recording, ev: dict[str, Any]) -> dict[str, Any]:
    start = rec.start_time()
    box = ev["bbox"] or [None] * 4
    row = {"recording": rec.rec_id, **{k: ev[k] for k in ("source", "start_frame", "end_frame", "start_time",
           "end_time", "peak_frame", "peak_score", "threshold")}}  # fmt: skip
    row |= dict(zip(("x0", "y0", "x1", "y1"), box))
    # The kind, and the object's class and track id where the detector has the objects cue (else null).
    row |= {"kind": ev.get("kind"), "label": ev.get("label"), "track_id": ev.get("track_id")}
    row["start"] = None if start is None else start + timedelta(seconds=ev["start_time"])
    row["end"] = None if start is None else start + timedelta(seconds=ev["end_time"])
    row["day"] = UNDATED if start is None else row["start"].date().isoformat()
    return row


def recording_events(table, rec: Recording, *, threshold: float, fps: float, end_after: int, min_length: int,
                     cooldown: int = 0):  # fmt: skip
    """The events of one recording from its per-frame rows (a pyarrow table in any order): one ``EventTracker``
    fed in frame order exactly as ``runner.run_source`` feeds it, closed at the end. ``Event.to_dict`` items."""
    from ..live.events import EventTracker

    t = table.sort_by("frame")
    frame, t_s, score = (t.column(k).to_pylist() for k in ("frame", "t_s", "score"))
    boxes = zip(*(t.column(k).to_pylist() for k in ("x0", "y0", "x1", "y1")))
    maps = zip(*(t.column(k).to_pylist() for k in MAP_COLUMNS))
    objects = t.column("objects").to_pylist()
    tracker = EventTracker(threshold, fps=fps, end_after=end_after, min_length=min_length, source=str(rec.path),
                           cooldown=cooldown)  # fmt: skip
    events: list[dict] = []
    idle = np.zeros((1, 1), np.float32)  # a frame below the threshold: no object, whatever its map
    for i, ts, s, box, (m, mh, mw, fh, fw), objs in zip(frame, t_s, score, boxes, maps, objects):
        if s is None:
            continue
        # As ``run_source`` feeds it: the region map (per-object events) and the frame (its size, for the boxes).
        region_map = idle if m is None else np.asarray(m, np.float32).reshape(mh, mw)
        image = None if m is None else np.broadcast_to(np.uint8(0), (fh, fw))  # only its size is read: no copy
        msgs = tracker.update(i, s, tuple(box), image, t=ts, region_map=region_map, objects=objs)
        events += [msg for msg in msgs if msg["type"] == "event"]
    events += tracker.finish()
    return events


def _finish_recording(rec: Recording, markers: list[dict], out: Path, opts: dict[str, Any]) -> dict[str, Any]:
    """Events of a recording whose segments are all done, written per day, then the recording's marker."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = [out / p for m in markers for p in m["parts"]]
    table = pa.concat_tables([pq.read_table(p) for p in parts]) if parts else _frames_schema().empty_table()
    fps, threshold = markers[0]["fps"], markers[0]["threshold"]
    frames = int(sum(m["frames"] for m in markers))
    scored = int(sum(m["scored"] for m in markers))
    doc = {"recording": rec.rec_id, "path": rec.path, "camera": rec.camera, "start": rec.start, "name": rec.name,
           "frames": frames, "scored": scored, "alarms": int(sum(m["alarms"] for m in markers)), "fps": fps,
           "threshold": threshold, "hours": frames / fps / 3600.0, "events": [], "parts": []}  # fmt: skip
    if scored == 0:
        need = opts.get("clip_length")
        doc["error"] = f"{rec.path}: {frames} frames: too short to score; the score needs at least {need} frames"
        _write_json(out / "_state" / "recordings" / f"{rec.rec_id}.json", doc)
        return doc
    events = recording_events(table, rec, threshold=threshold, fps=fps, end_after=opts["end_after"],
                              min_length=opts["min_length"], cooldown=opts.get("cooldown", 0))  # fmt: skip
    rows = [_event_row(rec, ev) for ev in events]
    for day in dict.fromkeys(r["day"] for r in rows):
        day_rows = [{k: v for k, v in r.items() if k != "day"} for r in rows if r["day"] == day]
        rel = Path("events") / f"camera={safe_name(rec.camera)}" / f"day={day}" / f"{rec.rec_id}.parquet"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(out / rel) as tmp:
            pq.write_table(pa.Table.from_pylist(day_rows, schema=_events_schema()), tmp)
        doc["parts"].append(rel.as_posix())
    doc["events"] = events
    _write_json(out / "_state" / "recordings" / f"{rec.rec_id}.json", doc)
    return doc


def _events_schema():
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [("recording", pa.string()), ("source", pa.string()), ("start_frame", pa.int64()), ("end_frame", pa.int64()),
         ("start_time", pa.float64()), ("end_time", pa.float64()), ("peak_frame", pa.int64()),
         ("peak_score", pa.float64()), ("threshold", pa.float64()), ("x0", pa.int32()), ("y0", pa.int32()),
         ("x1", pa.int32()), ("y1", pa.int32()), ("kind", pa.string()), ("label", pa.string()),
         ("track_id", pa.int64()), ("start", ts), ("end", ts)]
    )  # fmt: skip


def read_frames(out: str | Path, *, camera: str | None = None, recording: str | None = None):
    """The per-frame table of an archive output (pyarrow; ``camera`` and ``day`` from the partitions), optionally
    one camera or recording (its ``rec_id``), sorted by camera, recording, frame."""
    import pyarrow.dataset as ds

    out = Path(out)
    if not (out / "frames").is_dir():
        raise DataError(out, "no frames/ here: not an archive output (run `video-anomaly archive ... --out DIR`)")
    data = ds.dataset(out / "frames", format="parquet", partitioning="hive")
    flt = None
    if camera is not None:
        flt = ds.field("camera") == safe_name(camera)
    if recording is not None:
        f2 = ds.field("recording") == recording
        flt = f2 if flt is None else flt & f2
    return data.to_table(filter=flt).sort_by([("camera", "ascending"), ("recording", "ascending"),
                                               ("frame", "ascending")])  # fmt: skip


def read_events(out: str | Path):
    """The events table of an archive output (pyarrow), sorted by camera, recording and start frame."""
    import pyarrow.dataset as ds

    out = Path(out)
    if not (out / "events").is_dir():
        return _events_schema().empty_table()
    data = ds.dataset(out / "events", format="parquet", partitioning="hive")
    return data.to_table().sort_by([("camera", "ascending"), ("recording", "ascending"),
                                    ("start_frame", "ascending")])  # fmt: skip
