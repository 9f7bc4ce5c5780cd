"""The user corrects the detector: an event marked normal joins the model of normal footage.

How an event is named: ``score --out DIR`` writes, per recording, ``STEM.scores.json`` with the recording's path
(``recording``), the detector it was scored with (``detector``) and its events, each with an ``id`` (1, 2, ... per
recording, as ``events.EventTracker`` numbers them). ``EVENT_ID`` is ``STEM:ID`` (``Test004:3``), or just ``ID``
when ``DIR`` holds one recording (a ``STEM.scores.json`` file may also be given as ``DIR``).

What marking it normal does (``mark_normal``): the frames of the event are read again from the recording (with
the few frames before it that the cues need as context); every cue that can learn from more normal footage
(``absorb``: the motion cue adds the event's per-cell features to the references of the cells its object covered,
``regions`` in the record, so another object's event in the same frames still fires) takes them; the
thresholds are refitted: the conformal quantile of the stored calibration scores together with the event's
frames as the updated detector scores them. The detector records what was added and when (``meta["feedback"]``).
A cue that cannot learn from a few frames (the autoencoder) is left as it is, and the record says so: a score
that uses it may still fire on that event. An event is learnt once (``learnt_before``), from the recording that
was scored (``check_recording`` against the ``recording_id`` that ``score`` wrote).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError


def find_event(run: str | Path, event_id: str) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """``(record, event, scores_json)``: the ``STEM.scores.json`` record holding ``event_id`` and the event."""
    run = Path(run)
    if run.is_file():
        files = [run]
    elif run.is_dir():
        files = sorted(run.glob("*.scores.json"))
    else:
        raise DataError(run, "not found: give the --out folder of `video-anomaly score` (or a .scores.json file)")
    if not files:
        raise DataError(run, "holds no *.scores.json: give the --out folder of `video-anomaly score`")
    stem, _, num = str(event_id).rpartition(":")
    try:
        n = int(num)
    except ValueError:
        raise ConfigError(f"event id must be STEM:N or N (e.g. Test004:3), got {event_id!r}") from None
    if stem:
        files = [f for f in files if f.name == f"{stem}.scores.json"]
        if not files:
            raise DataError(run, f"no recording {stem!r} here (no {stem}.scores.json)")
    elif len(files) > 1:
        stems = ", ".join(f.name[: -len(".scores.json")] for f in files[:5])
        raise ConfigError(f"{run} holds several recordings ({stems}, ...): name the event as STEM:{n}")
    rec_file = files[0]
    try:
        rec = json.loads(rec_file.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(rec_file, f"unreadable ({exc})") from None
    for ev in rec.get("events") or []:
        if isinstance(ev, dict) and ev.get("id") == n:
            return rec, ev, rec_file
    ids = [str(ev.get("id")) for ev in rec.get("events") or [] if isinstance(ev, dict)]
    raise DataError(rec_file, f"has no event {n} (events: {', '.join(ids) or 'none'})")


def mark_normal(
    det,
    recording: str | Path,
    start: int,
    end: int,
    *,
    event: str | None = None,
    context: int | None = None,
    regions: list | None = None,
) -> dict[str, Any]:
    """Frames ``start .. end`` (inclusive) of ``recording`` are normal: the cues that can learn take them, the
    thresholds are refitted and the change recorded in ``det.meta["feedback"]``. Returns that record.
    ``context``: frames before ``start`` read for the cues' state (default: all of them, from the recording's
    start); ``regions``: the object's ``[frame, x0, y0, x1, y1]`` track (``STEM.scores.json``): only its
    regions are learnt (None: every region of those frames)."""
    from ..data.frames import open_source
    from .thresholds import conformal_quantile

    start, end = int(start), int(end)
    if start < 0 or end < start:
        raise ConfigError(f"feedback: frames {start}..{end} are not a range")
    src = open_source(recording)
    if end >= len(src):
        raise DataError(recording, f"has {len(src)} frames; the event ends at frame {end}: not this recording?")
    # By default the recording is read from its start, so that every cue's state at the event (flow, pooling, a
    # background that follows the stream) is what scoring the recording again will see.
    a = 0 if context is None else max(0, start - int(context))
    added: dict[str, int] = {}
    skipped = []
    boxes = object_boxes(regions, start, end, det) if regions else None
    for name, cue in det.cues.items():
        if not hasattr(cue, "absorb"):
            skipped.append(name)
            continue
        added[name] = cue.absorb(islice(src.iter_frames(None), a, end + 1), skip=start - a, boxes=boxes)
    # The event's frames as the updated detector scores them join the calibration scores of each live score.
    live = [n for n in det.thresholds]
    frames = islice(src.iter_frames(None), a, end + 1)
    now = det.score_video_multi(frames, live, maps=boxes is not None) if live else {}
    thresholds = {}
    stored = getattr(det, "calibration_scores", None) or {}
    for n in live:
        before = float(det.thresholds[n])
        fresh = event_scores(det, now[n], start - a, boxes)
        if n in stored:
            stored[n] = np.concatenate([np.asarray(stored[n], np.float64), fresh]).astype(np.float32)
            det.thresholds[n] = conformal_quantile(stored[n], det.config.target_far)
        thresholds[n] = [round(before, 6), round(float(det.thresholds[n]), 6)]
    record = {
        "event": event,
        "recording": str(Path(recording).resolve()),
        "frames": [start, end],
        "regions": "the event's object" if regions else "every region",
        "added_per_region": added,
        "not_learned_by": skipped,
        "thresholds": thresholds,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    det.meta.setdefault("feedback", []).append(record)
    return record


def event_scores(det, vs, skip: int, boxes: list | None) -> np.ndarray:
    """The scored frames of an event after the first ``skip`` of ``vs`` (``VideoScores``), as normal scores: each
    frame's score, or per object (``boxes``, one per frame) the score of the object's regions alone, the others
    taken at the map's lowest value; so another object's event in the same frames does not join the normal
    scores (and raise the threshold over it)."""
    ok = vs.scored[skip:]
    if boxes is None:
        return np.asarray(vs.frame_scores[skip:][ok], np.float64)
    from ..cues.base import overlapping, uniform_box
    from .scores import EMA

    gh, gw = vs.maps.shape[1:]
    cells = np.array([[uniform_box(r, c, (gh, gw), det.frame_shape) for c in range(gw)] for r in range(gh)])
    ema = EMA(det.config.ema_alpha)
    values = [ema.update(det.frame_value(np.where(overlapping(cells, box), m, m.min())))
              for m, box in zip(vs.maps[skip:], boxes)]  # fmt: skip
    return np.asarray(values, np.float64)[ok]


def regions_of(ev: dict[str, Any], rec_file: Path) -> list | None:
    """The event's ``regions`` track as ``score`` wrote it (None: an event per frame span, or an older record); a
    malformed one is a ``DataError`` naming the file."""
    regions = ev.get("regions")
    if regions is None:
        return None
    ok = isinstance(regions, list) and all(
        isinstance(r, list) and len(r) == 5 and all(isinstance(v, int) for v in r) for r in regions
    )
    if not ok or not regions:
        raise DataError(rec_file, f"event {ev.get('id')}: 'regions' is not a list of [frame, x0, y0, x1, y1]")
    return regions


def object_boxes(regions: list, start: int, end: int, det) -> list[tuple[int, int, int, int]]:
    """Per frame ``start .. end`` the pixels learnt for an object tracked by ``regions`` (``[frame, x0, y0, x1,
    y1]`` per frame that continued it): its box on that frame (a frame between two keeps the last one), grown by
    one region of the detector's grid on each side, as the tracker links an object across one region
    (``events.EventTracker.link_gap``) while it moves."""
    track = sorted((int(r[0]), [int(v) for v in r[1:5]]) for r in regions)
    h, w = det.frame_shape
    gh, gw = det.grid
    dy, dx = -(-h // gh), -(-w // gw)
    out = []
    k = 0
    for f in range(start, end + 1):
        while k + 1 < len(track) and track[k + 1][0] <= f:
            k += 1
        x0, y0, x1, y1 = track[k][1]
        out.append((x0 - dx, y0 - dy, x1 + dx, y1 + dy))
    return out


def recording_identity(path: str | Path, head: int = 4 << 20) -> dict[str, Any]:
    """What ``feedback`` checks the recording against: its size in bytes and the SHA-256 of its first ``head``
    bytes (a frame folder: of its images' names and sizes, then their bytes up to ``head``). Reading a few
    megabytes tells a replaced file from the one scored without reading a long video whole."""
    import hashlib

    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        from ..data.frames import list_images

        files = list_images(path, required=False)
        sizes = [f.stat().st_size for f in files]
        digest.update(json.dumps([[f.name, n] for f, n in zip(files, sizes)]).encode())
    else:
        files, sizes = [path], [path.stat().st_size]
    left = head
    for f in files:
        if left <= 0:
            break
        with open(f, "rb") as fh:
            chunk = fh.read(left)
        digest.update(chunk)
        left -= len(chunk)
    return {"bytes": int(sum(sizes)), "sha256_head": digest.hexdigest(), "head": head}


def check_recording(rec: dict[str, Any], rec_file: Path) -> Path:
    """The recording of a ``STEM.scores.json`` record, refused (``DataError`` naming it) when it is gone or is no
    longer the one that was scored (``recording_id``: size and the hash of its head; older records have none)."""
    recording = rec.get("recording")
    if not recording:
        raise DataError(rec_file, "names no recording path (scored by an older version?): score it again")
    recording = Path(recording)
    if not recording.exists():
        raise DataError(recording, f"not found: the recording scored in {rec_file.name} was moved or removed")
    want = rec.get("recording_id")
    if isinstance(want, dict) and recording_identity(recording, int(want.get("head", 4 << 20))) != want:
        raise DataError(
            recording,
            f"is not the recording that was scored ({rec_file.name}: its size or content changed since): score it "
            "again, then give the feedback on the new run",
        )
    return recording


def learnt_before(det, record: dict[str, Any]) -> dict[str, Any] | None:
    """The earlier ``meta["feedback"]`` record of the same event (same name, recording and frames), if any: an
    event is learnt once (each repeat would add its frames again and lower the threshold further)."""
    keys = ("event", "recording", "frames")
    for old in det.meta.get("feedback") or []:
        if isinstance(old, dict) and all(old.get(k) == record.get(k) for k in keys):
            return old
    return None
