"""The run loop of live detection: frames from a source through a detector, events out as they happen.

``run_source`` reads a ``sources.LiveSource`` on a thread (bounded queue, drop policy for live sources),
pushes every frame through a detector (anything with ``push(frame, index) -> FrameScore | None`` and
``clip_length``), feeds an ``events.EventTracker`` and an optional overlay writer, and returns ``RunStats``.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .sources import LiveSource, threaded_frames, to_gray

if TYPE_CHECKING:
    from .live import FrameScore, LiveDetector


@dataclass
class RunStats:
    """What a run over one source did. Latencies: seconds from a frame's arrival (read from the source)
    to its score, over the last ``10_000`` scored frames (a bounded window)."""

    frames: int = 0
    scored: int = 0
    dropped: int = 0
    wall_s: float = 0.0
    latency_p50_s: float = float("nan")
    latency_p95_s: float = float("nan")
    latency_max_s: float = float("nan")

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def run_source(
    detector: LiveDetector,
    source: LiveSource,
    *,
    tracker,
    emit: Callable[[dict], None] = lambda msg: None,
    on_score: Callable[[int, FrameScore | None], None] | None = None,
    overlay=None,
    queue: int = 64,
    drop: bool | None = None,
    max_frames: int | None = None,
    warn: Callable[[str], None] | None = None,
) -> RunStats:
    """Score every frame of ``source`` through ``detector``; event messages go to ``emit`` as they happen.

    ``on_score(index, FrameScore | None)`` sees every frame that was not dropped (None while the clip
    fills). ``overlay``: an ``OverlayWriter``. Frames are read on a thread through a ``FrameQueue``
    (``drop`` defaults to ``source.live``).
    """
    stats = RunStats()
    latencies: collections.deque = collections.deque(maxlen=10_000)
    t0 = time.monotonic()
    items, fq = threaded_frames(source, queue=queue, keep=detector.clip_length - 1, drop=drop, warn=warn)
    try:
        for index, arrived, frame in items:
            fs = detector.push(frame, index)
            stats.frames += 1
            if fs is not None:
                stats.scored += 1
                for msg in tracker.update(index, fs.score, fs.bbox, fs.frame):
                    emit(msg)
                latencies.append(time.monotonic() - arrived)
            if on_score is not None:
                on_score(index, fs)
            if overlay is not None:
                overlay.write(to_gray(frame), None if fs is None else fs.map, None if fs is None else fs.score,
                              tracker.in_event)  # fmt: skip
            if max_frames is not None and stats.frames >= max_frames:
                break
    finally:
        items.close()
        source.close()
    for msg in tracker.finish():
        emit(msg)
    stats.dropped = fq.dropped
    stats.wall_s = time.monotonic() - t0
    if latencies:
        lat = np.asarray(latencies)
        stats.latency_p50_s, stats.latency_p95_s = (float(v) for v in np.quantile(lat, [0.5, 0.95]))
        stats.latency_max_s = float(lat.max())
    return stats
