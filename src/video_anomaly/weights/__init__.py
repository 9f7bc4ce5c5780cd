"""Detectors shipped with the package, by name (``Detector.load("ucsd-ped2")``, ``--model ucsd-ped2``).

Each is a detector folder (``detector.json``, ``detector.safetensors``, ``checkpoint/``) under this package;
``detector.sha256`` holds the SHA-256 of every file and loading verifies them. ``docs/models.md`` is the model
card: how each was built (the command that rebuilds it), on what, and what it measures.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_REBUILD = (
    "video-anomaly train $UCSD/{subset} --cues ae,motion --out {name}-run --size 128 --epochs 3 --device cuda && "
    "cp -r {name}-run/detector.json {name}-run/detector.safetensors {name}-run/detector.sha256 {name}-run/checkpoint "
    "src/video_anomaly/weights/{name}/ (see docs/models.md)"
)

MODELS: dict[str, dict[str, str]] = {
    "ucsd-ped2": {
        "data": "UCSD Ped2 Train (16 normal clips, 2550 frames, 360x240)",
        "rebuild": _REBUILD.format(subset="UCSDped2", name="ucsd-ped2"),
    },
    "ucsd-ped1": {
        "data": "UCSD Ped1 Train (34 normal clips, 6800 frames, 238x158)",
        "rebuild": _REBUILD.format(subset="UCSDped1", name="ucsd-ped1"),
    },
}


def folder(name: str) -> Path:
    """The package folder of shipped detector ``name`` (it may be missing from a damaged install)."""
    return Path(str(resources.files("video_anomaly") / "weights" / name))


def available() -> list[str]:
    """Names whose folder is present in this install."""
    return [n for n in MODELS if (folder(n) / "detector.json").is_file()]


MEASURED = "measured.json"


def measured(name: str) -> dict | None:
    """What shipped detector ``name`` measured on its dataset's test videos, as ``scripts/record_measured.py`` read
    it from ``evaluate``'s ``evaluation.json`` files (``{"date", "data", "command", "scores": {score: {...}}}``), or
    None when this copy has no record. Outside ``detector.sha256``: a record of the detector, not part of it."""
    import json

    path = folder(name) / MEASURED
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("scores"), dict) else None
