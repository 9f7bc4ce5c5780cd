"""Frame scores become events: runs of frames whose smoothed score stays above the alarm threshold.

An event starts at the first frame whose score exceeds the threshold; it ends when the score has
stayed at or below the threshold for ``end_after`` consecutive scored frames (its last frame is the last
one above). Events shorter than ``min_length`` frames are dropped as flicker. Times are seconds from the
start of the source: each frame's own time when the caller gives it (``update(..., t=...)``: the presentation
timestamps of a video or stream, right for variable frame rates), else ``frame / fps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Event:
    """One abnormal event. Frames are source frame indices (inclusive); ``bbox`` is ``(x0, y0, x1, y1)``
    in original frame pixels (x1, y1 exclusive): the region with the highest error at the peak frame."""

    start_frame: int
    end_frame: int
    peak_frame: int
    peak_score: float
    bbox: tuple[int, int, int, int] | None
    fps: float
    threshold: float
    source: str = ""
    # Not serialised: the original frame at the peak, for thumbnails.
    peak_image: np.ndarray | None = field(default=None, repr=False)
    # Times (seconds) of the first and last frame when the source gave them; else frame / fps.
    start_t: float | None = None
    end_t: float | None = None

    @property
    def start_time(self) -> float:
        return self.start_frame / self.fps if self.start_t is None else self.start_t

    @property
    def end_time(self) -> float:
        """The end of the last frame: its time plus one nominal frame period."""
        return (self.end_frame + 1) / self.fps if self.end_t is None else self.end_t + 1.0 / self.fps

    @property
    def length(self) -> int:
        return self.end_frame - self.start_frame + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "event",
            "source": self.source,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start_time": round(self.start_time, 4),
            "end_time": round(self.end_time, 4),
            "peak_frame": self.peak_frame,
            "peak_score": round(float(self.peak_score), 4),
            "threshold": round(float(self.threshold), 4),
            "bbox": None if self.bbox is None else [int(v) for v in self.bbox],
        }


class EventTracker:
    """Online event detection over ``(frame, score, bbox)`` updates in frame order.

    ``update(frame, score, bbox, image, t=seconds)``: ``t`` is the frame's time in the source (None: ``frame /
    fps``). ``update`` returns a list of messages (dicts ready for JSON): ``{"type": "event_start", ...}`` once an
    event has lasted ``min_length`` frames (so live users hear of it within ``min_length`` frames) and the
    finished ``Event.to_dict()`` when it ends. ``finish`` closes an event still open at the end of a source.
    """

    def __init__(self, threshold: float, *, fps: float, end_after: int = 5, min_length: int = 3, source: str = ""):
        self.threshold = float(threshold)
        self.fps = float(fps) if fps and fps > 0 else 10.0
        self.end_after = max(1, int(end_after))
        self.min_length = max(1, int(min_length))
        self.source = source
        self.events: list[Event] = []
        self._open: Event | None = None
        self._below = 0
        self._announced = False

    def update(
        self, frame: int, score: float, bbox=None, image: np.ndarray | None = None, *, t: float | None = None
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        above = score > self.threshold
        ev = self._open
        if ev is None:
            if above:
                self._open = Event(frame, frame, frame, score, bbox, self.fps, self.threshold, self.source, image,
                                   start_t=t, end_t=t)  # fmt: skip
                self._below, self._announced = 0, False
                ev = self._open
            else:
                return out
        elif above:
            ev.end_frame, ev.end_t = frame, t
            self._below = 0
            if score > ev.peak_score:
                ev.peak_frame, ev.peak_score, ev.bbox, ev.peak_image = frame, score, bbox, image
        else:
            self._below += 1
            if self._below >= self.end_after:
                closed = self._close()
                if closed is not None:
                    out.append(closed)
                return out
        if not self._announced and ev.length >= self.min_length:
            self._announced = True
            out.append(
                {"type": "event_start", "source": self.source, "start_frame": ev.start_frame,
                 "start_time": round(ev.start_time, 4), "frame": frame, "score": round(float(score), 4)}
            )  # fmt: skip
        return out

    def _close(self) -> dict[str, Any] | None:
        ev, self._open, self._below = self._open, None, 0
        if ev is None or ev.length < self.min_length:
            return None
        self.events.append(ev)
        return ev.to_dict()

    def finish(self) -> list[dict[str, Any]]:
        """Close the open event, if any (end of a recording, a lost source, an interrupt)."""
        closed = self._close()
        return [] if closed is None else [closed]

    @property
    def in_event(self) -> bool:
        return self._open is not None


def events_to_mask(events: list[Event] | list[dict], n_frames: int) -> np.ndarray:
    """``(n_frames,)`` bool, True inside any event."""
    mask = np.zeros(n_frames, dtype=bool)
    for ev in events:
        d = ev if isinstance(ev, dict) else ev.to_dict()
        mask[max(0, d["start_frame"]) : min(n_frames, d["end_frame"] + 1)] = True
    return mask
