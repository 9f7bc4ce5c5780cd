"""Reading frames: folders of images (Pillow) and video files (PyAV), grayscale ``uint8``.

Every frame comes out as a grayscale ``(H, W)`` uint8 array. Sources are lazy: building one
lists files or counts packets, and pixels are decoded only by ``frames()`` / ``iter_frames()``.
PyAV is imported inside the functions that decode video, so image-only use works without it.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from .records import FrameSource

IMAGE_EXTENSIONS = (".tif", ".tiff", ".jpg", ".jpeg", ".png", ".bmp")
# Common video containers, recognised by name without opening them. Any other file counts as a video when
# PyAV (FFmpeg) opens it and finds a video stream (``probe_video``): MPEG-TS (.ts, also TypeScript's), raw H.264...
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m2ts", ".mts", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")
# Files that sit beside videos in dataset folders and are never video: not worth asking FFmpeg about.
_NOT_VIDEO = (".txt", ".md", ".json", ".csv", ".m", ".mat", ".npy", ".npz", ".toml", ".yaml", ".yml", ".py", ".zip",
              ".tar", ".gz", ".pdf", ".html", ".xml", ".log")  # fmt: skip
# FFmpeg formats that open files that are not videos (text as ANSI art, single images).
_NOT_VIDEO_FORMATS = ("tty", "image2", "lavfi")


def is_hidden(path: str | Path) -> bool:
    """True for names starting with '.', which covers macOS ``.DS_Store`` and ``._*`` resource forks."""
    return Path(path).name.startswith(".")


def natural_key(name: str | Path) -> list:
    """Sort key that orders embedded numbers by value: ``2.tif`` before ``10.tif``."""
    parts = re.split(r"(\d+)", Path(name).name)
    # re.split alternates text/number, so positions always compare str with str and int with int.
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(parts)]


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not is_hidden(path) and path.is_file()


def probe_video(path: str | Path) -> str | None:
    """Why PyAV cannot read ``path`` as a video (a plain sentence), or None when it can.

    Opens the container and looks for a video stream; decodes nothing.
    """
    try:
        import av
    except ImportError:
        return "reading video files needs PyAV: pip install av"
    try:
        with av.open(str(path)) as container:
            fmt = container.format.name.split(",")[0]
            if fmt in _NOT_VIDEO_FORMATS or fmt.endswith("_pipe"):
                return "not a video file"
            if not container.streams.video:
                return "no video stream in this file"
    except Exception as exc:  # PyAV raises many FFmpeg error types; all mean "unreadable"
        import av.error

        if isinstance(exc, av.error.InvalidDataError):
            return "FFmpeg finds no video format it knows in it"

        return describe_av_error(exc)
    return None


def is_video_file(path: Path) -> bool:
    """A video file: a known video extension, or (other non-image names) a file PyAV opens with a video stream."""
    path = Path(path)
    if is_hidden(path) or not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    if suffix in IMAGE_EXTENSIONS or suffix in _NOT_VIDEO or path.stat().st_size == 0:
        return False
    return probe_video(path) is None


def list_images(folder: str | Path, *, required: bool = True) -> list[Path]:
    """Image files of ``folder`` in natural order, hidden files skipped.

    Raises DataError when the folder is missing, or holds no image and ``required`` is set.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "folder not found" if not folder.exists() else "not a folder")
    files = sorted((p for p in folder.iterdir() if is_image_file(p)), key=natural_key)
    if required and not files:
        raise DataError(folder, f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return files


def list_subfolders(folder: Path) -> list[Path]:
    """Non-hidden sub-folders in natural order."""
    return sorted((p for p in folder.iterdir() if p.is_dir() and not is_hidden(p)), key=natural_key)


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


class ImageFolderSource(FrameSource):
    """A video stored as a folder of image files (one frame each, natural order, hidden files skipped)."""

    def __init__(self, path: str | Path, files: Sequence[Path] | None = None):
        super().__init__(path)
        self.files = list(files) if files is not None else list_images(self.path)
        if not self.files:
            raise DataError(self.path, "no image files in this folder")
        self._native: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"ImageFolderSource({str(self.path)!r}, {len(self)} frames)"

    @property
    def native_size(self) -> tuple[int, int]:
        if self._native is None:
            self._native = image_size(self.files[0])
        return self._native

    def _check(self, frame: np.ndarray, want: tuple[int, ...], file: Path) -> None:
        if frame.shape != want:
            raise DataError(
                file,
                f"frame size {frame.shape[1]}x{frame.shape[0]} differs from {want[1]}x{want[0]} "
                f"of {self.files[0].name} in the same video",
            )

    def iter_frames(self, size: int | None = None) -> Iterator[np.ndarray]:
        if size in self._cache:
            yield from self._cache[size]
            return
        first_shape = None
        for f in self.files:
            frame = read_image(f)
            if first_shape is None:
                first_shape = frame.shape
            self._check(frame, first_shape, f)
            yield frame if size is None else resize_frame(frame, size)

    def _read_all(self) -> np.ndarray:
        first = read_image(self.files[0])
        out = np.empty((len(self.files), *first.shape), dtype=np.uint8)
        out[0] = first
        for i, f in enumerate(self.files[1:], start=1):
            frame = read_image(f)
            self._check(frame, first.shape, f)
            out[i] = frame
        return out


class VideoFileSource(FrameSource):
    """A video file (any container and codec PyAV/FFmpeg reads: .mp4 .avi .mkv .mov .ts ...) decoded to grayscale.

    ``len()`` counts the packets of the video stream (no decoding); after a full decode it is
    the number of frames actually decoded.
    """

    def __init__(self, path: str | Path):
        super().__init__(path)
        if not self.path.is_file():
            raise DataError(self.path, "video file not found")
        self._n: int | None = None
        self._native: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"VideoFileSource({str(self.path)!r})"

    def _open(self):
        try:
            import av
        except ImportError:
            raise DataError(self.path, "reading video files needs PyAV: pip install av") from None
        try:
            container = av.open(str(self.path))
        except Exception as exc:  # PyAV raises many FFmpeg error types; all mean "unreadable"
            raise DataError(self.path, f"cannot open video: {describe_av_error(exc)}") from None
        if not container.streams.video:
            container.close()
            raise DataError(self.path, "no video stream in this file")
        return container

    def __len__(self) -> int:
        if self._n is None:
            container = self._open()
            try:
                stream = container.streams.video[0]
                self._native = (stream.codec_context.height, stream.codec_context.width)
                self._n = sum(1 for pkt in container.demux(stream) if pkt.size > 0)
            except Exception as exc:
                raise DataError(self.path, f"cannot read video: {describe_av_error(exc)}") from None
            finally:
                container.close()
            if self._n == 0:
                raise DataError(self.path, "video has no frames")
        return self._n

    @property
    def native_size(self) -> tuple[int, int]:
        if self._native is None:
            len(self)
        return self._native  # type: ignore[return-value]

    def iter_frames(self, size: int | None = None) -> Iterator[np.ndarray]:
        if size in self._cache:
            yield from self._cache[size]
            return
        container = self._open()
        try:
            first_shape = None
            i = -1
            decoded = iter(container.decode(video=0))
            while True:
                try:
                    frame = next(decoded)
                except StopIteration:
                    break
                except Exception as exc:
                    raise DataError(
                        self.path, f"cannot decode video after frame {i + 1}: {describe_av_error(exc)}"
                    ) from None
                i += 1
                arr = frame.to_ndarray(format="gray")
                if first_shape is None:
                    first_shape = arr.shape
                elif arr.shape != first_shape:
                    raise DataError(
                        self.path,
                        f"frame {i} is {arr.shape[1]}x{arr.shape[0]}, frame 0 is {first_shape[1]}x{first_shape[0]}",
                    )
                yield arr if size is None else resize_frame(arr, size)
            if i < 0:
                raise DataError(self.path, "no decodable video frames")
        finally:
            container.close()

    def _read_all(self) -> np.ndarray:
        frames = np.stack(list(self.iter_frames(None)))
        self._n = len(frames)
        self._native = frames.shape[1:]
        return frames


def open_source(path: str | Path) -> FrameSource:
    """A single video: a folder of frame images, or any file PyAV/FFmpeg opens with a video stream."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "not found")
    if path.is_dir():
        return ImageFolderSource(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise DataError(path, "a single image, not a video: give the folder of frames it belongs to")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    if path.suffix.lower() in _NOT_VIDEO:
        raise DataError(path, "not a video file, nor a folder of frames")
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        problem = probe_video(path)
        if problem is not None:
            raise DataError(path, f"not a video file ({problem}), nor a folder of frames")
    return VideoFileSource(path)


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


def describe_av_error(exc: BaseException, timeout_s: float | None = None) -> str:
    """A PyAV/FFmpeg error in plain words, without errno numbers or the file name (the caller names it)."""
    try:
        import av.error as ave
    except ImportError:  # pragma: no cover - only called where PyAV raised
        ave = None
    if ave is not None:
        if isinstance(exc, (ave.ExitError, ave.TimeoutError)):
            return f"timed out: no data for {timeout_s:g} s" if timeout_s else "timed out: no data arrived"
        if isinstance(exc, ave.InvalidDataError):
            return "the data received is not a video FFmpeg can read (invalid data)"
        if isinstance(exc, ave.HTTPNotFoundError):
            return "not found on the server (HTTP 404)"
        if isinstance(exc, (ave.HTTPUnauthorizedError, ave.HTTPForbiddenError)):
            return "access denied by the server (HTTP 401/403)"
        if isinstance(exc, ave.HTTPClientError):
            return "the server refused the request (HTTP 4xx)"
        if isinstance(exc, ave.HTTPServerError):
            return "the server failed (HTTP 5xx)"
        if isinstance(exc, ave.ProtocolNotFoundError):
            return "this FFmpeg build does not support that protocol"
        if isinstance(exc, (ave.DemuxerNotFoundError, ave.DecoderNotFoundError)):
            return "this FFmpeg build has no reader for that format or codec"
        if isinstance(exc, ave.EOFError):
            return "the data ended early"
    code = getattr(exc, "errno", None)
    if code in _ERRNO_WORDS:
        return _ERRNO_WORDS[code]
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
