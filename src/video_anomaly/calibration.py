"""Calibration of live scores and of the alarm threshold, from normal footage only.

The seed normalises each video's errors by their min and max over the whole video: that needs the
future, so live use cannot have it. Instead, after training, frames of the training videos that were
held out from training are scored exactly as in live use (``inference.stream_live``: each frame from
the window that ends at it) and give:

* per-patch statistics of the live error (``patch x patch`` pixels at the model's input size: mean
  and std of the patch's mean absolute error), so that the default score says how unusual each
  region's error is *for that place in that camera*;
* the alarm threshold of each score: the ``1 - target_far`` quantile of its smoothed frame scores,
  so that about ``target_far`` of normal frames raise the alarm.

Scores (higher = more abnormal), both smoothed by a causal EMA (``ema_alpha``):

* ``"patch_z"`` (default): ``max over patches of (e_patch - mean_patch) / std_patch``;
* ``"seed"``: the seed's whole-frame error, here the mean absolute pixel error of the frame (the
  seed's per-frame sum divided by ``S**2``), without the per-video min/max normalisation.

Defaults and why (chosen on the synthetic scene and normal training data only, see ``docs/live.md``):
``target_far = 0.01`` (one normal frame in a hundred above threshold; estimable from a few hundred
held-out frames, where a rarer rate would rest on the one or two largest values), ``patch = 8``,
``ema_alpha = 0.5`` (a half-life of one frame: it removes single-frame flicker and keeps the onset
delay under two frames).

The patch statistics and the threshold are cross-fitted: frames of the first half of each held-out
range are z-scored with statistics of the second half and vice versa, so that the threshold is set on
scores of frames that did not shape their own statistics (an in-sample z-score is biased low and
would make the real false-alarm rate higher than the target).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from .errors import CheckpointError, ConfigError

SCORES = ("patch_max", "patch_z", "seed")
# Chosen on UCSD Ped2's labels with a 128x128 model (scripts/quality_study.py, README "Detection quality"):
# among live-usable scores (causal, no per-video min/max) the raw error of the worst 8x8-pixel patch, smoothed
# by a causal EMA of weight 0.2, ranked first there (micro AUC 0.785 against 0.619 for the whole-frame error);
# on Ped1's clips, whose labels played no part in the choice, it gives 0.617 against 0.558. The per-patch
# z-score ("patch_z") ranked below the raw patch error on both datasets.
DEFAULT_SCORE = "patch_max"
DEFAULT_TARGET_FAR = 0.01
DEFAULT_PATCH = 8
DEFAULT_EMA_ALPHA = 0.2
# A patch whose error hardly varies on normal footage (static background) would turn tiny noise
# into huge z-scores; its std is floored at this fraction of the median patch std.
STD_FLOOR_FRACTION = 0.1
STD_FLOOR_QUANTILE = 0.5
_EXTRAS_KEY = "calibration"


@dataclass(frozen=True)
class Calibration:
    """Everything live scoring needs beyond the model.

    ``mean``, ``std``: ``(P, P)`` float32 statistics of patch errors (units: mean absolute pixel error,
    frames in [0, 1)), ``P = size / patch``; ``std`` already floored. ``thresholds``: alarm threshold
    per score name, in that score's units. ``n_frames``: calibration frames scored. ``error_scale``:
    a high pixel-error level on normal footage (for heatmap colours). ``seen_in_training``: True when no
    held-out frames existed and training frames were used (the real false-alarm rate will then be higher).
    """

    score: str
    patch: int
    size: int
    clip_length: int
    mean: np.ndarray
    std: np.ndarray
    thresholds: dict[str, float]
    target_far: float
    n_frames: int
    ema_alpha: float = DEFAULT_EMA_ALPHA
    error_scale: float = 0.1
    seen_in_training: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        """The threshold of the default score."""
        return self.thresholds[self.score]

    def with_score(self, score: str) -> Calibration:
        """The same calibration with another default score (``"patch_z"`` or ``"seed"``)."""
        if score not in SCORES:
            raise ConfigError(f"unknown live score {score!r}; expected one of {', '.join(SCORES)}")
        import dataclasses

        return dataclasses.replace(self, score=score)

    # ---------------------------------------------------------------- checkpoint storage
    def to_extras(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(json_extras, arrays)`` for ``checkpoint.update_checkpoint_extras(path, arrays=..., **json_extras)``."""
        meta = {
            "score": self.score,
            "patch": self.patch,
            "size": self.size,
            "clip_length": self.clip_length,
            "thresholds": {k: float(v) for k, v in self.thresholds.items()},
            "threshold": float(self.threshold),
            "target_far": float(self.target_far),
            "n_frames": int(self.n_frames),
            "ema_alpha": float(self.ema_alpha),
            "error_scale": float(self.error_scale),
            "seen_in_training": bool(self.seen_in_training),
            **self.extra,
        }
        arrays = {
            "calibration.patch_mean": np.asarray(self.mean, np.float32),
            "calibration.patch_std": np.asarray(self.std, np.float32),
        }
        return {_EXTRAS_KEY: meta}, arrays

    @classmethod
    def from_extras(cls, extras: dict[str, Any], where: str = "checkpoint") -> Calibration:
        """Rebuild from ``load_checkpoint``'s extras; CheckpointError when the checkpoint is not calibrated."""
        meta = extras.get(_EXTRAS_KEY)
        arrays = extras.get("arrays") or {}
        if isinstance(meta, str):
            meta = json.loads(meta)
        if not meta or "calibration.patch_mean" not in arrays:
            raise CheckpointError(where, "not calibrated: run `video-anomaly calibrate CHECKPOINT` first")
        known = {
            "score", "patch", "size", "clip_length", "thresholds", "threshold", "target_far", "n_frames",
            "ema_alpha", "error_scale", "seen_in_training",
        }  # fmt: skip
        return cls(
            score=meta["score"],
            patch=int(meta["patch"]),
            size=int(meta["size"]),
            clip_length=int(meta["clip_length"]),
            mean=np.asarray(arrays["calibration.patch_mean"], np.float32),
            std=np.asarray(arrays["calibration.patch_std"], np.float32),
            thresholds={k: float(v) for k, v in meta["thresholds"].items()},
            target_far=float(meta["target_far"]),
            n_frames=int(meta["n_frames"]),
            ema_alpha=float(meta.get("ema_alpha", DEFAULT_EMA_ALPHA)),
            error_scale=float(meta.get("error_scale", 0.1)),
            seen_in_training=bool(meta.get("seen_in_training", False)),
            extra={k: v for k, v in meta.items() if k not in known},
        )


# -------------------------------------------------------------------------------- scoring helpers


def patch_grid(error_map: np.ndarray, patch: int) -> np.ndarray:
    """``(S, S)`` pixel errors -> ``(S/p, S/p)`` float64 mean error per patch."""
    from .scoring import patch_errors

    return patch_errors(error_map, patch)


def frame_raw_score(
    patches: np.ndarray, error_map_mean: float, cal: Calibration, score: str
) -> tuple[float, np.ndarray]:
    """Unsmoothed score of one frame and its per-patch map (``z`` or raw patch errors) for localisation.

    ``patches``: ``(P, P)`` patch errors; ``error_map_mean``: the frame's mean pixel error.
    """
    if score == "patch_max":
        return float(patches.max()), patches
    if score == "patch_z":
        z = (patches - cal.mean) / cal.std
        return float(z.max()), z
    if score == "seed":
        return float(error_map_mean), patches
    raise ConfigError(f"unknown live score {score!r}; expected one of {', '.join(SCORES)}")


def ema_series(x: np.ndarray, alpha: float) -> np.ndarray:
    """Causal EMA ``y_i = alpha x_i + (1 - alpha) y_{i-1}``, ``y_0 = x_0`` (``scoring.ema``)."""
    from .scoring import ema

    return ema(x, alpha)


def far_quantile(scores: np.ndarray, target_far: float) -> float:
    """Threshold with at most ``target_far`` of ``scores`` strictly above it (the ``1 - far`` quantile).

    With fewer than ``1 / target_far`` scores the quantile is the largest score: the estimate cannot
    resolve so rare a rate, and the threshold errs toward fewer alarms.
    """
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    if scores.size == 0:
        raise ValueError("no calibration scores")
    k = math.ceil((1.0 - target_far) * scores.size) - 1
    return float(scores[min(max(k, 0), scores.size - 1)])


# ---------------------------------------------------------------------------------- calibration


def _live_errors(model, frames, clip_length: int, device, patch: int):
    """Patch errors ``(M, P, P)`` and mean pixel errors ``(M,)`` of the live-scored frames of one range."""
    from .inference import stream_live

    patches, means = [], []
    for r in stream_live(model, frames, clip_length=clip_length, device=device, maps=True):
        patches.append(patch_grid(r.map, patch))
        means.append(float(r.map.mean()))
    if not patches:
        return np.zeros((0, 0, 0)), np.zeros(0)
    return np.stack(patches), np.asarray(means)


def _floored(std: np.ndarray) -> np.ndarray:
    floor = max(STD_FLOOR_FRACTION * float(np.quantile(std, STD_FLOOR_QUANTILE)), 1e-6)
    return np.maximum(std, floor)


def calibrate(
    model,
    run_config,
    videos: Sequence[Any],
    ranges: Sequence[tuple[int, int]] | None = None,
    *,
    target_far: float = DEFAULT_TARGET_FAR,
    patch: int = DEFAULT_PATCH,
    ema_alpha: float = DEFAULT_EMA_ALPHA,
    score: str = DEFAULT_SCORE,
    device=None,
    seen_in_training: bool = False,
) -> Calibration:
    """Fit patch statistics and thresholds on normal frames scored as in live use.

    ``videos``: FrameSources (or ``Video`` records) of normal footage; ``ranges``: per video the
    ``[start, stop)`` frames to use (None = all frames). Each range is streamed at the model's input
    size; its first ``T - 1`` frames only fill the window. Raises ConfigError when too few frames remain.
    """
    if not 0 < target_far < 1:
        raise ConfigError(f"target false-alarm rate must be in (0, 1), got {target_far}")
    if score not in SCORES:
        raise ConfigError(f"unknown live score {score!r}; expected one of {', '.join(SCORES)}")
    size, clip_length = run_config.data.size, run_config.data.clip_length
    if size % patch:
        raise ConfigError(f"patch size {patch} must divide the model input size {size}")
    per_range = []
    for i, video in enumerate(videos):
        source = getattr(video, "source", video)
        start, stop = (0, len(source)) if ranges is None else ranges[i]
        if stop - start < clip_length:
            continue
        frames = islice(source.iter_frames(size), start, stop)
        p, m = _live_errors(model, frames, clip_length, device, patch)
        if len(p):
            per_range.append((p, m))
    n = sum(len(m) for _, m in per_range)
    if n < 2:
        raise ConfigError(
            f"calibration needs at least 2 scored held-out frames (ranges of >= {clip_length + 1} frames), got {n}"
        )
    all_p = np.concatenate([p for p, _ in per_range])
    mean, std = all_p.mean(axis=0), _floored(all_p.std(axis=0))

    # Cross-fitting: each range's halves are scored with statistics fitted on the other halves.
    halves = [(p[: len(p) // 2], p[len(p) // 2 :]) for p, _ in per_range]
    folds = [np.concatenate([h[k] for h in halves]) for k in (0, 1)]
    fold_stats = []
    for k in (0, 1):
        other = folds[1 - k]
        fold_stats.append((other.mean(axis=0), _floored(other.std(axis=0))) if len(other) >= 2 else (mean, std))
    smoothed = {"patch_max": [], "patch_z": [], "seed": []}
    for (p, m), (h0, _) in zip(per_range, halves):
        fold_of = np.where(np.arange(len(p)) < len(h0), 0, 1)
        raw_z = np.empty(len(p))
        for k in (0, 1):
            sel = fold_of == k
            if sel.any():
                mu, sd = fold_stats[k]
                raw_z[sel] = ((p[sel] - mu) / sd).reshape(int(sel.sum()), -1).max(axis=1)
        smoothed["patch_z"].append(ema_series(raw_z, ema_alpha))
        smoothed["patch_max"].append(ema_series(p.reshape(len(p), -1).max(axis=1), ema_alpha))
        smoothed["seed"].append(ema_series(m, ema_alpha))
    thresholds = {name: far_quantile(np.concatenate(v), target_far) for name, v in smoothed.items()}
    error_scale = float(np.quantile(all_p.reshape(len(all_p), -1).max(axis=1), 0.99))
    return Calibration(
        score=score,
        patch=patch,
        size=size,
        clip_length=clip_length,
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        thresholds=thresholds,
        target_far=float(target_far),
        n_frames=int(n),
        ema_alpha=float(ema_alpha),
        error_scale=max(error_scale, 1e-3),
        seen_in_training=seen_in_training,
    )


def holdout_ranges(extras: dict[str, Any], videos: Sequence[Any]) -> list[tuple[int, int]] | None:
    """Per training video the held-out ``[start, stop)`` stored at training time, in ``videos`` order.

    Accepts ``{name: [start, stop]}``, ``[[start, stop], ...]`` (dataset order) or
    ``[{"video"|"name": ..., "start": ..., "stop": ...}, ...]``. None when the checkpoint has none.
    """
    holdout = extras.get("holdout_ranges") or extras.get("holdout")
    if not holdout:
        return None
    names = [getattr(v, "name", str(i)) for i, v in enumerate(videos)]
    if isinstance(holdout, dict):
        return [tuple(int(x) for x in holdout.get(n, (0, 0))) for n in names]  # type: ignore[misc]
    if all(isinstance(h, dict) for h in holdout):
        by_name = {h.get("video", h.get("name")): (int(h["start"]), int(h["stop"])) for h in holdout}
        return [by_name.get(n, (0, 0)) for n in names]
    if len(holdout) != len(videos):
        raise CheckpointError("checkpoint", f"holdout has {len(holdout)} ranges for {len(videos)} training videos")
    return [(int(a), int(b)) for a, b in holdout]


def calibrate_checkpoint(
    path,
    *,
    dataset_root=None,
    target_far: float = DEFAULT_TARGET_FAR,
    patch: int = DEFAULT_PATCH,
    ema_alpha: float = DEFAULT_EMA_ALPHA,
    score: str = DEFAULT_SCORE,
    device=None,
    log=print,
) -> Calibration:
    """Calibrate a checkpoint on its held-out training frames and store the result in it.

    ``dataset_root`` overrides the dataset path recorded at training time. Without held-out ranges
    (an old checkpoint) the last ``train.holdout_fraction`` (at least 10%) of each training video is
    used and the calibration is flagged ``seen_in_training``.
    """
    from .checkpoint import load_checkpoint, update_checkpoint_extras
    from .data import load_dataset

    model, run_config, extras = load_checkpoint(path, device=device)
    root = dataset_root or extras.get("dataset_root") or extras.get("dataset")
    if not root:
        raise CheckpointError(path, "no dataset recorded in the checkpoint: pass --dataset ROOT")
    dataset = load_dataset(root)
    videos = dataset.train
    ranges = holdout_ranges(extras, videos)
    seen = ranges is None
    if seen:
        frac = max(run_config.train.holdout_fraction, 0.1)
        ranges = [(len(v) - max(int(round(frac * len(v))), run_config.data.clip_length + 1), len(v)) for v in videos]
        log(
            "calibrate: warning: the checkpoint records no held-out frames; using the last "
            f"{frac:.0%} of each training video, which the model was trained on (false alarms will exceed the target)"
        )
    cal = calibrate(
        model, run_config, videos, ranges, target_far=target_far, patch=patch, ema_alpha=ema_alpha, score=score,
        device=device, seen_in_training=seen,
    )  # fmt: skip
    meta, arrays = cal.to_extras()
    update_checkpoint_extras(path, arrays=arrays, **meta)
    return cal
