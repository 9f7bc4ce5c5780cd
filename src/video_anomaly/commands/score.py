"""``video-anomaly score --model DETECTOR INPUT... --out DIR``: live scores, events and plots for recordings.

Each INPUT (video file or frame folder) is scored frame by frame exactly as `watch` would score it live (the
detector's calibrated score, causal, no future frames). With --dataset, the test videos of a dataset are scored too
and their labels kept for the plots and the report. Outputs are named after each input (distinct inputs never share
a name) and are never replaced without --overwrite.
"""

from __future__ import annotations

import json
import sys

from ._detector import add_event_args, add_model_args

HELP = "score recordings: per-frame scores (CSV, JSON), score plot, events, optional overlay video"


def add_arguments(p) -> None:
    add_model_args(p, "inputs", "INPUT", "*", "[DETECTOR] video files or frame folders")
    p.add_argument("--dataset", metavar="ROOT", help="also score this dataset's (labelled) test videos")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (one set of files per video)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs of an earlier run in DIR")
    p.add_argument("--overlay", action="store_true", help="write STEM.overlay.mp4 heatmap videos")
    add_event_args(p)


def run(args) -> int:
    from pathlib import Path

    from ..api import DataError, check_no_overwrite, output_files, output_stem
    from ._detector import load_detector, split_detector

    spec, inputs = split_detector(args, args.inputs, "INPUT...")
    det = load_detector(spec, device=args.device)
    jobs = [(str(p), str(p), None) for p in inputs]
    if args.dataset:
        from ..api import load_dataset

        ds = load_dataset(args.dataset)
        jobs += [(v.name, v, v.labels) for v in ds.test]
    if not jobs:
        raise DataError(None, "nothing to score: give INPUT paths or --dataset ROOT")
    # Each output name is a function of its input's path alone: stable across calls, never shared.
    stems = [output_stem(w if isinstance(w, str) else getattr(w.source, "path", name)) for name, w, _ in jobs]
    if len(set(stems)) < len(stems):
        twice = next(name for (name, _, _), s in zip(jobs, stems) if stems.count(s) > 1)
        raise DataError(twice, "given twice: each input is scored once per call")
    out = Path(args.out)
    check_no_overwrite(out, [f for s in stems for f in output_files(s, args.overlay)], args.overwrite)
    from ..api import stop_on_signals

    made_out = not out.exists()
    done = 0
    try:
        with stop_on_signals():  # SIGTERM/SIGHUP stop like Ctrl-C: the input being scored leaves no file
            for (name, what, labels), stem in zip(jobs, stems):
                summary = _score_one(args, det, name, what, labels, stem, out)
                print(json.dumps(summary), file=sys.stdout, flush=True)
                done += 1
    except BaseException as exc:
        if made_out and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a failed call leaves no empty --out behind
        if isinstance(exc, KeyboardInterrupt):
            why = str(exc) if str(exc) else "SIGINT"
            end = {"end": "interrupted", "error": why, "inputs_done": done, "inputs": len(jobs)}
            if done < len(jobs):
                end["removed_partial_outputs_of"] = jobs[done][0]
            print(json.dumps(end), file=sys.stderr, flush=True)
        raise
    return 0


def _score_one(args, det, name, what, labels, stem, out) -> dict:
    from ..api import score_recording
    from . import flags

    return score_recording(
        det,
        what,
        out,
        name=name,
        stem=stem,
        labels=labels,
        on_warning=lambda msg: print(f"video-anomaly score: {name}: {msg}", file=sys.stderr, flush=True),
        **flags(args, "overlay score threshold fps end_after min_length cooldown"),
    )
