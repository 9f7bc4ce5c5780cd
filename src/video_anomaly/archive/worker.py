"""A worker: loads the detector once and scores one segment at a time with the live session code (``live.watch``)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, VideoAnomalyError
from .markers import _marker, _write_json
from .parquet import MAP_COLUMNS, _write_parts, frame_objects
from .segments import Segment


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
    from ..data.frames import list_images
    from ..live.sources import LiveSource, TimedFrame, open_live_source

    path = Path(seg.rec.path)
    if path.is_dir():
        from ..data.frames import ImageFolderSource

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
        from ..device import apply_thread_policy

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
        from ..live.watch import watch

        cfg = self.config
        first = max(0, seg.start - cfg.overlap)
        source = _segment_source(seg, first, cfg.fps)
        names = ("frame", "t_s", "score", "raw", "x0", "y0", "x1", "y1", *MAP_COLUMNS, "objects")
        cols: dict[str, list] = {k: [] for k in names}

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
            cols["objects"].append(frame_objects(fs, seg.k))  # (what names an event's object, on alarmed frames only)

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
