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
* **tamper** (every frame, ``check_tamper``): a camera covered or sprayed (contrast gone), defocused (sharpness
  gone), turned or shifted (the background it was fitted on no longer matches) or frozen (the same frame repeated)
  against the statistics of the normal footage (``fit_tamper``, kept in ``detector.meta["tamper"]``): once a cause
  has lasted ``TamperConfig.hold`` frames, one line with the fix, and one event of kind ``tamper``
  (``events.EventTracker``), while anomaly events are held; said for every tamper;
* **alarm rate** over a sliding window of the last ``window`` scored frames: more than ``max_alarm_share`` of
  them above the threshold (checked on every frame, so a stream whose alarm is on most of the time is warned
  within its first ``window`` frames) is a warning. One long real event can do it as well; the line says both.

Each kind is said once per guard (one guard per session). Messages are plain strings; ``watch``, ``score``, the
API and the report show them as they come (``Guard.messages`` keeps them, ``on_message`` hears them).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
    tamper: dict | None = None  # ``fit_tamper``'s statistics (None: a detector fitted before they were kept)

    @classmethod
    def of(cls, detector) -> Fitted:
        meta = getattr(detector, "meta", None) or {}
        shape = getattr(detector, "frame_shape", None)
        fps = meta.get("fps")
        return cls(
            None if shape is None else (int(shape[0]), int(shape[1])),
            float(fps) if fps else None,
            float(detector.config.target_far),
            meta.get("tamper"),
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
    tamper: Tamper | None = field(default=None, repr=False)

    def check_tamper(self, gray, repeat: bool, index: int) -> TamperVerdict:
        """One frame of the stream (every frame, repeats included): is the camera tampered with? A tamper's line
        is said when it opens (each tamper, not once per guard)."""
        if self.tamper is None:
            self.tamper = Tamper(self.fitted.tamper)
        was = self.tamper.open
        verdict = self.tamper.check(gray, repeat, index)
        if verdict.message and was is None:
            self.messages.append(verdict.message)
            if self.on_message is not None:
                self.on_message(verdict.message)
        return verdict

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
        """One scored frame: whether its alarm is on (not counted while the camera is tampered with: that is said
        as a tamper, not as footage that does not fit)."""
        if self.tamper is not None and self.tamper.open is not None:
            return []
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


# ------------------------------------------------------------------------------------------------ tamper
# A camera covered, sprayed, defocused, turned or frozen is not footage that does not fit: it is one event of its
# own kind (``events.TAMPER``), said once with its fix, and no storm of anomaly events while it lasts.

COVERED, DEFOCUSED, MOVED, FROZEN = "covered", "defocused", "moved", "frozen"
_WHAT = {
    COVERED: ("the view has lost its contrast (covered, sprayed or blinded)", "uncover or clean the lens"),
    DEFOCUSED: ("the view has lost its sharpness (defocused, sprayed or fogged)", "refocus or clean the lens"),
    MOVED: (
        "the view no longer matches the background it was fitted on (the camera was turned or shifted)",
        "point it back as it was, or train a detector on its new view",
    ),
    FROZEN: ("the same frame keeps repeating (a frozen camera or encoder)", "restart the camera or its stream"),
}
_SMALL_W = 64  # the background is compared at this width: coarse enough for walkers, fine enough for texture


@dataclass(frozen=True)
class TamperConfig:
    """``hold``: frames a cause must last before the tamper event opens, and frames without one before it closes
    (anomaly events stay held meanwhile, so the jump back to the real view raises none); ``freeze``: repeats of
    one frame in a row that make a frozen camera; ``contrast_share`` / ``sharpness_share``: the share of the least
    contrasted / least sharp normal frame below which the view is covered / defocused; ``match_share``: the share
    of the least background correlation of a normal frame below which the camera has moved. Chosen on the
    synthetic scene (``docs/behaviour.md``)."""

    hold: int = 10
    freeze: int = 20
    contrast_share: float = 0.35
    sharpness_share: float = 0.3
    match_share: float = 0.5


@dataclass(frozen=True)
class TamperVerdict:
    """One frame: ``suspect`` (a cause is seen or a tamper is open: hold anomaly events), ``cause`` (set while a
    tamper event is open: ``covered``, ``defocused``, ``moved``, ``frozen``) and its ``message``."""

    suspect: bool
    cause: str | None = None
    message: str | None = None
    since: int | None = None  # the frame the open tamper began on
    seen: bool = False  # a cause is seen on this very frame (the open tamper's last frame so far)


def _small(gray) -> Any:
    import cv2
    import numpy as np

    h, w = gray.shape[:2]
    size = (_SMALL_W, max(8, round(_SMALL_W * h / w)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def _texture(small) -> Any:
    """Zero-mean, unit-norm high-pass of a small frame: light changes leave it, a shifted view does not."""
    import cv2
    import numpy as np

    hp = small - cv2.GaussianBlur(small, (0, 0), 2.0)
    hp -= hp.mean()
    return hp / max(float(np.linalg.norm(hp)), 1e-6)


def frame_stats(gray, texture=None) -> dict[str, float]:
    """``contrast`` (grey-level std), ``sharpness`` (log variance of the Laplacian at up to 320 px wide) and, given
    the fitted background ``texture``, ``match`` (its correlation with this frame's texture, -1..1)."""
    import cv2
    import numpy as np

    h, w = gray.shape[:2]
    work = gray if w <= 320 else cv2.resize(gray, (320, max(8, round(320 * h / w))), interpolation=cv2.INTER_AREA)
    out = {
        "contrast": float(work.std()),
        "sharpness": float(np.log(cv2.Laplacian(work, cv2.CV_32F).var() + 1e-6)),
    }
    if texture is not None:
        out["match"] = float((_texture(_small(gray)) * texture).sum())
    return out


def fit_tamper(videos, lengths, samples: int = 300) -> dict[str, Any]:
    """What the tamper check compares with, from normal footage: each video an iterable of ``(H, W)`` uint8
    frames, ``lengths`` their frame counts; about ``samples`` frames are read. JSON-able (``detector.meta``):
    the background (median of the small frames, uint8 rows) and the least contrast, sharpness and match seen."""
    import numpy as np

    step = max(1, sum(lengths) // samples)
    from ..data.images import to_gray

    picked = [to_gray(f) for frames in videos for i, f in enumerate(frames) if i % step == 0]
    background = np.median(np.stack([_small(f) for f in picked]), axis=0)
    texture = _texture(background)
    stats = [frame_stats(f, texture) for f in picked]
    least = {k: float(min(s[k] for s in stats)) for k in ("contrast", "sharpness", "match")}
    return {"background": np.rint(background).astype(np.uint8).tolist(), **least, "frames": len(picked)}


class Tamper:
    """Per frame of a live stream, whether the camera has been tampered with (``check``), against ``fitted``
    (``fit_tamper``'s dict; None: only a frozen camera is found)."""

    def __init__(self, fitted: dict | None, config: TamperConfig | None = None):
        import numpy as np

        self.fitted, self.config = fitted, config or TamperConfig()
        bg = None if not fitted else np.asarray(fitted["background"], np.float32)
        self.texture = None if bg is None else _texture(bg)
        self.repeats = 0
        self._seen = 0  # frames in a row with a cause (before the event) or without one (while it is open)
        self._last: str | None = None
        self.open: TamperVerdict | None = None

    def cause(self, gray, repeat: bool) -> str | None:
        """This frame's cause, before any waiting: the strongest one seen."""
        self.repeats = self.repeats + 1 if repeat else 0
        if repeat:  # the same picture: its statistics have not changed
            return FROZEN if self.repeats >= self.config.freeze else self._last
        if self.fitted is None or self.texture is None or gray.shape[1] < 16:
            return None
        s, f, c = frame_stats(gray, self.texture), self.fitted, self.config
        if s["contrast"] < c.contrast_share * f["contrast"]:
            return COVERED
        if s["sharpness"] < f["sharpness"] + math.log(c.sharpness_share):
            return DEFOCUSED
        if s["match"] < c.match_share * f["match"]:
            return MOVED
        return None

    def check(self, gray, repeat: bool, index: int) -> TamperVerdict:
        cause = self.cause(gray, repeat)
        self._last = None if repeat and cause == FROZEN else cause
        if self.open is None:
            self._seen = self._seen + 1 if cause else 0
            if self._seen < self.config.hold:
                return TamperVerdict(cause is not None)
            what, fix = _WHAT[cause]
            # A frozen camera began with its first repeat, before the repeats were enough to call it frozen.
            since = index - (self.repeats if cause == FROZEN else self._seen) + 1
            msg = (
                f"warning: camera tampered: {what} since frame {since}: {fix}; anomaly events are held until it is back"
            )
            self.open, self._seen = TamperVerdict(True, cause, msg, since), 0
            return replace(self.open, seen=True)
        self._seen = 0 if cause else self._seen + 1
        if self._seen >= self.config.hold:
            self.open, self._seen = None, 0
            return TamperVerdict(False)
        return replace(self.open, seen=cause is not None)
