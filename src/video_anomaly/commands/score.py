"""``video-anomaly score CHECKPOINT INPUT...``: live-protocol scores, events and plots for recordings."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="score recordings: per-frame scores (CSV, JSON), regularity plot, events, optional overlay video",
        description="Each INPUT (video file or frame folder) is scored frame by frame exactly as `watch` would "
        "score it live (calibrated score, causal smoothing, no future frames). With --dataset, the test videos "
        "of a dataset are scored too and their labels are kept for the plots and the report.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a calibrated checkpoint")
    p.add_argument("inputs", metavar="INPUT", nargs="*", help="video files or frame folders")
    p.add_argument("--dataset", metavar="ROOT", help="also score this dataset's (labelled) test videos")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (one set of files per video)")
    p.add_argument("--overlay", action="store_true", help="write NAME.overlay.mp4 heatmap videos")
    p.add_argument("--score", choices=("patch_max", "patch_z", "seed"), help="live score (default: the calibrated one)")
    p.add_argument("--fps", type=float, help="frame rate (default: the file's; frame folders 10)")
    p.add_argument("--end-after", type=int, default=5, help="frames below threshold that end an event (default 5)")
    p.add_argument("--min-length", type=int, default=3, help="shortest event in frames (default 3)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import DataError
    from ..recordings import score_recording

    jobs = [(Path(p).name or str(p), str(p), None) for p in args.inputs]
    if args.dataset:
        from ..data import load_dataset

        ds = load_dataset(args.dataset)
        jobs += [(v.name, v, v.labels) for v in ds.test]
    if not jobs:
        raise DataError(None, "nothing to score: give INPUT paths or --dataset ROOT")
    out = Path(args.out)
    for name, what, labels in jobs:
        summary = score_recording(
            args.checkpoint, what, out, name=name, labels=labels, overlay=args.overlay, score=args.score,
            fps=args.fps, end_after=args.end_after, min_length=args.min_length, device=args.device,
        )  # fmt: skip
        print(json.dumps(summary), file=sys.stdout, flush=True)
    return 0
