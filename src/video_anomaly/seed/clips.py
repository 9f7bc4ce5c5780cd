"""Cutting videos into fixed-length clips, and the torch Dataset that serves them as uint8.

The seed's scheme (``step=None``): for each stride ``s`` and each offset ``o < s`` take the
sub-sequence ``frames[o::s]`` and cut it into consecutive, non-overlapping clips of
``clip_length`` frames, dropping the remainder. A 200-frame video gives 20 clips at stride 1
and 2 x 10 at stride 2. With ``step=k`` clips overlap, starting every ``k`` positions of each
sub-sequence.

Frames stay uint8 here (UCSD Ped1 Train at 256x256 is 445 MB as uint8, 3.6 GB as float64);
``batch_to_float`` makes the float32 batch in [0, 1) only once a batch is built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..data.records import FrameSource, Video
from ..errors import DataError
from .config import DataConfig


def clip_starts(n_frames: int, clip_length: int, stride: int = 1, step: int | None = None) -> list[list[int]]:
    """Frame indices of every clip at one stride: a list of ``clip_length``-long index lists.

    ``step=None`` is the seed's non-overlapping scheme; ``step=k`` starts a clip every ``k``
    positions of each ``frames[o::stride]`` sub-sequence.
    """
    if clip_length < 1 or stride < 1 or (step is not None and step < 1):
        raise ValueError(f"clip_length, stride and step must be >= 1, got {clip_length}, {stride}, {step}")
    hop = clip_length if step is None else step
    clips = []
    for offset in range(stride):
        sub = range(offset, n_frames, stride)
        for j in range(0, len(sub) - clip_length + 1, hop):
            clips.append(list(sub[j : j + clip_length]))
    return clips


def clip_table(n_frames: int, clip_length: int, strides: Sequence[int] = (1,), step: int | None = None) -> np.ndarray:
    """All clips of one video over several strides: ``(K, clip_length)`` int64 frame indices."""
    rows = [c for s in strides for c in clip_starts(n_frames, clip_length, s, step)]
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), clip_length)


def count_clips(n_frames: int, clip_length: int, strides: Sequence[int] = (1,), step: int | None = None) -> int:
    """Number of clips ``clip_table`` would give, without building it."""
    hop = clip_length if step is None else step
    total = 0
    for s in strides:
        for o in range(s):
            m = len(range(o, n_frames, s))
            if m >= clip_length:
                total += (m - clip_length) // hop + 1
    return total


def batch_to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 clips ``(B, T, 1, S, S)`` -> float32 in [0, 1) by dividing by 256 (the seed's scaling)."""
    return batch.to(torch.float32).div_(256.0)


def _as_source(v: Video | FrameSource) -> FrameSource:
    return v.source if isinstance(v, Video) else v


def _name(v: Video | FrameSource) -> str:
    return v.name if isinstance(v, Video) else str(v.path)


class ClipDataset(torch.utils.data.Dataset):
    """Clips of grayscale videos as ``(T, 1, S, S)`` torch.uint8 tensors (``S = config.size``).

    ``ranges``: per video ``(start, stop)``; only frames ``start <= i < stop`` are used (a
    calibration hold-out). A zero-length range leaves that video out. Each video is decoded and
    resized once, on first use, and kept as uint8 in its source's cache.
    """

    def __init__(
        self,
        videos: Sequence[Video | FrameSource],
        config: DataConfig,
        ranges: Sequence[tuple[int, int]] | None = None,
    ):
        self.videos = list(videos)
        self.sources = [_as_source(v) for v in self.videos]
        self.config = config
        if ranges is not None and len(ranges) != len(self.videos):
            raise ValueError(f"{len(ranges)} ranges for {len(self.videos)} videos")
        tables, owners = [], []
        for i, (video, source) in enumerate(zip(self.videos, self.sources)):
            n = len(source)
            start, stop = (0, n) if ranges is None else (int(ranges[i][0]), int(ranges[i][1]))
            if not 0 <= start <= stop <= n:
                raise ValueError(f"range {start}:{stop} outside {_name(video)} with {n} frames")
            if start == stop:
                continue
            table = clip_table(stop - start, config.clip_length, config.strides, config.clip_step) + start
            if len(table) == 0:
                raise DataError(
                    source.path,
                    f"{stop - start} frames (of {n}, range {start}:{stop}) give no clip of "
                    f"{config.clip_length} frames at strides {config.strides}",
                )
            tables.append(table)
            owners.append(np.full(len(table), i, dtype=np.int64))
        if tables:
            self._frames = np.concatenate(tables)
            self._owner = np.concatenate(owners)
        else:
            self._frames = np.zeros((0, config.clip_length), dtype=np.int64)
            self._owner = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._frames)

    def clip_frames(self, i: int) -> np.ndarray:
        """``(T,)`` frame indices of clip ``i`` within its video."""
        return self._frames[i]

    def clip_video(self, i: int) -> int:
        """Index (into ``videos``) of the video clip ``i`` comes from."""
        return int(self._owner[i])

    def __getitem__(self, i: int) -> torch.Tensor:
        frames = self.sources[self._owner[i]].frames(self.config.size)
        clip = frames[self._frames[i]]  # fancy indexing copies, so the cache is never shared with a batch
        return torch.from_numpy(clip).unsqueeze(1)

    def preload(self) -> None:
        """Decode and resize every video now (otherwise each is decoded on its first clip)."""
        for i in sorted(set(self._owner.tolist())):
            self.sources[i].frames(self.config.size)


def split_holdout(
    videos: Sequence[Video | FrameSource], fraction: float, clip_length: int = 10
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Hold out the last ``fraction`` of each video's frames (for calibration) from training.

    Returns ``(train_ranges, holdout_ranges)``, one ``(start, stop)`` per video. With
    ``fraction > 0`` each hold-out has at least ``clip_length`` frames and leaves at least
    ``clip_length`` for training; a video too short for both keeps all its frames for
    training and gets an empty hold-out ``(n, n)``.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    train, hold = [], []
    for v in videos:
        n = len(_as_source(v))
        k = 0
        if fraction > 0:
            k = min(max(math.ceil(fraction * n), clip_length), n - clip_length)
            if k < clip_length:
                k = 0
        train.append((0, n - k))
        hold.append((n - k, n))
    return train, hold
