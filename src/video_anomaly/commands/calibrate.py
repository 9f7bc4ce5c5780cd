"""``video-anomaly calibrate RUN``: (re)fit the detector's cues and calibration on held-out normal frames.

RUN: a run folder written by `train` (or an autoencoder checkpoint folder). The motion cue is cross-fitted by whole
training videos (--folds; each fold scored by a cue fitted on the others), then fitted on all of them; the
autoencoder is scored on the frames held out from its training. The per-region statistics and each live score's
threshold (the conformal quantile at --target-far) are fitted on those scores, and the detector is written into RUN
(detector.json, detector.safetensors) with what each threshold rests on.
"""

from __future__ import annotations

import json
import sys

from ._types import positive_int, probability, weight

HELP = "(re)fit a detector's per-region calibration and thresholds on normal frames its cues did not fit"


def add_arguments(p) -> None:
    p.add_argument("run", metavar="RUN")
    p.add_argument("--dataset", metavar="ROOT", help="training data (default: the dataset recorded at training)")
    p.add_argument("--cues", default=None, help="comma list of ae, motion (default: the run's, else all available)")
    add_detector_flags(p)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when present)")


def add_detector_flags(p) -> None:
    """The detector's settings as flags (train and calibrate)."""
    from ..api import CALIBRATIONS, AECue, DetectorConfig, MotionCue, default_score, live_scores

    d = DetectorConfig()
    p.add_argument(
        "--score",
        choices=live_scores(),
        default=None,
        help=f"the detector's default live score (default: {d.score} for the default cues "
        f"{','.join(d.cues)}; with other cues, the one preferred cue alone when only one is fitted (ae,motion: "
        f"{default_score(('ae', 'motion'))}), else the score that reads every cue)",
    )
    p.add_argument(
        "--target-far",
        type=probability,
        default=None,
        help=f"target false-alarm rate on normal frames (default {d.target_far})",
    )
    p.add_argument(
        "--calibration", choices=CALIBRATIONS, default=None, help=f"per-region calibration (default {d.calibration})"
    )
    p.add_argument(
        "--topk",
        type=positive_int,
        default=None,
        help=f"frame value = mean of the K highest regions (default {d.topk})",
    )
    p.add_argument(
        "--ema-alpha",
        type=weight,
        default=None,
        help=f"causal EMA weight of the newest frame, in (0, 1] (default {d.ema_alpha})",
    )
    p.add_argument(
        "--ae-patch",
        type=positive_int,
        default=None,
        help=f"region side of the ae cue in model-input pixels (default {AECue.Config().patch})",
    )
    p.add_argument(
        "--folds",
        type=positive_int,
        default=None,
        help=f"folds of whole training videos for cross-fitting the motion cue (default {d.folds}; one video: "
        "blocks of time)",
    )
    p.add_argument(
        "--motion-cell",
        type=positive_int,
        default=None,
        help=f"motion cell side in working pixels (default {MotionCue.Config().cell})",
    )


def detector_config(args, base=None):
    """A ``DetectorConfig`` from the flags over ``base`` (default settings when None)."""
    from dataclasses import replace

    from ..api import DetectorConfig

    cfg = base or DetectorConfig()
    over = {
        k: v
        for k, v in {
            "target_far": args.target_far,
            "calibration": args.calibration,
            "topk": args.topk,
            "ema_alpha": args.ema_alpha,
            "folds": args.folds,
        }.items()
        if v is not None
    }
    settings = {c: dict(v) for c, v in cfg.cue_settings.items()}
    for cue, field, value in (("ae", "patch", getattr(args, "ae_patch", None)),
                              ("motion", "cell", getattr(args, "motion_cell", None))):  # fmt: skip
        if value:
            settings.setdefault(cue, {})[field] = value
    over["cue_settings"] = settings
    return replace(cfg, **over)


def run(args) -> int:
    from pathlib import Path

    from ..api import Detector, DetectorConfig, parse_cues, previous_doc

    old = previous_doc(Path(args.run))  # a damaged one is said by calibrate_run, and refitted with defaults
    base = None if old is None else DetectorConfig.from_dict(old["config"])
    det = Detector.calibrate_run(
        args.run,
        data=args.dataset,
        detector_config=detector_config(args, base),
        cues=None if args.cues is None else parse_cues(args.cues),
        score=args.score,
        device=args.device,
        log=lambda m: print(m, file=sys.stderr),
    )
    print(
        json.dumps(
            {
                "detector": str(det.path),
                "score": det.config.score,
                "thresholds": det.thresholds,
                "calibration_frames": det.meta.get("calibration_frames"),
                "threshold_basis": det.meta.get("thresholds"),
                "target_far": det.config.target_far,
            }
        )
    )
    return 0
