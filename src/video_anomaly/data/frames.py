"""Reading frames: folders of images (Pillow) and video files (PyAV), grayscale ``uint8``.

Every frame comes out as a grayscale ``(H, W)`` uint8 array. Sources are lazy: building one
lists files or counts packets, and pixels are decoded only by ``frames()`` / ``iter_frames()``.
PyAV is imported inside the functions that decode video, so image-only use works without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from .images import (  # noqa: F401 - re-exported: image reading and resizing live in images.py
    describe_av_error,
    image_size,
    read_image,
    read_masks,
    resize_frame,
    resize_masks,
    resize_stack,
    to_gray,
)
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
