"""Errors become scores: the seed's regularity score and the per-frame scores built from it.

Definitions (Chong & Tay 2017, after Hasan et al. 2016). A video has ``N`` frames; for each window
start ``t = 0 .. N-T`` (``W = N-T+1`` windows, ``T = 10``) the model reconstructs frames ``t .. t+T-1``.

* pixel error ``e(x, y, t) = |I(x, y, t) - F(I)(x, y, t)|`` (frames in [0, 1));
* frame error ``e(t) = sum_{x,y} e(x, y, t)``;
* sequence cost: ``"l1"`` (the article's, default) ``cost(t) = sum of the window's T frame errors``;
  ``"l2"`` (the seed's published code) ``cost(t) = sqrt(sum over the window of e(x, y, .)**2)``;
* abnormality ``Sa(t) = (cost(t) - min_t cost) / max_t cost`` (``"seed"``: the article divides by the max,
  not by the range; the default), ``"minmax"``: ``(c - min) / (max - min)``, ``"none"``: ``c`` itself;
* regularity ``Sr(t) = 1 - Sa(t)``.

Every score array here is aligned to frame (or window) index and higher means more abnormal, except ``Sr``.

One score per frame (``frame_scores`` method), every frame of the video included:

* ``"own_error"`` (default): frame ``i``'s own error averaged over the windows that contain it
  (``l1``: mean of its frame errors; ``l2``: ``sqrt`` of the mean of its summed squared errors).
* ``"mean_window"``: frame ``i`` gets the mean cost of the windows that contain it.
* ``"last"``: window ``t``'s cost goes to its last frame ``t+T-1``; frames ``0 .. T-2`` take window 0's.
* ``"patch_raw"``: the largest raw patch error (mean absolute error of the worst ``p x p`` patch).
* ``"patch_max"`` / ``"patch_topk"``: local scores for small anomalies (a cyclist in a crowd is diluted
  in a whole-frame sum). The frame's error map is mean-pooled into ``p x p`` patches, each patch error is
  calibrated ``z = (e - mean) / std`` with statistics of that patch on normal footage (``PatchStats``),
  and the frame score is the largest ``z`` or the mean of the ``k`` largest.

How the default was chosen: on a synthetic scene only (never on UCSD test labels):
``tests/test_scoring.py::synthetic_scene_aucs``, 100 noisy frames with a short (4-frame) and a long (25-frame)
bright event, reconstructed by a background model. Frame AUC: ``own_error`` 1.000, ``mean_window`` 0.993,
``last`` 0.939: the window mappings smear each frame's error over the ``2T-1`` frames whose windows overlap it,
so normal frames next to a long event outrank a short event. The reconstructor is idealised, not a trained
ConvLSTM, so the choice is provisional until it is repeated with a trained model on the synthetic scene.

Smoothing: offline scores may be smoothed by a centred moving average (``smooth`` frames); live scores
only by a causal exponential moving average (``ema_alpha``), which uses no future frame and no per-video
min/max.

Pixel-level evaluation (UCSD criterion) needs, per abnormal frame, the value ``v`` such that at least 40%
of its truly abnormal pixels have an error ``>= v`` (``pixel_cover``). ``v`` is stored in the units of the
frame score (see ``pixel_scale``) so that ``metrics.pixel_level`` can compare both with one threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError, DataError
from .scores import ema

COSTS = ("l1", "l2")
NORMALIZATIONS = ("seed", "minmax", "none")
FRAME_SCORES = ("own_error", "mean_window", "last", "patch_max", "patch_topk", "patch_raw")
PROTOCOLS = ("exact", "live")
DEFAULT_FRAME_SCORES = "own_error"
COVER_FRACTION = 0.4  # UCSD pixel-level criterion (Mahadevan et al. 2010)


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


def normalize_like(values: np.ndarray, reference: np.ndarray, method: str = "seed") -> np.ndarray:
    """Apply to ``values`` the affine map that ``normalize(reference, method)`` applies to ``reference``.

    Used to put pixel-level cover values on the same normalised scale as the video's frame scores.
    """
    _check("normalize", method, NORMALIZATIONS)
    values = np.asarray(values, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if method == "none" or reference.size == 0:
        return values.copy()
    lo, hi = float(np.min(reference)), float(np.max(reference))
    denom = hi if method == "seed" else hi - lo
    if denom == 0:
        return np.where(np.isnan(values), np.nan, np.where(values >= hi, np.inf, -np.inf))
    return (values - lo) / denom


def regularity(sa: np.ndarray) -> np.ndarray:
    """``Sr = 1 - Sa`` (high = regular)."""
    return 1.0 - np.asarray(sa, dtype=np.float64)


def _window_span(n_frames: int, clip_length: int) -> tuple[np.ndarray, np.ndarray]:
    """For each frame ``i``: first and last window start containing it (inclusive)."""
    n_windows = n_frames - clip_length + 1
    i = np.arange(n_frames)
    return np.maximum(0, i - clip_length + 1), np.minimum(i, n_windows - 1)


def windows_to_frames(costs: np.ndarray, n_frames: int, clip_length: int, method: str = "mean_window") -> np.ndarray:
    """Map window costs ``(W,)`` to one value per frame ``(N,)`` (``W = N - T + 1``).

    ``"mean_window"``: mean cost of the windows containing the frame. ``"last"``: window ``t`` -> frame
    ``t+T-1``; frames ``0 .. T-2`` take window 0's cost.
    """
    costs = np.asarray(costs, dtype=np.float64)
    if len(costs) != n_frames - clip_length + 1:
        raise ValueError(f"{len(costs)} window costs do not fit {n_frames} frames with clips of {clip_length}")
    if method == "mean_window":
        first, last = _window_span(n_frames, clip_length)
        csum = np.concatenate([[0.0], np.cumsum(costs)])
        return (csum[last + 1] - csum[first]) / (last - first + 1)
    if method == "last":
        return np.concatenate([np.full(clip_length - 1, costs[0]), costs])
    raise ConfigError(f"windows_to_frames: unknown method {method!r}; expected mean_window or last")


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


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` frames (offline only: it looks ahead ``width // 2`` frames).

    Near the ends the window shrinks to the frames that exist. ``width <= 1`` returns a copy.
    """
    x = np.asarray(x, dtype=np.float64)
    if width <= 1 or x.size == 0:
        return x.copy()
    half_lo, half_hi = (width - 1) // 2, width // 2
    csum = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(len(x))
    lo, hi = np.maximum(0, i - half_lo), np.minimum(len(x), i + half_hi + 1)
    return (csum[hi] - csum[lo]) / (hi - lo)


def trailing_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Causal mean of the last ``width`` frames (fewer at the start)."""
    x = np.asarray(x, dtype=np.float64)
    if width <= 1 or x.size == 0:
        return x.copy()
    csum = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(len(x))
    lo = np.maximum(0, i - width + 1)
    return (csum[i + 1] - csum[lo]) / (i + 1 - lo)


def patch_errors(error_map: np.ndarray, patch: int) -> np.ndarray:
    """Mean error per ``patch x patch`` block: ``(..., S, S)`` -> ``(..., S/p, S/p)`` float64."""
    error_map = np.asarray(error_map)
    s = error_map.shape[-1]
    if error_map.shape[-2] != s or patch < 1 or s % patch:
        raise ConfigError(f"patch size {patch} must divide the frame size {error_map.shape[-2:]}")
    g = s // patch
    blocks = error_map.reshape(*error_map.shape[:-2], g, patch, g, patch)
    return blocks.mean(axis=(-3, -1), dtype=np.float64)


@dataclass(frozen=True)
class PatchStats:
    """Per-patch statistics of patch errors on normal footage. ``mean``, ``std``: ``(P, P)`` float64."""

    patch: int
    mean: np.ndarray
    std: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"patch": self.patch, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PatchStats:
        return cls(int(d["patch"]), np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64))


def fit_patch_stats(patches: np.ndarray, patch: int, min_std: float = 1e-6) -> PatchStats:
    """Statistics from normal frames' patch errors ``(M, P, P)``; ``std`` is floored at ``min_std``."""
    patches = np.asarray(patches, dtype=np.float64)
    if patches.ndim != 3 or len(patches) == 0:
        raise ValueError(f"expected (M, P, P) patch errors with M >= 1, got {patches.shape}")
    return PatchStats(patch, patches.mean(axis=0), np.maximum(patches.std(axis=0), min_std))


def patch_z(patches: np.ndarray, stats: PatchStats | None) -> np.ndarray:
    """Calibrated patch scores ``(e - mean) / std``; raw patch errors when ``stats`` is None."""
    patches = np.asarray(patches, dtype=np.float64)
    if stats is None:
        return patches
    return (patches - stats.mean) / stats.std


def patch_frame_scores(patches: np.ndarray, stats: PatchStats | None, method: str = "patch_max", k: int = 5):
    """Frame scores ``(N,)`` from patch errors ``(N, P, P)``: max ``z`` or mean of the ``k`` largest ``z``."""
    z = patch_z(patches, stats).reshape(len(patches), -1)
    if method == "patch_max":
        return z.max(axis=1)
    if method == "patch_topk":
        k = max(1, min(int(k), z.shape[1]))
        return np.sort(z, axis=1)[:, -k:].mean(axis=1)
    raise ConfigError(f"unknown patch score {method!r}; expected patch_max or patch_topk")


def _patch_method_scores(patches: np.ndarray, stats, method: str, k: int) -> np.ndarray:
    """``patch_raw``: the largest raw patch error (no calibration); else ``patch_frame_scores``."""
    if method == "patch_raw":
        return patch_frame_scores(patches, None, "patch_max")
    return patch_frame_scores(patches, stats, method, k)


def cover_value(error_map: np.ndarray, mask: np.ndarray, fraction: float = COVER_FRACTION) -> float:
    """Largest ``v`` such that at least ``fraction`` of the mask's pixels have ``error >= v``.

    ``error_map``: ``(S, S)``; ``mask``: ``(S, S)`` bool. A frame whose mask is empty has no abnormal
    pixel to cover: the criterion holds vacuously and ``+inf`` is returned.
    """
    values = np.asarray(error_map)[np.asarray(mask, dtype=bool)]
    if values.size == 0:
        return math.inf
    need = max(1, math.ceil(fraction * values.size - 1e-9))
    # The need-th largest value: exactly `need` pixels (or more, with ties) reach it.
    return float(np.partition(values, values.size - need)[values.size - need])


def pixel_scale(frame_scores: str, cost: str, size: int, clip_length: int) -> float:
    """Factor that turns a uniform pixel error ``e`` into the raw frame score of a frame whose every pixel has it.

    ``own_error``: ``S^2`` (l1) or ``S`` (l2); ``mean_window``/``last``: ``T S^2`` (l1) or ``sqrt(T) S`` (l2);
    patch scores: 1 (their cover is computed on the calibrated ``z`` map directly).
    """
    if frame_scores in ("patch_max", "patch_topk"):
        return 1.0
    per_frame = size * size if cost == "l1" else float(size)
    if frame_scores == "own_error":
        return float(per_frame)
    return float(per_frame * (clip_length if cost == "l1" else math.sqrt(clip_length)))


# ---------------------------------------------------------------------------------------------
# Streaming scorer
# ---------------------------------------------------------------------------------------------


@dataclass
class VideoScores:
    """Scores of one video of ``N`` frames (``W = N - T + 1`` windows; live protocol: ``W = N - T + 1``
    windows too, each holding only its last frame, so ``l1``/``sq`` are ``(W, 1)``).

    ``l1``, ``sq``: ``(W, T)`` per window and frame sums of ``|e|`` and ``e**2``. ``cost``: ``(W,)``.
    ``sa``, ``sr``: ``(W,)`` the seed's abnormality and regularity of windows (``config.normalize``).
    ``frame_scores``: ``(N,)`` raw per-frame score, higher = more abnormal (after smoothing, before any
    per-video normalisation). ``frame_sa``/``frame_sr``: ``(N,)`` normalised per video and ``1 - frame_sa``.
    ``frame_l1``, ``frame_sq``: ``(N,)`` own frame errors averaged over the windows containing each frame.
    ``patch``: ``(N, P, P)`` mean patch errors (averaged maps) or None. ``pixel_cover``: ``(N,)`` cover value
    in frame-score units (``inf`` where the mask is empty; never smoothed) or None. ``maps``: ``(N, S, S)`` when asked.
    """

    name: str
    n_frames: int
    clip_length: int
    protocol: str
    l1: np.ndarray
    sq: np.ndarray
    cost: np.ndarray
    sa: np.ndarray
    sr: np.ndarray
    frame_scores: np.ndarray
    frame_sa: np.ndarray
    frame_sr: np.ndarray
    frame_l1: np.ndarray
    frame_sq: np.ndarray
    patch: np.ndarray | None = None
    pixel_cover: np.ndarray | None = None
    maps: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def score_settings(config: Any) -> dict[str, Any]:
    """The scoring settings read from a ``ScoreConfig`` (missing fields take their defaults)."""
    s = {
        "cost": getattr(config, "cost", "l1"),
        "normalize": getattr(config, "normalize", "seed"),
        "frame_scores": getattr(config, "frame_scores", DEFAULT_FRAME_SCORES),
        "smooth": int(getattr(config, "smooth", 0) or 0),
        "ema_alpha": float(getattr(config, "ema_alpha", 0.0) or 0.0),
        "patch": int(getattr(config, "patch", 16) or 16),
        "topk": int(getattr(config, "topk", 5) or 5),
    }
    _check("cost", s["cost"], COSTS)
    _check("normalize", s["normalize"], NORMALIZATIONS)
    _check("frame_scores", s["frame_scores"], FRAME_SCORES)
    return s


class _MapAverager:
    """Averages per-window error maps into per-frame maps; a frame is finalised once no later window holds it.

    At most ``T`` frame accumulators exist at once, so memory does not grow with the video.
    """

    def __init__(self, clip_length: int, n_windows: int):
        self.clip_length = clip_length
        self.n_windows = n_windows
        self.acc: dict[int, np.ndarray] = {}
        self.count: dict[int, int] = {}

    def add(self, start: int, maps: np.ndarray) -> list[tuple[int, np.ndarray]]:
        for k in range(maps.shape[0]):
            i = start + k
            if i in self.acc:
                self.acc[i] += maps[k]
                self.count[i] += 1
            else:
                self.acc[i] = maps[k].astype(np.float32, copy=True)
                self.count[i] = 1
        # Window `start` is the last window containing frame `start`; after the final window every
        # remaining frame is complete.
        done = [start] if start < self.n_windows - 1 else sorted(self.acc)
        return [self._pop(i) for i in done if i in self.acc]

    def _pop(self, i: int) -> tuple[int, np.ndarray]:
        m = self.acc.pop(i)
        m /= self.count.pop(i)
        return i, m


def score_frames(
    model,
    frames: Iterable[np.ndarray],
    n_frames: int,
    *,
    config: Any = None,
    clip_length: int = 10,
    device=None,
    batch_windows: int = 4,
    masks: np.ndarray | None = None,
    patch_stats: PatchStats | None = None,
    want_maps: bool = False,
    protocol: str = "exact",
    name: str = "<video>",
) -> VideoScores:
    """Score one video streamed as ``uint8 (S, S)`` frames.

    ``protocol="exact"`` consumes ``inference.stream_windows`` (every stride-1 window; a frame's error map
    is the mean of its maps over the windows containing it). ``protocol="live"`` consumes
    ``inference.stream_live``: each frame ``i >= T-1`` is scored once from the window ending at it; frames
    ``0 .. T-2`` get frame ``T-1``'s score (a live system outputs nothing for them; metrics need one score per
    frame); the score is causal: own error (or ``patch_stats`` for patch
    scores) when given, then EMA-smoothed (``config.ema_alpha``), with no per-video min/max.

    ``masks``: ``(N, S, S)`` bool ground-truth masks to compute ``pixel_cover``. ``engine``: a module with
    ``stream_windows``/``stream_live`` (default ``video_anomaly.inference``).
    """
    _check("protocol", protocol, PROTOCOLS)
    s = score_settings(config)
    if patch_stats is not None:
        s["patch"] = int(patch_stats.patch)  # the statistics fix the patch grid
    if n_frames < clip_length:
        raise DataError(name, f"has {n_frames} frames, fewer than one clip of {clip_length}")
    from . import inference as engine

    method = s["frame_scores"]
    is_patch = method in ("patch_max", "patch_topk", "patch_raw")
    # With calibration statistics at hand the patch errors are kept whatever the score, so that one
    # scoring pass serves every score variant (the exact-protocol variants).
    keep_patches = is_patch or patch_stats is not None
    need_maps = want_maps or keep_patches or masks is not None
    n_windows = n_frames - clip_length + 1
    if masks is not None and len(masks) != n_frames:
        raise DataError(name, f"{len(masks)} masks for {n_frames} frames")

    patches: list[np.ndarray | None] = [None] * n_frames
    cover = np.full(n_frames, np.nan) if masks is not None else None
    kept_maps: list[np.ndarray | None] | None = [None] * n_frames if want_maps else None

    def reduce(i: int, m: np.ndarray) -> None:
        size = m.shape[-1]
        if keep_patches:
            patches[i] = patch_errors(m, s["patch"])
        if cover is not None and masks[i].any():
            if is_patch:
                zmap = m.astype(np.float64)
                if patch_stats is not None and method != "patch_raw":
                    rep = s["patch"]
                    zmap = (zmap - np.kron(patch_stats.mean, np.ones((rep, rep)))) / np.kron(
                        patch_stats.std, np.ones((rep, rep))
                    )
                cover[i] = cover_value(zmap, masks[i])
            else:
                factor = pixel_scale(method, s["cost"], size, clip_length)
                v = factor * cover_value(m, masks[i])
                cover[i] = v
        elif cover is not None:
            cover[i] = math.inf
        if kept_maps is not None:
            kept_maps[i] = m

    if protocol == "exact":
        l1 = np.zeros((n_windows, clip_length))
        sq = np.zeros((n_windows, clip_length))
        averager = _MapAverager(clip_length, n_windows)
        seen = 0
        for w in engine.stream_windows(
            model, frames, clip_length=clip_length, batch_windows=batch_windows, device=device, maps=need_maps
        ):
            l1[w.start], sq[w.start] = w.l1, w.sq
            seen += 1
            if need_maps:
                for i, m in averager.add(w.start, w.maps):
                    reduce(i, m)
        if seen != n_windows:
            raise DataError(name, f"expected {n_frames} frames but the stream gave {seen + clip_length - 1}")
        frame_l1 = own_frame_errors(l1, n_frames)
        frame_sq = own_frame_errors(sq, n_frames)
        cost = window_costs(l1, sq, s["cost"])
        if method == "own_error":
            raw = own_error_score(frame_l1, frame_sq, s["cost"])
        elif is_patch:
            raw = _patch_method_scores(np.stack(patches), patch_stats, method, s["topk"])
        else:
            raw = windows_to_frames(cost, n_frames, clip_length, method)
        raw = moving_average(raw, s["smooth"])
    else:
        l1 = np.zeros((n_windows, 1))
        sq = np.zeros((n_windows, 1))
        seen = 0
        for r in engine.stream_live(model, frames, clip_length=clip_length, device=device, maps=need_maps):
            w = r.index - clip_length + 1
            l1[w, 0], sq[w, 0] = r.l1, r.sq
            seen += 1
            if need_maps:
                reduce(r.index, np.asarray(r.map, dtype=np.float32))
        if seen != n_windows:
            raise DataError(name, f"expected {n_frames} frames but the stream gave {seen + clip_length - 1}")
        first = clip_length - 1
        frame_l1 = np.concatenate([np.full(first, l1[0, 0]), l1[:, 0]])
        frame_sq = np.concatenate([np.full(first, sq[0, 0]), sq[:, 0]])
        cost = window_costs(l1, sq, s["cost"])
        if keep_patches:
            for i in range(first):
                patches[i] = patches[first]
        if is_patch:
            raw = _patch_method_scores(np.stack(patches), patch_stats, method, s["topk"])
        else:
            raw = own_error_score(frame_l1, frame_sq, s["cost"])
        raw = ema(raw, s["ema_alpha"])

    if cover is not None:
        # Frames never reduced (live: 0 .. T-2 with a mask) take the first scored frame's cover.
        nan = np.isnan(cover)
        if nan.any():
            fill = cover[clip_length - 1] if not np.isnan(cover[clip_length - 1]) else math.inf
            has_mask = masks.reshape(n_frames, -1).any(axis=1)
            cover[nan] = np.where(has_mask[nan], fill, math.inf)
    sa = normalize(cost, s["normalize"])
    frame_sa = normalize(raw, s["normalize"])
    maps_out = None
    if kept_maps is not None:
        first_real = next(m for m in kept_maps if m is not None)
        maps_out = np.stack([first_real if m is None else m for m in kept_maps])
    return VideoScores(
        name=name,
        n_frames=n_frames,
        clip_length=clip_length,
        protocol=protocol,
        l1=l1,
        sq=sq,
        cost=cost,
        sa=sa,
        sr=regularity(sa),
        frame_scores=raw,
        frame_sa=frame_sa,
        frame_sr=regularity(frame_sa),
        frame_l1=frame_l1,
        frame_sq=frame_sq,
        patch=np.stack(patches) if keep_patches else None,
        pixel_cover=cover,
        maps=maps_out,
        settings={**s, "protocol": protocol, "clip_length": clip_length},
    )


def video_masks(video, size: int) -> np.ndarray | None:
    """Ground-truth masks of ``video`` as ``(N, size, size)`` bool, or None when it has none."""
    if hasattr(video, "read_masks"):
        return video.read_masks(size)
    if getattr(video, "masks", None) is not None:
        from .data.frames import resize_masks

        return resize_masks(np.asarray(video.masks, dtype=bool), size)
    return None


def score_video(
    model,
    video,
    config: Any = None,
    size: int = 256,
    *,
    clip_length: int = 10,
    device=None,
    batch_windows: int = 4,
    use_masks: bool = True,
    patch_stats: PatchStats | None = None,
    want_maps: bool = False,
    protocol: str = "exact",
) -> VideoScores:
    """``score_frames`` on a ``data.records.Video``: frames from ``video.source.iter_frames(size)``, masks
    from ``video.masks``/``video.mask_paths`` when present (and ``use_masks``)."""
    n = len(video)
    if n < clip_length:
        where = getattr(video.source, "path", None)
        raise DataError(where, f"video {video.name!r} has {n} frames, fewer than one clip of {clip_length}")
    masks = video_masks(video, size) if use_masks else None
    return score_frames(
        model,
        video.source.iter_frames(size),
        n,
        config=config,
        clip_length=clip_length,
        device=device,
        batch_windows=batch_windows,
        masks=masks,
        patch_stats=patch_stats,
        want_maps=want_maps,
        protocol=protocol,
        name=video.name,
    )
