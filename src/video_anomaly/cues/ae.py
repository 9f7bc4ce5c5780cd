"""The appearance cue: the autoencoder's live reconstruction error, per region.

Each frame is resized to the model's input (``S x S``), the window of the last ``T`` frames is reconstructed
(``inference.stream_live``: the fast path encodes each frame once and decodes only the newest one) and the
newest frame's absolute pixel errors are averaged over ``patch x patch`` regions: a ``(S/p, S/p)`` map per frame,
in units of mean absolute grey level / 256. The first ``T - 1`` frames only fill the window: ``None``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator

import numpy as np


class _Feed:
    """An iterator the engine pulls frames from; runs dry -> StopIteration (the engine then restarts)."""

    def __init__(self):
        self.pending: collections.deque = collections.deque()

    def __iter__(self):
        return self

    def __next__(self):
        if not self.pending:
            raise StopIteration
        return self.pending.popleft()


class AECue:
    """Per-region live reconstruction error of a trained autoencoder (``model`` with its ``run_config``)."""

    name = "ae"

    def __init__(self, model, run_config, *, patch: int = 8, device=None):
        from ..errors import ConfigError

        self.model = model
        self.size = int(run_config.data.size)
        self.clip_length = int(run_config.data.clip_length)
        if self.size % patch:
            raise ConfigError(f"ae cue: patch {patch} must divide the model input size {self.size}")
        self.patch = int(patch)
        if isinstance(device, str):
            import torch

            device = torch.device(device)
        self.device = device

    @property
    def warmup(self) -> int:
        """Frames that yield no map at the start of a stream."""
        return self.clip_length - 1

    def grid_shape(self, frame_shape=None) -> tuple[int, int]:
        n = self.size // self.patch
        return n, n

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """Per ``(H, W)`` uint8 frame one ``(S/p, S/p)`` float32 map (``None`` for the first ``T - 1``); one
        frame is read per item yielded, so the stream can be fed live one frame at a time."""
        from ..data.frames import resize_frame
        from ..inference import stream_live
        from ..scoring import patch_errors

        window: collections.deque = collections.deque(maxlen=self.clip_length)
        feed = _Feed()
        results = None
        for frame in frames:
            small = resize_frame(np.asarray(frame), self.size)
            window.append(small)
            if results is not None:
                feed.pending.append(small)
            if len(window) < self.clip_length:
                yield None
                continue
            r = None
            if results is not None:
                r = next(results, None)
            if r is None:  # (re)start the engine on the current window
                feed.pending.clear()
                feed.pending.extend(window)
                results = iter(
                    stream_live(self.model, feed, clip_length=self.clip_length, device=self.device, maps=True)
                )
                r = next(results)
            yield patch_errors(r.map, self.patch).astype(np.float32)
