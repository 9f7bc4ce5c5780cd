"""Errors become scores: the seed's exact protocol (every stride-1 window of a whole video).

Definitions (Chong & Tay 2017, after Hasan et al. 2016). A video has ``N`` frames; for each window
start ``t = 0 .. N-T`` (``W = N-T+1`` windows, ``T = 10``) the model reconstructs frames ``t .. t+T-1``.

* pixel error ``e(x, y, t) = |I(x, y, t) - F(I)(x, y, t)|`` (frames in [0, 1));
* frame error ``e(t) = sum_{x,y} e(x, y, t)``;
* sequence cost: ``"l1"`` (the article's, default) ``cost(t) = sum of the window's T frame errors``;
  ``"l2"`` (the seed's published code) ``cost(t) = sqrt(sum over the window of e(x, y, .)**2)``;
* abnormality ``Sa(t) = (cost(t) - min_t cost) / max_t cost`` (``"seed"``: the article divides by the max,
  not by the range), ``"minmax"``: ``(c - min) / (max - min)``, ``"none"``: ``c`` itself;
* regularity ``Sr(t) = 1 - Sa(t)``.

Every score array here is aligned to frame (or window) index and higher means more abnormal, except ``Sr``.

One score per frame, every frame of the video included: frame ``i``'s own error averaged over the windows
that contain it (``l1``: mean of its frame errors; ``l2``: ``sqrt`` of the mean of its summed squared
errors). A window's cost mapped to its frames would smear each frame's error over the ``2T-1`` frames whose
windows overlap it, so that normal frames next to a long event outrank a short event.

The live scores (a causal window per frame, calibrated per region) are the cues' (``cues/``); this module
keeps the formulas they share (``normalize``, ``patch_errors``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError

COSTS = ("l1", "l2")
NORMALIZATIONS = ("seed", "minmax", "none")


# ---------------------------------------------------------------------------------------------
# Pure formulas on arrays
# ---------------------------------------------------------------------------------------------


def _check(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")
    return value


def window_costs(l1: np.ndarray, sq: np.ndarray, cost: str = "l1") -> np.ndarray:
    """Sequence cost of each window.

    ``l1``, ``sq``: ``(W, T)`` per frame sums over pixels of ``|error|`` and ``error**2``.
    Returns ``(W,)`` float64: ``l1.sum(1)`` for ``"l1"``, ``sqrt(sq.sum(1))`` for ``"l2"``.
    """
    _check("cost", cost, COSTS)
    if cost == "l1":
        return np.asarray(l1, dtype=np.float64).sum(axis=1)
    return np.sqrt(np.asarray(sq, dtype=np.float64).sum(axis=1))


def normalize(x: np.ndarray, method: str = "seed") -> np.ndarray:
    """Per-video normalisation of a score array ``(K,)`` (float64 out).

    ``"seed"``: ``(x - min) / max`` (the article's formula: for costs >= 0 the result lies in [0, 1),
    and its top is ``1 - min/max``, not 1); ``"minmax"``: ``(x - min) / (max - min)`` in [0, 1];
    ``"none"``: ``x`` unchanged. A constant array (zero denominator) maps to zeros.
    """
    _check("normalize", method, NORMALIZATIONS)
    x = np.asarray(x, dtype=np.float64)
    if method == "none" or x.size == 0:
        return x.copy()
    lo, hi = float(np.min(x)), float(np.max(x))
    denom = hi if method == "seed" else hi - lo
    if denom == 0:
        return np.zeros_like(x)
    return (x - lo) / denom


def regularity(sa: np.ndarray) -> np.ndarray:
    """``Sr = 1 - Sa`` (high = regular)."""
    return 1.0 - np.asarray(sa, dtype=np.float64)


def own_frame_errors(per_window: np.ndarray, n_frames: int) -> np.ndarray:
    """Average each frame's own per-window value over the windows that contain it.

    ``per_window``: ``(W, T)`` (row ``w``, column ``k`` is frame ``w + k``). Returns ``(N,)`` float64.
    """
    per_window = np.asarray(per_window, dtype=np.float64)
    n_windows, clip_length = per_window.shape
    total = np.zeros(n_frames)
    count = np.zeros(n_frames)
    idx = np.arange(n_windows)[:, None] + np.arange(clip_length)[None, :]
    np.add.at(total, idx, per_window)
    np.add.at(count, idx, 1.0)
    return total / np.maximum(count, 1.0)


def own_error_score(frame_l1: np.ndarray, frame_sq: np.ndarray, cost: str = "l1") -> np.ndarray:
    """Frame score from averaged own errors: ``frame_l1`` for ``"l1"``, ``sqrt(frame_sq)`` for ``"l2"``."""
    _check("cost", cost, COSTS)
    return np.asarray(frame_l1, dtype=np.float64) if cost == "l1" else np.sqrt(np.asarray(frame_sq, np.float64))


def patch_errors(error_map: np.ndarray, patch: int) -> np.ndarray:
    """Mean error per ``patch x patch`` block: ``(..., S, S)`` -> ``(..., S/p, S/p)`` float64."""
    error_map = np.asarray(error_map)
    s = error_map.shape[-1]
    if error_map.shape[-2] != s or patch < 1 or s % patch:
        raise ConfigError(f"patch size {patch} must divide the frame size {error_map.shape[-2:]}")
    g = s // patch
    blocks = error_map.reshape(*error_map.shape[:-2], g, patch, g, patch)
    return blocks.mean(axis=(-3, -1), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Streaming scorer
# ---------------------------------------------------------------------------------------------


@dataclass
class SeedScores:
    """The seed's scores of one video of ``N`` frames (``W = N - T + 1`` windows).

    ``l1``, ``sq``: ``(W, T)`` per window and frame sums of ``|e|`` and ``e**2``. ``cost``: ``(W,)``.
    ``sa``, ``sr``: ``(W,)`` the seed's abnormality and regularity of windows.
    ``frame_scores``: ``(N,)`` each frame's own error averaged over the windows containing it, higher = more
    abnormal. ``frame_sa``/``frame_sr``: ``(N,)`` its seed normalisation per video and ``1 - frame_sa``.
    """

    name: str
    clip_length: int
    l1: np.ndarray
    sq: np.ndarray
    cost: np.ndarray
    sa: np.ndarray
    sr: np.ndarray
    frame_scores: np.ndarray
    frame_sa: np.ndarray
    frame_sr: np.ndarray

    @property
    def n_frames(self) -> int:
        return len(self.frame_scores)


def _window_errors(model, frames, n_frames: int, clip_length: int, name: str, **stream) -> tuple[np.ndarray, ...]:
    """``(l1, sq)``, each ``(W, T)``, of every stride-1 window (``inference.stream_windows``, keywords ``stream``)."""
    from .inference import stream_windows

    n_windows = n_frames - clip_length + 1
    l1 = np.zeros((n_windows, clip_length))
    sq = np.zeros((n_windows, clip_length))
    seen = 0
    for w in stream_windows(model, frames, clip_length=clip_length, **stream):
        l1[w.start], sq[w.start] = w.l1, w.sq
        seen += 1
    if seen != n_windows:
        raise DataError(name, f"expected {n_frames} frames but the stream gave {seen + clip_length - 1}")
    return l1, sq


def score_frames(
    model,
    frames: Iterable[np.ndarray],
    n_frames: int,
    *,
    cost: str = "l1",
    clip_length: int = 10,
    device=None,
    batch_windows: int = 4,
    name: str = "<video>",
) -> SeedScores:
    """The seed's exact protocol on one video streamed as ``uint8 (S, S)`` frames (``n_frames`` of them).

    Every stride-1 window is reconstructed (``inference.stream_windows``, ``batch_windows`` at a time); the
    window costs use ``cost`` (``"l1"`` or ``"l2"``); Sa and Sr are the seed's normalisation per video.
    """
    _check("cost", cost, COSTS)
    if n_frames < clip_length:
        raise DataError(name, f"has {n_frames} frames, fewer than one clip of {clip_length}")
    l1, sq = _window_errors(model, frames, n_frames, clip_length, name, batch_windows=batch_windows, device=device)
    raw = own_error_score(own_frame_errors(l1, n_frames), own_frame_errors(sq, n_frames), cost)
    costs = window_costs(l1, sq, cost)
    sa, frame_sa = normalize(costs, "seed"), normalize(raw, "seed")
    return SeedScores(name, clip_length, l1, sq, costs, sa, regularity(sa), raw, frame_sa, regularity(frame_sa))


def seed_score_video(model, video, size: int = 256, **options) -> SeedScores:
    """``score_frames`` (its keywords: ``options``) on a ``data.records.Video``, frames from
    ``video.source.iter_frames(size)``."""
    n, clip_length = len(video), options.get("clip_length", 10)
    if n < clip_length:
        where = getattr(video.source, "path", None)
        raise DataError(where, f"video {video.name!r} has {n} frames, fewer than one clip of {clip_length}")
    return score_frames(model, video.source.iter_frames(size), n, name=video.name, **options)
