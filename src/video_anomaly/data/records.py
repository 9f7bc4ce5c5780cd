"""Record types shared by every reader: a video is an ordered frame source plus optional labels.

Frames are grayscale ``uint8`` arrays of shape ``(H, W)``; they stay ``uint8`` until a
batch is built (float32 in [0, 1) only inside the batch, see ``data.clips``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np


class FrameSource:
    """An ordered, lazily read sequence of grayscale frames.

    Subclasses implement ``__len__``, ``native_size`` and ``_read_all`` (all frames at native
    size) and may override ``iter_frames`` to stream without holding the whole video.
    ``frames(size)`` decodes once and caches the resized ``uint8`` array.
    """

    path: Path

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._cache: dict[int | None, np.ndarray] = {}

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def native_size(self) -> tuple[int, int]:  # pragma: no cover - abstract
        """``(height, width)`` of the frames as stored."""
        raise NotImplementedError

    def _read_all(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def iter_frames(self, size: int | None = None) -> Iterator[np.ndarray]:
        """Yield frames one at a time, each ``(size, size)`` uint8 (native size when ``size`` is None)."""
        yield from self.frames(size)

    def frames(self, size: int | None = None) -> np.ndarray:
        """All frames as one ``(N, size, size)`` uint8 array (native ``(N, H, W)`` when ``size`` is None).

        Decoded once per size and cached on the source.
        """
        if size not in self._cache:
            from .images import resize_stack

            native = self._cache.get(None)
            if native is None:
                native = self._read_all()
            self._cache[size] = native if size is None else resize_stack(native, size, self.path)
        return self._cache[size]

    def clear_cache(self) -> None:
        self._cache.clear()


class ArraySource(FrameSource):
    """Frames already in memory: a ``(N, H, W)`` uint8 array (tests, live buffers)."""

    def __init__(self, frames: np.ndarray, path: str | Path = "<array>"):
        super().__init__(path)
        frames = np.asarray(frames)
        if frames.ndim != 3 or frames.dtype != np.uint8:
            from ..errors import DataError

            raise DataError(self.path, f"expected a (N, H, W) uint8 array, got {frames.dtype} {frames.shape}")
        self._frames = frames

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def native_size(self) -> tuple[int, int]:
        return tuple(self._frames.shape[1:])  # type: ignore[return-value]

    def _read_all(self) -> np.ndarray:
        return self._frames


@dataclass
class Video:
    """One video: frames, and for test videos optional ground truth.

    ``labels``: ``(N,)`` bool, True = abnormal frame. ``mask_paths``: one image path per frame
    (or ``None`` for a frame without a mask file) when pixel masks exist; read them with
    ``data.frames.read_masks``. ``masks``: alternatively an in-memory ``(N, H, W)`` bool array.
    """

    name: str
    source: FrameSource
    labels: np.ndarray | None = None
    mask_paths: Sequence[Path] | None = None
    masks: np.ndarray | None = None
    # Masks kept on disk in a non-image form (Avenue .mat, ShanghaiTech .npy): a callable
    # ``size -> (N, size, size) bool`` so that they are read only when asked for.
    mask_loader: Callable[[int | None], np.ndarray] | None = None
    # The wall clock of its first frame when the dataset says it (a manifest's ``start``); None: unknown.
    start: datetime | None = None

    def __len__(self) -> int:
        return len(self.source)

    @property
    def has_masks(self) -> bool:
        return self.mask_paths is not None or self.masks is not None or self.mask_loader is not None

    def read_masks(self, size: int | None = None) -> np.ndarray | None:
        """Pixel masks as ``(N, size, size)`` bool (native size when ``size`` is None); None without masks."""
        from .images import read_masks, resize_masks

        if self.masks is not None:
            return np.asarray(self.masks, dtype=bool) if size is None else resize_masks(self.masks, size)
        if self.mask_paths is not None:
            return read_masks(self.mask_paths, size, native_size=self.source.native_size)
        if self.mask_loader is not None:
            return self.mask_loader(size)
        return None


@dataclass
class VideoDataset:
    """A dataset: normal training videos and (optionally labelled) test videos."""

    name: str
    root: Path
    train: list[Video] = field(default_factory=list)
    test: list[Video] = field(default_factory=list)

    def summary(self) -> dict:
        """Counts that ``video-anomaly data info`` prints."""
        n_abnormal = sum(int(np.count_nonzero(v.labels)) for v in self.test if v.labels is not None)
        return {
            "name": self.name,
            "root": str(self.root),
            "train_videos": len(self.train),
            "train_frames": sum(len(v) for v in self.train),
            "test_videos": len(self.test),
            "test_frames": sum(len(v) for v in self.test),
            "test_abnormal_frames": n_abnormal,
            "test_videos_labelled": sum(v.labels is not None for v in self.test),
            "test_videos_with_masks": sum(v.has_masks for v in self.test),
        }


def true_runs(mask) -> list[tuple[int, int]]:
    """Runs of True in a ``(N,)`` mask as ``(start, stop)`` frame indices, ``stop`` exclusive."""
    d = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask, bool).astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(d[0::2], d[1::2])]
