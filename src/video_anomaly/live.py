"""Live detection: frames in as they arrive, a calibrated score per frame, alarms out.

Memory is bounded by construction: the detector keeps the last ``T`` frames (one clip), the reader
queue at most ``queue`` frames (``sources.threaded_frames``), the event tracker one open event.
A window never spans a gap: after a drop the detector restarts its clip.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .calibration import Calibration, frame_raw_score, patch_grid
from .sources import to_gray


@dataclass
class FrameScore:
    """The live verdict on one frame.

    ``index``: source frame index; ``raw``/``score``: unsmoothed and EMA-smoothed score (calibration
    units); ``alarm``: ``score > threshold``; ``bbox``: ``(x0, y0, x1, y1)`` of the most abnormal patch in
    original frame pixels; ``map``: ``(S, S)`` float32 pixel errors when the detector keeps maps;
    ``frame``: the original grayscale frame ``(H, W)`` uint8 (a reference, not a copy).
    """

    index: int
    raw: float
    score: float
    alarm: bool
    bbox: tuple[int, int, int, int]
    map: np.ndarray | None = None
    frame: np.ndarray | None = None


class _Feed:
    """An iterator the engine pulls frames from; ``push`` fills it. Runs dry -> StopIteration."""

    def __init__(self):
        self.pending: collections.deque = collections.deque()

    def __iter__(self):
        return self

    def __next__(self):
        if not self.pending:
            raise StopIteration
        return self.pending.popleft()


class LiveDetector:
    """Scores one frame at a time with a model and its calibration.

    ``push(frame)`` takes an original frame (``(H, W)`` or ``(H, W, 3)`` uint8, any size), resizes it to
    the model's input and returns a ``FrameScore`` once the clip is full (from the ``T``-th frame on;
    every later frame is scored on arrival), else None. The engine (``inference.stream_live``) runs as one
    generator fed frame by frame, so an engine that caches per-frame work across windows keeps it.
    """

    def __init__(self, model, run_config, calibration: Calibration, *, score: str | None = None, device=None,
                 keep_maps: bool = False, engine: Callable | None = None):  # fmt: skip
        from .inference import stream_live

        self.model = model
        self.cal = calibration if score is None else calibration.with_score(score)
        self.size = run_config.data.size
        self.clip_length = run_config.data.clip_length
        if (self.size, self.clip_length) != (self.cal.size, self.cal.clip_length):
            from .errors import ConfigError

            raise ConfigError(
                f"calibration was fitted at {self.cal.size}px/T={self.cal.clip_length}, "
                f"the model runs at {self.size}px/T={self.clip_length}"
            )
        self.threshold = self.cal.threshold
        self.device = device
        self.keep_maps = keep_maps
        self._engine = engine or stream_live
        self._window: collections.deque = collections.deque(maxlen=self.clip_length)
        self._feed = _Feed()
        self._results: Iterator | None = None
        self._ema: float | None = None
        self._next_index: int | None = None

    def reset(self, keep_score: bool = True) -> None:
        """Forget the clip (after a gap in the source); the smoothed score survives unless ``keep_score`` is False."""
        self._window.clear()
        self._feed.pending.clear()
        self._results = None
        if not keep_score:
            self._ema = None

    def _run_engine(self):
        """The next engine result for the newest frame; restarts the engine on the window when it has ended."""
        if self._results is not None:
            try:
                return next(self._results)
            except StopIteration:
                self._results = None
        # (Re)start: feed the whole current window (a fresh engine needs T frames for its first result).
        self._feed.pending.clear()
        self._feed.pending.extend(self._window)
        self._results = iter(
            self._engine(self.model, self._feed, clip_length=self.clip_length, device=self.device, maps=True)
        )
        return next(self._results)

    def push(self, frame: np.ndarray, index: int | None = None) -> FrameScore | None:
        """Add the next frame (source index ``index``; consecutive when None) and score it if the clip is full."""
        gray = to_gray(frame)
        if index is None:
            index = 0 if self._next_index is None else self._next_index
        elif self._next_index is not None and index != self._next_index:
            self.reset()  # a gap (dropped frames): never score a window that spans it
        self._next_index = index + 1
        from .data.frames import resize_frame

        small = resize_frame(gray, self.size)
        self._window.append(small)
        if self._results is not None:
            self._feed.pending.append(small)
        if len(self._window) < self.clip_length:
            return None
        result = self._run_engine()
        err = result.map
        patches = patch_grid(err, self.cal.patch)
        raw, where = frame_raw_score(patches, float(err.mean()), self.cal, self.cal.score)
        a = self.cal.ema_alpha
        self._ema = raw if self._ema is None or not 0 < a < 1 else a * raw + (1 - a) * self._ema
        bbox = patch_bbox(where, self.cal.patch, self.size, gray.shape)
        return FrameScore(index, raw, self._ema, self._ema > self.threshold, bbox,
                          err if self.keep_maps else None, gray)  # fmt: skip


def patch_bbox(patch_map: np.ndarray, patch: int, size: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Box ``(x0, y0, x1, y1)`` in original pixels (``shape = (H, W)``) of the highest patch of ``patch_map``."""
    r, c = np.unravel_index(int(np.argmax(patch_map)), patch_map.shape)
    h, w = shape
    sy, sx = h / size, w / size
    return (
        int(c * patch * sx),
        int(r * patch * sy),
        int(round((c + 1) * patch * sx)),
        int(round((r + 1) * patch * sy)),
    )


def load_live(checkpoint, *, score: str | None = None, device=None, keep_maps: bool = False):
    """``(detector, model, run_config, calibration)`` from a calibrated checkpoint."""
    from .checkpoint import load_checkpoint
    from .device import pick_device

    device = pick_device(None if device is None else str(device))
    model, run_config, extras = load_checkpoint(checkpoint, device=device)
    cal = Calibration.from_extras(extras, str(checkpoint))
    detector = LiveDetector(model, run_config, cal, score=score, device=device, keep_maps=keep_maps)
    return detector, model, run_config, detector.cal
