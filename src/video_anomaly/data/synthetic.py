"""Our own synthetic surveillance scene, written in the UCSD layout so that ``load_ucsd`` reads it.

A fixed camera looks down on a walkway (a lighter horizontal band) with textured grass on both
sides. Pedestrians (upright ellipses with a head, darker or lighter than the ground) walk along
the walkway at 1-2 px/frame, entering and leaving at the image edges. Test videos carry one or two
planted anomalies of the kinds the UCSD Ped sets label:

- ``bicycle``: a larger rider with two wheels, 3-4x faster than walkers, along the walkway;
- ``cart``: a wide box at moderate speed along the walkway;
- ``grass``: a person walking on the grass beside the walkway (or across it).

Each anomaly enters after the first quarter of the video, so every test video starts normal.
Frame labels are exactly the frames where an anomaly object has a pixel in view; masks are
exactly its pixels. Everything is drawn from ``numpy.random.Generator`` seeded by ``seed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .ucsd import format_ucsd_m, labels_to_ranges

ANOMALY_KINDS = ("bicycle", "cart", "grass")
SCENE_NAME = "SyntheticPed"


@dataclass
class _Mover:
    """A shape moving at constant velocity; ``prims`` are offsets from its centre."""

    t0: int
    x0: float
    y0: float
    vx: float
    vy: float
    prims: list = field(default_factory=list)  # (kind, dx, dy, p1, p2, value)
    kind: str = "person"

    def at(self, t: int) -> tuple[float, float]:
        dt = t - self.t0
        return self.x0 + self.vx * dt, self.y0 + self.vy * dt


@dataclass
class SyntheticVideo:
    """One rendered video: ``frames`` (N, H, W) uint8, ``masks`` (N, H, W) bool, ``labels`` (N,) bool."""

    frames: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    anomalies: list[dict]


class _Scene:
    def __init__(self, height: int, width: int, rng: np.random.Generator):
        self.h, self.w = height, width
        self.u = height / 120.0  # length unit: sizes scale with the image height
        self.walk = (round(0.38 * height), round(0.72 * height))
        self.background = self._background(rng)

    def _smooth_noise(self, rng: np.random.Generator, cell: int) -> np.ndarray:
        from PIL import Image

        gh, gw = max(2, self.h // cell), max(2, self.w // cell)
        coarse = rng.uniform(0, 255, (gh, gw)).astype(np.uint8)
        big = Image.fromarray(coarse).resize((self.w, self.h), Image.Resampling.BICUBIC)
        return np.asarray(big, dtype=np.float32) / 255.0 - 0.5

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        h, w = self.h, self.w
        grass = 85 + 30 * self._smooth_noise(rng, 6) + rng.normal(0, 6, (h, w))
        path = 155 + 12 * self._smooth_noise(rng, 16) + rng.normal(0, 2, (h, w))
        rows = np.arange(h)[:, None]
        y0, y1 = self.walk
        # A one-pixel soft edge keeps the border from looking like a drawn line.
        alpha = np.clip(np.minimum(rows - y0 + 1, y1 - rows), 0, 1).astype(np.float32)
        return (alpha * path + (1 - alpha) * grass).astype(np.float32)

    # Shapes -----------------------------------------------------------------------------------
    def person(self, value: float, scale: float = 1.0) -> list:
        a, b, r = max(1.5, 2.6 * self.u) * scale, max(3.0, 5.5 * self.u) * scale, max(1.2, 2.0 * self.u) * scale
        return [("ellipse", 0.0, 0.0, a, b, value), ("ellipse", 0.0, -b - 0.8 * r, r, r, value)]

    def bicycle(self, value: float) -> list:
        rider = self.person(value, scale=1.15)
        wr = max(2.0, 3.2 * self.u)
        b = rider[0][4]
        wheels = [("ring", dx * wr * 1.3, b + 0.4 * wr, wr, max(1.0, 0.9 * self.u), value) for dx in (-1, 1)]
        frame_bar = [("rect", 0.0, b + 0.2 * wr, 1.3 * wr, max(0.6, 0.5 * self.u), value)]
        return rider + wheels + frame_bar

    def cart(self, value: float) -> list:
        hw, hh = max(5.0, 9.0 * self.u), max(2.5, 4.5 * self.u)
        return [("rect", 0.0, 0.0, hw, hh, value), ("rect", 0.0, -hh + 0.6, hw, max(0.6, 0.7 * self.u), value - 40)]

    # Rendering --------------------------------------------------------------------------------
    def _prim_mask(self, prim, cx: float, cy: float):
        """``(ys, xs, inside)`` of one primitive in image coordinates, or None when out of view."""
        kind, dx, dy, p1, p2, _ = prim
        x, y = cx + dx, cy + dy
        ext_x, ext_y = (p1, p2) if kind != "ring" else (p1, p1)
        x0, x1 = max(0, int(np.floor(x - ext_x))), min(self.w, int(np.ceil(x + ext_x)) + 1)
        y0, y1 = max(0, int(np.floor(y - ext_y))), min(self.h, int(np.ceil(y + ext_y)) + 1)
        if x0 >= x1 or y0 >= y1:
            return None
        yy, xx = np.ogrid[y0:y1, x0:x1]
        if kind == "ellipse":
            inside = ((xx - x) / p1) ** 2 + ((yy - y) / p2) ** 2 <= 1.0
        elif kind == "ring":
            d = np.sqrt((xx - x) ** 2 + (yy - y) ** 2)
            inside = (d <= p1) & (d >= p1 - p2)
        else:  # rect with half-width p1, half-height p2
            inside = (np.abs(xx - x) <= p1) & (np.abs(yy - y) <= p2) & np.ones_like(xx + yy, dtype=bool)
        if not inside.any():
            return None
        return slice(y0, y1), slice(x0, x1), inside

    def draw(self, canvas: np.ndarray, mover: _Mover, t: int, mask: np.ndarray | None) -> None:
        cx, cy = mover.at(t)
        for prim in mover.prims:
            hit = self._prim_mask(prim, cx, cy)
            if hit is None:
                continue
            ys, xs, inside = hit
            canvas[ys, xs][inside] = prim[5]
            if mask is not None:
                mask[ys, xs] |= inside

    # Populations ------------------------------------------------------------------------------
    def walker_y(self, rng: np.random.Generator, body_half: float, lane: tuple[float, float] | None = None) -> float:
        y0, y1 = self.walk if lane is None else lane
        lo, hi = y0 + 1.6 * body_half, y1 - body_half
        return float(rng.uniform(lo, max(lo, hi)))

    def pedestrians(
        self, rng: np.random.Generator, n_frames: int, crowd: float = 3.0, one_way: int | None = None, lane=None
    ) -> list[_Mover]:
        """Walkers entering at either edge, Poisson arrivals, started early so frame 0 is already busy.
        ``one_way``: every walker goes this way (+1: left to right); ``lane``: ``(y0, y1)`` rows they keep to."""
        mean_speed = 1.5
        rate = crowd * mean_speed / self.w  # arrivals per frame for ~``crowd`` people in view
        lead = int(self.w / 1.0)
        movers = []
        for t in range(-lead, n_frames):
            for _ in range(rng.poisson(rate)):
                direction = 1 if rng.random() < 0.5 else -1
                direction = direction if one_way is None else one_way
                speed = rng.uniform(1.0, 2.0)
                value = rng.uniform(35, 75) if rng.random() < 0.7 else rng.uniform(195, 235)
                prims = self.person(value, scale=rng.uniform(0.9, 1.1))
                x_start = -10.0 * self.u if direction > 0 else self.w + 10.0 * self.u
                y = self.walker_y(rng, prims[0][4], lane)
                movers.append(_Mover(t, x_start, y, direction * speed, rng.normal(0, 0.03), prims))
        return movers

    def anomaly(self, rng: np.random.Generator, kind: str, t0: int) -> _Mover:
        direction = 1 if rng.random() < 0.5 else -1
        margin = 14.0 * self.u
        x_start = -margin if direction > 0 else self.w + margin
        if kind == "bicycle":
            prims = self.bicycle(rng.uniform(25, 55))
            speed = 1.5 * rng.uniform(3.0, 4.0)
            y = self.walker_y(rng, prims[0][4])
            return _Mover(t0, x_start, y, direction * speed, 0.0, prims, kind)
        if kind == "cart":
            prims = self.cart(rng.uniform(110, 130) if rng.random() < 0.5 else rng.uniform(200, 235))
            speed = rng.uniform(1.5, 2.5)
            y0, y1 = self.walk
            y = float(rng.uniform(y0 + prims[0][4] + 1, max(y0 + prims[0][4] + 1, y1 - prims[0][4] - 1)))
            return _Mover(t0, x_start, y, direction * speed, 0.0, prims, kind)
        if kind == "grass":
            prims = self.person(rng.uniform(35, 70))
            b = prims[0][4]
            speed = rng.uniform(1.0, 2.0)
            y0, y1 = self.walk
            if rng.random() < 0.3:  # crossing the scene top to bottom, over the walkway
                x = float(rng.uniform(0.2 * self.w, 0.8 * self.w))
                return _Mover(t0, x, -b - 6 * self.u, rng.normal(0, 0.2), speed, prims, kind)
            top = rng.random() < 0.5
            lo, hi = (2.2 * b, y0 - b - 1) if top else (y1 + 1.6 * b + 1, self.h - b - 1)
            y = float(rng.uniform(lo, max(lo, hi)))
            return _Mover(t0, x_start, y, direction * speed, 0.0, prims, kind)
        raise ValueError(f"unknown anomaly kind {kind!r}; known: {ANOMALY_KINDS}")

    def render(
        self, rng: np.random.Generator, n_frames: int, anomalies: list[_Mover], noise: float = 2.0, walkers=None
    ) -> SyntheticVideo:
        """``walkers``: the normal population (default: ``pedestrians``, both ways along the whole walkway)."""
        walkers = self.pedestrians(rng, n_frames) if walkers is None else walkers
        frames = np.empty((n_frames, self.h, self.w), dtype=np.uint8)
        masks = np.zeros((n_frames, self.h, self.w), dtype=bool)
        for t in range(n_frames):
            canvas = self.background.copy()
            for m in walkers:
                if m.t0 <= t:
                    self.draw(canvas, m, t, None)
            for m in anomalies:
                if m.t0 <= t:
                    self.draw(canvas, m, t, masks[t])
            canvas += rng.normal(0, noise, canvas.shape).astype(np.float32)
            frames[t] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
        labels = masks.reshape(n_frames, -1).any(axis=1)
        info = []
        for m in anomalies:
            seen = [t for t in range(m.t0, n_frames) if self._visible(m, t)]
            info.append(
                {"kind": m.kind, "first_frame": seen[0] if seen else None, "last_frame": seen[-1] if seen else None}
            )
        return SyntheticVideo(frames, masks, labels, info)

    def _visible(self, m: _Mover, t: int) -> bool:
        cx, cy = m.at(t)
        return any(self._prim_mask(p, cx, cy) is not None for p in m.prims)


def render_synthetic_videos(
    *, seed: int = 0, height: int = 120, width: int = 160, n_train: int = 4, n_test: int = 4, frames: int = 120
) -> tuple[list[SyntheticVideo], list[SyntheticVideo]]:
    """The scene's videos in memory: ``(train, test)``; train videos have no anomaly (empty masks)."""
    if frames < 8 or height < 32 or width < 32:
        raise ValueError("synthetic scene needs frames >= 8 and height, width >= 32")
    scene = _Scene(height, width, np.random.default_rng([seed, 99]))
    train = [scene.render(np.random.default_rng([seed, 0, i]), frames, []) for i in range(n_train)]
    # Cycle the first kind over the test videos so that every kind shows up when n_test >= 3.
    first_kind = int(np.random.default_rng([seed, 98]).integers(len(ANOMALY_KINDS)))
    test = []
    for i in range(n_test):
        rng = np.random.default_rng([seed, 1, i])
        kinds = [ANOMALY_KINDS[(first_kind + i) % len(ANOMALY_KINDS)]]
        if rng.random() < 0.5:
            kinds.append(ANOMALY_KINDS[int(rng.integers(len(ANOMALY_KINDS)))])
        lo, hi = frames // 4, max(frames // 4 + 1, (frames * 11) // 20)
        movers = [scene.anomaly(rng, k, int(rng.integers(lo, hi))) for k in kinds]
        test.append(scene.render(rng, frames, movers))
    return train, test


def write_ucsd_layout(out: Path, train: list[SyntheticVideo], test: list[SyntheticVideo], scene: str) -> None:
    """``Train/TrainNNN/NNN.tif``, ``Test/TestNNN/NNN.tif``, ``Test/TestNNN_gt/NNN.bmp`` (0/255) and
    ``Test/<scene>.m`` (frame ranges) under ``out``."""
    from PIL import Image

    frames = max([len(v.frames) for v in train + test], default=1)
    digits = max(3, len(str(frames)))
    for split, videos in (("Train", train), ("Test", test)):
        for i, video in enumerate(videos, start=1):
            folder = out / split / f"{split}{i:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            for t, frame in enumerate(video.frames, start=1):
                Image.fromarray(frame).save(folder / f"{t:0{digits}d}.tif")
            if split == "Test":
                gt = folder.with_name(folder.name + "_gt")
                gt.mkdir(exist_ok=True)
                for t, mask in enumerate(video.masks, start=1):
                    Image.fromarray(mask.astype(np.uint8) * 255).save(gt / f"{t:0{digits}d}.bmp")
    (out / "Test").mkdir(parents=True, exist_ok=True)
    (out / "Test" / f"{scene}.m").write_text(format_ucsd_m([labels_to_ranges(v.labels) for v in test]))


def make_synthetic_scene(
    root: str | Path,
    *,
    seed: int = 0,
    height: int = 120,
    width: int = 160,
    n_train: int = 4,
    n_test: int = 4,
    frames: int = 120,
) -> Path:
    """Write the scene under ``root/SyntheticPed`` in the UCSD layout and return that folder.

    ``Train/TrainNNN/NNN.tif``, ``Test/TestNNN/NNN.tif``, ``Test/TestNNN_gt/NNN.bmp`` (0/255),
    ``Test/SyntheticPed.m`` (frame ranges) and ``anomalies.json`` (kind and frames of each anomaly).
    """
    train, test = render_synthetic_videos(
        seed=seed, height=height, width=width, n_train=n_train, n_test=n_test, frames=frames
    )
    out = Path(root) / SCENE_NAME
    write_ucsd_layout(out, train, test, SCENE_NAME)
    meta = {
        "seed": seed,
        "height": height,
        "width": width,
        "frames": frames,
        "test": [{"video": f"Test{i:03d}", "anomalies": v.anomalies} for i, v in enumerate(test, start=1)],
    }
    (out / "anomalies.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out
