"""Streaming reconstruction of test videos: the engine every scorer is built on.

Two protocols:

* **exact** (the seed's): every window start ``t = 0 .. N-T``; the model reconstructs frames
  ``t .. t+T-1``; ``stream_windows`` yields one ``WindowResult`` per window, in order.
* **live**: each frame ``i >= T-1`` is scored once, from the window that ends at it, and only that
  frame is decoded; ``stream_live`` yields one ``LiveResult`` per frame.

Frames go in as ``uint8`` arrays ``(S, S)``; they become float32 ``/ 256`` only inside the batch.
Nothing here holds more than one batch of windows: memory is flat in the video length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class WindowResult:
    """Reconstruction errors of one window starting at frame ``start``.

    ``l1``: ``(T,)`` float64, per frame sum over pixels of ``|I - F(I)|``.
    ``sq``: ``(T,)`` float64, per frame sum over pixels of ``(I - F(I))**2``.
    ``maps``: ``(T, S, S)`` float32 ``|I - F(I)|`` when requested, else None.
    """

    start: int
    l1: np.ndarray
    sq: np.ndarray
    maps: np.ndarray | None = None


@dataclass
class LiveResult:
    """Live-mode error of frame ``index`` (reconstructed as the last frame of its window)."""

    index: int
    l1: float
    sq: float
    map: np.ndarray | None = None


def _to_batch(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(..., S, S)`` uint8 -> float32 in [0, 1) on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(frames))
    if device.type == "cuda":
        t = t.pin_memory().to(device, non_blocking=True)
    return t.to(device=device, dtype=torch.float32).div_(256.0)


def _errors(clips: torch.Tensor, recon: torch.Tensor, maps: bool):
    diff = (clips - recon.float()).abs_()
    l1 = diff.sum(dim=(-2, -1), dtype=torch.float64)
    sq = diff.square().sum(dim=(-2, -1), dtype=torch.float64)
    m = diff.cpu().numpy() if maps else None
    return l1.cpu().numpy(), sq.cpu().numpy(), m


@torch.no_grad()
def stream_windows(
    model: torch.nn.Module,
    frames: Iterable[np.ndarray],
    *,
    clip_length: int = 10,
    batch_windows: int = 4,
    device: torch.device | None = None,
    maps: bool = False,
) -> Iterator[WindowResult]:
    """Exact protocol: reconstruct every stride-1 window of ``frames``.

    Plain reference implementation: windows are batched ``(B, T, 1, S, S)`` and passed to
    ``model`` as they are.
    """
    device = device or next(model.parameters()).device
    model.eval()
    buffer: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    start = 0

    def flush() -> Iterator[WindowResult]:
        nonlocal start
        clips = _to_batch(np.stack(pending), device).unsqueeze(2)
        recon = model(clips)
        l1, sq, m = _errors(clips[:, :, 0], recon[:, :, 0], maps)
        for k in range(len(pending)):
            yield WindowResult(start, l1[k], sq[k], None if m is None else m[k])
            start += 1
        pending.clear()

    for frame in frames:
        buffer.append(frame)
        if len(buffer) > clip_length:
            buffer.pop(0)
        if len(buffer) == clip_length:
            pending.append(np.stack(buffer))
            if len(pending) == batch_windows:
                yield from flush()
    if pending:
        yield from flush()


@torch.no_grad()
def stream_live(
    model: torch.nn.Module,
    frames: Iterable[np.ndarray],
    *,
    clip_length: int = 10,
    device: torch.device | None = None,
    maps: bool = False,
) -> Iterator[LiveResult]:
    """Live protocol: one result per frame ``i >= T-1`` from the window ending at it.

    Plain reference: the whole window goes through ``model`` and only the last frame is kept.
    """
    for w in stream_windows(model, frames, clip_length=clip_length, batch_windows=1, device=device, maps=maps):
        i = w.start + clip_length - 1
        yield LiveResult(i, float(w.l1[-1]), float(w.sq[-1]), None if w.maps is None else w.maps[-1])
