"""Scoring recordings to files, as ``watch`` would score them live.

``score_recording`` writes, per video, into one folder::

    NAME.scores.csv       frame, time_s, score, raw, alarm[, label]   (score empty while the clip fills)
    NAME.scores.json      the same arrays plus threshold, score name, events, run statistics
    NAME.events.jsonl     one JSON event per line (as ``watch`` prints them)
    NAME.regularity.png   regularity curve Sr = 1 - minmax(score) with ground truth shaded when known
    NAME.event-K.png      thumbnail of event K: the frame at its peak with the box of the highest error
    NAME.overlay.mp4      the heatmap overlay video (on request)

``report.build_report`` turns a folder of those into ``report.html``.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"


def save_thumbnail(frame: np.ndarray, bbox, path: Path, width: int = 240) -> Path:
    """The grayscale ``frame`` with ``bbox`` ``(x0, y0, x1, y1)`` drawn in red, scaled to ``width`` px, as PNG."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(frame).convert("RGB")
    if bbox is not None:
        ImageDraw.Draw(im).rectangle([bbox[0], bbox[1], bbox[2] - 1, bbox[3] - 1], outline=(255, 0, 0),
                                     width=max(1, frame.shape[1] // 120))  # fmt: skip
    h = max(1, round(im.height * width / im.width))
    im.resize((width, h), Image.Resampling.NEAREST).save(path)
    return path


def regularity_of(scores: np.ndarray) -> np.ndarray:
    """``Sr = 1 - (s - min) / (max - min)`` over a recording (NaN where a frame has no score).

    Offline only (it uses the whole recording's range), for the plot; alarms use the calibrated threshold.
    """
    s = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(s).any():
        return np.full_like(s, np.nan)
    lo, hi = np.nanmin(s), np.nanmax(s)
    return 1.0 - (s - lo) / ((hi - lo) or 1.0)


def score_recording(
    checkpoint,
    what,
    out_dir,
    *,
    name: str | None = None,
    labels: np.ndarray | None = None,
    overlay: bool = False,
    score: str | None = None,
    fps: float | None = None,
    end_after: int = 5,
    min_length: int = 3,
    device=None,
) -> dict[str, Any]:
    """Score one recording as live and write its files (see module docstring). Returns a summary dict.

    ``what``: a path (video file, frame folder) or a ``Video`` record (its labels are used).
    """
    from .events import EventTracker
    from .live import load_live
    from .overlay import OverlayWriter
    from .plots import plot_regularity
    from .runner import run_source
    from .sources import LiveSource, open_live_source

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    detector, _, _, cal = load_live(checkpoint, score=score, device=device, keep_maps=overlay)
    if hasattr(what, "source"):
        name = name or what.name
        labels = what.labels if labels is None else labels
        source = LiveSource(name, what.source.iter_frames(None), float(fps or 10.0), False)
    else:
        source = open_live_source(str(what), fps=fps)
        name = name or Path(str(what)).name
    stem = _safe(name)
    tracker = EventTracker(detector.threshold, fps=source.fps, end_after=end_after, min_length=min_length,
                           source=name)  # fmt: skip
    n_frames = 0
    scores: list[float] = []
    raws: list[float] = []

    def on_score(index: int, fs) -> None:
        nonlocal n_frames
        n_frames = index + 1
        while len(scores) < index:  # frames never scored (cannot happen without drops)
            scores.append(np.nan)
            raws.append(np.nan)
        scores.append(np.nan if fs is None else fs.score)
        raws.append(np.nan if fs is None else fs.raw)

    writer = None
    if overlay:
        writer = OverlayWriter(out_dir / f"{stem}.overlay.mp4", source.fps, detector.threshold, scale=cal.error_scale)
    events: list[dict] = []
    try:
        stats = run_source(detector, source, tracker=tracker, emit=lambda m: events.append(m) if m["type"] == "event"
                           else None, on_score=on_score, overlay=writer, drop=False)  # fmt: skip
    finally:
        if writer is not None:
            writer.close()
    s, r = np.asarray(scores), np.asarray(raws)
    lab = None if labels is None else np.asarray(labels, bool)[: len(s)]
    for k, ev in enumerate(tracker.events):
        if ev.peak_image is not None:
            thumb = save_thumbnail(ev.peak_image, ev.bbox, out_dir / f"{stem}.event-{k}.png")
            events[k]["thumbnail"] = thumb.name
    with open(out_dir / f"{stem}.events.jsonl", "w") as fh:
        for ev in events:
            fh.write(json.dumps(ev) + "\n")
    with open(out_dir / f"{stem}.scores.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time_s", "score", "raw", "alarm"] + (["label"] if lab is not None else []))
        for i in range(len(s)):
            ok = np.isfinite(s[i])
            row = [i, f"{i / source.fps:.4f}", f"{s[i]:.6g}" if ok else "", f"{r[i]:.6g}" if ok else "",
                   int(ok and s[i] > detector.threshold)]  # fmt: skip
            w.writerow(row + ([int(lab[i])] if lab is not None else []))
    plot_regularity(regularity_of(s), out_dir / f"{stem}.regularity.png", labels=lab,
                    title=f"{name}: regularity (1 - normalised {cal.score} score)")  # fmt: skip
    summary = {
        "video": name,
        "source": source.name,
        "fps": source.fps,
        "score_name": cal.score,
        "threshold": detector.threshold,
        "target_far": cal.target_far,
        "n_frames": n_frames,
        "events": events,
        "stats": stats.to_dict(),
        "overlay": f"{stem}.overlay.mp4" if overlay else None,
        "regularity_png": f"{stem}.regularity.png",
    }
    record = {**summary, "scores": [None if not np.isfinite(v) else float(v) for v in s],
              "raw": [None if not np.isfinite(v) else float(v) for v in r],
              "labels": None if lab is None else lab.astype(int).tolist()}  # fmt: skip
    with open(out_dir / f"{stem}.scores.json", "w") as fh:
        json.dump(record, fh)
    return {k: v for k, v in summary.items() if k != "events"} | {"n_events": len(events)}


# ------------------------------------------------------------------------------------------ report
