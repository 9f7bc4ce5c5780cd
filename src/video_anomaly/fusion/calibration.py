"""Calibration and fusion: pure functions on region maps, shared by the detector and the study scripts.

A cue's raw map ``(gh, gw)`` becomes "how unusual for this place" by ``(raw - loc) / scale`` with per-region
statistics of held-out normal frames (``fit_region_stats``); calibrated maps of several cues are resampled to one
common grid and fused (``fuse``); the frame value is the mean of the ``topk`` highest regions (``frame_value``);
a live score's threshold is the conformal quantile of its frame scores on frames the cues were not fitted on
(``out_of_fold_thresholds``: the cues cross-fitted by whole videos, a trained-first cue on its held-out frames;
``thresholds.py``); ``far_quantile`` is the plain ``1 - target_far`` quantile the studies compare it with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from .scores import EMA

CALIBRATIONS = ("region_q99_floor", "global_q99", "region_z")
FUSIONS = ("max", "sum")

Stats = Mapping[str, tuple[np.ndarray, np.ndarray]]


def fit_region_stats(maps: np.ndarray, method: str, floor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(loc, scale)``, each ``(gh, gw)`` float32, from held-out raw maps ``(n, gh, gw)``.

    Calibrated value = ``(raw - loc) / scale``. ``region_q99_floor``: each region's 99th percentile, floored at
    ``floor`` times the 99th percentile over all regions (the detector uses 1; the study also tries less);
    ``global_q99``: one divisor for all regions; ``region_z``: z-score, its spread floored at the median."""
    maps = np.asarray(maps, np.float64)
    if len(maps) == 0:
        raise ConfigError("calibration needs at least one held-out frame")
    g = float(np.quantile(maps, 0.99))
    floor = max(floor * g, 1e-6) if method != "region_z" else 0.0
    if method == "global_q99":
        loc, scale = np.zeros(maps.shape[1:]), np.full(maps.shape[1:], max(g, 1e-6))
    elif method == "region_q99_floor":
        loc, scale = np.zeros(maps.shape[1:]), np.maximum(np.quantile(maps, 0.99, axis=0), floor)
    elif method == "region_z":
        sd = maps.std(axis=0)
        loc, scale = maps.mean(axis=0), np.maximum(sd, max(float(np.median(sd)), 1e-6))
    else:
        raise ConfigError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {method!r}")
    return loc.astype(np.float32), scale.astype(np.float32)


def far_quantile(scores, target_far: float) -> float:
    """Threshold with at most ``target_far`` of ``scores`` strictly above it (the ``1 - far`` quantile); with fewer
    than ``1 / target_far`` scores it is the largest score (the estimate cannot resolve so rare a rate)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if s.size == 0:
        raise ConfigError("no calibration scores")
    k = math.ceil((1.0 - target_far) * s.size) - 1
    return float(s[min(max(k, 0), s.size - 1)])


def to_grid(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample a region map to ``shape`` by area averaging (each target region the mean of what it covers)."""
    if m.shape == tuple(shape):
        return m
    import cv2

    return cv2.resize(np.ascontiguousarray(m, np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def common_grid(grids: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The grid the cues' maps are fused on: the coarsest (fewest regions; the first of equals), so that no cue's
    region is split into parts it never measured."""
    return tuple(min(grids, key=lambda g: g[0] * g[1]))


def fuse(maps: Mapping[str, np.ndarray], stats: Stats, grid: tuple[int, int], fusion: str = "max") -> np.ndarray:
    """Raw per-cue maps ``{cue: (gh_c, gw_c)}`` -> one calibrated ``grid`` map (``max`` or ``sum`` over cues)."""
    out = None
    for c, m in maps.items():
        loc, scale = stats[c]
        z = to_grid((np.asarray(m, np.float32) - loc) / scale, grid)
        if out is None:
            out = z
        elif fusion == "max":
            out = np.maximum(out, z)
        else:
            out = out + z
    return out


def frame_value(fused: np.ndarray, topk: int = 1) -> float:
    """The frame's value: the mean of the ``topk`` highest regions of ``fused``."""
    flat = fused.ravel()
    k = min(int(topk), flat.size)
    if k == 1:
        return float(flat.max())
    return float(np.partition(flat, flat.size - k)[-k:].mean())


def out_of_fold_thresholds(
    blocks: Mapping[str, Sequence[tuple[int, int, np.ndarray]]],
    score_cues: Mapping[str, Sequence[str]],
    parts: Sequence,
    refit: Sequence[str],
    *,
    n_videos: int,
    stats: Stats,
    grid: tuple[int, int],
    fusion: str,
    topk: int,
    ema_alpha: float,
    target_far: float,
) -> dict:
    """Per score (``{name: the cues it reads}``) ``(ThresholdInfo, frame scores)``: the conformal threshold of its
    frame scores on the frames where every cue it reads has a calibration map.

    ``blocks``: per cue ``(video, first frame, (n, gh, gw) raw maps)`` of frames it was not fitted on;
    ``parts``: the folds (``thresholds.video_folds``) the ``refit`` cues were cross-fitted in (frames of a video
    with no part form their own group); each stretch of consecutive frames is one EMA run."""
    from .thresholds import fit_threshold

    fold_of: dict[int, list[tuple[int, int, int]]] = {}
    for p in parts:
        fold_of.setdefault(p.video, []).append((p.start, p.stop, p.fold))

    def fold(video: int, frame: int) -> int:
        for a, b, f in fold_of.get(video, []):
            if a <= frame < b:
                return f
        return video

    out = {}
    for name, reads in score_cues.items():
        index = {c: {(v, f0 + i): m[i] for v, f0, m in blocks[c] for i in range(len(m))} for c in reads}
        # Walk the frames of the cue with the fewest (a trained-first cue's hold-out), keep those all cues have.
        base = min(reads, key=lambda c: len(index[c]))
        runs: list[list[float]] = []
        run_folds: list[int] = []
        prev = None
        for v, f0, m in blocks[base]:
            for i in range(len(m)):
                t = f0 + i
                if any((v, t) not in index[c] for c in reads):
                    prev = None
                    continue
                g = fold(v, t)
                if prev != (v, t - 1, g):
                    runs.append([])
                    run_folds.append(g)
                runs[-1].append(frame_value(fuse({c: index[c][(v, t)] for c in reads}, stats, grid, fusion), topk))
                prev = (v, t, g)
        scores = [EMA(ema_alpha).series(r) for r in runs]
        crossed = [c in refit for c in reads]
        method = "video_cv" if all(crossed) else "holdout" if not any(crossed) else "video_cv+holdout"
        info = fit_threshold(scores, run_folds, target_far, videos=n_videos, method=method)
        out[name] = (info, np.concatenate(scores).astype(np.float32))
    return out
