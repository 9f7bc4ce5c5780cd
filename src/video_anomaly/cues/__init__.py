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
# The cues `train` fits unless told: motion, appearance and objects, fused (docs/detection_study.md: motion and
# appearance ranked first on the synthetic scene and UCSD Ped2 together; the objects cue, issue 27, measured there
# too; cue_study.py: fusing the autoencoder lowered the AUC). `train` leaves the objects cue out on a camera where
# the object detector finds few objects (Detector.fit, ObjectsCue.unusable).
DEFAULT_CUES = ("motion", "appearance", "objects")
