"""``video-anomaly evaluate CHECKPOINT DATASET``: frame- and pixel-level AUC/EER on a dataset's test videos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FRAME_SCORE_CHOICES = ("own_error", "mean_window", "last", "patch_max", "patch_topk")

# Named scores. "live" (the default) is what `watch` uses: each frame scored once from the window ending
# at it, calibrated per patch on held-out normal frames, causally smoothed, no per-video min/max.
# "seed" is the seed's own: every window, whole-frame L1 cost, per-video (c - min) / max.
SCORE_PRESETS = {
    "live": {"protocol": "live", "frame_scores": "patch_raw", "cost": "l1", "normalize": "none"},
    "seed": {"protocol": "exact", "frame_scores": "own_error", "cost": "l1", "normalize": "seed"},
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score a dataset's test videos with a checkpoint and report AUC / EER",
        description="Score every test video of DATASET with the model in CHECKPOINT; write evaluation.json, "
        "evaluation.md, roc.png and regularity/<video>.png into --out and print the Markdown table.",
    )
    p.add_argument("checkpoint", type=Path, help="checkpoint written by `video-anomaly train`")
    p.add_argument("dataset", type=Path, help="dataset folder (e.g. UCSDped2)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <checkpoint dir>/evaluation)")
    p.add_argument("--score", choices=tuple(SCORE_PRESETS), default="live",
                   help="live (default): calibrated per-patch score, causal, as `watch` scores; "
                   "seed: the seed's exact protocol and whole-frame cost; the flags below override parts")  # fmt: skip
    p.add_argument("--protocol", choices=("exact", "live"), default=None,
                   help="exact: every stride-1 window (the seed's); live: each frame once, causally")  # fmt: skip
    p.add_argument("--cost", choices=("l1", "l2"), default=None, help="sequence cost (default: the checkpoint's)")
    p.add_argument("--normalize", choices=("seed", "minmax", "none"), default=None,
                   help="per-video normalisation of the regularity score (default: the checkpoint's)")  # fmt: skip
    p.add_argument("--frame-scores", choices=FRAME_SCORE_CHOICES, default=None,
                   help="how window errors become one score per frame (default: the checkpoint's)")  # fmt: skip
    p.add_argument("--smooth", type=int, default=None, help="centred moving average over N frames (exact protocol)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-windows", type=int, default=4, help="windows per forward pass")
    p.add_argument("--limit-videos", type=int, default=None, help="evaluate only the first N test videos")
    p.add_argument("--videos", default=None, help="evaluate only these test videos (comma-separated names)")
    p.add_argument("--size", type=int, default=None, help="frame size (default: the checkpoint's)")
    p.add_argument("--no-figures", action="store_true", help="skip roc.png and the regularity plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _patch_stats(extras: dict, where: Path):
    """Per-patch statistics from a calibrated checkpoint (``video-anomaly calibrate``), else None."""
    from ..calibration import Calibration
    from ..errors import CheckpointError
    from ..scoring import PatchStats

    try:
        cal = Calibration.from_extras(extras or {}, str(where))
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None
    return PatchStats(int(cal.patch), np.asarray(cal.mean, np.float64), np.asarray(cal.std, np.float64))


# The calibrated live score (calibration.SCORES) as a scoring.FRAME_SCORES method.
_LIVE_FRAME_SCORES = {"patch_max": "patch_raw", "patch_z": "patch_max", "seed": "own_error"}


def _calibrated_score(extras: dict) -> str:
    from ..calibration import Calibration

    try:
        return Calibration.from_extras(extras).score
    except Exception:  # noqa: BLE001
        return "patch_max"


def _ema_alpha(extras: dict) -> float:
    """The causal smoothing the checkpoint's calibration was fitted with (so thresholds stay comparable)."""
    from ..calibration import Calibration

    try:
        return float(Calibration.from_extras(extras).ema_alpha)
    except Exception:  # noqa: BLE001 - any missing or old calibration: no smoothing
        return 0.0


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..data import load_dataset
    from ..device import pick_device
    from ..errors import DataError
    from ..evaluation import evaluate, write_table_markdown

    device = pick_device(args.device)
    model, run_config, extras = load_checkpoint(args.checkpoint, device)
    preset = dict(SCORE_PRESETS[args.score])
    patch_stats = _patch_stats(extras, args.checkpoint)
    if args.score == "live":
        if patch_stats is None:
            print(
                f"video-anomaly evaluate: warning: {args.checkpoint} is not calibrated; the live score falls back "
                "to the uncalibrated whole-frame error (run `video-anomaly calibrate` first)",
                file=sys.stderr,
            )
            preset["frame_scores"] = "own_error"
        else:
            preset["ema_alpha"] = _ema_alpha(extras)
            preset["frame_scores"] = _LIVE_FRAME_SCORES.get(_calibrated_score(extras), "patch_raw")
    protocol = args.protocol or preset.pop("protocol")
    preset.pop("protocol", None)
    overrides = {**preset, **{k: v for k, v in {"cost": args.cost, "normalize": args.normalize,
                 "frame_scores": args.frame_scores, "smooth": args.smooth}.items() if v is not None}}  # fmt: skip
    run_config = run_config.replace(score=overrides, data={"size": args.size})
    dataset = load_dataset(args.dataset)
    videos = list(dataset.test)
    if args.videos:
        wanted = [n.strip() for n in args.videos.split(",") if n.strip()]
        known = {v.name: v for v in videos}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise DataError(args.dataset, f"no test videos named {', '.join(missing)}")
        videos = [known[n] for n in wanted]
    if args.limit_videos is not None:
        videos = videos[: max(0, args.limit_videos)]
    if not videos:
        raise DataError(args.dataset, "has no test videos to evaluate")
    out = args.out if args.out is not None else Path(args.checkpoint).parent / "evaluation"
    results = evaluate(
        model,
        videos,
        run_config,
        out,
        device=device,
        batch_windows=args.batch_windows,
        protocol=protocol,
        figures=not args.no_figures,
        progress=not args.quiet,
        patch_stats=patch_stats,
    )
    print(write_table_markdown(results), end="")
    print(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.md'}")
    return 0
