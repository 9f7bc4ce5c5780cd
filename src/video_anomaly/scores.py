"""The named scores: one table that every part of the package and every ``choices=`` of the command line reads.

A score turns a video into one number per frame, higher = more abnormal. Each entry says its protocol
(``exact``: every 10-frame window, the whole video known, as the seed scores; ``live``: each frame once, from the
past only, as a camera is watched), whether it needs a calibration fitted on normal footage, whether it is causal,
and which cues it reads. Adding a score is one entry here plus, for a new cue, one module in ``cues/``.

This module imports nothing heavy: ``video-anomaly --help`` and the registry stay fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScoreSpec:
    """One named score. ``cues``: the cues it reads (``ae``: the autoencoder's reconstruction error; ``motion``:
    per-region optical-flow statistics); ``calibrated``: needs per-region statistics and a threshold fitted on
    normal frames; ``causal``: frame ``t``'s score uses frames ``<= t`` only."""

    name: str
    protocol: str
    cues: tuple[str, ...]
    calibrated: bool
    causal: bool
    help: str


SCORES: dict[str, ScoreSpec] = {
    s.name: s
    for s in (
        ScoreSpec(
            "seed",
            "exact",
            ("ae",),
            False,
            False,
            "the seed's protocol: every 10-frame window, each frame's own L1 reconstruction error, normalised per "
            "video by (c - min) / max; needs the whole video",
        ),
        ScoreSpec(
            "ae",
            "live",
            ("ae",),
            True,
            True,
            "autoencoder alone: each region's live reconstruction error, calibrated per region on normal frames",
        ),
        ScoreSpec(
            "motion",
            "live",
            ("motion",),
            True,
            True,
            "motion alone: each region's distance to normal optical-flow statistics, calibrated per region",
        ),
        ScoreSpec(
            "fused",
            "live",
            ("ae", "motion"),
            True,
            True,
            "both cues, each calibrated per region, fused into one map",
        ),
    )
}

LIVE_SCORES = tuple(n for n, s in SCORES.items() if s.protocol == "live")
CUES = ("ae", "motion")


def spec(name: str) -> ScoreSpec:
    """The entry for ``name``; a ``ConfigError`` that lists the known names otherwise."""
    try:
        return SCORES[name]
    except KeyError:
        from .errors import ConfigError

        raise ConfigError(f"unknown score {name!r}; known scores: {', '.join(SCORES)}") from None


def live_score_for(cues: Iterable[str]) -> str:
    """The live score that reads exactly ``cues`` (``("ae", "motion")`` -> ``"fused"``)."""
    want = tuple(sorted(set(cues)))
    for name in LIVE_SCORES:
        if tuple(sorted(SCORES[name].cues)) == want:
            return name
    from .errors import ConfigError

    raise ConfigError(f"no score reads the cues {', '.join(want)}; known cues: {', '.join(CUES)}")


def default_score(cues: Iterable[str]) -> str:
    """The live score a detector with ``cues`` uses unless told otherwise: the motion cue alone whenever it is
    fitted (it ranked first on the synthetic scene and UCSD Ped2, fused or not: ``scripts/cue_study.py``), else
    the autoencoder's."""
    return "motion" if "motion" in set(cues) else live_score_for(cues)


def parse_cues(text: str) -> tuple[str, ...]:
    """``"ae,motion"`` -> ``("ae", "motion")``, checked against ``CUES``."""
    cues = tuple(dict.fromkeys(c.strip() for c in str(text).split(",") if c.strip()))
    bad = [c for c in cues if c not in CUES]
    if not cues or bad:
        from .errors import ConfigError

        raise ConfigError(f"--cues: expected a comma list of {', '.join(CUES)}, got {text!r}")
    return cues


class EMA:
    """The causal exponential moving average used everywhere: ``y_0 = x_0``, ``y_t = a x_t + (1 - a) y_{t-1}``.

    ``alpha`` in (0, 1]; 1 (or 0) means no smoothing. ``update(x)`` returns the smoothed value; ``reset()``
    forgets the past. ``series(x)`` smooths a whole array the same way.
    """

    def __init__(self, alpha: float):
        self.alpha = float(alpha)
        self.value: float | None = None

    @property
    def smoothing(self) -> bool:
        return 0.0 < self.alpha < 1.0

    def reset(self) -> None:
        self.value = None

    def update(self, x: float) -> float:
        x = float(x)
        if self.value is None or not self.smoothing:
            self.value = x
        else:
            self.value = self.alpha * x + (1.0 - self.alpha) * self.value
        return self.value

    def series(self, x) -> np.ndarray:
        """Smooth a 1-D array (a fresh average: the state of this object is not used or changed)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.empty_like(x)
        e = EMA(self.alpha)
        for i, v in enumerate(x):
            out[i] = e.update(v)
        return out


def ema(x, alpha: float) -> np.ndarray:
    """``EMA(alpha).series(x)``: the causal EMA of a 1-D array."""
    return EMA(alpha).series(x)
