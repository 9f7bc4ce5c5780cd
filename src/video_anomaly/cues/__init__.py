"""Cues of the live detector: each maps frames of one camera to per-region raw anomaly scores.

``CUES`` is the one table of cues (name -> ``Cue`` subclass): ``train --cues``, the named scores, the detector's
save/load and the docs read it. A new cue is one module here plus one entry below (see ``base.Cue``).
"""

from __future__ import annotations

from .ae import AECue
from .base import Cue
from .motion import MotionCue

CUES: dict[str, type[Cue]] = {"ae": AECue, "motion": MotionCue}

__all__ = ["CUES", "AECue", "Cue", "MotionCue"]
DEFAULT_CUES = ("motion",)  # the cues `train` fits unless told (cue_study.py: motion alone ranked first)
