"""``video-anomaly calibrate CHECKPOINT``: fit live-score statistics and the alarm threshold from normal frames."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    from ..calibration import DEFAULT_EMA_ALPHA, DEFAULT_PATCH, DEFAULT_SCORE, DEFAULT_TARGET_FAR, SCORES

    p = subparsers.add_parser(
        "calibrate",
        help="fit the alarm threshold of a checkpoint from its held-out normal training frames",
        description="Score the training frames held out from training as in live use; store per-patch error "
        "statistics and, per score, the threshold that a fraction --target-far of normal frames exceed.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--dataset", metavar="ROOT", help="dataset folder (default: the one recorded at training)")
    p.add_argument(
        "--target-far",
        type=float,
        default=DEFAULT_TARGET_FAR,
        help=f"target false-alarm rate on normal frames (default {DEFAULT_TARGET_FAR})",
    )
    p.add_argument("--score", choices=SCORES, default=DEFAULT_SCORE, help="default live score")
    p.add_argument("--patch", type=int, default=DEFAULT_PATCH, help="patch side in model-input pixels")
    p.add_argument("--ema-alpha", type=float, default=DEFAULT_EMA_ALPHA, help="causal EMA weight of the newest frame")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..calibration import calibrate_checkpoint
    from ..device import pick_device

    cal = calibrate_checkpoint(
        args.checkpoint, dataset_root=args.dataset, target_far=args.target_far, patch=args.patch,
        ema_alpha=args.ema_alpha, score=args.score, device=pick_device(args.device),
        log=lambda m: print(m, file=sys.stderr),
    )  # fmt: skip
    print(json.dumps({"checkpoint": str(args.checkpoint), **cal.to_extras()[0]["calibration"]}))
    return 0
