"""How the event rules (minimum duration, cool-down) change the events of a detector on a labelled dataset.

    python scripts/event_rules_study.py ucsd-ped2 ../shared/datasets/UCSD_Anomaly_Dataset.v1p2/UCSDped2
    python scripts/event_rules_study.py /tmp/det /tmp/synth/SyntheticPed

Scores every test video once, live, with its region maps (``Detector.score``), then replays the per-object
``events.EventTracker`` over the scores for each ``(min_length, cooldown)`` pair and prints, summed over the
videos: events, false events (no labelled frame inside), labelled runs of abnormal frames with no event over them
(missed), and the largest number of false events in one video. Frame scores and thresholds do not change with
these rules (the AUC and the frame false-alarm rate are the same for every row). Never run on Ped1's test labels
to choose a default.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from video_anomaly.data.records import true_runs
from video_anomaly.live.events import EventTracker


def replay(vs, labels: np.ndarray, fps: float, **rules) -> dict:
    """One video's events under ``rules`` (``EventTracker`` settings) against its frame ``labels``."""
    tr = EventTracker(vs.threshold, fps=fps, **rules)
    image = np.zeros(vs.frame_shape, np.uint8)
    events = []
    for i in np.flatnonzero(vs.scored):
        events += [m for m in tr.update(int(i), float(vs.frame_scores[i]), None, image, region_map=vs.maps[i])
                   if m["type"] == "event"]  # fmt: skip
    events += tr.finish()
    inside = [bool(labels[e["start_frame"] : e["end_frame"] + 1].any()) for e in events]
    runs = true_runs(labels)
    missed = sum(not any(e["start_frame"] <= b - 1 and e["end_frame"] >= a for e in events) for a, b in runs)
    return {"events": len(events), "false": inside.count(False), "runs": len(runs), "missed": missed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("detector")
    ap.add_argument("dataset")
    ap.add_argument("--min-lengths", default="1,3,5,10")
    ap.add_argument("--cooldowns", default="0,10,25,50")
    ap.add_argument("--fps", type=float, default=10.0)
    args = ap.parse_args(argv)
    from video_anomaly import Detector
    from video_anomaly.data import load_dataset

    det = Detector.load(args.detector)
    test = load_dataset(args.dataset).test
    scored = [(det.score(v, maps=True), np.asarray(v.labels, bool)) for v in test]
    for m in (int(x) for x in args.min_lengths.split(",")):
        for c in (int(x) for x in args.cooldowns.split(",")):
            rows = [replay(vs, lab[: vs.n_frames], args.fps, min_length=m, cooldown=c) for vs, lab in scored]
            total = {k: sum(r[k] for r in rows) for k in rows[0]}
            print(json.dumps({"min_length": m, "cooldown": c, **total, "videos": len(rows),
                              "max_false_per_video": max(r["false"] for r in rows)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
