"""``video-anomaly watch --model DETECTOR SOURCE``: score frames as they arrive, events as JSON lines.

SOURCE: a video file, a frame folder, a camera device (/dev/video0) or a stream URL (rtsp://, http://, udp://, ...).
Events go out as JSON lines (event_start, then event) on stdout or --out; warnings and the final summary go to
stderr. When scoring falls behind a live source the oldest queued frames are dropped (counted and reported on
stderr). Event times are each frame's timestamp in the source (frame folders: frame / fps).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import flags
from ._detector import add_event_rules, add_model_args
from ._types import finite_float, positive_float, positive_int

# Exit status when a camera or stream was lost (failed, timed out, stopped sending) rather than ended.
EXIT_LOST = 3

EPILOG = (
    "Exit status: 0 the source ended (a file or frame folder, or a stream of announced length) or --max-frames "
    "was reached; 2 bad input or a file of which no frame decodes; 3 the source was lost: a camera or stream failed, "
    "timed out or stopped sending (a warning line says why; see --reconnect); 130 interrupted (SIGINT), 143 "
    "terminated (SIGTERM); an overlay that could not be written turns 0 into 2. In every case the open event is "
    "closed and the summary line printed first. --out appends to an existing event log (--overwrite starts it "
    "afresh); --overlay never replaces an existing file without --overwrite."
)


HELP = "watch a camera, stream, video file or frame folder and report abnormal events live"


def add_arguments(p) -> None:
    add_model_args(p, "source", "[DETECTOR] SOURCE", "+", "the source (after the detector when --model is not given)")
    p.add_argument(
        "--out", metavar="FILE", help="append JSON lines to this event log instead of stdout (see --overwrite)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="start --out afresh and let --overlay replace an existing file"
    )
    p.add_argument("--threshold", type=finite_float, help="override the calibrated alarm threshold")
    p.add_argument(
        "--fps",
        type=positive_float,
        help="event times are frame / FPS instead of the source's timestamps (default: timestamps; folders 10 fps)",
    )
    p.add_argument(
        "--queue", type=positive_int, default=64, help="frames buffered between reader and scorer (default 64)"
    )
    p.add_argument("--no-drop", action="store_true", help="never drop frames, even from a live source")
    add_event_rules(p)
    p.add_argument("--max-frames", type=positive_int, help="stop after this many frames")
    p.add_argument(
        "--overlay", metavar="OUT.mp4", help="also write the heatmap overlay video (renamed into place at the end)"
    )
    p.add_argument(
        "--timeout", type=positive_float, default=10.0, help="seconds a camera or stream may send nothing (default 10)"
    )
    p.add_argument(
        "--reconnect",
        type=positive_float,
        metavar="SECONDS",
        help="when a network stream is lost, try to reopen it for up to SECONDS (default: stop, exit status 3)",
    )


def run(args) -> int:
    from ..api import ConfigError, DataError, check_output_file, stop_on_signals
    from ._detector import load_detector, split_detector

    spec, rest = split_detector(args, args.source, "SOURCE")
    if len(rest) != 1:
        raise ConfigError(f"watch takes one SOURCE, got {len(rest)}: {' '.join(rest) or '(none)'}")
    final_overlay = check_output_file(args.overlay, args.overwrite, "--overlay") if args.overlay else None
    if args.out and Path(args.out).is_dir():
        raise DataError(args.out, "is a folder: --out takes a file name")
    det = load_detector(spec, device=args.device)
    # The event log is opened once the source is (a source that cannot be opened leaves no --out behind).
    log: list = [] if args.out else [sys.stdout]

    def out():
        if not log:
            log.append(_event_log(Path(args.out), args.overwrite))
        return log[0]

    def emit(msg: dict) -> None:
        out().write(json.dumps(msg) + "\n")
        out().flush()

    try:
        with stop_on_signals():
            session, source, tracker, stats = det.watch(
                rest[0],
                emit=emit,
                overlay=final_overlay,
                **flags(args, "score threshold overwrite end_after min_length cooldown"),
                source_kw={"fps": args.fps, "timeout_s": args.timeout, "reconnect_s": args.reconnect, "warn": _warn},
                queue=args.queue,
                drop=False if args.no_drop else None,
                max_frames=args.max_frames,
                warn=_warn,
                end_on_error=True,
                on_warning=_warn,  # the guard: footage that does not fit the detector, once, on stderr
            )
        if args.out:
            out()
    finally:
        if args.out and log:
            log[0].close()
    status = exit_status(stats, source.name)
    summary = {
        "type": "summary",
        "source": source.name,
        "score": session.score_name,
        "threshold": session.threshold,
        "events": tracker.closed,
        "guard": list(session.guard.messages),
        **stats.to_dict(),
    }
    print(json.dumps(summary), file=sys.stderr, flush=True)
    if stats.overlay_error:
        print(f"video-anomaly watch: error: {final_overlay}: cannot be written ({stats.overlay_error}); the run went "
              "on without it", file=sys.stderr, flush=True)  # fmt: skip
        return status or 2
    return status


def _event_log(path: Path, overwrite: bool):
    """The event log, opened to append (``overwrite``: emptied first). A line cut short by a kill is ended first,
    so every later line stays one whole JSON object."""
    if not overwrite and path.is_file() and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            cut = fh.read(1) != b"\n"
        if cut:
            with open(path, "a") as fh:
                fh.write("\n")
    return open(path, "w" if overwrite else "a")


def _warn(msg: str) -> None:
    print(f"video-anomaly watch: {msg}", file=sys.stderr, flush=True)


def exit_status(stats, name: str) -> int:
    """The exit status of a finished run (see ``EPILOG``); says on stderr why a run did not simply end."""
    from ..api import FAILED, INTERRUPTED, LOST, plural

    if stats.end == LOST:
        read = plural(stats.frames + stats.dropped, "frame")  # as the source counts them (dropped ones too)
        _warn(f"warning: {name}: source lost after {read}: {stats.error}")
        return EXIT_LOST
    if stats.end == INTERRUPTED:
        _warn(f"stopped by {stats.error}")
        return 143 if stats.error == "SIGTERM" else 129 if stats.error == "SIGHUP" else 130
    if stats.end == FAILED:
        where = "" if name in str(stats.error) else f"{name}: "
        print(f"video-anomaly watch: error: {where}{stats.error}", file=sys.stderr, flush=True)
        return 2
    return 0
