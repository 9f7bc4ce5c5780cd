"""Archive scoring: months of footage from many cameras, cut into segments, scored by workers, resumable.

The unit of work is a **segment of one recording**: frames ``[start, end)`` decoded in order inside one worker
and scored by the same code as ``score`` and ``watch`` (``live.watch``: ``Detector.session`` driven by
``runner.run_source``).
A causal detector needs each frame's past, so a segment starts ``overlap`` frames early (``history_frames``: the
warm-up and pooling window of the score's cues, plus what the score's smoothing still remembers); those frames
are scored but not written, and every written frame gets exactly the score it has in one pass over the whole
recording. Events need the whole recording in order: once every segment of a recording is done, the driver runs
one ``events.EventTracker`` over its per-frame results (the same updates ``run_source`` makes), so an event that
crosses a cut is one event, identical to ``score``'s.

Workers are Ray actors (``engine="ray"``: a local Ray by default, a cluster with ``address``) or, without Ray,
processes of a local pool (``engine="local"``); both run ``SegmentWorker``, which loads the detector once.

Output folder (``OUT``), Parquet through pyarrow, hive-partitioned by camera and day::

    archive.json                                     the settings of the run (a rerun must match them)
    frames/camera=CAM/day=YYYY-MM-DD/REC.sNNNNNN.parquet   per frame: recording, segment, frame, t_s, time,
                                                     score, raw, alarm, x0, y0, x1, y1 (score null in warm-up)
    events/camera=CAM/day=YYYY-MM-DD/REC.parquet     per event (day of its start), merged across cuts
    segments.parquet                                 the manifest: every segment, its status and error
    summary.json, summary.parquet                    per camera: frames, hours, events, alarm rate, failures
    _state/segments/SEG.json, _state/failed/SEG.json, _state/recordings/REC.json   done and failed markers

Every file is written to a temporary name and renamed into place; a segment is done when its marker exists, and
the marker is written after its Parquet parts, so a run killed at any moment leaves nothing half-written marked
done. A rerun with the same arguments skips done segments and recordings and redoes the rest (failed ones too).
Recordings without a start time (no manifest) go to ``day=undated`` with a null ``time``.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DataError, VideoAnomalyError
from .outputs import atomic_output, safe_name

FORMAT = "video-anomaly-archive"
VERSION = 2  # 2: frames carry the region maps of alarmed frames (events per object); 1 is refused
UNDATED = "undated"
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")
# The EMA's remaining weight on frames before a segment's overlap: below this, a score differs from the one-pass
# score by less than 1e-9 of the scores' range.
EMA_FORGET = 1e-9
ENGINES = ("auto", "ray", "local")


# ------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Recording:
    """One recording to score: ``path`` (video file or frame folder), ``camera`` id, ``start`` (its first frame's
    wall-clock time, or None), ``rec_id`` (stable across runs: name plus a hash of path, camera and start)."""

    path: str
    camera: str
    start: str | None = None

    @property
    def name(self) -> str:
        """The name ``score`` gives the recording (its events' ``source``)."""
        return Path(self.path).name or self.path

    @property
    def rec_id(self) -> str:
        key = json.dumps([str(Path(self.path).resolve()), self.camera, self.start])
        return f"{safe_name(self.name)}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"

    def start_time(self) -> datetime | None:
        if self.start is None:
            return None
        t = datetime.fromisoformat(self.start)
        return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _parse_start(value, where: Path) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise DataError(where, f"start time {value!r} is not ISO 8601 (e.g. 2026-11-03T08:00:00+01:00)") from None
    return str(value).strip()


def read_manifest(path: str | Path) -> list[Recording]:
    """Recordings listed in a CSV (header ``path,camera,start``) or JSON-lines file (``{"path", "camera",
    "start"}``); ``camera`` defaults to the recording's folder name, ``start`` (ISO 8601) may be empty. Relative
    paths are relative to the manifest's folder."""
    path = Path(path)
    rows: list[dict] = []
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or "path" not in reader.fieldnames:
                    raise DataError(path, "a manifest CSV needs a header with a 'path' column (path,camera,start)")
                rows = list(reader)
        else:
            for k, line in enumerate(path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(path, f"line {k}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict) or not isinstance(row.get("path"), str):
                    raise DataError(path, f'line {k}: want an object with a "path" string')
                rows.append(row)
    except UnicodeDecodeError:
        raise DataError(path, "not a text manifest (CSV or JSON lines)") from None
    out = []
    for row in rows:
        p = Path(str(row["path"]).strip())
        p = p if p.is_absolute() else path.parent / p
        camera = str(row.get("camera") or "").strip() or p.parent.name or "camera"
        out.append(Recording(str(p), camera, _parse_start(row.get("start"), path)))
    if not out:
        raise DataError(path, "the manifest lists no recordings")
    return out


def _walk(path: Path) -> Iterator[Path]:
    """Video files and frame folders under ``path`` (itself when it is one), in natural order."""
    from .data.custom import _is_mask_folder
    from .data.frames import is_hidden, is_video_file, list_images, natural_key

    if path.is_file():
        yield path
        return
    if list_images(path, required=False):
        yield path
        return
    for p in sorted(path.iterdir(), key=natural_key):
        if is_hidden(p) or (p.is_dir() and _is_mask_folder(p)):
            continue
        if p.is_dir():
            yield from _walk(p)
        elif is_video_file(p):
            yield p


def collect_recordings(inputs: Iterable[str | Path], camera: str | None = None) -> list[Recording]:
    """Recordings from ``inputs``: manifests (``.csv``, ``.jsonl``), video files, frame folders, folders of those
    (searched recursively) and globs. Without a manifest the camera is the recording's parent folder name
    (``camera`` overrides it for every input) and the start time is unknown."""
    recs: list[Recording] = []
    for item in inputs:
        item = str(item)
        p = Path(item)
        if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES:
            recs += [Recording(r.path, camera or r.camera, r.start) for r in read_manifest(p)]
            continue
        if p.exists():
            paths = [p]
        elif glob.has_magic(item):
            paths = [Path(g) for g in sorted(glob.glob(item, recursive=True))]
            if not paths:
                raise DataError(item, "the pattern matches nothing")
        else:
            raise DataError(p, "not found")
        for q in paths:
            found = list(_walk(q))
            if not found and q.is_dir():
                raise DataError(q, "no video files or frame folders here")
            recs += [Recording(str(r), camera or r.parent.name or "camera") for r in found]
    if not recs:
        raise DataError(None, "nothing to score: give recordings, folders, globs or a manifest")
    seen: dict[str, Recording] = {}
    for r in recs:
        seen.setdefault(r.rec_id, r)  # the same recording named twice is scored once
    return list(seen.values())


# ------------------------------------------------------------------------------------------ planning


@dataclass(frozen=True)
class Segment:
    """Frames ``[start, end)`` of one recording (``end`` None: to the end of the recording); the worker decodes
    from ``start - overlap`` so that the frames it writes have their full history."""

    rec: Recording
    k: int
    start: int
    end: int | None

    @property
    def seg_id(self) -> str:
        return f"{self.rec.rec_id}.s{self.k:06d}"


def history_frames(detector, score: str | None = None) -> int:
    """Frames of the past that the score of a frame depends on, for a segment's overlap.

    Per cue of the score: its warm-up (frames before its first map: the autoencoder's clip length - 1, the motion
    cue's first frame without flow) plus its pooling window (``pool``: the motion cue averages its features over
    the last 5 frames); the largest over the cues. With EMA smoothing (``ema_alpha < 1``) the score remembers every
    past frame with a weight that decays by ``1 - alpha`` per frame: enough frames are added for that weight to
    fall under ``EMA_FORGET``.
    """
    session = detector.session(score)
    need = session.clip_length - 1
    for c in session.cues:
        cue = detector.cues[c]
        need = max(need, int(cue.warmup) + int(getattr(cue, "pool", 0) or 0))
    alpha = float(getattr(detector.config, "ema_alpha", 1.0))
    if 0.0 < alpha < 1.0:
        need += math.ceil(math.log(EMA_FORGET) / math.log(1.0 - alpha))
    return need


def unbounded_cues(detector, score: str | None = None) -> list[str]:
    """The score's cues whose memory no overlap covers: a running background (the appearance cue's ``bg_rate``)
    remembers every frame since the stream began, so a segment restarts it from the training background and its
    first frames can score differently from ``score``'s one pass until it has adapted."""
    session = detector.session(score)
    return [c for c in session.cues if getattr(getattr(detector.cues[c], "config", None), "bg_rate", None)]


def probe_length(rec: Recording, fps: float | None = None) -> int | None:
    """Frames in ``rec``: exact for a frame folder; for a video file the container's count (or duration x rate),
    None when it says neither. Raises ``DataError`` naming the file when it cannot be opened."""
    from .data.frames import ImageFolderSource, open_source

    source = open_source(rec.path)
    if isinstance(source, ImageFolderSource):
        return len(source)
    container = source._open()
    try:
        stream = container.streams.video[0]
        if stream.frames and stream.frames > 0:
            return int(stream.frames)
        rate = float(fps or stream.average_rate or stream.guessed_rate or 0)
        seconds = None
        if container.duration:
            seconds = container.duration / 1e6  # AV_TIME_BASE
        elif stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        return round(seconds * rate) if seconds and rate else None
    finally:
        container.close()


def plan_segments(rec: Recording, n_frames: int | None, segment_frames: int) -> list[Segment]:
    """Cut ``rec`` into segments of ``segment_frames``; the last one runs to the recording's real end (a video's
    announced length can be off: frames past it are still scored, segments past the real end are empty)."""
    n = max(1, -(-int(n_frames or 1) // segment_frames))
    return [Segment(rec, k, k * segment_frames, None if k == n - 1 else (k + 1) * segment_frames) for k in range(n)]


# ------------------------------------------------------------------------------------------ the worker


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs: the detector (a folder or shipped name), the score, the threshold override, the
    overlap (frames), the frame rate override, the output folder, CPU threads per worker, and the detector's class
    (``detector_class.load(model)``: the archive sits below the ``Detector``, whose ``score_archive`` calls it, so
    it is handed the class instead of importing it)."""

    model: str
    score: str | None
    threshold: float | None
    overlap: int
    fps: float | None
    out: str
    threads: int = 1
    detector_class: Any = None


def _segment_source(seg: Segment, first: int, fps: float | None):
    """A ``LiveSource`` of the frames ``first .. seg.end - 1`` of the recording, with the frame numbers and times
    that ``open_live_source`` gives them when the whole recording is read (a frame folder is read from file
    ``first``; a video file is decoded from its start, frames before ``first`` are skipped unscored)."""
    from .data.frames import list_images
    from .live.sources import LiveSource, TimedFrame, open_live_source

    path = Path(seg.rec.path)
    if path.is_dir():
        from .data.frames import ImageFolderSource

        rate = float(fps or 10.0)
        files = list_images(path)
        if first >= len(files):
            return LiveSource(str(path), iter(()), rate, False, timed=True)
        part = ImageFolderSource(path, files[first : seg.end])

        def folder_frames():
            for i, frame in enumerate(part.iter_frames(None), start=first):
                yield TimedFrame(i, i / rate, frame)

        return LiveSource(str(path), folder_frames(), rate, False, timed=True)
    whole = open_live_source(str(path), fps=fps)
    frames = whole.timed_frames()

    def video_frames():
        try:
            for item in frames:
                if seg.end is not None and item.index >= seg.end:
                    break
                if item.index >= first:
                    yield item
        finally:
            frames.close()

    return LiveSource(whole.name, video_frames(), whole.fps, False, whole.close, timed=True)


class SegmentWorker:
    """Loads the detector once; ``run(segment)`` scores one segment and writes its parts and marker.

    The Ray backend makes this class an actor, the local backend keeps one per pool process.
    """

    def __init__(self, config: WorkerConfig):
        from .device import apply_thread_policy

        apply_thread_policy(config.threads)  # before the API's own calls, which keep the count chosen first
        self.config = config
        self.detector = config.detector_class.load(config.model)
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, seg: Segment) -> dict[str, Any]:
        """The segment's marker (also written to ``_state``): ``status`` ``done`` or ``failed`` with ``error``."""
        t0, cpu0 = time.monotonic(), time.process_time()
        try:
            marker = self._score(seg)
        except Exception as exc:  # noqa: BLE001 - recorded with its error; the run goes on with other segments
            error = str(exc) if isinstance(exc, VideoAnomalyError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, DataError) and exc.path is None and seg.rec.path not in error:
                error = f"{seg.rec.path}: {error}"
            marker = _marker(seg, "failed", error=error, worker=self.where)
        # CPU seconds of this worker process (decoding thread included): with wall_s, the cores it really had.
        marker["wall_s"], marker["cpu_s"] = round(time.monotonic() - t0, 4), round(time.process_time() - cpu0, 4)
        state = Path(self.config.out) / "_state"
        _write_json(state / ("segments" if marker["status"] == "done" else "failed") / f"{seg.seg_id}.json", marker)
        return marker

    def _score(self, seg: Segment) -> dict[str, Any]:
        from .live.watch import watch

        cfg = self.config
        first = max(0, seg.start - cfg.overlap)
        source = _segment_source(seg, first, cfg.fps)
        cols: dict[str, list] = {k: [] for k in ("frame", "t_s", "score", "raw", "x0", "y0", "x1", "y1", *MAP_COLUMNS)}

        def on_frame(index: int, t: float, fs) -> None:
            if index < seg.start:  # the overlap: scored for its history, written by the segment before
                return
            cols["frame"].append(index)
            cols["t_s"].append(t)
            cols["score"].append(None if fs is None else fs.score)
            cols["raw"].append(None if fs is None else fs.raw)
            for key, v in zip(("x0", "y0", "x1", "y1"), (None,) * 4 if fs is None else fs.bbox):
                cols[key].append(v)
            # Events per object need the region map of every alarmed frame (and the frame's size for the boxes);
            # frames below the threshold form no object, so only alarmed frames keep theirs.
            keep = fs is not None and fs.map is not None and fs.alarm
            values = (fs.map.ravel().tolist(), *fs.map.shape, *fs.frame.shape[:2]) if keep else (None,) * 5
            for key, v in zip(MAP_COLUMNS, values):
                cols[key].append(v)

        # The run of `watch` and `score`; its tracker's events are not the segment's to keep (they need the whole
        # recording, see the module docstring).
        session, source, _, _ = watch(self.detector, source, score=cfg.score, threshold=cfg.threshold,
                                      on_frame=on_frame, drop=False)  # fmt: skip
        parts = _write_parts(seg, cols, session.threshold, Path(cfg.out))
        scored = sum(v is not None for v in cols["score"])
        return _marker(
            seg,
            "done",
            worker=self.where,
            frames=len(cols["frame"]),
            scored=scored,
            alarms=int(sum(v is not None and v > session.threshold for v in cols["score"])),
            fps=source.fps,
            threshold=session.threshold,
            parts=parts,
            last_frame=cols["frame"][-1] if cols["frame"] else None,
        )


def _marker(seg: Segment, status: str, **kw) -> dict[str, Any]:
    return {"segment": seg.seg_id, "recording": seg.rec.rec_id, "k": seg.k, "start": seg.start, "end": seg.end,
            "status": status, **kw}  # fmt: skip


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc) + "\n")


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


def _frames_schema():
    import pyarrow as pa

    return pa.schema(
        [("recording", pa.string()), ("segment", pa.int32()), ("frame", pa.int64()), ("t_s", pa.float64()),
         ("time", pa.timestamp("us", tz="UTC")), ("score", pa.float64()), ("raw", pa.float64()),
         ("alarm", pa.bool_()), ("x0", pa.int32()), ("y0", pa.int32()), ("x1", pa.int32()), ("y1", pa.int32()),
         ("map", pa.list_(pa.float32())), ("map_h", pa.int32()), ("map_w", pa.int32()), ("frame_h", pa.int32()),
         ("frame_w", pa.int32())]
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


# ------------------------------------------------------------------------------------------ backends

_POOL_WORKER: SegmentWorker | None = None


def _pool_init(config: WorkerConfig) -> None:
    global _POOL_WORKER
    _POOL_WORKER = SegmentWorker(config)


def _pool_run(seg: Segment) -> dict[str, Any]:
    assert _POOL_WORKER is not None
    return _POOL_WORKER.run(seg)


class LocalBackend:
    """``workers`` processes on this machine (spawned: no fork after OpenCV and torch started their threads)."""

    name = "local"

    def __init__(self, config: WorkerConfig, workers: int):
        self.config, self.workers = config, workers

    def run(self, segments: list[Segment]) -> Iterator[dict[str, Any]]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        if not segments:
            return
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_pool_init, initargs=(self.config,))
        try:
            todo = iter(segments)
            pending = set()
            # A bounded number in flight: a billion frames make a long list of segments, not of futures.
            for seg in todo:
                pending.add(pool.submit(_pool_run, seg))
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        marker = fut.result()
                    except BrokenProcessPool:
                        raise VideoAnomalyError(
                            "archive: a worker process died (killed? out of memory?); what was done is kept: rerun "
                            "the same command to resume"
                        ) from None
                    yield marker
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.add(pool.submit(_pool_run, nxt))
        finally:
            # Interrupted: segments not started are dropped (a rerun does them); running ones finish and are kept.
            pool.shutdown(wait=True, cancel_futures=True)


class RayBackend:
    """``workers`` Ray actors (``cpus_per_worker`` CPUs each), each loading the detector once.

    Joins the cluster at ``address`` (or ``RAY_ADDRESS``); else starts a local Ray with ``workers x
    cpus_per_worker`` CPUs (no dashboard, worker logs kept off the terminal). A Ray already initialised in this
    process (a test, a notebook) is used as it is and left running.
    """

    name = "ray"

    def __init__(self, config: WorkerConfig, workers: int, cpus_per_worker: float, address: str | None):
        import ray

        self.ray = ray
        self.config, self.workers, self.cpus = config, workers, cpus_per_worker
        self.started = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if address is None:  # "local": a new Ray of our own, even where another runs on this machine
                address, kw["num_cpus"] = "local", max(1, math.ceil(workers * cpus_per_worker))
            ray.init(address=address, **kw)
            self.started = True

    def run(self, segments: list[Segment]) -> Iterator[dict[str, Any]]:
        ray = self.ray
        if not segments:
            return
        # A worker that dies (killed, out of memory, its node lost) is restarted and its segment retried: scoring a
        # segment is idempotent (same part names, atomic renames). Past the retries the segment is recorded failed.
        actor_cls = ray.remote(num_cpus=self.cpus, max_restarts=3, max_task_retries=2)(SegmentWorker)
        actors = [actor_cls.remote(self.config) for _ in range(min(self.workers, len(segments)))]
        todo = iter(segments)
        pending: dict[Any, Any] = {}
        try:
            # Two segments queued per actor: the next one starts as soon as one ends.
            for actor in actors * 2:
                seg = next(todo, None)
                if seg is None:
                    break
                pending[actor.run.remote(seg)] = (actor, seg)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    actor, seg = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the worker died for good: say so, go on
                        why = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
                        yield _marker(seg, "failed", error=f"{seg.rec.path}: worker failed ({why})")
                        actor = actor_cls.remote(self.config)
                        actors.append(actor)
                    seg = next(todo, None)
                    if seg is not None:
                        pending[actor.run.remote(seg)] = (actor, seg)
        finally:
            for actor in actors:
                ray.kill(actor)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------------ events


def _event_row(rec: Recording, ev: dict[str, Any]) -> dict[str, Any]:
    start = rec.start_time()
    box = ev["bbox"] or [None] * 4
    row = {"recording": rec.rec_id, **{k: ev[k] for k in ("source", "start_frame", "end_frame", "start_time",
           "end_time", "peak_frame", "peak_score", "threshold")}}  # fmt: skip
    row |= dict(zip(("x0", "y0", "x1", "y1"), box))
    row["start"] = None if start is None else start + timedelta(seconds=ev["start_time"])
    row["end"] = None if start is None else start + timedelta(seconds=ev["end_time"])
    row["day"] = UNDATED if start is None else row["start"].date().isoformat()
    return row


def recording_events(table, rec: Recording, *, threshold: float, fps: float, end_after: int, min_length: int):
    """The events of one recording from its per-frame rows (a pyarrow table in any order): one ``EventTracker``
    fed in frame order exactly as ``runner.run_source`` feeds it, closed at the end. ``Event.to_dict`` items."""
    from .live.events import EventTracker

    t = table.sort_by("frame")
    frame, t_s, score = (t.column(k).to_pylist() for k in ("frame", "t_s", "score"))
    boxes = zip(*(t.column(k).to_pylist() for k in ("x0", "y0", "x1", "y1")))
    maps = zip(*(t.column(k).to_pylist() for k in MAP_COLUMNS))
    tracker = EventTracker(threshold, fps=fps, end_after=end_after, min_length=min_length, source=str(rec.path))
    events: list[dict] = []
    idle = np.zeros((1, 1), np.float32)  # a frame below the threshold: no object, whatever its map
    for i, ts, s, box, (m, mh, mw, fh, fw) in zip(frame, t_s, score, boxes, maps):
        if s is None:
            continue
        # As ``run_source`` feeds it: the region map (per-object events) and the frame (its size, for the boxes).
        region_map = idle if m is None else np.asarray(m, np.float32).reshape(mh, mw)
        image = None if m is None else np.broadcast_to(np.uint8(0), (fh, fw))  # only its size is read: no copy
        msgs = tracker.update(i, s, tuple(box), image, t=ts, region_map=region_map)
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
                              min_length=opts["min_length"])  # fmt: skip
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
         ("x1", pa.int32()), ("y1", pa.int32()), ("start", ts), ("end", ts)]
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ the run


@dataclass
class ArchiveResult:
    """What a run did: the engine used, segment counts (``skipped``: done by an earlier run), failures (each
    ``{"segment"|"recording", "error"}``) and the per-camera summary (see ``summary.json``)."""

    out: Path
    engine: str
    segments: int = 0
    done: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    recordings_failed: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    frames: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.recordings_failed


def _settings(det, rec_model: str, score, threshold, segment_frames, overlap, fps, end_after, min_length) -> dict:
    from .seed.checkpoint import _sha256

    session = det.session(score, threshold=threshold)
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": str(rec_model),
        "detector_sha256": _sha256(Path(det.path) / "detector.json") if det.path else None,
        "score": session.score_name,
        "threshold": session.threshold,
        "target_far": det.config.target_far,
        "segment_frames": int(segment_frames),
        "overlap": int(overlap),
        "fps": fps,
        "end_after": int(end_after),
        "min_length": int(min_length),
    }


def _check_settings(out: Path, settings: dict) -> None:
    path = out / "archive.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            raise DataError(path, "unreadable: not an archive output folder? choose another --out") from None
        diff = [k for k in settings if k != "model" and old.get(k) != settings[k]]
        if diff:
            k = diff[0]
            raise DataError(
                out,
                f"written by an archive run with other settings ({k}: {old.get(k)!r} there, {settings[k]!r} now): "
                "rerun with the same arguments to resume, or choose another --out",
            )
        return
    if out.exists() and any(p.name != ".gitkeep" for p in out.iterdir()):
        raise DataError(out, "exists and is not an archive output folder: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    _write_json(path, settings)


def _read_markers(folder: Path) -> dict[str, dict]:
    out = {}
    if folder.is_dir():
        for p in folder.glob("*.json"):
            try:
                doc = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # cannot happen with atomic writes; a damaged marker means: not done
            out[p.stem] = doc
    return out


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def choose_engine(engine: str, log: Callable[[str], None]) -> str:
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        if ray_available():
            return "ray"
        log('archive: Ray is not installed (pip install "video-anomaly[archive]"): running the segments in a '
            "local process pool instead (same outputs)")  # fmt: skip
        return "local"
    if engine == "ray" and not ray_available():
        raise ConfigError('--engine ray needs Ray: pip install "video-anomaly[archive]" (or --engine local)')
    return engine


@dataclass
class _Run:
    """The driver's state in one run: the plan (segments per recording, in input order), what is done (segment
    and recording markers, this run's and earlier runs'), the recordings with a failed segment, and the result."""

    out: Path
    recordings: list[Recording]
    result: ArchiveResult
    opts: dict[str, Any]  # end_after, min_length, clip_length: what finishing a recording needs
    log: Callable[[str], None]
    segments: list[Segment] = field(default_factory=list)
    by_rec: dict[str, list[Segment]] = field(default_factory=dict)
    done: dict[str, dict] = field(default_factory=dict)
    rec_done: dict[str, dict] = field(default_factory=dict)
    failed_recs: set[str] = field(default_factory=set)

    def __post_init__(self):
        self.rec_by_id = {r.rec_id: r for r in self.recordings}

    def plan(self, fps: float | None, segment_frames: int) -> None:
        """Cut every recording into segments; a recording whose length cannot be read fails here."""
        plan_failed: dict[str, str] = {}
        for rec in self.recordings:
            try:
                n = probe_length(rec, fps)
            except DataError as exc:
                plan_failed[rec.rec_id] = str(exc)
                continue
            segs = plan_segments(rec, n, segment_frames)
            self.by_rec[rec.rec_id] = segs
            self.segments += segs
        for rec_id, error in plan_failed.items():
            path = self.rec_by_id[rec_id].path
            self.result.recordings_failed.append({"recording": rec_id, "path": path, "error": error})
            self.log(f"archive: error: {error}")

    def resume(self) -> list[Segment]:
        """Read the markers of earlier runs; returns the segments still to score (their old failures cleared)."""
        state = self.out / "_state"
        self.done = _read_markers(state / "segments")
        self.rec_done = _read_markers(state / "recordings")
        todo = [s for s in self.segments if s.seg_id not in self.done]
        self.result.segments, self.result.skipped = len(self.segments), len(self.segments) - len(todo)
        if self.result.skipped:
            self.log(
                f"archive: resuming in {self.out}: {self.result.skipped} of {len(self.segments)} segments already done"
            )
        for s in todo:  # a segment retried: its old failure no longer stands
            (state / "failed" / f"{s.seg_id}.json").unlink(missing_ok=True)
        return todo

    def finish(self, rec_id: str) -> None:
        """Write the events of a recording once all its segments are done (once per recording)."""
        if rec_id in self.rec_done or rec_id in self.failed_recs:
            return
        segs = self.by_rec[rec_id]
        if all(s.seg_id in self.done for s in segs):
            rec = self.rec_by_id[rec_id]
            self.rec_done[rec_id] = _finish_recording(rec, [self.done[s.seg_id] for s in segs], self.out, self.opts)

    def take(self, marker: dict[str, Any]) -> None:
        """Count a segment's marker from a worker: done, or failed (its recording then gets no events)."""
        seg_id = marker["segment"]
        if marker["status"] == "done":
            self.done[seg_id] = marker
            self.result.done += 1
            self.result.frames += marker["frames"]
        else:
            self.result.failed.append({"segment": seg_id, "error": marker["error"]})
            self.failed_recs.add(marker["recording"])
            self.log(f"archive: error: segment {seg_id}: {marker['error']}")

    def score(self, backend, todo: list[Segment], bar, on_segment) -> None:
        """Score ``todo`` on ``backend``, finishing each recording as its last segment comes in."""
        try:
            for marker in backend.run(todo):
                self.take(marker)
                if on_segment is not None:
                    on_segment(marker)
                if bar is not None:
                    bar.update(marker.get("frames", 0))
                    bar.set_postfix_str(f"segments {self.result.done}/{len(todo)}, failed {len(self.result.failed)}")
                if marker["status"] == "done":
                    self.finish(marker["recording"])
        finally:
            if bar is not None:
                bar.close()
            if isinstance(backend, RayBackend):
                backend.close()

    def report_recordings(self) -> None:
        """Recordings whose segments are all done but which could not be scored (too short) count as failed."""
        for rec_id, doc in self.rec_done.items():
            if rec_id in self.by_rec and doc.get("error"):
                self.result.recordings_failed.append({"recording": rec_id, "path": doc["path"], "error": doc["error"]})
                self.log(f"archive: error: {doc['error']}")


def _load_detector(model, detector_class):
    """``(Detector, the model as the workers load it, its class)``; the workers need a detector saved in a folder.
    ``model``: a loaded detector, or a folder or shipped name that ``detector_class.load`` reads."""
    loaded = not isinstance(model, (str, Path))
    cls = type(model) if loaded else detector_class
    if cls is None:
        raise ConfigError(f"archive: {model} is not a loaded detector: load it first (or use api.score_archive)")
    det = model if loaded else cls.load(model)
    if det.path is None:
        raise ConfigError("archive workers load the detector from its folder: save it first (Detector.save)")
    return det, str(det.path) if loaded else str(model), cls


def _prepare_out(out: Path, settings: dict) -> None:
    """Check (or write) the run's settings, then clear temporary files of writers killed mid-write (one driver per
    ``out``, so none is being written now)."""
    _check_settings(out, settings)
    for sub in ("frames", "events", "_state"):
        for tmp in (out / sub).rglob(".*.tmp*") if (out / sub).is_dir() else ():
            tmp.unlink(missing_ok=True)


def score_archive(
    model,
    inputs: Iterable[str | Path],
    out: str | Path,
    *,
    score: str | None = None,
    threshold: float | None = None,
    segment_frames: int = 3000,
    fps: float | None = None,
    camera: str | None = None,
    end_after: int = 5,
    min_length: int = 3,
    engine: str = "auto",
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    address: str | None = None,
    progress: bool = True,
    on_segment: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] = _stderr,
    detector_class=None,
) -> ArchiveResult:
    """Score every recording of ``inputs`` into ``out`` (see the module docstring); resumes a killed run.

    ``model``: a loaded ``Detector`` with a ``path``, or a detector folder or shipped name with ``detector_class``
    (``api.score_archive`` gives it);
    ``segment_frames``: frames per segment (each is decoded in order by one worker); ``workers``: Ray actors or
    pool processes (default: the available cores / ``cpus_per_worker``); ``engine``: ``auto`` (Ray when
    installed), ``ray`` or ``local``; ``address``: a Ray cluster to join (``ray://...``, ``auto``; default
    ``RAY_ADDRESS``, else a local Ray); ``on_segment``: called on the driver with each finished segment's marker.
    """
    from .device import available_cores

    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError('archive writes Parquet: pip install "video-anomaly[archive]" (pyarrow)') from None
    if int(segment_frames) < 1:
        raise ConfigError(f"segment_frames must be >= 1, got {segment_frames}")
    t_run = time.monotonic()
    det, model_spec, detector_class = _load_detector(model, detector_class)
    overlap = history_frames(det, score)
    out = Path(out)
    settings = _settings(det, model_spec, score, threshold, segment_frames, overlap, fps, end_after, min_length)
    recordings = collect_recordings(inputs, camera)
    for c in unbounded_cues(det, score):
        log(f"archive: warning: the {c} cue keeps a running background with no bounded history: near each cut "
            "its scores can differ from `score`'s until the background has adapted (longer --segment-frames, "
            "fewer cuts; the motion cue alone is exact)")  # fmt: skip
    _prepare_out(out, settings)
    engine = choose_engine(engine, log)
    cpus_per_worker = float(cpus_per_worker)
    workers = int(workers or max(1, int(available_cores() // max(cpus_per_worker, 1.0))))
    result = ArchiveResult(out, engine)
    opts = {"end_after": end_after, "min_length": min_length, "clip_length": det.session(score).clip_length}
    run = _Run(out, recordings, result, opts, log)
    run.plan(fps, int(segment_frames))
    todo = run.resume()
    for rec_id in run.by_rec:  # recordings whose segments an earlier run finished but not their events
        run.finish(rec_id)
    if todo:
        est = sum((s.end if s.end is not None else s.start + segment_frames) - s.start for s in todo)
        bar = _progress(progress, est, len(todo))
        threads = max(1, int(cpus_per_worker))
        wcfg = WorkerConfig(model_spec, score, threshold, overlap, fps, str(out), threads, detector_class)
        backend = (RayBackend(wcfg, workers, cpus_per_worker, address) if engine == "ray"
                   else LocalBackend(wcfg, workers))  # fmt: skip
        log(f"archive: {len(todo)} segments of up to {segment_frames} frames (+{overlap} of overlap) from "
            f"{len(run.by_rec)} recordings on {workers} {engine} worker(s)")  # fmt: skip
        run.score(backend, todo, bar, on_segment)
    run.report_recordings()
    result.summary = _write_manifest_and_summary(out, recordings, run.segments, run.done, run.rec_done, result)
    result.wall_s = time.monotonic() - t_run
    return result


def _progress(enabled: bool, frames: int, n_segments: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=frames, unit="frame", desc="archive", smoothing=0.1, postfix=f"segments 0/{n_segments}")


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


# ------------------------------------------------------------------------------------------ readers


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
