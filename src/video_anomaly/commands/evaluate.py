"""``video-anomaly evaluate --model DETECTOR DATASET``: every metric of a named score on a dataset's test videos.

Score every test video of DATASET with a named score of the detector; write evaluation.json, evaluation.md,
arrays.npz, roc.png and scores/<video>.png into --out and print the table: frame-level micro and macro AUC/EER with
and without per-video normalisation, and, where the dataset has pixel masks and the score has region maps,
pixel-level AUC (UCSD 40% rule) and RBDC/TBDC.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._detector import SCORE_HELP, add_model_args

HELP = "score a dataset's labelled test videos and report AUC / EER, pixel-level AUC, RBDC / TBDC"


def add_arguments(p) -> None:
    add_model_args(
        p,
        "positionals",
        "[DETECTOR] DATASET",
        "+",
        "the detector (unless --model) and the dataset folder (e.g. UCSDped2)",
        score=False,
    )
    p.add_argument(
        "--score",
        default=None,
        metavar="NAMES",
        help=f"score name, a comma list, or all (default: the detector's own). {SCORE_HELP}",
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <detector>/evaluation/<score>)")
    p.add_argument("--videos", default=None, help="evaluate only these test videos (comma-separated names)")
    p.add_argument("--no-figures", action="store_true", help="skip roc.png and the score plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..api import ConfigError, scores_table_markdown
    from ._detector import load_detector, split_detector

    spec, rest = split_detector(args, args.positionals, "DATASET")
    if len(rest) != 1:
        raise ConfigError(f"evaluate takes one DATASET, got {len(rest)}: {' '.join(rest) or '(none)'}")
    det = load_detector(spec, device=args.device)
    text = det.score_name(args.score)
    names = "all" if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    videos = [n.strip() for n in args.videos.split(",") if n.strip()] if args.videos else None
    base = args.out if args.out is not None else Path(det.path or ".") / "evaluation"
    kw = {"figures": not args.no_figures, "progress": not args.quiet, "videos": videos}
    if names != "all" and len(names) == 1:
        out = base if args.out is not None else base / names[0]
        results = {names[0]: det.evaluate(rest[0], out, names[0], **kw)}
        outs = {names[0]: out}
    else:
        results = det.evaluate(rest[0], base, names, **kw)
        outs = {n: base / n for n in results}
    for n, res in results.items():
        print(scores_table_markdown(res))
        print(f"wrote {outs[n] / 'evaluation.json'} and {outs[n] / 'evaluation.md'}\n")
    return 0
