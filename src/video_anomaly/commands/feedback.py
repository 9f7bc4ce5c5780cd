"""``video-anomaly feedback RUN EVENT_ID --normal``: an event normal for this camera joins its normal footage.

RUN is the --out folder of `video-anomaly score` (or one STEM.scores.json in it); EVENT_ID is STEM:ID as the report
and STEM.events.jsonl show it (just ID when RUN holds one recording). The event's frames are read again from the
recording; the cues that can learn from them (the motion cue) add them to their model of normal footage, the
thresholds are refitted, and the detector is saved with a record of what was added and when. The autoencoder does
not learn from feedback: a score that uses it may still fire.
"""

from __future__ import annotations

import json
import sys

HELP = "mark an event of a `score` run as normal: the detector learns it and stops raising it"


def add_arguments(p) -> None:
    p.add_argument("run", metavar="RUN", help="the --out folder of `video-anomaly score`")
    p.add_argument("event_id", metavar="EVENT_ID", help="STEM:ID (or ID when RUN holds one recording)")
    p.add_argument("--normal", action="store_true", required=True, help="the event is normal for this camera")
    p.add_argument("--model", metavar="DETECTOR", help="the detector to correct (default: the one RUN was scored with)")
    p.add_argument("--out", metavar="FOLDER", help="save the corrected detector here (needed for a shipped one)")


def run(args) -> int:
    from ..api import DataError, find_event
    from ._detector import load_detector

    spec = args.model
    if spec is None:
        rec, _, rec_file = find_event(args.run, args.event_id)
        spec = rec.get("detector")
        if not spec:
            raise DataError(rec_file, "names no detector: give --model DETECTOR")
    det = load_detector(spec)
    record = det.feedback(args.run, args.event_id, normal=args.normal, out=args.out)
    if record.get("skipped"):
        print(f"video-anomaly feedback: {record['skipped']}", file=sys.stderr, flush=True)
    print(json.dumps({"detector": str(args.out or det.path), **record}), file=sys.stdout, flush=True)
    return 0
