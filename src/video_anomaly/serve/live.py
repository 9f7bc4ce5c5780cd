"""The live view: each camera's frames with the anomaly heat map over them, from its worker to the browser.

Worker side (``LiveFeed.offer``): at most ``LIVE_FPS`` frames a second are drawn (the region map blended over the
frame in heat colours, full heat at twice the threshold, as ``watch --overlay`` draws it) and encoded as JPEG into
the camera's own queue of one slot: a frame that finds the slot full is dropped, so a slow service never makes a
worker wait and nothing piles up. Service side (``LiveFrames``): the latest JPEG of each camera, read from those
queues by the supervisor; ``mjpeg`` streams them as ``multipart/x-mixed-replace`` (one ``<img>`` shows it).
Memory is bounded at one frame per camera in the queue and one in the service. A worker draws only while someone
watches: each read of a camera's frame (``LiveFrames.latest``: the stream, ``live.jpg``) sets its ``wanted`` time
(a shared value the worker reads) ``WANT_S`` ahead; nobody watching costs no blend and no JPEG.
"""

from __future__ import annotations

import asyncio
import queue as q
import threading
import time

import numpy as np

LIVE_FPS = 4.0  # frames a second drawn for the live view (each costs the worker a blend and a JPEG encoding)
BOUNDARY = "frame"
WANT_S = 10.0  # seconds a camera's frames are drawn after the last read of them


def render_jpeg(frame: np.ndarray, region_map: np.ndarray | None, threshold: float, quality: int = 80) -> bytes:
    """``frame`` ``(H, W)`` uint8 gray and its region map ``(gh, gw)`` (threshold units) or None -> JPEG bytes."""
    import cv2

    from ..live.overlay import blend_heatmap

    frame = np.asarray(frame, np.uint8)
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    rgb = np.repeat(frame[..., None], 3, axis=2) if region_map is None else blend_heatmap(
        frame, region_map, scale=2.0 * max(threshold, 1e-6))  # fmt: skip
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a live frame of shape {frame.shape} as JPEG")
    return buf.tobytes()


class LiveFeed:
    """A worker's end: ``offer(fs)`` for every scored frame; draws and queues one every ``1 / fps`` seconds while
    ``wanted.value`` (Unix s, a shared ``multiprocessing`` value set by ``LiveFrames``) is ahead; None: always."""

    def __init__(self, queue, threshold: float, fps: float = LIVE_FPS, wanted=None):
        self.queue, self.threshold = queue, threshold
        # A frame still in the queue's buffer when the worker ends is dropped: its exit never waits for a reader.
        queue.cancel_join_thread()
        self.every = 1.0 / fps
        self.wanted = wanted
        self._last = 0.0

    def offer(self, fs) -> None:
        now = time.monotonic()
        if fs is None or fs.frame is None or now - self._last < self.every:
            return
        if self.wanted is not None and self.wanted.value < time.time():
            return  # nobody watches: no blend, no encoding
        self._last = now
        try:
            self.queue.put_nowait(render_jpeg(fs.frame, fs.map, self.threshold))
        except q.Full:  # the service has not taken the last one: this one is dropped
            pass


class LiveFrames:
    """The service's end: the latest JPEG of each camera (``latest(camera)`` -> ``(number, bytes)``, number 0:
    none yet); ``poll(queues)`` takes what the workers sent (called by the supervisor). ``wanted``: camera -> the
    shared value its worker's ``LiveFeed`` reads; each ``latest`` read keeps that camera drawn ``WANT_S`` more."""

    def __init__(self, wanted: dict | None = None):
        self.wanted = wanted or {}
        self._latest: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def poll(self, queues: dict) -> None:
        for camera, qu in queues.items():
            try:
                while True:
                    jpeg = qu.get_nowait()
                    with self._lock:
                        n = self._latest.get(camera, (0, b""))[0]
                        self._latest[camera] = (n + 1, jpeg)
            except (q.Empty, OSError, ValueError):  # empty, or closed while stopping
                pass

    def latest(self, camera: str) -> tuple[int, bytes]:
        if camera in self.wanted:
            self.wanted[camera].value = time.time() + WANT_S
        with self._lock:
            return self._latest.get(camera, (0, b""))

    def put(self, camera: str, jpeg: bytes) -> None:
        """Set a camera's latest frame directly (tests, a service without workers)."""
        with self._lock:
            self._latest[camera] = (self._latest.get(camera, (0, b""))[0] + 1, jpeg)

    async def mjpeg(self, camera: str, *, max_s: float = 600.0):
        """The camera's frames as one ``multipart/x-mixed-replace`` body, each new frame once, for at most
        ``max_s`` seconds (the page reconnects; a stream never holds a stopping server for long)."""
        seen, t_end = -1, time.monotonic() + max_s
        boundary = f"--{BOUNDARY}\r\n".encode()
        lead = boundary
        while time.monotonic() < t_end:
            n, jpeg = self.latest(camera)
            if n != seen and jpeg:
                seen = n
                head = f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                # Each part is followed by the next boundary at once: a browser shows (and counts as loaded) a part
                # only when it sees it end, and a camera that stopped sends no next part.
                yield lead + head + jpeg + b"\r\n" + boundary
                lead = b""
            await asyncio.sleep(0.5 / LIVE_FPS)
