"""Scoring recordings to files, exactly as ``watch`` would score them live (same detector, same session).

``score_recording`` writes, per video, into one folder (``STEM`` from ``outputs.unique_stems``)::

    STEM.scores.csv       frame, time_s, score, raw, alarm[, label]   (score empty during the warm-up)
    STEM.scores.json      the same arrays plus threshold, score name, events, run statistics
    STEM.events.jsonl     one JSON event per line (as ``watch`` prints them)
    STEM.score.png        the alarm's score in its own units, threshold line, alarms and labels shaded
    STEM.event-ID.png     thumbnail of the event of that ``id`` (the report's table shows the same number): the
                          frame at its peak with the object's box
    STEM.overlay.mp4      the heatmap overlay video (on request)

A failure removes what the call had written (``outputs.cleanup_on_failure``); ``report.build_report`` turns a
folder of these into ``report.html``.
"""

from __future__ import annotations

import csv
import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, plural
from ..outputs import atomic_output, cleanup_on_failure, safe_name


def save_thumbnail(frame: np.ndarray, bbox, path: Path, width: int = 240) -> Path:
    """The grayscale ``frame`` with ``bbox`` ``(x0, y0, x1, y1)`` drawn in red, scaled to ``width`` px, as PNG."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(frame).convert("RGB")
    if bbox is not None:
        ImageDraw.Draw(im).rectangle(
            [bbox[0], bbox[1], bbox[2] - 1, bbox[3] - 1], outline=(255, 0, 0), width=max(1, frame.shape[1] // 120)
        )
    h = max(1, round(im.height * width / im.width))
    im.resize((width, h), Image.Resampling.NEAREST).save(path)
    return path


def output_files(stem: str, overlay: bool = False) -> list[str]:
    """The file names ``score_recording`` writes for ``stem`` (thumbnails apart)."""
    names = [f"{stem}.scores.csv", f"{stem}.scores.json", f"{stem}.events.jsonl", f"{stem}.score.png"]
    return names + ([f"{stem}.overlay.mp4"] if overlay else [])


def score_recording(
    detector,
    what,
    out_dir,
    *,
    name: str | None = None,
    stem: str | None = None,
    labels: np.ndarray | None = None,
    overlay: bool = False,
    score: str | None = None,
    threshold: float | None = None,
    fps: float | None = None,
    end_after: int | None = None,
    min_length: int | None = None,
    cooldown: int | None = None,
    on_warning=None,
) -> dict[str, Any]:
    """Score one recording as live with ``detector`` (``detector.Detector``) and write its files. Returns a summary.

    ``what``: a path (video file, frame folder) or a ``Video`` record (its labels are used). ``on_warning``: hears
    the guard's lines (footage that does not fit the detector) as they come; they are kept in the record too.
    """
    from .events import EventTracker

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rec = _open_recording(what, name, labels, fps)
    # The region maps give events per object (``events.EventTracker``) as well as the overlay; the guard hears
    # the source's own frame rate only where it has one (files and streams, not frame folders).
    timed_fps = rec.source.fps if rec.source.timed else None
    session = detector.session(score, threshold=threshold, keep_maps=True, fps=timed_fps, on_warning=on_warning)
    stem = stem or safe_name(rec.name)
    # A dataset's video may say when it was recorded (``Video.start``): the time-of-day model reads that clock.
    tracker = EventTracker.for_detector(detector, session.threshold, fps=rec.source.fps, source=rec.name,
                                        start=getattr(what, "start", None), end_after=end_after,
                                        min_length=min_length, cooldown=cooldown)  # fmt: skip
    trace = _Trace()
    # Every file is written under a temporary name and renamed when complete (``atomic_output``): a run killed
    # even by SIGKILL leaves no half-written file under a final name (an overlay without its index is unplayable).
    with cleanup_on_failure([out_dir / f for f in output_files(stem, overlay)]) as written, ExitStack() as files:
        tmp_overlay = files.enter_context(atomic_output(out_dir / f"{stem}.overlay.mp4")) if overlay else None
        stats, events = _run(session, rec.source, tracker, trace, tmp_overlay)
        if stats.overlay_error:  # `watch` goes on without its overlay; a recording's outputs are all or nothing
            raise DataError(out_dir / f"{stem}.overlay.mp4", f"cannot be written ({stats.overlay_error})")
        s, r = np.asarray(trace.scores, dtype=np.float64), np.asarray(trace.raws, dtype=np.float64)
        if not np.isfinite(s).any():
            raise DataError(
                str(getattr(rec.source, "name", rec.name)),
                f"{plural(trace.n_frames, 'frame')}: too short to score; the "
                f"{session.score_name!r} score needs at least {plural(session.clip_length, 'frame')}",
            )
        lab = None if rec.labels is None else np.asarray(rec.labels, bool)[: len(s)]
        _write_thumbnails(tracker.events, events, out_dir, stem, written)
        with atomic_output(out_dir / f"{stem}.events.jsonl") as tmp, open(tmp, "w") as fh:
            for ev in events:
                fh.write(json.dumps(ev) + "\n")
        with atomic_output(out_dir / f"{stem}.scores.csv") as tmp:
            _write_csv(tmp, s, r, trace.times, lab, rec.source.fps, session.threshold)
        with atomic_output(out_dir / f"{stem}.score.png") as tmp:
            _plot(tmp, s, lab, session, rec.name)
        summary = _summary(rec, detector, session, stem, overlay, trace.n_frames, events, stats)
        record = {
            **summary,
            "events": _with_regions(tracker.events, events),
            "scores": [None if not np.isfinite(v) else float(v) for v in s],
            "raw": [None if not np.isfinite(v) else float(v) for v in r],
            "labels": None if lab is None else lab.astype(int).tolist(),
        }
        with atomic_output(out_dir / f"{stem}.scores.json") as tmp, open(tmp, "w") as fh:
            json.dump(record, fh)
    return {k: v for k, v in summary.items() if k != "events"} | {"n_events": len(events)}


@dataclass
class _Recording:
    """What ``score_recording`` reads: the live ``source``, its ``name``, ``labels`` (or None), the ``recording``
    to read again for feedback (a path, or None) and the ``path`` the report names it by."""

    source: Any
    name: str
    labels: np.ndarray | None
    recording: Any
    path: str


def _open_recording(what, name: str | None, labels, fps: float | None) -> _Recording:
    """``what`` (a path, or a ``Video`` record whose labels are taken unless ``labels`` is given) as a live source."""
    from .sources import LiveSource, open_live_source

    if hasattr(what, "source"):
        name = name or what.name
        labels = what.labels if labels is None else labels
        source = LiveSource(name, what.source.iter_frames(None), float(fps or 10.0), False)
        recording = getattr(what.source, "path", None)
        path = str(getattr(what.source, "path", name))
    else:
        source = open_live_source(str(what), fps=fps)
        name = name or Path(str(what)).name
        recording = None if "://" in str(what) else what  # a stream cannot be read again by feedback
        path = str(what)
    if recording is not None:
        recording = Path(str(recording)).resolve()
    if "://" not in path:  # the report names recordings by their paths relative to their common folder
        path = str(Path(path).absolute())
    return _Recording(source, name, labels, recording, path)


@dataclass
class _Trace:
    """Per-frame values as the session gives them, aligned to frame index (NaN: not scored, e.g. the warm-up)."""

    scores: list[float] = field(default_factory=list)
    raws: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # seconds in the source
    n_frames: int = 0

    def on_frame(self, index: int, t: float, fs) -> None:
        self.n_frames = index + 1
        while len(self.scores) < index:  # frames never scored (cannot happen without drops)
            self.scores.append(np.nan)
            self.raws.append(np.nan)
            self.times.append(np.nan)
        self.scores.append(np.nan if fs is None else fs.score)
        self.raws.append(np.nan if fs is None else fs.raw)
        self.times.append(t)


def _run(session, source, tracker, trace: _Trace, tmp_overlay: Path | None):
    """Run ``source`` through ``session`` without drops (the overlay video into ``tmp_overlay`` when given);
    ``(stats, events)`` with the finished events as ``watch`` prints them. A ``DataError`` names the source."""
    from .overlay import OverlayWriter
    from .runner import run_source

    events: list[dict] = []
    writer = None
    if tmp_overlay is not None:
        writer = OverlayWriter(tmp_overlay, source.fps, session.threshold, scale=2.0 * max(session.threshold, 1e-6))
    try:
        stats = run_source(
            session,
            source,
            tracker=tracker,
            on_frame=trace.on_frame,
            overlay=writer,
            drop=False,
            emit=lambda m: events.append(m) if m["type"] == "event" else None,
        )
    except DataError as exc:  # a problem of this input: name it
        if exc.path is not None or exc.problem.startswith(f"{source.name}: "):
            raise
        raise DataError(str(source.name), exc.problem) from None
    finally:
        if writer is not None:
            writer.close()
    return stats, events


def _write_thumbnails(tracked: list, events: list[dict], out_dir: Path, stem: str, written: list[Path]) -> None:
    """``STEM.event-ID.png`` for each event that has a peak image, named by the event's own ``id`` (the number the
    report's table, ``events.jsonl`` and ``feedback`` use); names it in its ``events`` entry and adds the file to
    ``written`` before writing it (a failure removes it with the rest). ``tracked[k]`` is ``events[k]``."""
    for ev, msg in zip(tracked, events):
        if ev.peak_image is not None:
            thumb = out_dir / f"{stem}.event-{ev.id}.png"
            written.append(thumb)
            with atomic_output(thumb) as tmp:
                save_thumbnail(ev.peak_image, ev.bbox, tmp)
            msg["thumbnail"] = thumb.name


def _with_regions(tracked: list, events: list[dict]) -> list[dict]:
    """``events`` with, per object, its ``regions``: ``[frame, x0, y0, x1, y1]`` of each frame that continued
    it (what ``feedback`` learns, and no other object's regions)."""
    out = [{**e, "regions": [list(b) for b in ev.track]} if ev.track else e for ev, e in zip(tracked, events)]
    return out + events[len(out) :]


def _write_csv(path: Path, s: np.ndarray, r: np.ndarray, times: list[float], lab, fps: float, threshold: float):
    """``frame, time_s, score, raw, alarm[, label]``, one row a frame; score and raw empty where not scored."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "time_s", "score", "raw", "alarm"] + (["label"] if lab is not None else []))
        for i in range(len(s)):
            ok = np.isfinite(s[i])
            t = times[i] if np.isfinite(times[i]) else i / fps
            row = [
                i,
                f"{t:.4f}",
                f"{s[i]:.6g}" if ok else "",
                f"{r[i]:.6g}" if ok else "",
                int(ok and s[i] > threshold),
            ]
            w.writerow(row + ([int(lab[i])] if lab is not None else []))


def _plot(path: Path, s: np.ndarray, lab, session, name: str) -> None:
    """The score in its own units with the threshold line, alarms and labels shaded."""
    from ..plots import plot_score

    alarms = np.isfinite(s) & (s > session.threshold)
    plot_score(
        np.where(np.isfinite(s), s, np.nan),
        path,
        threshold=session.threshold,
        alarms=alarms,
        labels=lab,
        title=f"{name}: {session.score_name} score",
    )


def _summary(rec: _Recording, detector, session, stem: str, overlay: bool, n_frames: int, events, stats) -> dict:
    """The fields of ``STEM.scores.json`` apart from the per-frame arrays."""
    from ..fusion.feedback import recording_identity

    return {
        "video": rec.name,
        "source": rec.source.name,
        # What ``feedback`` needs to find the frames of an event again, and the detector to correct.
        "recording": None if rec.recording is None else str(rec.recording),
        "recording_id": None if rec.recording is None else recording_identity(rec.recording),
        "detector": None if getattr(detector, "path", None) is None else str(Path(detector.path).resolve()),
        "guard": list(session.guard.messages),
        "path": rec.path,
        "fps": rec.source.fps,
        "score_name": session.score_name,
        "threshold": session.threshold,
        "target_far": detector.config.target_far,
        "n_frames": n_frames,
        "events": events,
        "stats": stats.to_dict(),
        "overlay": f"{stem}.overlay.mp4" if overlay else None,
        "score_png": f"{stem}.score.png",
    }


def labelled_summary(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the alarms did on labelled recordings (``*.scores.json`` records): the micro AUC of the alarm's score
    over the frames of all labelled recordings (warm-up frames take the first score, as in ``evaluate``; frames
    dropped mid-stream are left out), the labelled anomalies (runs of abnormal frames) that
    overlap an event, and the events that overlap no abnormal frame. None when no record has labels."""
    from ..evaluation.metrics import roc_auc, true_runs
    from ..fusion.session import fill_warmup

    ys, ss = [], []
    anomalies = caught = events = false = 0
    for rec in records:
        lab = rec.get("labels")
        if not isinstance(lab, list) or not lab:
            continue
        y = np.asarray(lab, dtype=bool)
        s = np.asarray([_float(v) for v in rec.get("scores") or []], dtype=np.float64)[: len(y)]
        if np.isfinite(s).any():  # the one warm-up convention (as evaluate): warm-up frames take the first score
            s = np.asarray(fill_warmup(list(s), np.isfinite(s)), dtype=np.float64)
        ok = np.isfinite(s)
        ys.append(y[: len(s)][ok])
        ss.append(s[ok])
        spans = []
        for ev in rec.get("events") or []:
            if isinstance(ev, dict) and isinstance(ev.get("start_frame"), int) and isinstance(ev.get("end_frame"), int):
                spans.append((ev["start_frame"], ev["end_frame"]))
        events += len(spans)
        false += sum(not y[a : b + 1].any() for a, b in spans)
        for a, b in true_runs(y):
            anomalies += 1
            caught += any(s0 <= b - 1 and e0 >= a for s0, e0 in spans)
    if not ys:
        return None
    return {
        "auc": roc_auc(np.concatenate(ys), np.concatenate(ss)),
        "labelled_anomalies": anomalies,
        "anomalies_with_event": caught,
        "events": events,
        "false_events": false,
    }


def summary_lines(summary: dict[str, Any] | None, score_name: str) -> list[str]:
    """The summary as the sentences ``demo`` prints and the report opens with."""
    if not summary:
        return []
    return [
        f"AUC of the alarm score ({score_name}, frame level, labelled recordings pooled): {summary['auc']:.3f}",
        f"labelled anomalies that raised an event: {summary['anomalies_with_event']} of "
        f"{summary['labelled_anomalies']}",
        f"false events (overlapping no labelled anomaly): {summary['false_events']} of {summary['events']}",
    ]


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")
