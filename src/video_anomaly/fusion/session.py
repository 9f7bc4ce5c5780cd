"""One frame at a time: a detector's cues run side by side (``CueFeed``), their maps fused into a verdict
(``FrameScore``) by a ``LiveSession``; a whole video's verdicts (``VideoScores``) and the one warm-up convention
(``fill_warmup``); a repeated frame (``is_repeat``) is skipped once for every cue."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..cues.base import Cue, OneFrameFeed
from ..cues.tracks import best_object
from ..data.images import to_gray
from ..errors import DataError
from .scores import EMA, cues_of

# A frame none of whose pixels differs by more than this many grey levels from the previous frame is a repeat of
# it (NVRs and transcoders deliver 10 fps content at 30 fps by sending each frame three times; a re-encoded copy
# may differ by a level or two). Sensor noise alone moves some pixel by more than this in any real new frame.
REPEAT_MAX_DIFF = 2


def is_repeat(previous: np.ndarray | None, gray: np.ndarray) -> bool:
    """Whether the grayscale ``gray`` ``(H, W)`` uint8 repeats ``previous`` (see ``REPEAT_MAX_DIFF``)."""
    if previous is None or previous.shape != gray.shape:
        return False
    import cv2

    return int(cv2.absdiff(previous, gray).max()) <= REPEAT_MAX_DIFF


def skip_repeats(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """``frames`` without the repeats of the frame before (what the live session skips, for fitting alike)."""
    previous = None
    for frame in frames:
        gray = to_gray(frame)
        if not is_repeat(previous, gray):
            yield frame
        previous = gray


@dataclass
class FrameScore:
    """The verdict on one frame: ``index`` (source frame index), ``raw`` (frame value before smoothing),
    ``score`` (smoothed, the alarm's units), ``alarm`` (``score > threshold``), ``bbox`` ``(x0, y0, x1, y1)`` of the
    highest region in frame pixels, ``map`` ``(gh, gw)`` calibrated fused region scores, ``frame`` the grayscale
    frame (a reference); with a cue that finds objects (the objects cue) ``objects``, the frame's tracked objects
    (dicts: ``track_id``, ``label``, ``confidence``, ``box``, ``velocity``, ``score``), and ``label`` /
    ``track_id`` of the one whose box overlaps ``bbox`` most (None without such a cue or overlap)."""

    index: int
    raw: float
    score: float
    alarm: bool
    bbox: tuple[int, int, int, int]
    map: np.ndarray | None = None
    frame: np.ndarray | None = None
    tamper: Any = None  # ``guard.TamperVerdict`` of a live session's frame (``push``); None: not checked
    objects: list | None = None
    label: str | None = None
    track_id: int | None = None


@dataclass
class VideoScores:
    """A whole video scored by one score. Arrays are aligned to frame index.

    ``frame_scores`` (N,): the smoothed score (the alarm's units); frames of the warm-up (before every cue has a
    map: the autoencoder needs ``T - 1`` frames, the motion cue one) take the first real score (``fill_warmup``:
    the one convention of ``score``, its report, ``evaluate`` and the API), and ``scored`` says which frames
    were scored; ``raw``: before smoothing; ``alarms``: ``frame_scores > threshold`` on scored frames; ``maps``
    (N, gh, gw) float32 calibrated fused region scores (warm-up frames copy the first map); ``frame_sr``:
    ``1 - minmax(frame_scores)`` over the video, the regularity score to plot (Hasan et al.'s Sr); ``warnings``:
    the guard's lines (footage that does not fit the detector, ``guard.py``).
    """

    name: str
    score: str
    threshold: float
    frame_scores: np.ndarray
    raw: np.ndarray
    scored: np.ndarray
    maps: np.ndarray | None
    boxes: list
    frame_shape: tuple[int, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.frame_scores)

    @property
    def alarms(self) -> np.ndarray:
        return self.scored & (self.frame_scores > self.threshold)

    @property
    def frame_sr(self) -> np.ndarray:
        s = self.frame_scores
        lo, hi = float(np.min(s)), float(np.max(s))
        return 1.0 - (s - lo) / ((hi - lo) or 1.0)


def fill_warmup(values: list, scored: np.ndarray) -> list:
    """The warm-up convention, written once: frames before the first scored one take its value."""
    first = int(np.argmax(scored))
    return [values[first]] * first + list(values[first:])


class CueFeed:
    """Runs the streams of ``cues`` side by side, one frame at a time (each stream reads one frame per map)."""

    def __init__(self, cues: dict[str, Cue]):
        self._feeds = {c: OneFrameFeed() for c in cues}
        self._streams = {c: iter(cue.stream(self._feeds[c])) for c, cue in cues.items()}

    def step(self, gray: np.ndarray) -> dict[str, np.ndarray | None]:
        """Each cue's raw map of the next frame (None while the cue warms up)."""
        out = {}
        for c, feed in self._feeds.items():
            feed.put(gray)
            out[c] = next(self._streams[c])
        return out


class LiveSession:
    """Frames in one at a time, a ``FrameScore`` out once every cue of the score has a map (else None).

    ``push(frame, index)``: a gap in ``index`` (dropped frames) restarts the cues' streams, never a window across
    it; the smoothed score survives the gap. ``clip_length``: frames needed before the first score.

    ``guard`` (``guard.Guard``) compares the stream with what calibration saw (frame size, ``fps``, the alarm
    rate over a window) and says once when the footage does not fit; its lines go to ``on_warning`` as they come
    and stay in ``guard.messages``.

    A repeat of the previous frame (``sources.is_repeat``: 10 fps content delivered at 30 fps) is skipped here,
    once for every cue, and keeps the previous verdict, so such a delivery scores like the original. Every pushed
    frame, repeats included, goes to the guard's tamper check (``FrameScore.tamper``).
    """

    def __init__(
        self,
        detector,
        score: str,
        *,
        threshold: float | None = None,
        keep_maps: bool = False,
        fps: float | None = None,
        on_warning=None,
    ):
        from .guard import Fitted, Guard

        self.fps = fps
        self.guard = Guard(Fitted.of(detector), on_message=on_warning)
        self._guard_started = False
        self.det = detector
        self.frame_shape = detector.frame_shape  # the fitted (H, W): runner.FrameFitter brings frames to it
        self.score_name = score
        self.cues = cues_of(score, detector.cues)
        self.threshold = detector.threshold(score) if threshold is None else float(threshold)
        self.keep_maps = keep_maps
        self.ema = EMA(detector.config.ema_alpha)
        self.clip_length = 1 + max(detector.cues[c].warmup for c in self.cues)
        self._next_index: int | None = None
        self._start()

    def _start(self) -> None:
        self._feed = CueFeed({c: self.det.cues[c] for c in self.cues})
        self._previous: np.ndarray | None = None  # the last frame the cues saw
        self._last: FrameScore | None = None

    def reset(self, keep_score: bool = True) -> None:
        self._start()
        if not keep_score:
            self.ema.reset()

    def push(self, frame: np.ndarray, index: int | None = None) -> FrameScore | None:
        gray = to_gray(frame)
        self.see(gray)
        if index is None:
            index = 0 if self._next_index is None else self._next_index
        elif self._next_index is not None and index != self._next_index:
            self.reset()
        self._next_index = index + 1
        repeat = is_repeat(self._previous, gray)
        tamper = self.guard.check_tamper(gray, repeat, index)
        if repeat:
            return None if self._last is None else replace(self._last, index=index, tamper=tamper)
        self._previous = gray
        self._last = self.from_maps(self._feed.step(gray), gray, index)
        if self._last is not None:
            self._last.tamper = tamper
        return self._last

    def see(self, gray: np.ndarray) -> None:
        """Show the guard the stream's first frame (its size, with the session's ``fps``)."""
        if not self._guard_started:
            self._guard_started = True
            self.guard.start(gray.shape, self.fps)

    def from_maps(self, maps: dict[str, np.ndarray | None], gray: np.ndarray, index: int) -> FrameScore | None:
        """The verdict on one frame from its raw cue maps (None while a cue warms up)."""
        maps = {c: maps[c] for c in self.cues}
        if any(m is None for m in maps.values()):
            return None
        fused = self.det.fuse(maps, gray.shape)
        raw = self.det.frame_value(fused)
        score = self.ema.update(raw)
        if not math.isfinite(score):
            raise DataError(None, f"non-finite score at frame {index} (check the input for NaN/inf)")
        bbox = self.det.region_box(fused, gray.shape)
        alarm = score > self.threshold
        self.guard.update(alarm)
        # A cue's map may carry its frame's objects (cues.objects.ObjectMap): the verdict names the one at the box.
        objects = [o for m in maps.values() for o in getattr(m, "objects", ())] or None
        hit = best_object(objects, bbox)
        return FrameScore(index, raw, score, alarm, bbox, fused if self.keep_maps else None, gray, objects=objects,
                          label=None if hit is None else hit["label"],
                          track_id=None if hit is None else hit["track_id"])  # fmt: skip
