"""``video-anomaly evaluate CHECKPOINT DATASET``: frame- and pixel-level AUC/EER on a dataset's test videos."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

FRAME_SCORE_CHOICES = ("own_error", "mean_window", "last", "patch_max", "patch_topk")


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
    p.add_argument("--protocol", choices=("exact", "live"), default="exact",
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


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..data import load_dataset
    from ..device import pick_device
    from ..errors import DataError
    from ..evaluation import evaluate, write_table_markdown

    device = pick_device(args.device)
    model, run_config, extras = load_checkpoint(args.checkpoint, device)
    overrides = {"cost": args.cost, "normalize": args.normalize, "frame_scores": args.frame_scores,
                 "smooth": args.smooth}  # fmt: skip
    run_config = run_config.replace(score=overrides, data={"size": args.size})
    dataset = load_dataset(args.dataset)
    videos = list(dataset.test)
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
        protocol=args.protocol,
        figures=not args.no_figures,
        progress=not args.quiet,
        patch_stats=_patch_stats(extras, args.checkpoint),
    )
    print(write_table_markdown(results), end="")
    print(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.md'}")
    return 0
