"""Resume markers: one JSON file per finished segment or recording, written atomically (a run killed mid-write leaves
none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..outputs import atomic_output
from .segments import Segment


def _marker(seg: Segment, status: str, **kw) -> dict[str, Any]:
    return {"segment": seg.seg_id, "recording": seg.rec.rec_id, "k": seg.k, "start": seg.start, "end": seg.end,
            "status": status, **kw}  # fmt: skip


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(doc) + "\n")


def _read_markers(folder: Path) -> dict[str, dict]:
    out = {}
    if folder.is_dir():
        for p in folder.glob("[!.]*.json"):  # a hidden name is a write's temporary file (outputs.atomic_output)
            try:
                doc = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # cannot happen with atomic writes; a damaged marker means: not done
            out[p.stem] = doc
    return out
