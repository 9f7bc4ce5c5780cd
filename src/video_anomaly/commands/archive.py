"""``video-anomaly archive --model DET INPUT... --out DIR``: many recordings, in segments, on Ray or a local pool.

Each recording is cut into segments of --segment-frames frames, decoded in order and scored by workers that load the
detector once, with the same code as `score` and `watch` (each segment starts early by the detector's warm-up and
pooling window, so every frame gets the score it has in one pass; events are merged across cuts). Output: Parquet
partitioned by camera and day, a manifest of segments and a summary per camera (docs/archive.md). Killed and rerun
with the same arguments, it redoes only unfinished segments. Exit status 1 when a recording or segment failed (each
is named on stderr and in summary.json).
"""

from __future__ import annotations

import json
import sys

from ._detector import add_event_args, add_model_args
from ._types import positive_float, positive_int

HELP = "score an archive (many cameras, months): segments on Ray workers or a local pool, Parquet out, resumable"


def add_arguments(p) -> None:
    add_model_args(
        p,
        "inputs",
        "INPUT",
        "*",
        "[DETECTOR] video files, frame folders, folders of those (recursively), globs, or manifests "
        "(.csv with header path,camera,start or .jsonl with those keys; start in ISO 8601)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (resumed when it holds an earlier run)")
    p.add_argument(
        "--segment-frames", type=positive_int, default=3000, help="frames per segment (default 3000: 5 min at 10 fps)"
    )
    p.add_argument("--camera", help="camera id for every input (default: each recording's folder name)")
    p.add_argument(
        "--engine",
        choices=("auto", "ray", "local"),
        default="auto",
        help="ray: Ray actors; local: a process pool on this machine; auto (default): Ray when installed",
    )
    p.add_argument("--workers", type=positive_int, help="workers (default: the available cores / --cpus-per-worker)")
    p.add_argument("--cpus-per-worker", type=positive_float, default=1.0, help="CPUs per worker (default 1)")
    p.add_argument(
        "--address", help="Ray cluster to join (ray://HOST:10001, or auto); default RAY_ADDRESS, else a local Ray"
    )
    add_event_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..api import score_archive
    from . import flags
    from ._detector import split_detector

    spec, inputs = split_detector(args, args.inputs, "INPUT...")
    result = score_archive(
        spec,
        inputs,
        args.out,
        progress=not args.quiet,
        **flags(
            args,
            "score threshold segment_frames fps camera end_after min_length cooldown engine workers cpus_per_worker "
            "address",
        ),
    )
    for cam in result.summary:
        print(json.dumps(cam), flush=True)
    n_failed = len(result.failed) + len(result.recordings_failed)
    print(
        f"archive: {result.segments} segments ({result.done} scored now, {result.skipped} done before, "
        f"{len(result.failed)} failed), {len(result.recordings_failed)} recording(s) failed, "
        f"{result.frames} frames in {result.wall_s:.1f} s on {result.engine}; output in {result.out}",
        file=sys.stderr,
    )
    return 1 if n_failed else 0
