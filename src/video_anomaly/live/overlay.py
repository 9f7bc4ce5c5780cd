"""Heatmap video: the input with its per-pixel reconstruction error blended over it.

Each output frame is the original frame (grayscale, original size) with the error map, upsampled from
the model's input size, drawn in a heat colour map (transparent where the error is low), a strip below
with the running score, its threshold and the event marks, and a red border while an event is open.
Encoded with PyAV as H.264 (libx264, yuv420p); PyAV is imported only here.
"""

from __future__ import annotations

import collections
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import DataError

STRIP = 48  # height in pixels of the score strip under the frame


def _heat_lut() -> np.ndarray:
    """``(256, 3)`` uint8 black-red-yellow ramp (no white: full heat must not look like a bright pixel)."""
    t = np.linspace(0.0, 1.0, 256)
    r = np.clip(2 * t, 0, 1)
    g = np.clip(2 * t - 1, 0, 1)
    b = np.zeros_like(t)
    return (np.stack([r, g, b], axis=1) * 255).astype(np.uint8)


_LUT = _heat_lut()


def blend_heatmap(frame: np.ndarray, error_map: np.ndarray, scale: float, alpha: float = 0.6) -> np.ndarray:
    """``frame`` ``(H, W)`` uint8 and ``error_map`` ``(S, S)`` float -> ``(H, W, 3)`` uint8 RGB.

    ``scale``: the error shown at full heat; the blend weight grows with the error so that normal
    regions keep their picture.
    """
    from PIL import Image

    h, w = frame.shape
    heat = np.clip(np.asarray(error_map, np.float32) / max(scale, 1e-6), 0, 1)
    heat = np.asarray(Image.fromarray(heat).resize((w, h), Image.Resampling.BILINEAR), np.float32)
    colour = _LUT[(heat * 255).astype(np.uint8)].astype(np.float32)
    weight = (alpha * heat)[..., None]
    base = np.repeat(frame[..., None], 3, axis=2).astype(np.float32)
    return (base * (1 - weight) + colour * weight).astype(np.uint8)


class OverlayWriter:
    """Writes overlay frames to an H.264 file. Use as a context manager; ``write`` once per frame.

    ``fps``: output rate; ``threshold``: drawn as a line in the score strip; ``history``: frames of
    score shown in the strip (a bounded window: memory stays flat).
    """

    def __init__(self, path: str | Path, fps: float, threshold: float, *, scale: float, history: int = 200):
        self.path = Path(path)
        self.fps = fps if fps and fps > 0 else 10.0
        self.threshold = float(threshold)
        self.scale = float(scale)
        self.scores: collections.deque = collections.deque(maxlen=history)
        self._container = None
        self._stream = None
        self._size: tuple[int, int] | None = None

    def _open(self, height: int, width: int) -> None:
        try:
            import av
        except ImportError:
            raise DataError(self.path, "writing overlay videos needs PyAV: pip install av") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # H.264 with yuv420p needs even sizes; frames are padded by one pixel when odd.
        self._size = (height + height % 2, width + width % 2)
        self._container = av.open(str(self.path), mode="w")
        rate = Fraction(self.fps).limit_denominator(1000)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = self._size[1], self._size[0] + STRIP
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": "23", "preset": "veryfast"}

    def _strip(self, width: int, in_event: bool) -> np.ndarray:
        strip = np.full((STRIP, width, 3), 24, np.uint8)
        if not self.scores:
            return strip
        vals = np.array([s if s is not None else np.nan for s, _ in self.scores], np.float64)
        hi = max(np.nanmax(vals) if np.isfinite(vals).any() else 1.0, self.threshold * 1.5, 1e-6)
        lo = min(np.nanmin(vals) if np.isfinite(vals).any() else 0.0, 0.0)
        rng = hi - lo or 1.0

        def y_of(v: float) -> int:
            return int(round((STRIP - 3) * (1 - (v - lo) / rng))) + 1

        n = self.scores.maxlen or len(self.scores)
        xs = (np.arange(len(self.scores)) + (n - len(self.scores))) * (width - 1) // max(n - 1, 1)
        strip[:, :, :] = 24
        for x, (_, ev) in zip(xs, self.scores):
            if ev:
                strip[:, x, 0] = 110  # event frames shaded red
        strip[y_of(self.threshold), :, :] = (200, 200, 0)
        prev = None
        for x, v in zip(xs, vals):
            if np.isfinite(v):
                y = y_of(v)
                lo_y, hi_y = (y, y) if prev is None else (min(prev, y), max(prev, y))
                strip[lo_y : hi_y + 1, x] = (80, 200, 255)
                prev = y
        return strip

    def write(self, frame: np.ndarray, error_map: np.ndarray | None, score: float | None, in_event: bool) -> None:
        """One source frame ``(H, W)`` uint8, its error map ``(S, S)`` (None before the clip is full)."""
        h, w = frame.shape
        if self._container is None:
            self._open(h, w)
        self.scores.append((score, in_event))
        rgb = (
            blend_heatmap(frame, error_map, self.scale) if error_map is not None else np.repeat(frame[..., None], 3, 2)
        )
        if in_event:
            b = max(2, min(h, w) // 64)
            rgb[:b], rgb[-b:], rgb[:, :b], rgb[:, -b:] = (255, 0, 0), (255, 0, 0), (255, 0, 0), (255, 0, 0)
        out = np.zeros((self._size[0] + STRIP, self._size[1], 3), np.uint8)
        out[:h, :w] = rgb
        out[self._size[0] :] = self._strip(self._size[1], in_event)
        import av

        vf = av.VideoFrame.from_ndarray(out, format="rgb24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)

    def close(self) -> None:
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
