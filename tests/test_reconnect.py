"""A network stream lost and reopened (``watch --reconnect``, issue 30, items 15-16): times after the reconnection
follow the wall clock, and the open event ends when the loss is declared, not once the stream is back.

The stream is a stand-in (``sources._decoded`` and ``sources._open_container`` replaced) on a fake monotonic clock:
each frame says when it arrives, so the timeout that flushes a connection's last frames out late, and an opening
that takes a while, are exact and the test waits for neither.
"""

from __future__ import annotations

import threading
import types

import numpy as np

FPS, TIMEOUT, OPENING = 10.0, 10.0, 1.0
URL = "rtsp://cam.local/stream"


class _Clock:
    def __init__(self, now: float):
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


class _Connection:
    """``frames``: ``[(pts s, arrival on the clock, grey level)]``; then lost at ``lost_at`` (None: it ends)."""

    def __init__(self, frames, lost_at=None):
        self.frames, self.lost_at = frames, lost_at

    def close(self):
        pass


def _stand_in(monkeypatch, first: _Connection, second: _Connection, clock: _Clock, on_reopen=lambda: None):
    """``sources._timed_frames`` over ``first``, lost, then reopened as ``second`` (the opening takes ``OPENING`` s)."""
    import video_anomaly.live.sources as sources

    def decoded(container, name, *, live, timeout_s, warn):
        for pts, arrival, level in container.frames:
            clock.now = arrival
            yield np.full((8, 8), level, np.uint8), pts
        if container.lost_at is not None:
            clock.now = container.lost_at
            raise sources.SourceLost(name, f"timed out: no data for {timeout_s:g} s")

    def open_container(spec, *, device, timeout_s):
        on_reopen()
        clock.now += OPENING
        return second

    monkeypatch.setattr(sources, "time", types.SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep))
    monkeypatch.setattr(sources, "_decoded", decoded)
    monkeypatch.setattr(sources, "_open_container", open_container)
    return sources._timed_frames(URL, first, live=True, fps=FPS, use_pts=True, timeout_s=TIMEOUT, reconnect_s=30,
                                 warn=lambda m: None)  # fmt: skip


def _two_connections(level_before: int = 0, level_after: int = 0, t0: float = 100.0):
    """30 frames sent in real time from ``t0`` (pts from 5 s), the last 5 flushed out only when the timeout fires;
    the second connection sends from the moment its opening begins (pts from 77 s), its first 10 frames read
    together when the opening ends."""
    last_on_time = t0 + 24 / FPS
    lost_at = last_on_time + 1 / FPS + TIMEOUT
    first = _Connection(
        [(5.0 + i / FPS, t0 + i / FPS if i < 25 else lost_at, level_before) for i in range(30)], lost_at=lost_at
    )
    began = lost_at
    second = _Connection([(77.0 + j / FPS, max(began + OPENING, began + j / FPS), level_after) for j in range(30)])
    return first, second, began


def test_item15_times_after_a_reconnect_follow_the_wall_clock(monkeypatch):
    t0 = 100.0
    first, second, began = _two_connections(t0=t0)
    clock = _Clock(t0)
    got = [(f.index, f.t) for f in _stand_in(monkeypatch, first, second, clock) if f.frame is not None]
    before, after = got[:30], got[30:]
    assert np.allclose([t for _, t in before], np.arange(30) / FPS)
    # The second connection's first frame was sent when its opening began: that long after the source's t = 0 on
    # the wall clock (the timeout that flushed the last frames late, and the opening, change nothing).
    assert abs(after[0][1] - (began - t0)) < 0.5 / FPS, (before[-1], after[0])
    assert after[0][1] - before[-1][1] > TIMEOUT - 5 / FPS  # the silence, less the 5 frames flushed late
    assert np.allclose(np.diff([t for _, t in after]), 1 / FPS)  # then the stream's own timestamps
    assert abs(after[0][0] - before[-1][0] - (after[0][1] - before[-1][1]) * FPS) <= 1  # numbers skip the gap


def test_item16_the_open_event_ends_when_the_loss_is_declared(monkeypatch):
    from video_anomaly.detector import FrameScore
    from video_anomaly.live.events import EventTracker
    from video_anomaly.live.runner import run_source
    from video_anomaly.live.sources import LiveSource

    first, second, _ = _two_connections(level_before=200, level_after=0)  # above the threshold, then below
    msgs: list[dict] = []
    closed = threading.Event()
    during: list[bool] = []

    def on_reopen():  # the reader is reconnecting: the scorer has had the loss; the event must be out by now
        during.append(closed.wait(5.0))

    def emit(msg):
        msgs.append(msg)
        if msg["type"] == "event":
            closed.set()

    frames = _stand_in(monkeypatch, first, second, _Clock(100.0), on_reopen)

    class Level:  # a frame's score is its grey level
        clip_length = 1

        def push(self, frame, index=None):
            s = float(frame.mean())
            return FrameScore(index, s, s, s > 100, (0, 0, 8, 8), None, frame)

    tracker = EventTracker(100.0, fps=FPS, end_after=5, min_length=3, source=URL)
    stats = run_source(Level(), LiveSource(URL, frames, FPS, True, frames.close, timed=True), tracker=tracker,
                       emit=emit, queue=256)  # fmt: skip
    assert during == [True], msgs
    (event,) = [m for m in msgs if m["type"] == "event"]
    assert event["start_frame"] == 0 and event["end_frame"] == 29  # the last frame before the loss
    assert stats.frames == 60 and stats.end == "ended"
