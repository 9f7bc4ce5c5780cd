"""``video-anomaly models``: the detectors shipped with the package, with what they were trained on and measure.

Each shipped detector loads by name: `--model NAME` in score, watch and evaluate, `Detector.load(NAME)` in Python.
docs/models.md is the model card.
"""

from __future__ import annotations

import json

HELP = "list the detectors shipped with the package"


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args) -> int:
    from ..api import weights

    rows = []
    for name, info in weights.MODELS.items():
        folder = weights.folder(name)
        row = {"name": name, "data": info["data"], "installed": (folder / "detector.json").is_file()}
        if row["installed"]:
            doc = json.loads((folder / "detector.json").read_text())
            cues = doc["cues"]
            score = doc["config"]["score"]
            row |= {
                "cues": ",".join(cues),
                "default_score": score,
                "threshold": (doc.get("thresholds") or {}).get(score),
                "ae_input": f"{cues['ae']['size']}x{cues['ae']['size']}" if "ae" in cues else "-",
                "frame": "x".join(str(v) for v in reversed(doc.get("frame_shape") or [])) or "-",
                "measured": weights.measured(name),
            }
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        if not r["installed"]:
            print(f"{r['name']}: not installed in this copy ({r['data']})")
            continue
        print(
            f"{r['name']}: cues {r['cues']} (default score {r['default_score']}, threshold {_g(r['threshold'])}), "
            f"autoencoder input {r['ae_input']}, frames {r['frame']}; trained on {r['data']}; "
            + _measured(r["measured"], r["default_score"])
        )
    _object_models()
    return 0


def _g(x) -> str:
    return "-" if not isinstance(x, (int, float)) else f"{x:.3g}"


def _measured(doc: dict | None, score: str) -> str:
    """The default score's measurement as recorded beside the detector (``weights.measured``), one sentence."""
    m = ((doc or {}).get("scores") or {}).get(score)
    if not m:
        return "not measured in this copy (docs/models.md)"
    parts = [f"micro AUC {_g(m.get('micro_auc'))}", f"macro AUC {_g(m.get('macro_auc'))}"]
    if m.get("false_alarm_rate") is not None:
        parts.append(f"false alarms {m['false_alarm_rate']:.1%} of normal frames (target {m['target_far']:.0%})")
    if m.get("labelled_anomalies"):
        parts.append(f"{m['anomalies_with_alarm']} of {m['labelled_anomalies']} anomalies alarmed")
    return f"measured ({score}, {m.get('protocol')}) on {doc.get('data')}, {doc.get('date')}: " + ", ".join(parts)


def _object_models() -> None:
    """The object detectors (``objects.OBJECT_MODELS``): the pretrained models cues load by name."""
    from ..objects import OBJECT_MODELS

    for name, m in OBJECT_MODELS.items():
        where = "" if (m.folder / m.onnx).is_file() else " (not installed in this copy)"
        print(f"object detector {name}: {m.summary}; licence {m.licence}{where}")
