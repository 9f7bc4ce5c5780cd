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
            row |= {
                "cues": ",".join(cues),
                "default_score": doc["config"]["score"],
                "ae_input": f"{cues['ae']['size']}x{cues['ae']['size']}" if "ae" in cues else "-",
                "frame": "x".join(str(v) for v in reversed(doc.get("frame_shape") or [])) or "-",
                "measured": doc.get("meta", {}).get("measured", {}),
            }
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        if not r["installed"]:
            print(f"{r['name']}: not installed in this copy ({r['data']})")
            continue
        auc = "; ".join(f"{k} {v}" for k, v in r["measured"].items()) or "see docs/models.md"
        print(
            f"{r['name']}: cues {r['cues']} (default score {r['default_score']}), autoencoder input {r['ae_input']}, "
            f"frames {r['frame']}; trained on {r['data']}; measured: {auc}"
        )
    return 0
