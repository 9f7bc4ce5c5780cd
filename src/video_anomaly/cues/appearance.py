"""The appearance cue: how unusual the *shape* of what moves is in each region, for one fixed camera.

The motion cue sees speed and direction; a wheelchair or a cart at walking pace moves like a pedestrian and
passes it. This cue describes what moves, in the manner of the exemplar baselines of Ramachandra & Jones
(Street Scene, WACV 2020: a blurred foreground mask per region against that region's normal exemplars),
with no network and a few milliseconds per frame on a CPU. Per frame, at the working resolution (the longer
side at most ``max_side`` pixels, the motion cue's):

1. foreground: pixels whose grey level differs from a background image by more than ``fg_threshold`` grey
   levels. The background starts as the per-pixel median of the first ``BACKGROUND_FRAMES`` training frames
   (stored with the cue) and follows the stream: each frame moves it by ``bg_rate`` towards the frame where
   there is no foreground, ten times slower where there is (lighting drifts in, a passer-by does not);
2. per cell of ``cell x cell`` working pixels: the foreground share of each of ``sub x sub`` sub-blocks
   (the blurred shape, in [0, 1]) and a histogram of the gradient orientations of the foreground pixels
   (``bins`` unsigned sectors over 180 degrees, weighted by the Sobel gradient magnitude, divided by the
   cell's pixels and by 255: grey levels per pixel / 255);
3. the descriptor of a region: the shape values of the ``window x window`` cells centred on it (cells beyond
   the frame count as empty) and the sum of their orientation histograms: ``window**2 * sub**2 + bins``
   values (44 by default) describing a neighbourhood about the size of a person when ``cell`` is sized to
   the moving regions (``cell="auto"``, as the motion cue's);
4. causal pooling over the last ``pool`` frames, then the score of a region: the Euclidean distance, in
   values divided by a per-value scale (the std over training, floored), to the nearest of that region's
   normal exemplars (a greedy k-center coreset of at most ``k`` training descriptors, ``motion.kcenter_coreset``).

A region where nothing moves has an all-zero descriptor, at distance zero from the all-zero exemplar that
every region's training footage holds: the cue scores what moves, never the static scene.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import chain, islice
from typing import Any, ClassVar

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError
from .grid import CellGridCue, auto_cell, kcenter_coreset, moving_region_size, working_shape

STATE_VERSION = 1
BACKGROUND_FRAMES = 200  # training frames whose per-pixel median is the starting background
SCALE_FLOOR = 0.02  # floor of each value's scale: a shape share or histogram value below this barely varies
FG_SLOWDOWN = 0.1  # the background follows foreground pixels this much slower than the rest


@dataclass(frozen=True)
class AppearanceConfig:
    """Settings of the appearance cue (see the module docstring). ``cell``: side in working pixels or ``"auto"``
    (``cell_scale`` times the median side of the foreground regions of the first training frames);
    ``window``: cells per side of the described neighbourhood (odd); ``sub``: shape sub-blocks per cell side;
    ``bins``: gradient orientation sectors (0: shape only); ``fg_threshold``: grey levels from the background
    that make a pixel foreground; ``bg_rate``: background update per frame in (0, 1); ``pool``: frames of
    causal averaging; ``k``: exemplars per region (None: every training descriptor); ``max_side``: longest
    side of the working resolution (None: native)."""

    cell: int | str = "auto"
    cell_scale: float = 1.5
    window: int = 3
    sub: int = 2
    bins: int = 8
    fg_threshold: float = 20.0
    bg_rate: float = 0.02
    pool: int = 1
    k: int | None = 64
    max_side: int | None = 240

    def __post_init__(self):
        self.check()

    def check(self) -> AppearanceConfig:
        def positive_int(label, v, allow_none=False):
            if v is None and allow_none:
                return
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"appearance cue: {label} must be a positive integer, got {v!r}")

        if self.cell != "auto":
            positive_int("cell", self.cell)
        for label, v in (("window", self.window), ("sub", self.sub), ("pool", self.pool)):
            positive_int(label, v)
        positive_int("k", self.k, allow_none=True)
        positive_int("max_side", self.max_side, allow_none=True)
        if self.window % 2 == 0:
            raise ConfigError(f"appearance cue: window must be odd (centred on the region), got {self.window}")
        if self.cell != "auto" and self.cell % self.sub:
            raise ConfigError(f"appearance cue: cell ({self.cell}) must be a multiple of sub ({self.sub})")
        if not isinstance(self.bins, (int, np.integer)) or isinstance(self.bins, bool) or self.bins < 0:
            raise ConfigError(f"appearance cue: bins must be a non-negative integer, got {self.bins!r}")
        for label, v, lo, hi in (
            ("cell_scale", self.cell_scale, 0, np.inf),
            ("fg_threshold", self.fg_threshold, 0, 255),
            ("bg_rate", self.bg_rate, 0, 1),
        ):
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and lo < v < hi):
                raise ConfigError(f"appearance cue: {label} must be a number in ({lo}, {hi}), got {v!r}")
        return self


def _to_work(frame: np.ndarray, work: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(frame, (work[1], work[0]), interpolation=cv2.INTER_AREA) if frame.shape != work else frame


def _check_frame(frame, i: int, shape: tuple[int, int] | None, what: str) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 2 or frame.dtype != np.uint8:
        raise DataError(None, f"appearance cue: frame {i} is {frame.dtype} {frame.shape}; want (H, W) uint8 grey")
    if shape is not None and frame.shape != tuple(shape):
        raise DataError(
            None, f"appearance cue: frame {i} is {frame.shape[1]}x{frame.shape[0]} but {what} {shape[1]}x{shape[0]}"
        )
    return frame


class AppearanceCue(CellGridCue):
    """Per-region anomaly of the shape of what moves (foreground against a background, gradient orientations);
    see the module docstring. ``AppearanceCue(AppearanceConfig(...))`` or ``AppearanceCue(cell=..., ...)``."""

    name: ClassVar[str] = "appearance"
    Config: ClassVar[type] = AppearanceConfig
    summary: ClassVar[str] = (
        "appearance alone: the shape of what moves in each region (foreground and gradient orientations) against "
        "that region's normal exemplars, calibrated per region"
    )
    # With the motion cue, the two fused ranked first on the synthetic scene and UCSD Ped2 (docs/detection_study.md).
    preferred: ClassVar[bool] = True

    def __init__(self, config: AppearanceConfig | None = None, **kw):
        if config is not None and kw:
            raise ConfigError("appearance cue: give a config or keyword settings, not both")
        super().__init__((config if config is not None else AppearanceConfig(**kw)).check())
        c = self.config
        self.cell: int | None = None if c.cell == "auto" else int(c.cell)
        self.object_size: float | None = None
        self.frame_shape: tuple[int, int] | None = None
        self.background: np.ndarray | None = None  # (h, w) float32 grey levels at the working resolution
        self.scale: np.ndarray | None = None  # (D,) float32
        self.refs: np.ndarray | None = None  # (Gh, Gw, K, D) float32 scaled descriptors

    # -- geometry -----------------------------------------------------------------------------------------

    @property
    def warmup(self) -> int:
        """No warm-up: the background comes from the training footage, so frame 0 already has a map."""
        return 0

    @property
    def n_values(self) -> int:
        return self.config.window**2 * self.config.sub**2 + self.config.bins

    # -- descriptors --------------------------------------------------------------------------------------

    def _foreground(self, frame: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """Foreground mask ``(h, w)`` bool of a working frame; moves ``bg`` (in place) towards the frame."""
        f = frame.astype(np.float32)
        d = f - bg
        fg = np.abs(d) > self.config.fg_threshold
        rate = np.where(fg, self.config.bg_rate * FG_SLOWDOWN, self.config.bg_rate).astype(np.float32)
        bg += rate * d
        return fg

    def _cell_values(self, frame: np.ndarray, fg: np.ndarray, cell: int) -> np.ndarray:
        """``(Gh, Gw, sub*sub + bins)``: per cell the shape shares of its sub-blocks and the orientation
        histogram of its foreground pixels."""
        import cv2

        c = self.config
        h, w = frame.shape
        gh, gw = -(-h // cell), -(-w // cell)
        sb = cell // c.sub
        pad = np.zeros((gh * cell, gw * cell), np.float32)
        pad[:h, :w] = fg
        shape = pad.reshape(gh, c.sub, sb, gw, c.sub, sb).mean(axis=(2, 5)).transpose(0, 2, 1, 3)
        out = [shape.reshape(gh, gw, c.sub * c.sub)]
        if c.bins:
            f = frame.astype(np.float32)
            mag, ang = cv2.cartToPolar(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1))
            sector = ((ang % np.pi) * (c.bins / np.pi)).astype(np.int64)
            np.minimum(sector, c.bins - 1, out=sector)
            idx = (np.arange(h) // cell)[:, None] * gw + (np.arange(w) // cell)[None, :]
            wgt = (mag * fg).ravel() / (255.0 * cell * cell)
            hist = np.bincount((idx * c.bins + sector).ravel(), weights=wgt, minlength=gh * gw * c.bins)
            out.append(hist.reshape(gh, gw, c.bins).astype(np.float32))
        return np.concatenate(out, axis=-1)

    def _describe(self, values: np.ndarray) -> np.ndarray:
        """Cell values ``(Gh, Gw, sub*sub + bins)`` -> region descriptors ``(Gh, Gw, n_values)``."""
        c = self.config
        gh, gw, _ = values.shape
        r = c.window // 2
        ns = c.sub * c.sub
        p = np.zeros((gh + 2 * r, gw + 2 * r, values.shape[-1]), np.float32)
        p[r : r + gh, r : r + gw] = values
        shapes = [p[dy : dy + gh, dx : dx + gw, :ns] for dy in range(c.window) for dx in range(c.window)]
        parts = shapes
        if c.bins:
            hist = sum(p[dy : dy + gh, dx : dx + gw, ns:] for dy in range(c.window) for dx in range(c.window))
            parts = [*shapes, hist]
        return np.concatenate(parts, axis=-1)

    def descriptors(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pooled region descriptors of a stream: per ``(H, W)`` uint8 frame, ``(Gh, Gw, n_values)`` float32.

        Causal: frame ``t``'s descriptors depend on frames ``<= t`` only. Needs the fitted background."""
        if self.background is None:
            raise ConfigError("appearance cue: no background; call fit() on normal footage first")
        cell = self._need_cell()
        bg = self.background.copy()
        work = bg.shape
        recent: deque[np.ndarray] = deque(maxlen=self.config.pool)
        shape = None
        for i, frame in enumerate(frames):
            frame = _check_frame(frame, i, shape, "the stream began at")
            shape = shape or frame.shape
            small = _to_work(frame, work)
            recent.append(self._describe(self._cell_values(small, self._foreground(small, bg), cell)))
            yield np.mean(recent, axis=0, dtype=np.float32) if len(recent) > 1 else recent[0]

    def absorb(self, frames: Iterable[np.ndarray], skip: int = 0, max_add: int = 256, boxes=None) -> int:
        """Learn more normal appearance (user feedback): the descriptors of ``frames`` after the first ``skip``
        (context for the background and the pooling) join the regions' exemplars (``CellGridCue._add_refs``;
        ``boxes``: per frame after ``skip`` the object's pixels, None: every region)."""
        if not self.fitted:
            raise ConfigError("appearance cue: not fitted; nothing to add feedback to")
        desc = [d for i, d in enumerate(self.descriptors(frames)) if i >= skip]
        return self._add_refs(desc, max_add, np.float32, boxes=boxes)

    # -- fit and score ------------------------------------------------------------------------------------

    def fit(self, videos: Sequence[Iterable[np.ndarray]], *, progress: bool = False) -> AppearanceCue:
        """Fit on normal footage, each item of ``videos`` the grey uint8 frames of one video of this camera.

        The first ``BACKGROUND_FRAMES`` frames give the starting background (and, with ``cell="auto"``, the
        size of the foreground regions); then every frame's descriptors are kept until the exemplars are
        chosen: ``Gh*Gw*n_values`` float32 per frame (38 KB at 240x160 with 14-px cells, so Ped1's 6800 training
        frames take about 250 MB, and about as much again while the exemplars are chosen)."""
        self.frame_shape = None
        videos = self._start_background(list(videos))
        samples: list[np.ndarray] = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(videos), desc="appearance fit", unit="video")
        for video in videos:
            samples.extend(self.descriptors(video))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return self.fit_descriptors(samples)

    def _same_camera(self, frames: Iterable[np.ndarray], vi: int) -> Iterator[np.ndarray]:
        for j, frame in enumerate(frames):
            frame = np.asarray(frame)
            if frame.shape[:2] != self.frame_shape:
                h, w = self.frame_shape
                raise DataError(
                    None,
                    f"appearance cue: training video {vi} frame {j} is {frame.shape[1]}x{frame.shape[0]} but "
                    f"video 0 has {w}x{h}; one model is for one camera (one frame size)",
                )
            yield frame

    def _start_background(self, videos: list[Iterable[np.ndarray]]) -> list[Iterable[np.ndarray]]:
        """Read the first ``BACKGROUND_FRAMES`` training frames: their median is the background, their
        foreground regions fix ``cell="auto"``; returns the videos with those frames put back in front."""
        out, head_all, need = [], [], BACKGROUND_FRAMES
        for vi, video in enumerate(videos):
            it = iter(video)
            head = [np.asarray(f) for f in islice(it, need)] if need > 0 else []
            need -= len(head)
            for j, f in enumerate(head):
                _check_frame(f, j, None, "")
                if self.frame_shape is None:
                    self.frame_shape = tuple(int(s) for s in f.shape)
            head_all.extend(head)
            out.append(self._same_camera(chain(head, it), vi) if self.frame_shape is not None else it)
        if not head_all:
            raise DataError(None, "appearance cue: no training frames")
        work = working_shape(self.frame_shape, self.config.max_side)
        small = [_to_work(f, work) for f in head_all if f.shape == self.frame_shape]
        self.background = np.median(np.stack(small), axis=0).astype(np.float32)
        if self.config.cell == "auto":
            bg = self.background.copy()
            masks = [self._foreground(f, bg).astype(np.float32) for f in small]
            self.object_size = moving_region_size(masks)
            cell = auto_cell(self.object_size, self.config.cell_scale, work)
            self.cell = max(self.config.sub, cell - cell % self.config.sub)  # whole sub-blocks
        return out

    def fit_descriptors(self, samples: Sequence[np.ndarray]) -> AppearanceCue:
        """Fit scale and exemplars from training descriptors (items of ``descriptors``), each ``(Gh, Gw, D)``."""
        if not len(samples):
            raise DataError(None, "appearance cue: need at least one training frame")
        x = np.stack(samples).astype(np.float32, copy=False)
        n, gh, gw, d = x.shape
        std = x.reshape(-1, d).std(axis=0)
        if float(std.max()) < SCALE_FLOOR:
            warnings.warn(
                "appearance cue: almost no foreground in the training footage; its scale is floored, so anything "
                "that moves at test time will score high",
                stacklevel=3,
            )
        self.scale = np.maximum(std, SCALE_FLOOR).astype(np.float32)
        scaled = np.ascontiguousarray((x / self.scale).transpose(1, 2, 0, 3).reshape(gh * gw, n, d))
        del x
        refs = kcenter_coreset(scaled, self.config.k)
        self.refs = np.ascontiguousarray(refs.reshape(gh, gw, refs.shape[1], d), dtype=np.float32)
        return self

    def score_descriptors(self, desc: np.ndarray) -> np.ndarray:
        """Descriptors ``(Gh, Gw, D)`` -> ``(Gh, Gw)`` float32 distances to each region's nearest exemplar."""
        diff = self.refs - (desc / self.scale)[:, :, None, :]
        return np.sqrt(np.einsum("hwkf,hwkf->hwk", diff, diff).min(axis=-1))

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """Per ``(H, W)`` uint8 frame, ``(Gh, Gw)`` float32 raw scores (higher = more unusual); no warm-up."""
        if not self.fitted:
            raise ConfigError("appearance cue: not fitted; call fit() on normal footage or load a fitted state")

        def fitted_size(frames):
            for i, frame in enumerate(frames):
                yield _check_frame(frame, i, self.frame_shape, "the cue was fitted on")

        for desc in self.descriptors(fitted_size(frames)):
            yield self.score_descriptors(desc)

    # -- state ----------------------------------------------------------------------------------------------

    def state_dict(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able meta and float32 arrays: ``background`` (h, w), ``scale`` (D,), ``refs`` (Gh, Gw, K, D)."""
        meta = {
            **self._state_head(STATE_VERSION),
            "config": asdict(self.config),
            "cell": self.cell,
            "object_size": self.object_size,
            "frame_shape": list(self.frame_shape),
        }
        return meta, {"background": self.background.copy(), "scale": self.scale.copy(), "refs": self.refs.copy()}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, folder=None, device=None):
        """Rebuild a fitted cue from ``state_dict``'s output (``folder`` and ``device`` are not needed)."""
        where = folder if folder is not None else "<appearance cue state>"
        if meta.get("cue") != cls.name or meta.get("version") != STATE_VERSION:
            raise CheckpointError(
                where, f"holds cue {meta.get('cue')!r} version {meta.get('version')!r}; this code reads "
                f"{cls.name!r} version {STATE_VERSION}"
            )  # fmt: skip
        missing = {"background", "scale", "refs"} - set(arrays)
        if missing:
            raise CheckpointError(where, f"appearance cue: missing arrays {', '.join(sorted(missing))}")
        try:
            cue = cls(AppearanceConfig(**meta["config"]))
        except (TypeError, ConfigError) as exc:
            raise CheckpointError(where, f"appearance cue: bad settings ({exc})") from None
        cue.cell, cue.object_size = int(meta["cell"]), meta.get("object_size")
        cue.frame_shape = tuple(int(s) for s in meta["frame_shape"])
        bg, scale, refs = (np.asarray(arrays[k], np.float32) for k in ("background", "scale", "refs"))
        grid = cue.grid_shape(cue.frame_shape)
        work = working_shape(cue.frame_shape, cue.config.max_side)
        n = cue.n_values
        if bg.shape != work or scale.shape != (n,) or refs.ndim != 4 or refs.shape[:2] + refs.shape[3:] != (*grid, n):
            raise CheckpointError(
                where, f"appearance cue: arrays background {bg.shape}, scale {scale.shape}, refs {refs.shape} "
                f"do not fit {work} working frames"
            )  # fmt: skip
        cue.background, cue.scale, cue.refs = bg, scale, np.ascontiguousarray(refs)
        return cue


__all__ = ["AppearanceConfig", "AppearanceCue"]
