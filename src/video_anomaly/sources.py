"""Frame sources for live detection: files, frame folders, cameras and network streams, read on a thread.

Sources (``open_live_source``): a video file or a frame folder (read without drops), a camera device
``/dev/videoN`` (PyAV, format ``v4l2``) or a network stream URL ``rtsp:// http(s):// udp:// tcp:// rtmp://``
(whatever PyAV/FFmpeg opens). Live sources are read by a thread into a bounded queue (``threaded_frames``).

Drop policy for live sources, when scoring falls behind: when the queue holds ``queue`` frames and a new
one arrives, the oldest ``queue - T + 1`` frames are dropped (the newest ``T - 1`` are kept so that
scoring resumes at once with a full clip), the drop is counted and a warning line goes to stderr (at
most one per second). Frame indices and times stay those of the source.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://", "srt://", "rtp://")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3)`` uint8 -> ``(H, W)`` uint8 (ITU-R 601 luma, as Pillow's mode L)."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        return frame
    rgb = frame[..., :3].astype(np.float32)
    return (rgb @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5).astype(np.uint8)


@dataclass
class LiveSource:
    """An opened frame source: ``frames`` yields original grayscale ``(H, W)`` uint8 frames."""

    name: str
    frames: Iterator[np.ndarray]
    fps: float
    live: bool
    close: Callable[[], None] = lambda: None


def is_stream_url(spec: str) -> bool:
    return spec.lower().startswith(URL_SCHEMES)


def _av_frames(container, name: str) -> Iterator[np.ndarray]:
    try:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="gray")
    except Exception as exc:  # FFmpeg errors of many types mean: the stream broke
        if not isinstance(exc, GeneratorExit):
            raise DataError(name, f"stream decode failed: {exc}") from None
    finally:
        container.close()


def open_live_source(spec: str, *, fps: float | None = None, timeout_s: float = 10.0) -> LiveSource:
    """Open a video file, frame folder, camera device or network stream (see module docstring).

    ``fps`` overrides the rate the source reports (frame folders report none: 10 fps, UCSD's, is assumed).
    """
    spec = str(spec)
    is_device = spec.startswith("/dev/video")
    if is_stream_url(spec) or is_device:
        try:
            import av
        except ImportError:
            raise DataError(spec, "reading cameras and streams needs PyAV: pip install av") from None
        options = {"rw_timeout": str(int(timeout_s * 1e6))} if not is_device else {}
        try:
            container = av.open(spec, format="v4l2" if is_device else None, options=options, timeout=timeout_s)
        except Exception as exc:
            raise DataError(spec, f"cannot open stream: {exc}") from None
        if not container.streams.video:
            container.close()
            raise DataError(spec, "no video stream")
        stream = container.streams.video[0]
        rate = fps or float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        return LiveSource(spec, _av_frames(container, spec), rate, True, container.close)
    path = Path(spec)
    from .data.frames import open_source

    source = open_source(path)
    rate = fps
    if rate is None and path.is_file():
        try:
            import av

            with av.open(str(path)) as c:
                s = c.streams.video[0]
                rate = float(s.average_rate or s.guessed_rate or 0) or None
        except Exception:  # noqa: BLE001 - the frame rate is only informative here
            rate = None
    return LiveSource(str(path), source.iter_frames(None), float(rate or 10.0), False)


class FrameQueue:
    """Bounded frame buffer between a reader thread and the scorer.

    ``policy="drop"`` (live sources): when full, the oldest ``maxsize - keep`` frames are dropped to make
    room; ``policy="block"`` (files): the reader waits. Items are ``(index, arrival_time, frame)``.
    """

    def __init__(self, maxsize: int, *, policy: str = "drop", keep: int = 1, warn: Callable[[str], None] | None = None):
        self.maxsize = max(int(maxsize), keep + 1)
        self.policy = policy
        self.keep = max(0, min(int(keep), self.maxsize - 1))
        self.dropped = 0
        self._q: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._closed = False
        self._warn = warn or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._last_warn = -1e9

    def put(self, item) -> None:
        with self._cv:
            if self.policy == "block":
                while len(self._q) >= self.maxsize and not self._closed:
                    self._cv.wait(0.1)
            elif len(self._q) >= self.maxsize:
                n = len(self._q) - self.keep
                for _ in range(n):
                    self._q.popleft()
                self.dropped += n
                now = time.monotonic()
                if now - self._last_warn >= 1.0:
                    self._last_warn = now
                    self._warn(
                        f"warning: scoring is behind the live source at frame {item[0]}: dropped the {n} oldest "
                        f"queued frames ({self.dropped} dropped so far; policy: drop oldest, queue {self.maxsize})"
                    )
            self._q.append(item)
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def get(self):
        """The next item, or None once the queue is closed and empty."""
        with self._cv:
            while not self._q and not self._closed:
                self._cv.wait(0.1)
            if self._q:
                item = self._q.popleft()
                self._cv.notify_all()
                return item
            return None

    def __len__(self) -> int:
        return len(self._q)


def threaded_frames(
    source: LiveSource, *, queue: int = 64, keep: int = 10, drop: bool | None = None, warn=None
) -> tuple[Iterator[tuple[int, float, np.ndarray]], FrameQueue]:
    """Read ``source`` on a thread; iterate ``(index, arrival_monotonic_s, frame)`` through a bounded queue.

    ``drop`` defaults to ``source.live``. Errors in the reader are re-raised in the consumer.
    """
    fq = FrameQueue(queue, policy="drop" if (source.live if drop is None else drop) else "block", keep=keep,
                    warn=warn)  # fmt: skip
    error: list[BaseException] = []
    stop = threading.Event()

    def reader():
        try:
            for i, frame in enumerate(source.frames):
                if stop.is_set():
                    break
                fq.put((i, time.monotonic(), frame))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            error.append(exc)
        finally:
            fq.close()

    thread = threading.Thread(target=reader, name="frame-reader", daemon=True)
    thread.start()

    def consume():
        try:
            while True:
                item = fq.get()
                if item is None:
                    break
                yield item
            if error:
                raise error[0]
        finally:
            stop.set()
            fq.close()
            thread.join(timeout=2.0)

    return consume(), fq
