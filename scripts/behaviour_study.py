"""The behaviour models on the synthetic behaviour scene's true tracks: events per test video, by kind.

    video-anomaly data synth /tmp/bsc --behaviour
    python scripts/behaviour_study.py /tmp/bsc/SyntheticBehaviour

Fits ``behaviour.fit_behaviour`` on the training videos' tracks (with their start times from ``manifest.json``),
scores every test video's tracks live (``behaviour.score_tracks``) and prints, per test video, the planted kind,
whether an event of the matching kind was raised on the planted track, and the false events (any event on
another track, or of another kind). The tracks are the scene's true ones: they stand in for the objects cue's.

With ``--events DIR`` it reads instead the events a detector raised live on the objects cue's own tracks
(``video-anomaly score DETECTOR --dataset SCENE --out DIR``: ``DIR/*.events.jsonl``): a behaviour event (kind
lingering, direction or time_of_day) is a hit when it is of the video's planted kind and its frames overlap the
planted anomaly's labelled frames (the cue's track ids are not the scene's); every other behaviour event is false.

    video-anomaly train /tmp/bsc/SyntheticBehaviour --out /tmp/bdet
    video-anomaly score /tmp/bdet --dataset /tmp/bsc/SyntheticBehaviour --out /tmp/bout
    python scripts/behaviour_study.py /tmp/bsc/SyntheticBehaviour --events /tmp/bout
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

from video_anomaly.live.behaviour import (
    DIRECTION,
    LINGERING,
    TIME_OF_DAY,
    Footage,
    fit_behaviour,
    score_tracks,
    tracks_from_rows,
)

EXPECTED = {"linger": LINGERING, "against": DIRECTION, "night": TIME_OF_DAY}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scene", type=Path, help="the SyntheticBehaviour folder")
    ap.add_argument("--events", type=Path, metavar="DIR", help="score's output folder: read its live events")
    args = ap.parse_args(argv)
    manifest = {v["video"]: v for v in json.loads((args.scene / "manifest.json").read_text())["videos"]}
    tracks = json.loads((args.scene / "tracks.json").read_text())
    meta = json.loads((args.scene / "anomalies.json").read_text())
    if args.events is not None:
        return from_events(args.events, manifest, meta)
    from PIL import Image

    first = sorted((args.scene / "Train" / "Train001").glob("*.tif"))
    frame_shape = Image.open(first[0]).size[::-1]
    fps = float(meta["fps"])

    def footage(name: str) -> Footage:
        m = manifest[name]
        return Footage(tracks_from_rows(tracks[name]), datetime.fromisoformat(m["start"]), len(first) / fps)

    models = fit_behaviour([footage(n) for n, m in manifest.items() if m["split"] == "train"], frame_shape)
    rows = []
    for name, m in manifest.items():
        if m["split"] != "test":
            continue
        planted = {r[0] for r in tracks[name] if r[-1]}
        events = score_tracks(models, tracks[name], start=datetime.fromisoformat(m["start"]), source=name)
        want = EXPECTED.get(m["kind"])
        hit = [e for e in events if e["track_id"] in planted and e["kind"] == want]
        false = [e for e in events if e not in hit]
        rows.append({"video": name, "kind": m["kind"], "expected": want, "raised": bool(hit) if want else None,
                     "false_events": len(false), "false_kinds": dict(Counter(e["kind"] for e in false)),
                     "first": None if not hit else round(hit[0]["start_time"], 1)})  # fmt: skip
        print(json.dumps(rows[-1]))
    ok = all(r["raised"] is not False and r["false_events"] <= 1 for r in rows)
    print(json.dumps({"all_raised_at_most_one_false": ok}))
    return 0


def from_events(folder: Path, manifest: dict, meta: dict) -> int:
    """Per test video, the live behaviour events of ``folder`` against the planted anomaly (module docstring)."""
    planted = {t["video"]: t["anomalies"][0] for t in meta["test"]}
    rows = []
    for name, m in manifest.items():
        if m["split"] != "test":
            continue
        files = sorted(folder.glob(f"{name}*.events.jsonl"))
        if len(files) != 1:
            raise SystemExit(f"{folder}: want one {name}*.events.jsonl, found {len(files)}")
        events = [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]
        behaviour = [e for e in events if e.get("kind") in EXPECTED.values()]
        want, a = EXPECTED.get(m["kind"]), planted[name]
        hit = [e for e in behaviour if e["kind"] == want and e["start_frame"] <= a["last_frame"]
               and e["end_frame"] >= a["first_frame"]]  # fmt: skip
        false = [e for e in behaviour if e not in hit]
        rows.append({"video": name, "kind": m["kind"], "expected": want, "raised": bool(hit) if want else None,
                     "false_events": len(false), "false_kinds": dict(Counter(e["kind"] for e in false)),
                     "first_frame": None if not hit else hit[0]["start_frame"],
                     "labels": [e.get("label") for e in hit],
                     "other_events": dict(Counter(e.get("kind") for e in events if e not in behaviour))})  # fmt: skip
        print(json.dumps(rows[-1]))
    ok = all(r["raised"] is not False and r["false_events"] <= 1 for r in rows)
    print(json.dumps({"all_raised_at_most_one_false": ok}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
