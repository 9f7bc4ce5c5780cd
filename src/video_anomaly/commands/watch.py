"""``video-anomaly watch CHECKPOINT SOURCE``: score frames as they arrive, events as JSON lines."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "watch",
        help="watch a camera, stream, video file or frame folder and report abnormal events live",
        description="SOURCE: a video file, a frame folder, a camera device (/dev/video0) or a stream URL "
        "(rtsp://, http://, udp://, ...). Events go out as JSON lines (event_start, then event) on stdout or "
        "--out; warnings and the final summary go to stderr. When scoring falls behind a live source the oldest "
        "queued frames are dropped (counted and reported on stderr).",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a calibrated checkpoint")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--out", metavar="FILE", help="write JSON lines here instead of stdout")
    p.add_argument("--score", choices=("patch_max", "patch_z", "seed"), help="live score (default: the calibrated one)")
    p.add_argument("--threshold", type=float, help="override the calibrated alarm threshold")
    p.add_argument("--fps", type=float, help="frame rate for event times (default: the source's; folders 10)")
    p.add_argument("--queue", type=int, default=64, help="frames buffered between reader and scorer (default 64)")
    p.add_argument("--no-drop", action="store_true", help="never drop frames, even from a live source")
    p.add_argument("--end-after", type=int, default=5, help="frames below threshold that end an event (default 5)")
    p.add_argument("--min-length", type=int, default=3, help="shortest event in frames (default 3)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--overlay", metavar="OUT.mp4", help="also write the heatmap overlay video")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a stream (default 10)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..events import EventTracker
    from ..live import load_live
    from ..overlay import OverlayWriter
    from ..runner import run_source
    from ..sources import open_live_source

    detector, _, _, cal = load_live(args.checkpoint, score=args.score, device=args.device,
                                    keep_maps=bool(args.overlay))  # fmt: skip
    if args.threshold is not None:
        detector.threshold = args.threshold
    source = open_live_source(args.source, fps=args.fps, timeout_s=args.timeout)
    out = open(args.out, "w") if args.out else sys.stdout
    tracker = EventTracker(detector.threshold, fps=source.fps, end_after=args.end_after,
                           min_length=args.min_length, source=source.name)  # fmt: skip

    def emit(msg: dict) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    def warn(msg: str) -> None:
        print(f"video-anomaly watch: {msg}", file=sys.stderr, flush=True)

    overlay = (
        OverlayWriter(args.overlay, source.fps, detector.threshold, scale=cal.error_scale) if args.overlay else None
    )
    try:
        stats = run_source(detector, source, tracker=tracker, emit=emit, overlay=overlay, queue=args.queue,
                           drop=False if args.no_drop else None, max_frames=args.max_frames, warn=warn)  # fmt: skip
    finally:
        if overlay is not None:
            overlay.close()
        if args.out:
            out.close()
    summary = {"type": "summary", "source": source.name, "score": cal.score, "threshold": detector.threshold,
               "events": len(tracker.events), **stats.to_dict()}  # fmt: skip
    print(json.dumps(summary), file=sys.stderr)
    return 0
