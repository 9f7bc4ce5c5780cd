"""An event's media: the snapshot (the peak frame with its box, JPEG) and a short clip with pre- and post-roll (WebM).

Both are written under a temporary name and renamed when complete, so a crash never leaves half a file under the
name the store points to. Clips are VP8 in WebM (PyAV): every browser plays it without a plug-in.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..outputs import atomic_output

SNAPSHOT_EXT, CLIP_EXT = ".jpg", ".webm"


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def write_snapshot(path: str | Path, frame: np.ndarray, bbox=None) -> int:
    """``frame`` ``(H, W)`` or ``(H, W, 3)`` uint8 with ``bbox`` ``(x0, y0, x1, y1)`` (pixels, x1/y1 exclusive) drawn
    in red -> JPEG at ``path``. Returns its size in bytes."""
    from PIL import Image, ImageDraw

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.asarray(frame, np.uint8)).convert("RGB")
    if bbox is not None:
        x0, y0, x1, y1 = (int(v) for v in bbox)
        width = max(1, round(min(img.size) / 120))
        ImageDraw.Draw(img).rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=(255, 32, 32), width=width)
    with atomic_output(path) as tmp:  # a failed write (disk full) leaves nothing behind
        img.save(tmp, format="JPEG", quality=88)
    return path.stat().st_size


class ClipWriter:
    """Frames ``(H, W)`` or ``(H, W, 3)`` uint8 in, a WebM (VP8) clip at ``path`` out on ``close()``.

    ``fps``: the clip's frame rate. Odd sizes are padded by one pixel (the encoder needs even sides). ``abort()``
    removes the partial file."""

    def __init__(self, path: str | Path, fps: float, *, bitrate: int = 600_000):
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _tmp(self.path)
        self._container = av.open(str(self._tmp), mode="w", format="webm")
        try:
            self._stream = self._container.add_stream("libvpx", rate=max(1, round(fps)))
            self._stream.bit_rate = bitrate
            # Real-time settings, one thread: the clip is encoded on the camera's own worker, between frames
            # (libvpx's own threads cost 4x the CPU per frame here, 360x240 on 2 cores: 4.3 ms against 1.1 ms).
            self._stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "threads": "1"}
            self._stream.pix_fmt = "yuv420p"
        except BaseException:  # no encoder: nothing left open or on disk
            self.abort()
            raise
        self._shape: tuple[int, int] | None = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        import av

        frame = np.asarray(frame, np.uint8)
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=2)
        h, w = frame.shape[:2]
        if self._shape is None:
            self._shape = (h + h % 2, w + w % 2)
            self._stream.height, self._stream.width = self._shape
        if frame.shape[:2] != self._shape:
            padded = np.zeros((*self._shape, 3), np.uint8)
            padded[: min(h, self._shape[0]), : min(w, self._shape[1])] = frame[: self._shape[0], : self._shape[1]]
            frame = padded
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> int:
        """Finish the file and give it its name; its size in bytes (0 and no file when no frame was written)."""
        if self.frames == 0:
            self.abort()
            return 0
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        os.replace(self._tmp, self.path)
        return self.path.stat().st_size

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - closing a broken writer: the file goes anyway
            pass
        self._tmp.unlink(missing_ok=True)
