"""The cell grid the motion and appearance cues share (``CellGridCue``): cells of a fixed size or sized to the
moving regions of the training footage (``moving_region_size``, ``auto_cell``), the frames brought to one working
size, and the per-cell k-center coreset of normal samples (``kcenter_coreset``) with its feedback."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from .base import Cue, overlapping

FEATURES = ("flow_mean", "flow_p95", "moving_fraction", "frame_diff")


N_FEATURES = len(FEATURES)


MOVING_PX = 0.5  # a pixel "moves" when its flow magnitude exceeds this many working pixels


PERCENTILE = 95.0


# cell="auto": the moving regions are measured on this many training frames (a few seconds of flow), regions
# smaller than MIN_REGION_PX working pixels are noise, and the cell stays within [MIN_AUTO_CELL, a quarter of
# the working frame's shorter side].
AUTO_FRAMES = 200


MIN_REGION_PX = 16


MIN_AUTO_CELL = 6


FALLBACK_CELL = 16  # cell="auto" on footage where nothing moves: the 4-feature cue's historical default


def working_shape(frame_shape: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """``(h, w)`` the flow is computed at: ``frame_shape`` downscaled (never up) so that ``max(h, w) <= max_side``."""
    h, w = int(frame_shape[0]), int(frame_shape[1])
    if max_side is None or max(h, w) <= max_side:
        return h, w
    s = max_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


class _CellReducer:
    """Per-cell statistics of ``(h, w)`` maps, vectorised: pad to whole cells, reshape to ``(Gh, Gw, cell*cell)``.

    Padding pixels are excluded from every statistic: sums divide by each cell's count of valid pixels,
    and for the percentile the padding is filled with -1 (below any magnitude), so after an ascending
    partition a cell's ``n`` valid values sit at the last ``n`` positions.
    """

    def __init__(self, shape: tuple[int, int], cell: int):
        self.h, self.w = shape
        self.cell = cell
        self.gh, self.gw = -(-self.h // cell), -(-self.w // cell)
        ys = np.minimum(cell, self.h - cell * np.arange(self.gh))
        xs = np.minimum(cell, self.w - cell * np.arange(self.gw))
        self.count = (ys[:, None] * xs[None, :]).astype(np.float32)  # (Gh, Gw) valid pixels per cell
        # Linear interpolation between order statistics, as np.percentile's default, among a cell's valid values.
        n = self.count.astype(np.int64)
        pos = (n - 1) * (PERCENTILE / 100.0)
        lo = np.floor(pos).astype(np.int64)
        self.frac = (pos - lo).astype(np.float32)
        first = cell * cell - n  # index of a cell's smallest valid value after the partition
        k_lo = first + lo
        # One partition at the smallest index needed puts every cell's top values in its tail; only the
        # short tail (about 5% of a cell) is then sorted. Far cheaper than one partition per index.
        self.k_tail = int(k_lo.min())
        self.k_lo = (k_lo - self.k_tail)[..., None]
        self.k_hi = (first + np.minimum(lo + 1, n - 1) - self.k_tail)[..., None]
        self.padded = (self.gh * cell, self.gw * cell) != (self.h, self.w)
        # Each pixel's cell number, for the direction histogram's bincount.
        rows, cols = np.arange(self.h) // cell, np.arange(self.w) // cell
        self.index = (rows[:, None] * self.gw + cols[None, :]).ravel()

    def cells(self, x: np.ndarray, fill: float) -> np.ndarray:
        """``(h, w)`` -> ``(Gh, Gw, cell*cell)``, padded with ``fill``; a copy (callers partition it in place)."""
        c = self.cell
        if self.padded:
            buf = np.full((self.gh * c, self.gw * c), fill, dtype=x.dtype)
            buf[: self.h, : self.w] = x
            x = buf
        out = x.reshape(self.gh, c, self.gw, c).transpose(0, 2, 1, 3).reshape(self.gh, self.gw, c * c)
        return out.copy() if np.may_share_memory(out, x) else out  # one column of cells reshapes to a view

    def features(self, mag: np.ndarray, diff: np.ndarray, ang: np.ndarray | None = None, bins: int = 0) -> np.ndarray:
        """Flow magnitude ``(h, w)`` px, frame difference ``(h, w)`` in [0, 1] and, with ``bins > 0``, flow angle
        ``(h, w)`` radians in [0, 2 pi) -> ``(Gh, Gw, 4 + bins)`` float32 (the module docstring's table)."""
        m = self.cells(mag, -1.0)
        out = np.empty((self.gh, self.gw, N_FEATURES + bins), dtype=np.float32)
        if bins:
            sector = (ang.ravel() * (bins / (2 * np.pi))).astype(np.int64)
            np.minimum(sector, bins - 1, out=sector)  # an angle of exactly 2 pi
            hist = np.bincount(self.index * bins + sector, weights=mag.ravel(), minlength=self.gh * self.gw * bins)
            out[..., N_FEATURES:] = hist.reshape(self.gh, self.gw, bins) / self.count[..., None]
        out[..., 2] = (m > MOVING_PX).sum(axis=-1) / self.count
        # The padding (-1) lowers a padded cell's sum by one per padding pixel: add it back.
        out[..., 0] = (m.sum(axis=-1) + (self.cell * self.cell - self.count)) / self.count
        m.partition(self.k_tail, axis=-1)
        tail = np.sort(m[..., self.k_tail :], axis=-1)
        lo = np.take_along_axis(tail, self.k_lo, axis=-1)[..., 0]
        hi = np.take_along_axis(tail, self.k_hi, axis=-1)[..., 0]
        out[..., 1] = lo + (hi - lo) * self.frac
        out[..., 3] = self.cells(diff, 0.0).sum(axis=-1) / self.count
        return out


def moving_region_size(mags: Iterable[np.ndarray]) -> float | None:
    """Typical size of what moves, in working pixels: over flow-magnitude maps ``(h, w)``, the median of
    ``sqrt(width * height)`` of the boxes of connected pixels moving more than ``MOVING_PX`` (after a 3x3
    opening, regions under ``MIN_REGION_PX`` pixels left out); None when nothing moves."""
    import cv2

    kernel = np.ones((3, 3), np.uint8)
    sides = []
    for mag in mags:
        mask = cv2.morphologyEx((np.asarray(mag) > MOVING_PX).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        st = stats[1:n]
        keep = st[:, cv2.CC_STAT_AREA] >= MIN_REGION_PX
        sides.extend(np.sqrt(st[keep, cv2.CC_STAT_WIDTH] * st[keep, cv2.CC_STAT_HEIGHT].astype(np.float64)))
    return float(np.median(sides)) if sides else None


def auto_cell(size: float | None, scale: float, work_shape: tuple[int, int]) -> int:
    """The cell side for ``cell="auto"``: ``scale * size`` rounded, within [MIN_AUTO_CELL, min(h, w) // 4]."""
    if size is None:
        return FALLBACK_CELL
    return int(np.clip(round(scale * size), MIN_AUTO_CELL, max(MIN_AUTO_CELL, min(work_shape) // 4)))


def kcenter_coreset(x: np.ndarray, k: int | None) -> np.ndarray:
    """Greedy k-center coreset of each cell's samples: ``(G, N, F)`` -> ``(G, min(k, N), F)``, vectorised over cells.

    The first centre is each cell's sample of smallest norm (usually "nothing moves"); each next one is
    the sample farthest from all centres so far. ``k=None`` or ``k >= N`` returns ``x`` itself. Where a
    cell has fewer than ``k`` distinct samples, its centres repeat (harmless for nearest-centre distances).
    """
    g, n, f = x.shape
    if k is None or k >= n:
        return x
    rows = np.arange(g)
    idx = np.empty((g, k), dtype=np.int64)
    idx[:, 0] = np.einsum("gnf,gnf->gn", x, x).argmin(axis=1)
    d = np.full((g, n), np.inf, dtype=np.float32)
    for j in range(k):
        if j:
            idx[:, j] = d.argmax(axis=1)
        c = x[rows, idx[:, j]]  # (G, F)
        diff = x - c[:, None, :]
        np.minimum(d, np.einsum("gnf,gnf->gn", diff, diff), out=d)
    return x[rows[:, None], idx]


def _same_size(
    frames: Iterable[np.ndarray], vi: int, sizes: list[tuple[int, int]], cue: str = "motion"
) -> Iterator[np.ndarray]:
    """The frames of training video ``vi``; DataError (naming the ``cue``) when its size differs from video 0's
    (``sizes[0]``, set by video 0's first frame)."""
    for j, frame in enumerate(frames):
        frame = np.asarray(frame)
        if j == 0:
            size = tuple(int(s) for s in frame.shape[:2])
            if not sizes:
                sizes.append(size)
            elif size != sizes[0]:
                raise DataError(
                    None,
                    f"{cue} cue: training video {vi} has {size[1]}x{size[0]} frames but video 0 has "
                    f"{sizes[0][1]}x{sizes[0][0]}; one model is for one camera (one frame size)",
                )
        yield frame


def _fitted_size(frames: Iterable[np.ndarray], want: tuple[int, int], cue: str = "motion") -> Iterator[np.ndarray]:
    """``frames``; DataError (naming the ``cue``) at the first whose size is not the fitted ``want``."""
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.shape[:2] != tuple(want):
            raise DataError(
                None,
                f"{cue} cue: frame {i} is {frame.shape[1]}x{frame.shape[0]} but the model was fitted on "
                f"{want[1]}x{want[0]} frames",
            )
        yield frame


class CellGridCue(Cue):
    """A cue whose regions are square cells of ``cell`` pixels at the working resolution (``working_shape`` of the
    frame under ``config.max_side``), edge cells partial: the motion and the appearance cue. ``cell`` is None until
    ``fit`` measures it (``cell="auto"``); the cue is fitted once it holds its per-cell exemplars ``refs``."""

    cell: int | None
    refs: np.ndarray | None

    @property
    def fitted(self) -> bool:
        return self.refs is not None

    def _need_cell(self) -> int:
        if self.cell is None:
            raise ConfigError(f"{self.name} cue: cell='auto' is measured on the training footage; call fit() first")
        return self.cell

    def grid_shape(self, frame_shape: tuple[int, int]) -> tuple[int, int]:
        """``(Gh, Gw)`` cells for frames of ``frame_shape`` ``(H, W)`` (edge cells may be partial)."""
        h, w = working_shape(frame_shape, self.config.max_side)
        cell = self._need_cell()
        return -(-h // cell), -(-w // cell)

    def region_box(self, r: int, c: int, frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """Cell ``(r, c)`` as ``(x0, y0, x1, y1)`` in the pixels of frames of ``frame_shape`` (x1, y1 exclusive)."""
        h, w = int(frame_shape[0]), int(frame_shape[1])
        wh, ww = working_shape(frame_shape, self.config.max_side)
        sy, sx = h / wh, w / ww
        cell = self._need_cell()
        y0, x0 = r * cell, c * cell
        y1, x1 = min(y0 + cell, wh), min(x0 + cell, ww)
        return min(w, round(x0 * sx)), min(h, round(y0 * sy)), min(w, round(x1 * sx)), min(h, round(y1 * sy))

    def _state_head(self, version: int) -> dict[str, Any]:
        """The first keys of ``state_dict``'s meta (the cue's name, its state format ``version``); a cue not fitted
        has no state."""
        if not self.fitted:
            raise ConfigError(f"{self.name} cue: not fitted; nothing to save")
        return {"cue": self.name, "version": version}

    def cell_boxes(self, frame_shape: tuple[int, int]) -> np.ndarray:
        """``(Gh, Gw, 4)`` int boxes ``(x0, y0, x1, y1)`` of every cell, in frame pixels."""
        gh, gw = self.grid_shape(frame_shape)
        return np.array(
            [[self.region_box(r, c, frame_shape) for c in range(gw)] for r in range(gh)], dtype=np.int64
        ).reshape(gh, gw, 4)

    def _add_refs(self, samples: list, max_add: int, dtype=None, boxes: list | None = None) -> int:
        """Feedback's part shared by the cues: ``samples`` (per frame ``(Gh, Gw, F)`` unscaled features, None
        where a frame has none) join the cells' references, all of them up to ``max_add`` per cell, else a
        k-center coreset of them. ``boxes``: per sample the ``(x0, y0, x1, y1)`` frame pixels of the object
        learnt (None: every cell): a cell learns only the samples whose box it overlaps, so another object in
        the same frames is not learnt. Each call is bounded; the references (and the cost of scoring a frame)
        grow with every feedback. Returns the number added per cell."""
        boxes = [None] * len(samples) if boxes is None else list(boxes)
        kept = [(s, b) for s, b in zip(samples, boxes) if s is not None]
        if not kept:
            return 0
        x = np.stack([s for s, _ in kept]) / self.scale  # (n, Gh, Gw, F)
        if any(b is not None for _, b in kept):
            cb = self.cell_boxes(self.frame_shape)  # (Gh, Gw, 4)
            inside = np.stack([np.ones(cb.shape[:2], bool) if b is None else overlapping(cb, b) for _, b in kept])
            # Elsewhere a sample is a copy of one of the cell's references: it changes no nearest distance.
            x = np.where(inside[..., None], x, self.refs[None, :, :, 0, :])
        n, gh, gw, f = x.shape
        new = kcenter_coreset(np.ascontiguousarray(x.transpose(1, 2, 0, 3).reshape(gh * gw, n, f), dtype), max_add)
        new = new.reshape(gh, gw, new.shape[1], f).astype(np.float32)
        self.refs = np.ascontiguousarray(np.concatenate([self.refs, new], axis=2))
        return int(new.shape[2])
