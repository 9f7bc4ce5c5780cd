"""Cues of the live detector: each maps frames of one camera to per-region raw anomaly scores.

``CUES`` is the one table of cues (name -> ``Cue`` subclass): ``train --cues``, the named scores, the detector's
save/load and the docs read it. A new cue is one module here plus one entry below (see ``base.Cue``).
"""

from __future__ import annotations

from .ae import AECue
from .appearance import AppearanceCue
from .base import Cue
from .motion import MotionCue
from .objects import ObjectsCue

CUES: dict[str, type[Cue]] = {"ae": AECue, "motion": MotionCue, "appearance": AppearanceCue, "objects": ObjectsCue}

__all__ = ["CUES", "AECue", "AppearanceCue", "Cue", "MotionCue", "ObjectsCue"]
# The cues `train` fits unless told: motion and appearance, fused (docs/detection_study.md: ranked first on the
# synthetic scene and UCSD Ped2 together; cue_study.py: fusing the autoencoder lowered the AUC).
DEFAULT_CUES = ("motion", "appearance")
