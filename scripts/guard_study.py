"""Does the guard warn on another camera's footage resized to the detector's size, and stay quiet on its own camera?

For a detector and its own dataset, each test video is streamed as ``score`` streams it (one session per video):
its alarm share and whether the guard warned. Each ``--other`` dataset plays another camera: its test videos, then
its training videos, resized to the detector's frame size, streamed as one feed (as a camera would send it): the
alarm share over the feed and the frame at which the guard warned. Choose the guard's settings on the synthetic
scene and Ped2; Ped1 is the check.

    python scripts/guard_study.py --model runs/ped2 --own $UCSD/UCSDped2 --other runs/synth/SyntheticPed \
        --out runs/guard-study/ped2.json
"""

from __future__ import annotations

import argparse
import json
from itertools import chain, islice
from pathlib import Path

import numpy as np


def resized(frames, shape):
    import cv2

    for f in frames:
        f = np.asarray(f)
        yield f if f.shape[:2] == tuple(shape) else cv2.resize(f, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def main() -> None:
    from video_anomaly.api import Detector
    from video_anomaly.data import load_dataset

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--own", help="the detector's own dataset (its test videos)")
    ap.add_argument("--other", action="append", default=[], help="another camera's dataset (repeatable)")
    ap.add_argument("--frames", type=int, default=600, help="frames of each other camera's feed")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    det = Detector.load(a.model)
    out = {"model": a.model, "threshold": det.threshold(), "own": [], "other": []}
    if a.own:
        for v in load_dataset(a.own).test:
            vs = det.score_video(v.source.iter_frames(None), name=v.name, maps=False)
            row = {"video": v.name, "frames": vs.n_frames, "alarm_share": round(float(vs.alarms.mean()), 3),
                   "warned": bool(vs.warnings)}  # fmt: skip
            out["own"].append(row)
            print(json.dumps(row), flush=True)
    for other in a.other:
        ds = load_dataset(other)
        feed = chain.from_iterable(v.source.iter_frames(None) for v in [*ds.test, *ds.train])
        sess = det.session()
        alarms, first = [], None
        for i, f in enumerate(islice(resized(feed, det.frame_shape), a.frames)):
            fs = sess.push(f, i)
            if fs is not None:
                alarms.append(fs.alarm)
            if first is None and any("alarm" in m for m in sess.guard.messages):
                first = i
        row = {"other": other, "frames": len(alarms) + 1, "alarm_share": round(float(np.mean(alarms)), 3),
               "first_warning_frame": first, "messages": sess.guard.messages}  # fmt: skip
        out["other"].append(row)
        print(json.dumps(row), flush=True)
    if out["own"]:
        shares = [r["alarm_share"] for r in out["own"]]
        print(f"own camera: alarm share per test video {min(shares):.0%}-{max(shares):.0%}; warned on "
              f"{sum(r['warned'] for r in out['own'])} of {len(shares)}")  # fmt: skip
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
