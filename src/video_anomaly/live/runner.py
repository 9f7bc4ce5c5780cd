"""The run loop of live detection: frames from a source through a detector, events out as they happen.

``run_source`` reads a ``sources.LiveSource`` on a thread (bounded queue, drop policy for live sources),
pushes every frame through a detector (anything with ``push(frame, index) -> FrameScore | None`` and
``clip_length``), feeds an ``events.EventTracker`` (with each frame's time) and an optional overlay writer,
and returns ``RunStats``. However a run stops (end of the source, lost source, interrupt, error) the open
event is closed and sent to ``emit`` first: nothing that was seen is lost.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..data.images import to_gray
from ..errors import VideoAnomalyError, os_reason
from .redact import redact_text
from .sources import LiveSource, SourceLost, threaded_frames

if TYPE_CHECKING:
    from ..fusion.session import FrameScore, LiveSession

# How a run ended (``RunStats.end``).
ENDED, MAX_FRAMES, LOST, INTERRUPTED, FAILED = "ended", "max_frames", "lost", "interrupted", "failed"


class Stop(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) raised in the main thread, like Ctrl-C is: stop now, but close what is open.

    ``exit_status`` is the shell's convention for death by that signal (128 + signal number).
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_status = 128 + signum


@contextlib.contextmanager
def stop_on_signals(signums: tuple[int, ...] | None = None) -> Iterator[None]:
    """Within the block, these signals (default SIGTERM and SIGHUP) raise ``Stop`` in the main thread (SIGINT
    already raises KeyboardInterrupt); the previous handlers come back after. A no-op outside the main thread."""
    import threading

    if signums is None:
        signums = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise Stop(signum)

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass
class RunStats:
    """What a run over one source did. Latencies: seconds from a frame's arrival (read from the source)
    to its score, over the last ``10_000`` scored frames (a bounded window).

    ``end``: ``"ended"`` (the source ended), ``"max_frames"``, ``"lost"`` (a camera or stream failed, timed
    out or stopped sending), ``"interrupted"`` (SIGINT/SIGTERM) or ``"failed"`` (a bad file); ``error`` says
    why for the last three. ``last_time_s``: the time in the source of the last frame read. ``overlay_error``: why
    the overlay video stopped being written (the run went on without it), else None."""

    frames: int = 0
    scored: int = 0
    dropped: int = 0
    wall_s: float = 0.0
    latency_p50_s: float = float("nan")
    latency_p95_s: float = float("nan")
    latency_max_s: float = float("nan")
    last_time_s: float = float("nan")
    end: str = ENDED
    error: str | None = None
    overlay_error: str | None = None

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _stderr(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr, flush=True)


class FrameFitter:
    """Brings every frame to the size the detector was fitted on (``want`` ``(H, W)``; None: any size goes).

    A frame of another size is cut to the fitted aspect ratio (centred, so nothing is stretched) and resampled
    (OpenCV, area interpolation when shrinking); the first frame of each new size is stated once through
    ``warn`` (the first frame's only with ``state_first``: a session's guard states that one itself).
    ``__call__(frame) -> (gray (H, W) uint8, changed)``: ``changed`` when the source's size differs from the
    previous frame's (a stream that changed resolution), so that the caller restarts its clip.
    """

    def __init__(self, want: tuple[int, int] | None, name: str, warn: Callable[[str], None], state_first: bool = True):
        self.want = None if want is None else (int(want[0]), int(want[1]))
        self.name, self.warn, self.state_first = name, warn, state_first
        self._last: tuple[int, int] | None = None

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        gray = to_gray(frame)
        size = (int(gray.shape[0]), int(gray.shape[1]))
        changed = self._last is not None and size != self._last
        first = (self._last is None and self.state_first) or changed
        self._last = size
        if self.want is None or size == self.want:
            if changed and self.want is not None:
                self.warn(f"warning: {self.name}: frames are {size[1]}x{size[0]} again, the detector's size")
            return gray, changed
        h, w = size
        wh, ww = self.want
        # The largest centred window of the fitted aspect ratio, then one resampling to the fitted size.
        ch, cw = (h, min(w, round(h * ww / wh))) if w * wh >= h * ww else (min(h, round(w * wh / ww)), w)
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        if first:
            crop = f", centre {cw}x{ch} kept to keep the aspect ratio" if (ch, cw) != (h, w) else ""
            self.warn(
                f"warning: {self.name}: frames are {w}x{h} but the detector was fitted on {ww}x{wh}: resampled to "
                f"{ww}x{wh}{crop}; boxes and the overlay are in those pixels"
            )
        import cv2

        interp = cv2.INTER_AREA if ch * cw > wh * ww else cv2.INTER_LINEAR
        return cv2.resize(gray[y0 : y0 + ch, x0 : x0 + cw], (ww, wh), interpolation=interp), changed


def _ending(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED, str(exc) if isinstance(exc, Stop) else "SIGINT"
    if isinstance(exc, SourceLost):
        return LOST, exc.problem
    return FAILED, redact_text(str(exc))  # an FFmpeg error may quote a stream's URL


def _write_overlay(overlay, frame: np.ndarray, fs: FrameScore | None, in_event: bool, stats: RunStats):
    """``overlay`` after writing ``frame`` to it, or None once it cannot be written (``stats.overlay_error`` says
    why: a full disk or a read-only place stops the overlay, never the watch)."""
    try:
        overlay.write(frame, None if fs is None else fs.map, None if fs is None else fs.score, in_event)
    except OSError as exc:
        if exc.filename is None:
            raise
        stats.overlay_error = os_reason(exc)
        return None
    return overlay


def run_source(
    detector: LiveSession,
    source: LiveSource,
    *,
    tracker,
    emit: Callable[[dict], None] = lambda msg: None,
    on_score: Callable[[int, FrameScore | None], None] | None = None,
    on_frame: Callable[[int, float, FrameScore | None], None] | None = None,
    overlay=None,
    queue: int = 64,
    drop: bool | None = None,
    max_frames: int | None = None,
    warn: Callable[[str], None] | None = None,
    end_on_error: bool = False,
) -> RunStats:
    """Score every frame of ``source`` through ``detector``; event messages go to ``emit`` as they happen.

    ``on_score(index, FrameScore | None)`` sees every frame that was not dropped (None while the clip
    fills); ``on_frame(index, t_seconds, FrameScore | None)`` the same with the frame's time in the source.
    ``overlay``: an ``OverlayWriter``. Frames are read on a thread through a ``FrameQueue`` (``drop``
    defaults to ``source.live``).

    ``end_on_error``: a lost source (``SourceLost``), an interrupt (KeyboardInterrupt, ``Stop``) or a
    ``VideoAnomalyError`` ends the run like the end of the source: ``RunStats.end`` and ``error`` say which.
    Without it they propagate. Either way the open event is closed (sent to ``emit``) first, as it is at a gap
    marker (a lost stream that is being reopened, see ``sources``).
    """
    stats = RunStats()
    latencies: collections.deque = collections.deque(maxlen=10_000)
    t0 = time.monotonic()
    items, fq = threaded_frames(source, queue=queue, keep=detector.clip_length - 1, drop=drop, warn=warn)
    guarded = hasattr(detector, "see")  # a live session: its guard judges (and states) the source's size
    fit = FrameFitter(getattr(detector, "frame_shape", None), source.name, warn or _stderr, state_first=not guarded)
    failure: BaseException | None = None
    try:
        for index, arrived, frame, t in items:
            if frame is None:  # a gap marker: what is open ends now, not once the stream is back
                for msg in tracker.finish():
                    emit(msg)
                continue
            if not stats.frames and guarded:
                detector.see(frame)  # the guard judges the source's own size, before the fitting below hides it
            frame, changed = fit(frame)
            if changed and stats.frames:  # a new resolution mid-stream: no clip spans the change
                detector.reset()
            fs = detector.push(frame, index)
            stats.frames += 1
            stats.last_time_s = t
            if fs is not None:
                stats.scored += 1
                msgs = tracker.update(index, fs.score, fs.bbox, fs.frame, t=t, region_map=fs.map, tamper=fs.tamper,
                                      objects=getattr(fs, "objects", None))  # fmt: skip
                for msg in msgs:
                    emit(msg)
                latencies.append(time.monotonic() - arrived)
            if on_score is not None:
                on_score(index, fs)
            if on_frame is not None:
                on_frame(index, t, fs)
            if overlay is not None:
                overlay = _write_overlay(overlay, frame, fs, tracker.in_event, stats)
            if max_frames is not None and stats.frames >= max_frames:
                stats.end = MAX_FRAMES
                break
    except (KeyboardInterrupt, VideoAnomalyError) as exc:
        stats.end, stats.error = _ending(exc)
        failure = exc
    finally:
        items.close()
        stats.dropped = fq.dropped
        for msg in tracker.finish():
            emit(msg)
    if failure is not None and not end_on_error:
        raise failure
    stats.wall_s = time.monotonic() - t0
    if latencies:
        lat = np.asarray(latencies)
        stats.latency_p50_s, stats.latency_p95_s = (float(v) for v in np.quantile(lat, [0.5, 0.95]))
        stats.latency_max_s = float(lat.max())
    return stats
