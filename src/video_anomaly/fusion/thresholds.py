"""Alarm thresholds that hold on new normal footage: folds of whole videos, the conformal quantile, its uncertainty.

A threshold set on frames that neighbour the frames its cues were fitted on (the last 10% of each training video)
sees almost none of the variation between videos (crowd density, light, a nudged camera), and the false-alarm
rate it promises is not the one a new recording gets (Ped2: 5.2% achieved at a 1% target). Here the cues are
*cross-fitted by video*: the training videos are split into ``k`` folds of whole videos; each fold is scored by
cues fitted on the other folds only, so every calibration score is what a cue gives footage it was not fitted
on, as a new recording will be. A camera with a single training video is split into ``k`` blocks of time instead.

The threshold is the conformal quantile of those out-of-fold frame scores at the target rate: with ``n`` scores
and target ``a``, the ``ceil((n + 1)(1 - a))``-th smallest (the split-conformal rule: a new exchangeable score
exceeds it with probability at most ``a``). Frames of one video are not exchangeable with each other (they are
correlated in time), so the guarantee is approximate; what the threshold rests on is recorded with it
(``ThresholdInfo``: videos, frames, the rate on the calibration frames with its Clopper-Pearson 95% interval, and
the rate each fold gets from a threshold set on the other folds, whose spread says how much the rate moves from
one video to the next).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError

# Folds of whole videos: enough that each cue is fitted on most of the footage, few enough to keep the cost of
# fitting the cues ``k`` more times bounded.
DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class Part:
    """Frames ``[start, stop)`` of training video ``video``, scored by cues fitted without fold ``fold``."""

    video: int
    start: int
    stop: int
    fold: int


def video_folds(lengths: list[int], k: int = DEFAULT_FOLDS) -> list[Part]:
    """Split training videos of ``lengths`` frames into at most ``k`` folds of whole videos (round robin, so that
    each fold spans the recording order); a single video is cut into ``k`` blocks of time (each at least 2
    frames). Returns the parts in video order."""
    if not lengths:
        raise ConfigError("cross-fitting needs at least one training video")
    if k < 2:
        raise ConfigError(f"cross-fitting needs at least 2 folds, got {k}")
    if len(lengths) == 1:
        n = int(lengths[0])
        k = max(1, min(k, n // 2))
        if k < 2:
            raise ConfigError(f"cross-fitting one training video of {n} frames: too short to split in time")
        edges = np.linspace(0, n, k + 1).round().astype(int)
        return [Part(0, int(a), int(b), f) for f, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
    k = min(k, len(lengths))
    return [Part(i, 0, int(n), i % k) for i, n in enumerate(lengths)]


def conformal_quantile(scores, target_far: float) -> float:
    """The split-conformal threshold: the ``ceil((n + 1)(1 - target_far))``-th smallest of ``n`` scores (the
    largest when that rank exceeds ``n``: fewer than about ``1 / target_far`` scores cannot resolve the rate)."""
    s = np.sort(np.asarray(scores, np.float64).ravel())
    if s.size == 0:
        raise ConfigError("no calibration scores")
    if not 0 < target_far < 1:
        raise ConfigError(f"target false-alarm rate must be in (0, 1), got {target_far}")
    rank = math.ceil((s.size + 1) * (1.0 - target_far))
    return float(s[min(rank, s.size) - 1])


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of a rate ``k / n`` at ``level`` (Clopper & Pearson 1934)."""
    from scipy.stats import beta

    if n <= 0:
        return (0.0, 1.0)
    a = (1.0 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True)
class ThresholdInfo:
    """What a threshold rests on: ``method``, ``videos`` and ``frames`` of calibration, ``folds``, the rate on the
    calibration frames (``rate``, with its Clopper-Pearson 95% ``interval``) and the rate of each fold under a
    threshold set on the other folds (``fold_rates``: how much the rate moves from one set of videos to another)."""

    method: str
    target_far: float
    threshold: float
    videos: int
    frames: int
    folds: int
    rate: float
    interval: tuple[float, float]
    fold_rates: tuple[float, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["interval"] = [round(v, 5) for v in self.interval]
        d["fold_rates"] = [round(v, 5) for v in self.fold_rates]
        d["rate"] = round(self.rate, 5)
        return d

    def line(self) -> str:
        """One sentence for logs and the model card."""
        lo, hi = self.interval
        spread = f"; per fold {min(self.fold_rates):.1%}-{max(self.fold_rates):.1%}" if self.fold_rates else ""
        return (
            f"threshold {self.threshold:.4g} at a {100 * self.target_far:g}% target ({self.method}): "
            f"{self.frames} frames of {self.videos} videos in {self.folds} folds; rate on them {self.rate:.2%} "
            f"(95% {lo:.2%}-{hi:.2%}){spread}"
        )


def fit_threshold(
    scores: list[np.ndarray], folds: list[int], target_far: float, *, videos: int, method: str = "video_cv"
) -> ThresholdInfo:
    """The conformal threshold of out-of-fold frame scores. ``scores``: one ``(n_i,)`` array per part;
    ``folds``: each part's fold; ``videos``: how many videos the parts come from."""
    if len(scores) != len(folds):
        raise ConfigError("one fold per part of the calibration scores")
    allv = np.concatenate([np.asarray(s, np.float64).ravel() for s in scores]) if scores else np.zeros(0)
    thr = conformal_quantile(allv, target_far)
    above = int((allv > thr).sum())
    fold_rates = []
    fs = np.asarray(folds)
    for f in sorted(set(folds)):
        inside = [np.asarray(s).ravel() for s, g in zip(scores, fs) if g == f]
        other = [np.asarray(s).ravel() for s, g in zip(scores, fs) if g != f]
        if not other or not inside:
            continue
        t = conformal_quantile(np.concatenate(other), target_far)
        x = np.concatenate(inside)
        fold_rates.append(float((x > t).mean()))
    return ThresholdInfo(
        method, float(target_far), thr, int(videos), int(allv.size), len(set(folds)), above / max(allv.size, 1),
        clopper_pearson(above, int(allv.size)), tuple(fold_rates),
    )  # fmt: skip


def out_of_fold_maps(make_cue, sources, parts: list[Part], *, progress=lambda *_: None) -> list[np.ndarray]:
    """Raw region maps of every part's frames from a cue fitted without that part's fold.

    ``make_cue()``: a fresh, unfitted cue (``fit(videos)``, ``stream(frames)``, ``warmup``); ``sources``: the
    training videos (``iter_frames(None)``); ``parts``: from ``video_folds``. Returns per part ``(n, gh, gw)``
    float32 maps of its frames ``start + warmup .. stop - 1`` (a part's first ``warmup`` frames give no map, as at
    the start of any stream). Each fold costs one fit on the other folds' frames and one pass over its own.
    """
    from itertools import islice

    out: list[np.ndarray | None] = [None] * len(parts)
    for fold in sorted({p.fold for p in parts}):
        progress(f"cross-fitting: fold {fold + 1} of {len({p.fold for p in parts})}")
        cue = make_cue()
        cue.fit([islice(sources[p.video].iter_frames(None), p.start, p.stop) for p in parts if p.fold != fold])
        for i, p in enumerate(parts):
            if p.fold == fold:
                maps = [m for m in cue.stream(islice(sources[p.video].iter_frames(None), p.start, p.stop))]
                maps = [m for m in maps[cue.warmup :] if m is not None]
                out[i] = np.stack(maps).astype(np.float32) if maps else None
    if any(m is None for m in out):
        raise ConfigError("cross-fitting: a part of the training footage is too short to give any map")
    return out  # type: ignore[return-value]
