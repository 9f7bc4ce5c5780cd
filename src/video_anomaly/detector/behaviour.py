"""The behaviour models of a detector (``live/behaviour.py``: dwell, direction, time of day), fitted in
``Detector.fit`` on the objects cue's tracks of the training footage, and kept with the detector.

The objects cue has tracked every training frame while it was fitted (``ObjectsCue.collected``: per training
part, per frame from its second on, ``FrameObjects``); those tracks are the normal footage's, so the object
detector is not run again. A part's frame ``j`` (from 0) is source frame ``part.start + 1 + j`` at
``(part.start + 1 + j) / fps`` seconds; its ``start`` is the video's (``Video.start``, a manifest's) plus
``part.start / fps``, or None where the footage has no clock (the time-of-day model then fits no buckets and
says nothing, as before).

On disk: ``detector.json`` ``"behaviour"`` (settings, frame size, the small tables: occupancy) and, in
``detector.safetensors`` under ``behaviour.``, the stays, speeds and heading counts with their ``(region,
label)`` keys in the JSON.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..live.behaviour import (
    DIRECTION,
    LINGERING,
    TIME_OF_DAY,
    BehaviourConfig,
    DirectionModel,
    DwellModel,
    Footage,
    OccupancyModel,
    Regions,
    Track,
    fit_behaviour,
    in_view,
)

STATE_VERSION = 1
DEFAULT_FPS = 10.0  # footage without a rate (frame folders): the live runner's default too


def part_footage(objects: list, names, part, start: datetime | None, fps: float, frame_shape) -> Footage:
    """One training part's tracks (``objects``: its frames' ``FrameObjects``, the first source frame left out)."""
    rows: dict[int, list] = defaultdict(list)
    for j, fo in enumerate(objects):
        t = (1 + j) / fps
        for tid, lab, box in zip(fo.ids.tolist(), fo.labels.tolist(), fo.boxes.tolist()):
            if in_view(box, frame_shape):  # as live (``events.EventTracker``): a box carried out of view is gone
                rows[int(tid)].append((t, lab, box))
    tracks = []
    for tid, obs in rows.items():
        lab = obs[0][1]  # the class it was first seen as, as the live scorer names a track
        label = names[lab] if 0 <= lab < len(names) else str(lab)
        tracks.append(Track(tid, label, np.array([o[0] for o in obs]), np.array([o[2] for o in obs], float)))
    when = None if start is None else start + timedelta(seconds=part.start / fps)
    return Footage(tracks, when, (part.stop - part.start) / fps)


def fit_from_cue(cue, videos: list, parts: list, frame_shape, config: BehaviourConfig | None = None) -> dict | None:
    """The three models on the tracks the objects ``cue`` collected over ``parts`` of ``videos`` (``Video``
    records or sources); None when the cue kept none (a cue loaded from disk, another cue)."""
    collected = getattr(cue, "collected", None)
    if not collected or len(collected) != len(parts):
        return None
    footage = []
    for objs, p in zip(collected, parts):
        v = videos[p.video]
        fps = float(getattr(getattr(v, "source", v), "fps", 0) or 0) or DEFAULT_FPS
        footage.append(part_footage(objs, cue.names, p, getattr(v, "start", None), fps, tuple(frame_shape)))
    return fit_behaviour(footage, tuple(frame_shape), config)


def _lists(d: dict) -> tuple[list, np.ndarray]:
    keys = sorted(d, key=str)
    vals = [np.asarray(d[k], np.float32).ravel() for k in keys]
    return [[int(k[0]), str(k[1]), len(v)] for k, v in zip(keys, vals)], (
        np.concatenate(vals) if vals else np.zeros(0, np.float32)
    )


def _unlists(keys: list, flat: np.ndarray) -> dict:
    out, at = {}, 0
    for region, label, n in keys:
        out[(int(region), str(label))] = flat[at : at + int(n)].astype(float).tolist()
        at += int(n)
    return out


def state_dict(models: dict) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``models`` (``fit_behaviour``'s) as JSON-able meta and arrays (see the module docstring)."""
    dwell, direction, occ = models[LINGERING], models[DIRECTION], models[TIME_OF_DAY]
    stay_keys, stays = _lists(dwell.stays)
    speed_keys, speeds = _lists(direction.speeds)
    head_keys = sorted(direction.headings, key=str)
    bins = dwell.config.bins
    heads = np.stack([direction.headings[k] for k in head_keys]) if head_keys else np.zeros((0, bins))
    meta = {
        "version": STATE_VERSION,
        "config": asdict(dwell.config),
        "frame_shape": list(dwell.regions.frame_shape),
        "stays": stay_keys,
        "speeds": speed_keys,
        "headings": [[int(r), str(lab)] for r, lab in head_keys],
        "exposure": [[int(b), float(s)] for b, s in sorted(occ.exposure.items())],
        "visits": [[int(r), str(lab), int(b), int(n)] for (r, lab, b), n in sorted(occ.visits.items(), key=str)],
    }
    arrays = {"stays": stays, "speeds": speeds, "headings": np.asarray(heads, np.float32)}
    return meta, arrays


def from_state(meta: dict[str, Any], arrays: dict[str, np.ndarray], where) -> dict:
    """The models back from ``state_dict``'s output; ``where`` names the file in errors."""
    if meta.get("version") != STATE_VERSION:
        raise CheckpointError(where, f"behaviour models version {meta.get('version')!r}; this code reads "
                                     f"{STATE_VERSION}")  # fmt: skip
    try:
        cfg = BehaviourConfig(**{**meta["config"], "grid": tuple(meta["config"]["grid"])})
        regions = Regions(cfg.grid, tuple(int(s) for s in meta["frame_shape"]))
        dwell = DwellModel(regions, cfg, _unlists(meta["stays"], arrays["stays"]))
        heads = np.asarray(arrays["headings"], float).reshape(-1, cfg.bins)
        headings = {(int(r), str(lab)): heads[i] for i, (r, lab) in enumerate(meta["headings"])}
        direction = DirectionModel(regions, cfg, headings, _unlists(meta["speeds"], arrays["speeds"]))
        occ = OccupancyModel(regions, cfg, {int(b): float(s) for b, s in meta["exposure"]},
                             {(int(r), str(lab), int(b)): int(n) for r, lab, b, n in meta["visits"]})  # fmt: skip
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointError(where, f"behaviour models: bad state ({exc!r})") from None
    return {LINGERING: dwell, DIRECTION: direction, TIME_OF_DAY: occ}


__all__ = ["fit_from_cue", "from_state", "part_footage", "state_dict"]
