"""Streaming reconstruction of test videos: the engine every scorer is built on.

Two protocols:

* **exact** (the seed's): every window start ``t = 0 .. N-T``; the model reconstructs frames
  ``t .. t+T-1``; ``stream_windows`` yields one ``WindowResult`` per window, in order.
* **live**: each frame ``i >= T-1`` is scored once, from the window that ends at it, and only that
  frame is decoded; ``stream_live`` yields one ``LiveResult`` per frame.

Frames go in as ``uint8`` arrays ``(S, S)``; they become float32 ``/ 256`` only inside the batch.
Nothing here holds more than one batch of windows: memory is flat in the video length.

For the seed model both functions take a fast path by default (``fast=True``, see
``models/fast.py``): each frame is encoded once, and its encoder features and first-ConvLSTM input
gates are shared by every window that contains it; only what a protocol needs is decoded.
``fast=False`` runs the plain model on whole windows, the reference the fast path is tested against.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..device import autocast


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


def _use_fast(model: torch.nn.Module, fast: bool):
    """The fast wrapper when ``fast`` and the model has one, else None."""
    if not fast:
        return None
    from .models.fast import FastConvLSTMAE, fast_model

    m = fast_model(model)
    return m if isinstance(m, FastConvLSTMAE) else None


@torch.no_grad()
def stream_windows(
    model: torch.nn.Module,
    frames: Iterable[np.ndarray],
    *,
    clip_length: int = 10,
    batch_windows: int = 4,
    device: torch.device | None = None,
    maps: bool = False,
    fast: bool = True,
    precision: str = "fp32",
    decode_batch: int = 4,
) -> Iterator[WindowResult]:
    """Exact protocol: reconstruct every stride-1 window of ``frames``, all ``clip_length`` frames each.

    ``batch_windows`` windows go through the temporal stage together; the fast path decodes
    ``decode_batch`` frames per call (memory ~100 MB per frame at 256x256). ``precision`` is
    "fp32" (default; equal to the plain model within 1e-4), or "bf16"/"fp16" autocast.
    ``fast=False``: the plain reference, whole ``(B, T, 1, S, S)`` batches through ``model``.
    """
    device = device or next(model.parameters()).device
    model.eval()
    fm = _use_fast(model, fast)
    if fm is None:
        yield from _plain_windows(model, frames, clip_length, batch_windows, device, maps, precision)
    else:
        yield from _fast_windows(fm, frames, clip_length, batch_windows, device, maps, decode_batch, precision)


def _plain_windows(model, frames, clip_length, batch_windows, device, maps, precision) -> Iterator[WindowResult]:
    buffer: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    start = 0

    def flush() -> Iterator[WindowResult]:
        nonlocal start
        clips = _to_batch(np.stack(pending), device).unsqueeze(2)
        with autocast(device, precision):  # only around compute: a generator must not leak autocast
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


def _encode_stream(fm, frames: Iterable[np.ndarray], group: int, device: torch.device, precision: str):
    """Yield ``(frame uint8, first-ConvLSTM input gates (256, h, w))`` per frame, encoding ``group`` at a time."""
    chunk: list[np.ndarray] = []

    def run():
        x = _to_batch(np.stack(chunk), device).unsqueeze(1)
        with autocast(device, precision):
            gates = fm.input_gates(fm.encode_frames(x))
        out = list(zip(chunk, gates.unbind(0)))
        chunk.clear()
        return out

    for frame in frames:
        chunk.append(np.asarray(frame))
        if len(chunk) == group:
            yield from run()
    if chunk:
        yield from run()


def _window_batches(fm, frames, clip_length: int, batch_windows: int, device, precision: str):
    """Yield ``(index of the first window, windows)`` for consecutive stride-1 windows, ``batch_windows`` at a
    time (fewer at the end); each window is ``clip_length`` ``(frame uint8, input gates)`` pairs in order."""
    t = clip_length
    # The last T + B - 1 frames are all a batch of B windows needs; older ones are dropped.
    ring: deque = deque(maxlen=t + batch_windows - 1)
    done = seen = 0  # windows yielded, frames encoded

    def batch(n: int):
        items = list(ring)
        first = len(items) - (n - 1 + t)
        return done, [items[first + k : first + k + t] for k in range(n)]

    for item in _encode_stream(fm, frames, batch_windows, device, precision):
        ring.append(item)
        seen += 1
        if seen - t + 1 - done == batch_windows:
            yield batch(batch_windows)
            done += batch_windows
    if seen - t + 1 - done > 0:
        yield batch(seen - t + 1 - done)


def _stack_gates(windows: list) -> torch.Tensor:
    """``(B, T, 256, h, w)`` input gates of ``windows`` (see ``_window_batches``)."""
    return torch.stack([torch.stack([g for _, g in w]) for w in windows])


def _fast_windows(
    fm, frames, clip_length, batch_windows, device, maps, decode_batch, precision
) -> Iterator[WindowResult]:
    for start, windows in _window_batches(fm, frames, clip_length, batch_windows, device, precision):
        with autocast(device, precision):
            feats = fm.temporal(_stack_gates(windows)).flatten(0, 1)
            recon = torch.cat([fm.decode_frames(c) for c in feats.split(decode_batch)])[:, 0]
        clips = _to_batch(np.stack([np.stack([f for f, _ in w]) for w in windows]), device)
        l1, sq, m = _errors(clips, recon.view(clips.shape), maps)
        for k in range(len(windows)):
            yield WindowResult(start + k, l1[k], sq[k], None if m is None else m[k])


@torch.no_grad()
def stream_live(
    model: torch.nn.Module,
    frames: Iterable[np.ndarray],
    *,
    clip_length: int = 10,
    device: torch.device | None = None,
    maps: bool = False,
    fast: bool = True,
    precision: str = "fp32",
    batch_windows: int = 1,
) -> Iterator[LiveResult]:
    """Live protocol: one result per frame ``i >= T-1`` from the window ending at it.

    Fast path: each frame is encoded once (features and first-ConvLSTM input gates kept for the
    last ``T`` frames), the ConvLSTM stack runs over the window, and only its last frame is decoded.
    ``batch_windows > 1`` runs that many consecutive windows together (more frames/s, more latency).
    ``fast=False``: the plain reference, the whole window through ``model``, last frame kept.
    """
    device = device or next(model.parameters()).device
    model.eval()
    fm = _use_fast(model, fast)
    if fm is None:
        for w in stream_windows(
            model, frames, clip_length=clip_length, batch_windows=1, device=device, maps=maps, fast=False,
            precision=precision,
        ):  # fmt: skip
            i = w.start + clip_length - 1
            yield LiveResult(i, float(w.l1[-1]), float(w.sq[-1]), None if w.maps is None else w.maps[-1])
        return
    yield from _fast_live(fm, frames, clip_length, batch_windows, device, maps, precision)


def _fast_live(fm, frames, clip_length, batch_windows, device, maps, precision) -> Iterator[LiveResult]:
    for start, windows in _window_batches(fm, frames, clip_length, batch_windows, device, precision):
        with autocast(device, precision):
            recon = fm.decode_frames(fm.temporal(_stack_gates(windows), last_only=True))[:, 0]
        target = _to_batch(np.stack([w[-1][0] for w in windows]), device)
        l1, sq, m = _errors(target, recon.view(target.shape), maps)
        for k in range(len(windows)):
            yield LiveResult(start + k + clip_length - 1, float(l1[k]), float(sq[k]), None if m is None else m[k])
