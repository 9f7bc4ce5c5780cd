"""Single images and arrays of frames: reading, resizing, grey conversion, masks, and PyAV errors in plain words.

The bottom of ``data/``: it imports nothing of the package but ``errors``, so that ``records.py``, ``frames.py``
and ``sources.py`` all build on it without a circle.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError


def read_image(path: str | Path) -> np.ndarray:
    """One image as grayscale ``(H, W)`` uint8 (Pillow mode ``L``). DataError names an unreadable file."""
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()  # decode now so that a truncated file fails here, not later
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(path, "image file not found") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(path, f"cannot read image: {exc}") from None


def image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` from the image header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(path, f"cannot read image: {exc}") from None
    return h, w


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """``(H, W)`` uint8 -> ``(size, size)`` uint8, Pillow bilinear; the aspect ratio is not kept (seed recipe)."""
    from PIL import Image

    if frame.shape == (size, size):
        return frame
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def resize_stack(frames: np.ndarray, size: int, path: str | Path | None = None) -> np.ndarray:
    """``(N, H, W)`` uint8 -> ``(N, size, size)`` uint8 (bilinear, aspect ignored as in the seed's 256x256)."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise DataError(path, f"expected (N, H, W) uint8 frames, got {frames.dtype} {frames.shape}")
    if frames.shape[1:] == (size, size):
        return frames
    out = np.empty((len(frames), size, size), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = resize_frame(frame, size)
    return out


def resize_masks(masks: np.ndarray, size: int) -> np.ndarray:
    """``(N, H, W)`` bool -> ``(N, size, size)`` bool with nearest-neighbour sampling (no grey edges)."""
    from PIL import Image

    masks = np.asarray(masks, dtype=bool)
    if masks.shape[1:] == (size, size):
        return masks
    out = np.empty((len(masks), size, size), dtype=bool)
    for i, m in enumerate(masks):
        img = Image.fromarray(m.astype(np.uint8) * 255)
        out[i] = np.asarray(img.resize((size, size), Image.Resampling.NEAREST)) > 127
    return out


def read_masks(
    paths: Sequence[str | Path | None],
    size: int | None = None,
    *,
    native_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Pixel masks from image files as ``(N, size, size)`` bool (pixel > 127 = abnormal).

    A ``None`` path is an all-False frame. With ``size=None`` masks keep their stored size
    (``native_size`` gives it when every path is None).
    """
    from PIL import Image

    out: np.ndarray | None = None
    shape = None if size is None else (size, size)
    for i, p in enumerate(paths):
        if p is None:
            continue
        gray = read_image(p)
        if size is None:
            if shape is None:
                shape = gray.shape
            elif gray.shape != shape:
                raise DataError(p, f"mask size {gray.shape[1]}x{gray.shape[0]} differs from {shape[1]}x{shape[0]}")
            m = gray > 127
        else:
            m = np.asarray(Image.fromarray(gray).resize((size, size), Image.Resampling.NEAREST)) > 127
        if out is None:
            out = np.zeros((len(paths), *shape), dtype=bool)
        out[i] = m
    if out is None:
        if shape is None:
            if native_size is None:
                raise DataError(None, "read_masks: every path is None and no size was given")
            shape = tuple(native_size)
        out = np.zeros((len(paths), *shape), dtype=bool)
    return out


def to_gray(frame: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3)`` uint8 -> ``(H, W)`` uint8 (ITU-R 601 luma, as Pillow's mode L)."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        return frame
    rgb = frame[..., :3].astype(np.float32)
    return (rgb @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5).astype(np.uint8)


_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused: nothing is listening at that address",
    errno.ECONNRESET: "the sender closed the connection",
    errno.ECONNABORTED: "the connection was aborted",
    errno.EPIPE: "the connection was closed",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ENOENT: "not found",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "the connection broke (input/output error)",
    errno.EBUSY: "the device is busy (another program is using it?)",
    errno.ENODEV: "no such device",
    errno.ENXIO: "no such device",
}


# PyAV's exception classes (by name: PyAV is imported only where it raised) in plain words. First match wins:
# the specific HTTP errors come before their base HTTPClientError.
_AV_WORDS = (
    (("InvalidDataError",), "the data received is not a video FFmpeg can read (invalid data)"),
    (("HTTPNotFoundError",), "not found on the server (HTTP 404)"),
    (("HTTPUnauthorizedError", "HTTPForbiddenError"), "access denied by the server (HTTP 401/403)"),
    (("HTTPClientError",), "the server refused the request (HTTP 4xx)"),
    (("HTTPServerError",), "the server failed (HTTP 5xx)"),
    (("ProtocolNotFoundError",), "this FFmpeg build does not support that protocol"),
    (("DemuxerNotFoundError", "DecoderNotFoundError"), "this FFmpeg build has no reader for that format or codec"),
    (("EOFError",), "the data ended early"),
)


def describe_av_error(exc: BaseException, timeout_s: float | None = None) -> str:
    """A PyAV/FFmpeg error in plain words, without errno numbers or the file name (the caller names it)."""
    try:
        import av.error as ave
    except ImportError:  # pragma: no cover - only called where PyAV raised
        ave = None
    if ave is not None:
        if isinstance(exc, (ave.ExitError, ave.TimeoutError)):
            return f"timed out: no data for {timeout_s:g} s" if timeout_s else "timed out: no data arrived"
        for names, words in _AV_WORDS:
            if isinstance(exc, tuple(getattr(ave, n) for n in names)):
                return words
    code = getattr(exc, "errno", None)
    if ave is not None and isinstance(exc, ave.FFmpegError) and code == errno.EPERM:
        # FFmpeg's bare -1 (a decoder or demuxer that just failed) reads as EPERM, "Operation not permitted": on
        # a file that opened, it is the data, never a permission (a file we may not read fails as EACCES).
        return "FFmpeg failed on this data (error -1: damaged, or not a video)"
    if code in _ERRNO_WORDS:
        return _ERRNO_WORDS[code]
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
