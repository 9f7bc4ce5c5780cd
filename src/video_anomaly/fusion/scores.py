"""The named scores: one table that every part of the package and every ``choices=`` of the command line reads.

A score turns a video into one number per frame, higher = more abnormal. Each entry says its protocol
(``exact``: every 10-frame window, the whole video known, as the seed scores; ``live``: each frame once, from the
past only, as a camera is watched), whether it needs a calibration fitted on normal footage, whether it is causal,
and which cues it reads. Every cue of ``cues.CUES`` is a live score of its own name: a new cue needs no edit here.

This module imports nothing heavy (the cue modules import their libraries inside their methods):
``video-anomaly --help`` and the registry stay fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScoreSpec:
    """One named score. ``cues``: the cues it reads (names in ``cues.CUES``; ``None``: every cue of the detector,
    which must have two or more); ``calibrated``: needs per-region statistics and a threshold fitted on normal
    frames; ``causal``: frame ``t``'s score uses frames ``<= t`` only."""

    name: str
    protocol: str
    cues: tuple[str, ...] | None
    calibrated: bool
    causal: bool
    help: str


SEED = ScoreSpec(
    "seed",
    "exact",
    ("ae",),
    False,
    False,
    "the seed's protocol: every 10-frame window, each frame's own L1 reconstruction error, normalised per "
    "video by (c - min) / max; needs the whole video (evaluate and the API; score and watch are live)",
)
FUSED = ScoreSpec("fused", "live", None, True, True, "every cue of the detector, each calibrated per region, fused")


def _cue_table() -> dict:
    from ..cues import CUES

    return CUES


class _Scores(Mapping):
    """The table of named scores, read from ``cues.CUES`` at each use: every cue is a live score of its own name,
    ``fused`` reads all of a detector's cues, ``seed`` is the seed's exact protocol."""

    def _table(self) -> dict[str, ScoreSpec]:
        table = {SEED.name: SEED}
        for name, cls in _cue_table().items():
            table[name] = ScoreSpec(name, "live", (name,), True, True, cls.summary)
        table[FUSED.name] = FUSED
        return table

    def __getitem__(self, name: str) -> ScoreSpec:
        return self._table()[name]

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


SCORES: Mapping[str, ScoreSpec] = _Scores()


def live_scores() -> tuple[str, ...]:
    """The names of the live scores (every cue's, and ``fused``)."""
    return tuple(n for n, s in SCORES.items() if s.protocol == "live")


def spec(name: str) -> ScoreSpec:
    """The entry for ``name``; a ``ConfigError`` that lists the known names otherwise."""
    try:
        return SCORES[name]
    except KeyError:
        from ..errors import ConfigError

        raise ConfigError(f"unknown score {name!r}; known scores: {', '.join(SCORES)}") from None


def cues_of(name: str, detector_cues: Iterable[str]) -> tuple[str, ...]:
    """The cues score ``name`` reads on a detector with ``detector_cues``."""
    s = spec(name)
    return tuple(detector_cues) if s.cues is None else s.cues


def scores_for(detector_cues: Iterable[str]) -> tuple[str, ...]:
    """The live scores a detector with ``detector_cues`` can give (each cue's; ``fused`` with two or more)."""
    have = tuple(detector_cues)
    return have + ((FUSED.name,) if len(have) > 1 else ())


def live_score_for(cues: Iterable[str]) -> str:
    """The live score that reads exactly ``cues`` (one cue -> its own score; several -> ``"fused"``)."""
    cues = tuple(dict.fromkeys(cues))
    if len(cues) == 1 and cues[0] in _cue_table():
        return cues[0]
    if len(cues) > 1 and all(c in _cue_table() for c in cues):
        return FUSED.name
    from ..errors import ConfigError

    raise ConfigError(f"no score reads the cues {', '.join(cues)}; known cues: {', '.join(_cue_table())}")


def default_score(cues: Iterable[str]) -> str:
    """The live score a detector with ``cues`` uses unless told otherwise: a cue marked ``preferred`` alone when it
    is the only preferred one fitted (the motion cue beside the autoencoder: ``scripts/cue_study.py``), else the
    score that reads all of them (motion and appearance fused: ``docs/detection_study.md``)."""
    cues = tuple(cues)
    table = _cue_table()
    preferred = [c for c in cues if c in table and table[c].preferred]
    if len(preferred) == 1:
        return preferred[0]
    return live_score_for(cues)


def parse_cues(text: str) -> tuple[str, ...]:
    """``"ae,motion"`` -> ``("ae", "motion")``, checked against ``cues.CUES``."""
    cues = tuple(dict.fromkeys(c.strip() for c in str(text).split(",") if c.strip()))
    bad = [c for c in cues if c not in _cue_table()]
    if not cues or bad:
        from ..errors import ConfigError

        raise ConfigError(f"--cues: expected a comma list of {', '.join(_cue_table())}, got {text!r}")
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
