"""The walkway scene with behaviour and tamper anomalies, a clock, and the true tracks of every walker.

An addition to ``synthetic.py`` (whose default scene, ``SyntheticPed``, stays as it is): written by
``video-anomaly data synth OUT --behaviour`` under ``OUT/SyntheticBehaviour`` in the UCSD layout, so that
``load_ucsd`` reads it. Walkers all go one way (left to right: a one-way walkway). The footage has a time of day:
training videos alternate "day" (walkers on the whole walkway) and "night" (walkers keep to its lower third:
the upper half is empty at night); each video's start time is in ``manifest.json`` (``start``, ISO 8601, with its
``fps``), where a reader gets it. Test videos carry one anomaly each, labelled (frames and pixel masks) like the
planted ones of ``synthetic.py``:

- ``linger``: a walker who stops on the walkway for ``linger_frames`` (labelled while standing);
- ``against``: a walker going right to left, against the flow (labelled while in view);
- ``night``: a night video with a walker in the upper half, empty in training's nights (labelled while in view);
- ``cover``, ``blur``, ``shift``, ``freeze``: the camera covered (a dark, flat view), defocused (Gaussian blur),
  turned (the view shifted sideways) or frozen (one frame repeated) for ``tamper_frames`` (labelled frames, the
  whole frame as the mask).

``tracks.json`` holds, per video, every walker's true track: rows
``[track_id, label, t_seconds, x0, y0, x1, y1, planted]`` (pixels, exclusive ends; ``planted`` true for the
anomaly). They stand in for the objects cue's tracks when fitting and measuring ``behaviour.py``'s models on this
scene.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .synthetic import SyntheticVideo, _Mover, _Scene, write_ucsd_layout

SCENE_NAME = "SyntheticBehaviour"
TRACK_KINDS = ("linger", "against", "night")
TAMPER_KINDS = ("cover", "blur", "shift", "freeze")
KINDS = TRACK_KINDS + TAMPER_KINDS
FPS = 10.0
DAY0 = datetime(2026, 3, 2)


@dataclass
class _Stopper(_Mover):
    """A walker who stands still from frame ``stop`` until frame ``go``."""

    stop: int = 0
    go: int = 0

    def at(self, t: int) -> tuple[float, float]:
        moving = min(t, self.stop) - self.t0 + max(0, t - self.go)
        return self.x0 + self.vx * moving, self.y0 + self.vy * moving


def _lanes(scene: _Scene) -> tuple[tuple[float, float], tuple[float, float]]:
    """The upper half of the walkway (empty at night) and its lower third (where night walkers keep)."""
    y0, y1 = scene.walk
    return (y0, (y0 + y1) / 2), (y0 + 2 * (y1 - y0) / 3, y1)


def _walker(scene: _Scene, rng, t0: int, direction: int, lane, kind: str) -> _Mover:
    prims = scene.person(rng.uniform(35, 70))
    x = -10.0 * scene.u if direction > 0 else scene.w + 10.0 * scene.u
    y = scene.walker_y(rng, prims[0][4], lane)
    return _Mover(t0, x, y, direction * rng.uniform(1.2, 1.8), 0.0, prims, kind)


def _planted(scene: _Scene, rng, kind: str, frames: int, linger: int) -> _Mover:
    upper, _ = _lanes(scene)
    t0 = frames // 5
    if kind == "linger":
        m = _walker(scene, rng, t0, 1, None, kind)
        stop = t0 + int((0.45 * scene.w - m.x0) / m.vx)  # near the middle of the view
        return _Stopper(m.t0, m.x0, m.y0, m.vx, 0.0, m.prims, kind, stop=stop, go=stop + linger)
    if kind == "against":
        return _walker(scene, rng, t0, -1, None, kind)
    return _walker(scene, rng, t0, 1, upper, kind)  # night: the lane that is empty at night


def _box(scene: _Scene, m: _Mover, t: int) -> list[int] | None:
    cx, cy = m.at(t)
    xs, ys = [], []
    for kind, dx, dy, p1, p2, _ in m.prims:
        ex, ey = (p1, p1) if kind == "ring" else (p1, p2)
        xs += [cx + dx - ex, cx + dx + ex]
        ys += [cy + dy - ey, cy + dy + ey]
    x0, x1 = max(0, int(np.floor(min(xs)))), min(scene.w, int(np.ceil(max(xs))) + 1)
    y0, y1 = max(0, int(np.floor(min(ys)))), min(scene.h, int(np.ceil(max(ys))) + 1)
    return None if x0 >= x1 or y0 >= y1 else [x0, y0, x1, y1]


def _tracks(scene: _Scene, movers: list[_Mover], planted: list[_Mover], frames: int) -> list[list]:
    rows = []
    for tid, m in enumerate(movers + planted, start=1):
        for t in range(max(0, m.t0), frames):
            box = _box(scene, m, t)
            if box is not None:
                rows.append([tid, "person", round(t / FPS, 3), *box, any(m is p for p in planted)])
    return rows


def _tamper(video: SyntheticVideo, kind: str, start: int, length: int, rng) -> None:
    """Tamper with frames ``[start, start + length)`` in place; they become the labelled frames."""
    import cv2

    f = video.frames
    stop = min(len(f), start + length)
    for t in range(start, stop):
        if kind == "cover":
            f[t] = np.clip(25 + rng.normal(0, 2.0, f[t].shape), 0, 255).astype(np.uint8)
        elif kind == "blur":
            f[t] = cv2.GaussianBlur(f[t], (0, 0), 2.5)
        elif kind == "shift":  # turned: the view moves sideways and down, its edge pixels smeared into the gap
            h, w = f.shape[1:]
            move = np.float32([[1, 0, -w / 6], [0, 1, h / 12]])
            f[t] = cv2.warpAffine(f[t], move, (w, h), borderMode=cv2.BORDER_REPLICATE)
        else:
            f[t] = f[start - 1]
    video.masks[:] = False
    video.masks[start:stop] = True
    video.labels = video.masks.reshape(len(f), -1).any(axis=1)
    video.anomalies = [{"kind": kind, "first_frame": start, "last_frame": stop - 1}]


def render_behaviour_videos(
    *, seed: int = 0, height: int = 120, width: int = 160, n_train: int = 8, frames: int = 400,
    kinds: tuple[str, ...] = KINDS, linger_frames: int = 100, tamper_frames: int = 40,
):  # fmt: skip
    """``(train, test, manifest, tracks)``: videos as ``SyntheticVideo``, the manifest rows (video, split,
    start, fps, night, kind) and the true tracks per video name."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or frames < 60 or height < 32 or width < 32:
        raise ValueError(f"behaviour scene: kinds among {KINDS} (got {unknown}), frames >= 60, sides >= 32")
    scene = _Scene(height, width, np.random.default_rng([seed, 99]))
    _, lower = _lanes(scene)
    train, test, manifest, tracks = [], [], [], {}

    def one(split, i, night, kind, rng):
        walkers = scene.pedestrians(rng, frames, crowd=2.0, one_way=1, lane=lower if night else None)
        planted = [_planted(scene, rng, kind, frames, linger_frames)] if kind in TRACK_KINDS else []
        video = scene.render(rng, frames, planted, walkers=walkers)
        if kind == "linger":  # abnormal while standing, not while walking in and out
            p = planted[0]
            video.masks[: p.stop] = False
            video.masks[p.go :] = False
            video.labels = video.masks.reshape(frames, -1).any(axis=1)
            video.anomalies = [{"kind": kind, "first_frame": p.stop, "last_frame": p.go - 1}]
        if kind in TAMPER_KINDS:
            _tamper(video, kind, frames // 3, tamper_frames, rng)
        name = f"{split}{i:03d}"
        # Nights between 1 and 3 a.m., days between 10 a.m. and noon, on successive days.
        start = DAY0 + timedelta(days=i, hours=(1 if night else 10) + i % 2, minutes=7 * i)
        manifest.append({"video": name, "split": split.lower(), "start": start.isoformat(), "fps": FPS,
                         "night": night, "kind": kind})  # fmt: skip
        tracks[name] = _tracks(scene, walkers, planted, frames)
        return video

    for i in range(1, n_train + 1):
        train.append(one("Train", i, i % 2 == 0, None, np.random.default_rng([seed, 10, i])))
    for i, kind in enumerate(kinds, start=1):
        test.append(one("Test", i, kind == "night", kind, np.random.default_rng([seed, 11, i])))
    return train, test, manifest, tracks


def make_behaviour_scene(root: str | Path, *, seed: int = 0, **kw) -> Path:
    """Write the scene under ``root/SyntheticBehaviour`` (UCSD layout, as ``synthetic.make_synthetic_scene``) with
    ``manifest.json``, ``tracks.json`` and ``anomalies.json``; returns that folder. ``kw``: see
    ``render_behaviour_videos``."""
    train, test, manifest, tracks = render_behaviour_videos(seed=seed, **kw)
    out = Path(root) / SCENE_NAME
    write_ucsd_layout(out, train, test, SCENE_NAME)
    meta = {"seed": seed, "fps": FPS, "test": [{"video": f"Test{i:03d}", "anomalies": v.anomalies}
                                              for i, v in enumerate(test, start=1)]}  # fmt: skip
    for name, doc in (("manifest.json", {"videos": manifest}), ("tracks.json", tracks), ("anomalies.json", meta)):
        (out / name).write_text(json.dumps(doc, indent=1 if name != "tracks.json" else None) + "\n")
    return out
