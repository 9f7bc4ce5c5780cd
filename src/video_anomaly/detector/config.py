"""A detector's settings (``DetectorConfig``) and the format of its folder on disk."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..cues import CUES
from ..cues.base import saved_settings
from ..errors import ConfigError
from ..fusion import calibration as cal
from ..fusion.calibration import CALIBRATIONS
from ..fusion.scores import scores_for

FORMAT = "video-anomaly-detector"
VERSION = 2  # 1: cue settings as config["<cue>"] / config["<cue>_<field>"], the ae folder as doc["ae_checkpoint"]
# Fewer held-out frames than this and a threshold at a 1% false-alarm rate rests on a handful of values.
MIN_CALIBRATION_FRAMES = 100


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of a detector (chosen by ``scripts/cue_study.py`` and ``scripts/detection_study.py`` on the synthetic
    scene and UCSD Ped2; docs/results.md and docs/detection_study.md give each choice: one divisor for all regions,
    the mean of the 3 highest regions as the frame value, no smoothing beyond the cues' own; calibrating each region
    on its own lowered the AUC on both).

    ``cues``: the cues fitted (names in ``cues.CUES``; default ``cues.DEFAULT_CUES``); ``score``: the default
    live score (default: ``scores.default_score(cues)``); ``calibration``: how raw region values become "unusual
    for this place" (``calibration.fit_region_stats``); ``fusion``: ``max`` or ``sum`` of the calibrated cue maps;
    ``topk``: the frame value is the mean of the ``topk`` highest regions; ``ema_alpha``: causal smoothing of the
    frame value; ``target_far``: the share of normal frames allowed above the threshold; ``holdout``: share of
    each training video held out from a trained-first cue's training for its calibration; ``folds``: folds of
    whole training videos for cross-fitting the other cues (``thresholds.video_folds``);
    ``cue_settings``: per cue the fields of its ``Config`` that differ from the cue's defaults. How alarms become
    events (``live.events.EventTracker``; a run's flags or a camera's settings override them): ``min_length``, the
    frames an event must last to be announced (shorter ones are dropped as flicker); ``end_after``, the frames
    below the threshold that end it; ``cooldown``, the frames after an event closes before the next one of the
    same place opens (``docs/behaviour.md``: the defaults on the synthetic scene and Ped2).
    """

    cues: tuple[str, ...] = field(default_factory=lambda: _default_cues())
    score: str | None = None
    calibration: str = "global_q99"
    fusion: str = "max"
    topk: int = 3  # the mean of the 3 highest regions: docs/detection_study.md (Ped2 and the synthetic scene)
    ema_alpha: float = 1.0
    target_far: float = 0.01
    holdout: float = 0.1
    folds: int = 5
    cue_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    min_length: int = 3
    end_after: int = 5
    cooldown: int = 25  # 2.5 s at 10 frames/s: Ped2's 34 events become 27, none missed (docs/behaviour.md)

    def __post_init__(self):
        object.__setattr__(self, "cues", tuple(self.cues))
        if self.score is None:
            from ..fusion.scores import default_score

            object.__setattr__(self, "score", default_score(self.cues))

    def check(self) -> DetectorConfig:
        unknown = [c for c in (*self.cues, *self.cue_settings) if c not in CUES]
        if unknown or not self.cues:
            raise ConfigError(f"cues must be some of {', '.join(CUES)}, got {', '.join(unknown) or 'none'}")
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {self.calibration!r}")
        if self.fusion not in cal.FUSIONS:
            raise ConfigError(f"fusion must be max or sum, got {self.fusion!r}")
        if not 0 < self.target_far < 1:
            raise ConfigError(f"target false-alarm rate must be in (0, 1), got {self.target_far}")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout must be in (0, 1), got {self.holdout}")
        if not 0 < self.ema_alpha <= 1:
            raise ConfigError(f"ema_alpha must be in (0, 1], got {self.ema_alpha}")
        if int(self.folds) < 2:
            raise ConfigError(f"folds must be >= 2, got {self.folds}")
        if int(self.topk) < 1:
            raise ConfigError(f"topk must be >= 1, got {self.topk}")
        if int(self.min_length) < 1 or int(self.end_after) < 1 or int(self.cooldown) < 0:
            raise ConfigError(
                f"events need min_length >= 1, end_after >= 1 and cooldown >= 0 frames, got {self.min_length}, "
                f"{self.end_after} and {self.cooldown}"
            )
        if self.score not in scores_for(self.cues):
            raise ConfigError(f"score {self.score!r} needs other cues than {', '.join(self.cues)}")
        for c in self.cues:
            CUES[c].config_from(self.cue_settings.get(c))
        return self

    def settings(self, cue: str) -> dict[str, Any]:
        return dict(self.cue_settings.get(cue) or {})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cues"] = list(self.cues)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectorConfig:
        """From ``to_dict``'s output, or a version-1 file's (cue settings under ``<cue>`` or ``<cue>_<field>``)."""
        known = set(cls.__dataclass_fields__)
        settings = saved_settings(d, CUES, known)
        d = {k: v for k, v in d.items() if k in known} | {"cue_settings": settings}
        if "cues" in d:
            d["cues"] = tuple(d["cues"])
        return cls(**d).check()


def _default_cues() -> tuple[str, ...]:
    from ..cues import DEFAULT_CUES

    return tuple(DEFAULT_CUES)
