"""A guard for footage that does not fit the detector: run time compared with what calibration saw.

A detector's threshold promises a false-alarm rate (``target_far``, 1% by default) on normal footage *of the camera
it was fitted on*. Another camera, a moved camera or a changed frame rate breaks that promise silently: the
shipped ``ucsd-ped2`` detector given Ped1's frames resized to its size raises its alarm on most normal frames.
``Guard`` watches a live session and says so once, with the fix in the line:

* **frame size and aspect** (at the first frame): a size within ``small_resize`` of the fitted one per side, at
  the same aspect, is resampled to the fitted size and stated (an informational line); another aspect or a larger
  change is a warning: the regions no longer sit where they were fitted;
* **frame rate** (at the first frame, when both the source and the calibration footage had one): motion per
  frame scales with the frame interval, so a rate off by more than ``fps_tolerance`` is a warning;
* **alarm rate** over a sliding window of the last ``window`` scored frames: more than ``max_alarm_share`` of
  them above the threshold (checked on every frame, so a stream whose alarm is on most of the time is warned
  within its first ``window`` frames) is a warning. One long real event can do it as well; the line says both.

Each kind is said once per guard (one guard per session). Messages are plain strings; ``watch``, ``score``, the
API and the report show them as they come (``Guard.messages`` keeps them, ``on_message`` hears them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GuardConfig:
    """``window``: scored frames of the alarm-rate window; ``max_alarm_share``: share of them above the threshold
    that warns (chosen on the synthetic scene and Ped2 with ``scripts/guard_study.py``: the synthetic scene
    resized into a Ped2 detector has its alarm on for 89% of frames; Ped2's own test videos, mostly abnormal
    frames, at most 146 of 180; so half the window, 150 frames); ``small_resize``: largest relative
    change per side that is resampled without a warning; ``aspect_tolerance``: relative aspect difference taken as
    the same aspect; ``fps_tolerance``: relative frame-rate difference that warns."""

    window: int = 300
    max_alarm_share: float = 0.5
    small_resize: float = 0.1
    aspect_tolerance: float = 0.03
    fps_tolerance: float = 0.2


@dataclass
class Fitted:
    """What calibration saw: ``frame_shape`` ``(H, W)`` pixels (None: unknown), ``fps`` (None: the footage had no
    rate, e.g. frame folders), ``target_far`` the promised false-alarm rate."""

    frame_shape: tuple[int, int] | None
    fps: float | None
    target_far: float

    @classmethod
    def of(cls, detector) -> Fitted:
        meta = getattr(detector, "meta", None) or {}
        shape = getattr(detector, "frame_shape", None)
        fps = meta.get("fps")
        return cls(
            None if shape is None else (int(shape[0]), int(shape[1])),
            float(fps) if fps else None,
            float(detector.config.target_far),
        )


def _size(shape) -> str:
    return f"{int(shape[1])}x{int(shape[0])}"


@dataclass
class Guard:
    """Compares one live stream with ``fitted`` (see the module docstring). Feed it ``start(frame_shape, fps)``
    once, then ``update(alarm)`` per scored frame; each returns the new messages (already sent to ``on_message``).
    """

    fitted: Fitted
    config: GuardConfig = field(default_factory=GuardConfig)
    on_message: Callable[[str], None] | None = None
    messages: list[str] = field(default_factory=list)
    resampled_from: tuple[int, int] | None = None
    _recent: deque = field(default_factory=deque, repr=False)
    _alarms: int = 0
    _said: set = field(default_factory=set, repr=False)

    def _say(self, kind: str, msg: str) -> list[str]:
        if kind in self._said:
            return []
        self._said.add(kind)
        self.messages.append(msg)
        if self.on_message is not None:
            self.on_message(msg)
        return [msg]

    def start(self, frame_shape, fps: float | None = None) -> list[str]:
        """The stream's first frame ``(H, W[, C])`` and its frame rate (None: unknown)."""
        out: list[str] = []
        want = self.fitted.frame_shape
        got = (int(frame_shape[0]), int(frame_shape[1]))
        if want is not None and got != tuple(want):
            aspect_got, aspect_want = got[1] / got[0], want[1] / want[0]
            same_aspect = abs(aspect_got / aspect_want - 1) <= self.config.aspect_tolerance
            small = all(abs(g / w - 1) <= self.config.small_resize for g, w in zip(got, want))
            self.resampled_from = got
            if same_aspect and small:
                out += self._say(
                    "size", f"note: frames of {_size(got)} are resampled to the fitted {_size(want)} (a small change)"
                )
            else:
                out += self._say(
                    "size",
                    f"warning: this detector was fitted on {_size(want)} footage (aspect {aspect_want:.2f}); this "
                    f"source is {_size(got)} (aspect {aspect_got:.2f}), resampled to {_size(want)}: its regions no "
                    "longer match what was fitted; train one on this camera's normal footage",
                )
        ref = self.fitted.fps
        if ref and fps and abs(float(fps) / ref - 1) > self.config.fps_tolerance:
            out += self._say(
                "fps",
                f"warning: this detector was fitted on {ref:g} frames/s footage; this source gives {float(fps):g} "
                "frames/s, so motion per frame differs from what was fitted: feed it at "
                f"{ref:g} frames/s or train one on this camera's normal footage",
            )
        return out

    def update(self, alarm: bool) -> list[str]:
        """One scored frame: whether its alarm is on."""
        w = self.config.window
        self._recent.append(bool(alarm))
        self._alarms += bool(alarm)
        if len(self._recent) > w:
            self._alarms -= self._recent.popleft()
        if self._alarms <= self.config.max_alarm_share * w or "alarm_rate" in self._said:
            return []  # (said once: never formatted again on every frame)
        n = len(self._recent)
        size = "" if self.fitted.frame_shape is None else f" on {_size(self.fitted.frame_shape)} footage"
        return self._say(
            "alarm_rate",
            f"warning: this detector was fitted{size} for a {100 * self.fitted.target_far:g}% false-alarm rate; its "
            f"alarm has been on for {self._alarms / n:.0%} of the last {n} frames: unless one long event is under "
            "way, this footage does not fit it (another camera, a moved view, another frame rate): train one on "
            "this camera's normal footage",
        )

    def to_dict(self) -> dict[str, Any]:
        return {"messages": list(self.messages), "resampled_from": self.resampled_from}
