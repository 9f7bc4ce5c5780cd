"""Frame sources for live detection: files, frame folders, cameras and network streams, read on a thread.

Sources (``open_live_source``): a video file or a frame folder (read without drops), a camera device
``/dev/videoN`` (PyAV, format ``v4l2``) or a network stream URL ``rtsp:// http(s):// udp:// tcp:// rtmp://``
(whatever PyAV/FFmpeg opens). Live sources are read by a thread into a bounded queue (``threaded_frames``).

Times: every frame carries its time in seconds from the source's first frame. Video files, cameras and streams
give each frame's presentation timestamp (variable frame rates stay right); frame folders have none, so frame
``i`` is at ``i / fps``.

Drop policy for live sources, when scoring falls behind: when the queue holds ``queue`` frames and a new
one arrives, the oldest ``queue - T + 1`` frames are dropped (the newest ``T - 1`` are kept so that
scoring resumes at once with a full clip), the drop is counted and a warning line goes to stderr (at
most one per second). Frame indices and times stay those of the source.

End of a source: a file or frame folder *ends*. A camera or network stream that fails, times out or stops
sending is *lost* (``SourceLost``); a stream that stops is judged lost unless its transport announced a
length (an HTTP file with a Content-Length that arrived in full). With ``reconnect_s`` a lost network source is
reopened for up to that many seconds: at the loss a gap marker (a ``TimedFrame`` whose frame is None) is yielded, so
that the open event ends then, not once the stream is back; frame numbers then skip over the gap, so no clip spans
it, and times go on by the wall-clock gap.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..data.images import describe_av_error
from ..errors import DataError, plural
from .redact import redact_source, redact_text

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://", "srt://", "rtp://")
# Consecutive packets that fail to decode before a stream is given up as unreadable.
MAX_BAD_PACKETS = 300


class SourceLost(DataError):
    """A camera or network stream failed, timed out or stopped sending while it was being read."""

    def __init__(self, name: str, problem: str):
        # The name goes into the message as given (a URL must not pass through Path: "udp:/host"), its secrets hidden.
        name, problem = redact_source(name), redact_text(problem)
        super().__init__(None, f"{name}: {problem}")
        self.name, self.problem = name, problem


class TimedFrame(NamedTuple):
    """One frame of a source: ``index`` (frame number, consecutive but for gaps), ``t`` (seconds from the
    source's first frame), ``frame`` (grayscale ``(H, W)`` or colour ``(H, W, 3)`` uint8; None: a gap marker, the
    stream was lost here and is being reopened, see the module docstring)."""

    index: int
    t: float
    frame: np.ndarray


@dataclass
class LiveSource:
    """An opened frame source.

    ``frames`` yields ``(H, W)`` uint8 frames, or ``TimedFrame`` items when ``timed`` (sources that know each
    frame's time: ``open_live_source`` on files, cameras and streams). ``timed_frames()`` yields ``TimedFrame``
    for both kinds (untimed frame ``i`` at ``i / fps``). ``close`` is called once reading stops, on the thread
    that read the frames.
    """

    name: str
    frames: Iterator
    fps: float
    live: bool
    close: Callable[[], None] = lambda: None
    timed: bool = False

    def timed_frames(self) -> Iterator[TimedFrame]:
        if self.timed:
            yield from self.frames
            return
        fps = self.fps if self.fps and self.fps > 0 else 10.0
        for i, frame in enumerate(self.frames):
            yield TimedFrame(i, i / fps, frame)


def is_stream_url(spec: str) -> bool:
    return spec.lower().startswith(URL_SCHEMES)


def _interruptible(call: Callable[[], Any]) -> Any:
    """``call()`` on a daemon thread while the main thread waits in short steps: FFmpeg's blocking open (a
    stream that does not answer) would otherwise hold off Ctrl-C and SIGTERM until its own timeout. On an
    interrupt the call is abandoned (its thread ends with FFmpeg's timeout) and the interrupt propagates."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="open-source", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _open_container(spec: str, *, device: bool, timeout_s: float):
    """``av.open`` of a camera, URL or file; errors become one plain ``DataError`` naming ``spec`` as it may be
    shown (``redact_source``)."""
    shown = redact_source(spec)
    try:
        import av
    except ImportError:
        raise DataError(None, f"{shown}: reading cameras, streams and video files needs PyAV: pip install av") from None
    network = is_stream_url(spec)
    options = {"rw_timeout": str(int(timeout_s * 1e6))} if network else {}
    try:
        container = _interruptible(lambda: av.open(spec, format="v4l2" if device else None, options=options,
                                                   timeout=timeout_s if network or device else None))  # fmt: skip
    except Exception as exc:  # FFmpeg errors of many types: say what happened
        raise DataError(
            None, f"{shown}: cannot open stream: {redact_text(describe_av_error(exc, timeout_s))}"
        ) from None
    if not container.streams.video:
        container.close()
        raise DataError(None, f"{shown}: no video stream")
    return container


def _stream_rate(container) -> float | None:
    stream = container.streams.video[0]
    return float(stream.average_rate or stream.guessed_rate or 0) or None


def _decoded(container, name: str, *, live: bool, timeout_s: float, warn: Callable[[str], None]):
    """``(frame (H, W) uint8, pts seconds or None)`` for the first video stream of ``container``.

    Packets that fail to decode are skipped until a frame decodes (a stream joined between keyframes; said
    once); after that a damaged packet is skipped too, and so said: a live stream at most once per 10 s, a file
    (damaged or truncated: what decodes is kept) on the first and in a total at its end. Frames the decoder
    marks as corrupt (errors concealed, as garbled MPEG-TS gives) are kept and counted the same way. A live
    stream's read errors and a live stream that stops raise ``SourceLost``; a file's read error ends it with a
    warning once a frame has decoded, else raises ``DataError``; so do ``MAX_BAD_PACKETS`` bad packets in a row.
    """
    stream = container.streams.video[0]
    packets = container.demux(stream)
    n_out = bad_run = bad_total = corrupt = 0
    last_warn = -1e9
    first_error = ""

    def say(msg: str) -> None:  # damage in a live stream: at most one line per 10 s; in a file, the first only
        nonlocal last_warn
        now = time.monotonic()
        if (live and now - last_warn >= 10.0) or (not live and last_warn < 0):
            last_warn = now
            warn(f"warning: {name}: {msg}")

    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - FFmpeg read errors of many types
            problem = describe_av_error(exc, timeout_s)
            if live:
                raise SourceLost(name, problem) from None
            if not n_out:
                raise DataError(None, f"{name}: cannot read video: {problem}") from None
            warn(f"warning: {name}: cannot read video after frame {n_out} ({problem}); truncated or damaged "
                 f"file: keeping the {n_out} frames before")  # fmt: skip
            return
        try:
            frames = packet.decode()
        except Exception as exc:  # noqa: BLE001 - a damaged or undecodable packet
            bad_run += 1
            bad_total += 1
            if bad_run > MAX_BAD_PACKETS:
                msg = f"{bad_run} packets in a row do not decode ({describe_av_error(exc)})"
                raise (SourceLost(name, msg) if live else DataError(None, f"{name}: {msg}")) from None
            if n_out == 0:
                # A stream joined between keyframes: said now. A file: said in the total at its end, or, when no
                # packet ever decodes (random bytes with a video name), as the one error below.
                if live and bad_total == 1:
                    warn(f"warning: {name}: skipping packets that do not decode until a keyframe arrives "
                         f"(joined the stream between keyframes?): {describe_av_error(exc)}")  # fmt: skip
                first_error = first_error or describe_av_error(exc)
                continue
            where = "" if live else "; a truncated or damaged file: what decodes is kept"
            say(f"skipped a packet that does not decode after frame {n_out} ({describe_av_error(exc)}{where})")
            continue
        bad_run = 0
        for frame in frames:
            n_out += 1
            if getattr(frame, "is_corrupt", False):  # PyAV >= 10; a fake or older frame has none
                corrupt += 1
                say(f"frame {n_out - 1} decoded with errors (damaged data, concealed by the decoder); kept")
            yield frame.to_ndarray(format="gray"), frame.time
    if not live and not n_out and bad_total:
        raise DataError(None, f"{name}: nothing decodes: none of its {plural(bad_total, 'packet')} gives a frame "
                              f"({first_error}): not a video FFmpeg can read, or damaged throughout")  # fmt: skip
    if not live and (bad_total > 1 or corrupt > 1):
        warn(f"warning: {name}: in all {plural(bad_total, 'packet')} skipped, {plural(corrupt, 'frame')} decoded "
             f"with errors, {plural(n_out, 'frame')} read")  # fmt: skip
    if live:
        try:
            size = container.size  # bytes the transport announced (HTTP Content-Length); < 0 when unknown
        except Exception:  # noqa: BLE001 - no size: an unbounded stream
            size = -1
        if not (isinstance(size, int) and size > 0) and container.duration is None:
            # An unbounded stream (camera, UDP, RTSP/RTMP live, chunked HTTP) has no normal end.
            stopped = f"the stream stopped after {plural(n_out, 'frame')}"
            raise SourceLost(name, f"{stopped} (the sender closed it or went away)")


def _timed_frames(
    spec: str,
    container,
    *,
    live: bool,
    fps: float,
    use_pts: bool,
    timeout_s: float,
    reconnect_s: float | None,
    warn: Callable[[str], None],
) -> Iterator[TimedFrame]:
    """``TimedFrame`` items of an opened container; reconnects a lost network source (see module docstring)."""
    index = 0  # frame numbers, which skip over a reconnection's gap
    received = 0  # frames read: what "source lost after N frames" counts, here and in `watch`'s last line
    offset = 0.0  # seconds before this connection's first frame
    last_t: float | None = None
    # The monotonic clock's time of the source's t = 0, as the frames show it: the least arrival - t (a frame can
    # come late, never early: the last frames before a timeout come out of the demuxer only when it fires).
    wall0: float | None = None
    started = time.monotonic()
    try:
        while True:
            t0: float | None = None
            try:
                for image, pts in _decoded(container, redact_source(spec), live=live, timeout_s=timeout_s, warn=warn):
                    if not use_pts:
                        t = index / fps
                    elif pts is None:
                        t = 0.0 if last_t is None else last_t + 1.0 / fps
                    else:
                        if t0 is None:
                            t0 = pts
                        t = offset + (pts - t0)
                        if last_t is not None and t <= last_t:
                            # A timestamp going back (wrap-around, broken stream): keep time moving forward.
                            offset += last_t + 1.0 / fps - t
                            t = last_t + 1.0 / fps
                    wall0 = min(time.monotonic() - t, wall0 if wall0 is not None else np.inf)
                    last_t = t
                    yield TimedFrame(index, t, image)
                    index += 1
                    received += 1
                return
            except SourceLost as lost:
                if not reconnect_s or not is_stream_url(spec):
                    raise
                container.close()
                warn(f"warning: {spec}: source lost after {plural(received, 'frame')} ({lost.problem}); "
                     f"reconnecting for up to {reconnect_s:g} s")  # fmt: skip
                yield TimedFrame(index, last_t if last_t is not None else 0.0, None)  # the open event ends now
                container, opened = _reopen(spec, lost, timeout_s=timeout_s, reconnect_s=reconnect_s)
                # Times go on by the wall-clock gap: the new connection's first frame is at the time its opening
                # began (sent from then on; those read while opening arrive together), on the source's clock
                # (wall0). Timed from the last frame's arrival instead, they fell behind by about the timeout.
                resume = opened - (wall0 if wall0 is not None else started)
                gap = resume - (last_t if last_t is not None else 0.0)
                warn(f"warning: {spec}: reconnected after {gap:.1f} s without frames")
                # Frame numbers skip over the gap (the detector restarts its clip).
                index += max(1, round(gap * fps))
                offset = resume
    finally:
        container.close()


def _reopen(spec: str, lost: SourceLost, *, timeout_s: float, reconnect_s: float):
    """``(container, monotonic time its successful opening began)``; ``SourceLost`` after ``reconnect_s``."""
    deadline = time.monotonic() + reconnect_s
    while True:
        began = time.monotonic()
        try:
            return _open_container(spec, device=False, timeout_s=min(timeout_s, max(1.0, reconnect_s))), began
        except DataError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                why = exc.problem.removeprefix(f"{redact_source(spec)}: ")
                raise SourceLost(spec, f"{lost.problem}; no reconnection within {reconnect_s:g} s ({why})") from None
            time.sleep(min(1.0, remaining))


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def open_live_source(
    spec: str,
    *,
    fps: float | None = None,
    timeout_s: float = 10.0,
    reconnect_s: float | None = None,
    warn: Callable[[str], None] | None = None,
) -> LiveSource:
    """Open a video file, frame folder, camera device or network stream (see module docstring).

    ``fps``: when given, frame ``i`` is at ``i / fps`` seconds whatever the source's timestamps say; else
    frames carry their presentation timestamps (frame folders, which have none: 10 fps, UCSD's, is assumed).
    ``timeout_s``: how long a camera or stream may send nothing. ``reconnect_s``: reopen a lost network
    stream for up to this many seconds. ``warn``: where warning lines go (default stderr). A stream is named
    (``name``, warnings, errors) with its secrets hidden (``redact.redact_source``: its user, password and query
    values), as ``watch`` prints its events and warnings.
    """
    spec = str(spec)
    warn = _redacting(warn or _stderr)
    is_device = spec.startswith("/dev/video")
    if is_stream_url(spec) or is_device:
        try:
            container = _open_container(spec, device=is_device, timeout_s=timeout_s)
        except DataError as exc:
            if not reconnect_s or is_device:
                raise
            # A stream that is down when `watch` starts is retried like one lost later (--reconnect).
            why = exc.problem.removeprefix(f"{redact_source(spec)}: ")
            warn(f"warning: {spec}: cannot open the stream ({why}); retrying for up to {reconnect_s:g} s")
            container, _ = _reopen(spec, SourceLost(spec, why), timeout_s=timeout_s, reconnect_s=reconnect_s)
            warn(f"warning: {spec}: opened")
        live = True
    else:
        path = Path(spec)
        from ..data.frames import ImageFolderSource, open_source

        source = open_source(path)  # a plain DataError for anything that is not a video or a frame folder
        if isinstance(source, ImageFolderSource):
            return LiveSource(str(path), source.iter_frames(None), float(fps or 10.0), False)
        container = _open_container(str(path), device=False, timeout_s=timeout_s)
        live = False
    rate = float(fps or _stream_rate(container) or (25.0 if live else 10.0))
    frames = _timed_frames(spec, container, live=live, fps=rate, use_pts=fps is None,
                           timeout_s=timeout_s, reconnect_s=reconnect_s, warn=warn)  # fmt: skip
    return LiveSource(redact_source(spec), frames, rate, live, frames.close, timed=True)


def _redacting(warn: Callable[[str], None]) -> Callable[[str], None]:
    """``warn`` hearing each line with every URL's secrets hidden (FFmpeg quotes a stream's URL its own ways)."""
    return lambda msg: warn(redact_text(msg))


class FrameQueue:
    """Bounded frame buffer between a reader thread and the scorer.

    ``policy="drop"`` (live sources): when full, the oldest ``maxsize - keep`` frames are dropped to make
    room (never an item put with ``droppable=False``: a lost stream's gap marker); ``policy="block"`` (files): the
    reader waits. Items are tuples whose first element is the frame index (``threaded_frames`` puts ``(index,
    arrival_time, frame, t_seconds)``).
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

    def put(self, item, *, droppable: bool = True) -> None:
        with self._cv:
            if self.policy == "block":
                while len(self._q) >= self.maxsize and not self._closed:
                    self._cv.wait(0.1)
            elif len(self._q) >= self.maxsize:
                popped = [self._q.popleft() for _ in range(len(self._q) - self.keep)]
                kept = [entry for entry in popped if not entry[1]]
                self._q.extendleft(reversed(kept))
                n = len(popped) - len(kept)
                self.dropped += n
                now = time.monotonic()
                if now - self._last_warn >= 1.0:
                    self._last_warn = now
                    self._warn(
                        f"warning: scoring is behind the live source at frame {item[0]}: dropped the {n} oldest "
                        f"queued frames ({self.dropped} dropped so far; policy: drop oldest, queue {self.maxsize})"
                    )
            self._q.append((item, droppable))
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
                item, _ = self._q.popleft()
                self._cv.notify_all()
                return item
            return None

    def __len__(self) -> int:
        return len(self._q)


def threaded_frames(
    source: LiveSource, *, queue: int = 64, keep: int = 10, drop: bool | None = None, warn=None
) -> tuple[Iterator[tuple[int, float, np.ndarray, float]], FrameQueue]:
    """Read ``source`` on a thread; iterate ``(index, arrival_monotonic_s, frame, t_seconds)`` through a bounded
    queue (``t_seconds``: the frame's time in the source, see ``LiveSource.timed_frames``; frame None: a lost
    stream's gap marker, never dropped).

    ``drop`` defaults to ``source.live``. Errors in the reader are re-raised in the consumer. The reader thread
    closes the source when it stops; closing the iterator stops it (a reader blocked in a read that has not
    returned within 2 s is left to finish on its own: it is a daemon thread).
    """
    fq = FrameQueue(queue, policy="drop" if (source.live if drop is None else drop) else "block", keep=keep,
                    warn=warn)  # fmt: skip
    error: list[BaseException] = []
    stop = threading.Event()

    def reader():
        frames = source.timed_frames()
        try:
            for index, t, frame in frames:
                if stop.is_set():
                    break
                fq.put((index, time.monotonic(), frame, t), droppable=frame is not None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            error.append(exc)
        finally:
            fq.close()
            try:
                frames.close()
                source.close()
            except Exception:  # noqa: BLE001 - closing must not hide the reader's own error
                pass

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
