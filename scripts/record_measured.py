"""Record what a shipped detector measured, for `video-anomaly models` to print (never typed by hand).

Reads the ``evaluation.json`` files that ``video-anomaly evaluate --model NAME DATA --score A,B --out DIR`` wrote
(``DIR/A/evaluation.json``... or ``DIR/evaluation.json`` for one score) and writes
``src/video_anomaly/weights/NAME/measured.json``:

    python scripts/record_measured.py ucsd-ped2 runs/models/ucsd-ped2 --data "UCSD Ped2 Test (12 videos)" \
        --command "video-anomaly evaluate --model ucsd-ped2 $UCSD/UCSDped2 --score motion --out runs/models/ucsd-ped2"
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from video_anomaly.outputs import atomic_output


def summary(res: dict) -> dict:
    """The numbers `models` prints from one ``evaluation.json``."""
    frame = res.get("frame_level") or {}
    far = res.get("false_alarm_rate") or {}
    ev = res.get("events") or {}
    return {
        "protocol": res.get("protocol"),
        "micro_auc": (frame.get("micro") or {}).get("auc"),
        "macro_auc": (frame.get("macro") or {}).get("auc"),
        "threshold": res.get("threshold"),
        "false_alarm_rate": far.get("achieved"),
        "target_far": far.get("target"),
        "anomalies_with_alarm": ev.get("anomalies_with_alarm"),
        "labelled_anomalies": ev.get("labelled_anomalies"),
        "false_alarm_runs": ev.get("false_alarm_runs"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("evaluation", type=Path, help="the --out folder of `evaluate`")
    ap.add_argument("--data", required=True, help="what was measured, in words")
    ap.add_argument("--command", required=True, help="the evaluate command that wrote the files")
    args = ap.parse_args()
    files = sorted(args.evaluation.glob("*/evaluation.json")) or [args.evaluation / "evaluation.json"]
    scores = {}
    for f in files:
        res = json.loads(f.read_text())
        scores[res["score"]] = summary(res)
    doc = {"date": datetime.date.today().isoformat(), "data": args.data, "command": args.command, "scores": scores}
    out = Path(__file__).resolve().parents[1] / "src" / "video_anomaly" / "weights" / args.name / "measured.json"
    with atomic_output(out) as tmp:  # a killed run leaves the old record, never half of one
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{out}: {', '.join(scores)}")


if __name__ == "__main__":
    main()
