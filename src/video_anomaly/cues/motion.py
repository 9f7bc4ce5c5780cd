"""The motion cue: how unusual each region's motion is, from dense optical flow, for one fixed camera.

Per frame ``t >= 1`` (frame 0 has no flow yet and gets ``None``):

1. dense optical flow from frame ``t-1`` to frame ``t`` with OpenCV DIS (preset ``"ultrafast"``,
   ``"fast"`` or ``"medium"``) at the frame's native resolution, or downscaled so that the longer side
   is at most ``max_side`` pixels (the *working* resolution);
2. per cell of ``cell x cell`` working pixels four features (the grid covers the whole frame; edge
   cells that stick out use their valid pixels only):

   ====  ==============================================  ===========================
   0     mean flow magnitude                             working pixels per frame
   1     95th percentile of the flow magnitude           working pixels per frame
   2     fraction of pixels moving more than 0.5 px      in [0, 1]
   3     mean absolute frame difference ``|f_t-f_t-1|``  grey levels / 255, [0, 1]
   4..   with ``orient_bins=B > 0``: per direction sector   working pixels per frame
         ``b`` of ``B`` (sector 0 starts at +x, angles
         counter-clockwise in image coordinates), the
         flow magnitude of the cell's pixels whose flow
         points into ``b``, summed, divided by the cell's
         pixels (still pixels add almost nothing; the B
         values sum to feature 0)
   ====  ==============================================  ===========================

   The cell side is ``cell`` working pixels, or with ``cell="auto"`` ``cell_scale`` times the typical size of
   the moving regions of the training footage (``moving_region_size``: the median side of the boxes of
   connected moving pixels, measured on its first ``AUTO_FRAMES`` frames), so that one object covers about as
   many cells on a camera whose people are small as on one whose people are large. The flow's spatial smoothing
   widens small regions (22-27 px on the synthetic scene whose people are 6-7 px wide), so the measure follows
   the size of people only loosely; ``docs/detection_study.md`` found a fixed 21 px at least as good on Ped2
   and the synthetic scene, and that is the detector's default;

3. causal pooling: each cell's features averaged over the last ``pool`` frames that have them (over
   fewer at the start of a stream);
4. the score of a cell: Euclidean distance, in features divided by a per-feature scale, from the
   cell's pooled features to the nearest of that cell's reference samples.

``fit`` learns, from normal footage only, the per-feature scale (the std of each pooled feature over
all training samples of all cells, floored so that a camera where nothing moves divides by no zero)
and per cell a greedy k-center coreset of at most ``k`` scaled training samples (``k=None`` keeps all
of them). The k-center rule picks the sample farthest from those already picked, so the coreset covers
the rare normal motions as well as the common ones, and the model stays ``Gh*Gw*k*4`` floats whatever
the length of the footage. Raw scores are not comparable across cells or cameras; calibration (what
is unusual *for this place*) comes after, in the same way for every cue.

Speed at 360x240 (UCSD Ped2's size), 16-px cells, k=128, frames already decoded, OpenCV and numpy on one
thread each, on the 2-core development machine while other jobs kept its load average at 3-5 (so these are
lower bounds; ``benchmark`` returns the same keys on any machine)::

    OMP_NUM_THREADS=1 .venv/bin/python -c "import cv2; cv2.setNumThreads(1);
        from video_anomaly.cues.motion import benchmark; print(benchmark(preset='medium'))"

* ``preset="medium"``: 44-58 frames/s for flow + features + scoring (DIS alone 37-74 frames/s): DIS is
  about 15 ms of the frame's 17 ms; features take about 0.7 ms and scoring 0.4-0.9 ms;
* ``preset="fast"``: 157-235 frames/s (DIS alone 232-408 frames/s).

On UCSD Ped2 (``scripts/motion_probe.py``: fit on all Train frames, frame score = mean of the 3 largest
cell scores, micro ROC AUC over the 2010 test frames, same machine and load):

=========================  =====  =====  ==========  ======================  =========
preset, flow resolution    cell   k      AUC (raw)   AUC (cell / its p99)    frames/s
=========================  =====  =====  ==========  ======================  =========
medium, 360x240            16     128    0.889       0.800                   64
medium, 360x240            16     all    0.890       0.795                   21
medium, 360x240            32     128    0.922       0.841                   46
medium, 360x240            32     all    0.922       0.833                   34
fast, 360x240              16     128    0.865       0.798                   181
fast, 360x240              32     128    0.890       0.808                   298
medium, max_side=240       11     128    0.894       0.814                   95
medium, max_side=240       21     128    0.926       0.839                   95
=========================  =====  =====  ==========  ======================  =========

"cell / its p99": each cell's distance divided by its 99th percentile on held-out normal frames (the last
10% of each Train video, fitted on the first 90%) before the top-3 mean. It lowers the AUC everywhere;
a likely reason (not checked) is that it inflates cells where normal footage barely moves, while Ped2's
anomalies (bicycles, carts) cross the walkway, where walkers move too. The coreset (k=128) loses nothing
against keeping all 2534 samples per cell and scores 20-35x faster. Frames/s: test frames through
``features`` and scoring (JPEG decoding apart); under the machine's varying load, a spread of +-30%
between rows of equal work is noise. Fit takes the flow over the footage (38 s for Ped2's 2550
Train frames with ``medium``) plus the coreset (3 s with 16-px cells). These numbers were read with test
labels: they describe the cue, they did not pick its defaults."""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError
from .flow import shared_flow
from .grid import (
    AUTO_FRAMES,
    FALLBACK_CELL,
    FEATURES,
    N_FEATURES,
    CellGridCue,
    _CellReducer,
    _fitted_size,
    _same_size,
    auto_cell,
    kcenter_coreset,
    moving_region_size,
    working_shape,
)

PRESETS = ("ultrafast", "fast", "medium")


# Floor of each feature's scale, in the feature's own units: below about a tenth of what one slow walker
# gives, a std is noise, and a camera where nothing ever moves would otherwise divide by zero.
SCALE_FLOOR = np.array([0.01, 0.01, 0.001, 0.5 / 255], dtype=np.float32)


ORIENT_FLOOR = 0.01  # the same floor for each direction sector (flow magnitude per pixel, like feature 0)


STATE_VERSION = 1  # version-1 files without orient_bins are the 4-feature cue and load unchanged


def _dis_preset(name: str) -> int:
    import cv2

    return {
        "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
        "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    }[name]


def flow_features(reducer: _CellReducer, flow: np.ndarray, diff: np.ndarray, orient_bins: int = 0) -> np.ndarray:
    """One frame's cell features from its flow ``(h, w, 2)`` px and frame difference ``(h, w)`` in [0, 1]:
    ``(Gh, Gw, 4 + orient_bins)`` float32 (what ``MotionCue.features`` computes before pooling)."""
    import cv2

    fx, fy = np.ascontiguousarray(flow[..., 0], np.float32), np.ascontiguousarray(flow[..., 1], np.float32)
    if orient_bins:
        mag, ang = cv2.cartToPolar(fx, fy)
        return reducer.features(mag, diff, ang, orient_bins)
    return reducer.features(cv2.magnitude(fx, fy), diff)


@dataclass(frozen=True)
class MotionConfig:
    """``cell``: cell side in working pixels, or ``"auto"`` (``cell_scale`` times the typical size of the moving
    regions of the training footage, fixed at ``fit``); ``pool``: frames of causal feature averaging; ``preset``:
    DIS preset; ``k``: coreset size per cell (``None``: keep every training sample); ``max_side``: longest side of
    the working resolution (``None``: native); ``orient_bins``: direction sectors of the magnitude-weighted flow
    histogram added to the four features (0: none, the 4-feature cue); ``cell_scale``: see ``cell``."""

    # cell 21 at a working size of at most 240 px, 4 features: the settings scripts/cue_study.py and
    # scripts/detection_study.py (docs/detection_study.md) chose for the detector.
    cell: int | str = 21
    pool: int = 5
    preset: str = "medium"
    k: int | None = 128
    max_side: int | None = 240
    orient_bins: int = 0
    cell_scale: float = 1.0

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ConfigError(f"motion cue: preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        auto = self.cell == "auto"
        for label in ("cell", "pool", "k", "max_side"):
            v = getattr(self, label)
            if label == "cell" and auto:
                continue
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1):
                raise ConfigError(f"motion cue: {label} must be a positive integer, got {v!r}")
        if self.cell is None or self.pool is None:
            raise ConfigError("motion cue: cell (a positive integer or 'auto') and pool must be given, got None")
        b = self.orient_bins
        if not isinstance(b, (int, np.integer)) or isinstance(b, bool) or b < 0 or b == 1:
            raise ConfigError(f"motion cue: orient_bins must be 0 (none) or an integer >= 2, got {b!r}")
        c = self.cell_scale
        if not (isinstance(c, (int, float)) and not isinstance(c, bool) and np.isfinite(c) and c > 0):
            raise ConfigError(f"motion cue: cell_scale must be a positive number, got {c!r}")


class MotionCue(CellGridCue):
    """Per-cell motion anomaly from DIS optical flow; see the module docstring for the method and units.

    ``MotionCue(config)`` or ``MotionCue(cell=..., pool=..., ...)`` (keywords override the config's fields; see
    ``MotionConfig``).
    """

    name = "motion"
    Config = MotionConfig
    summary = "motion alone: each region's distance to normal optical-flow statistics, calibrated per region"
    # The motion cue alone ranked above its fusion with the autoencoder on the synthetic scene and UCSD Ped2
    # (scripts/cue_study.py); fused with the appearance cue it ranked first (docs/detection_study.md).
    preferred = True

    def __init__(self, config: MotionConfig | None = None, **settings):
        super().__init__(replace(config or MotionConfig(), **settings))
        c = self.config
        self.auto_cell = c.cell == "auto"
        self.cell: int | None = None if self.auto_cell else int(c.cell)
        self.cell_scale = float(c.cell_scale)
        self.object_size: float | None = None  # measured moving-region size (working px), with cell="auto"
        self.pool, self.preset = int(c.pool), c.preset
        self.orient_bins = int(c.orient_bins)
        self.k = None if c.k is None else int(c.k)
        self.max_side = None if c.max_side is None else int(c.max_side)
        self.frame_shape: tuple[int, int] | None = None
        self.scale: np.ndarray | None = None  # (4,) float32, feature units
        self.refs: np.ndarray | None = None  # (Gh, Gw, K, 4) float32, scaled features

    # -- geometry ---------------------------------------------------------------------------------------

    @property
    def warmup(self) -> int:
        """Frames that yield no map at the start of a stream (the first has no flow yet)."""
        return 1

    @property
    def n_features(self) -> int:
        return N_FEATURES + self.orient_bins

    # -- features ---------------------------------------------------------------------------------------

    def features(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """Pooled features of a stream: per ``(H, W)`` uint8 frame, ``(Gh, Gw, n_features)`` float32, ``None`` for
        frame 0.

        Causal: the features of frame ``t`` depend on frames ``<= t`` only. All frames must share one shape.
        """
        import cv2

        dis = cv2.DISOpticalFlow_create(_dis_preset(self.preset))
        prev = prev_f = None
        shape = work = reducer = None
        recent: deque[np.ndarray] = deque(maxlen=self.pool)
        for i, frame in enumerate(frames):
            frame = np.asarray(frame)
            if frame.ndim != 2 or frame.dtype != np.uint8:
                raise DataError(None, f"motion cue: frame {i} is {frame.dtype} {frame.shape}; want (H, W) uint8 grey")
            if shape is None:
                shape = frame.shape
                work = working_shape(shape, self.max_side)
                reducer = _CellReducer(work, self._need_cell())
            elif frame.shape != shape:
                raise DataError(
                    None,
                    f"motion cue: frame {i} is {frame.shape[1]}x{frame.shape[0]} but the stream began at "
                    f"{shape[1]}x{shape[0]}",
                )
            if work != shape:
                frame = cv2.resize(frame, (work[1], work[0]), interpolation=cv2.INTER_AREA)
            cur_f = frame.astype(np.float32)
            if prev is None:
                prev, prev_f = frame, cur_f
                yield None
                continue
            flow = shared_flow(dis, prev, frame, self.preset)  # computed once per frame for every cue
            diff = cv2.absdiff(cur_f, prev_f)
            diff *= 1.0 / 255.0
            recent.append(flow_features(reducer, flow, diff, self.orient_bins))
            prev, prev_f = frame, cur_f
            yield np.mean(recent, axis=0, dtype=np.float32) if len(recent) > 1 else recent[0].copy()

    # -- fit and score ------------------------------------------------------------------------------------

    def fit(self, videos: Sequence[Iterable[np.ndarray]], *, progress: bool = False) -> MotionCue:
        """Fit on normal footage: each item of ``videos`` is the frames of one normal video of this camera.

        Keeps every pooled training sample in memory until the coreset is built: ``Gh*Gw*4`` float32 per
        frame (5.5 KB at 360x240 with 16-px cells, so 100 000 frames take about 550 MB).
        """
        videos = list(videos)
        if self.auto_cell:
            videos = self._measure_cell(videos)
        sizes: list[tuple[int, int]] = []  # the frame size of video 0, once read
        samples: list[np.ndarray] = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(videos), desc="motion fit", unit="video")
        for vi, video in enumerate(videos):
            samples.extend(f for f in self.features(_same_size(video, vi, sizes)) if f is not None)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return self.fit_features(samples, sizes[0] if sizes else None)

    def _measure_cell(self, videos: list[Iterable[np.ndarray]]) -> list[Iterable[np.ndarray]]:
        """``cell="auto"``: measure the moving regions on the first ``AUTO_FRAMES`` training frames and fix the
        cell; returns the videos with those frames put back in front (each video is read once)."""
        import cv2

        dis = cv2.DISOpticalFlow_create(_dis_preset(self.preset))
        out, mags, need, work = [], [], AUTO_FRAMES, None
        for video in videos:
            it = iter(video)
            head = [np.asarray(f) for f in islice(it, need)] if need > 0 else []
            need -= len(head)
            prev = None
            for f in head:
                if f.ndim != 2 or f.dtype != np.uint8:
                    break  # features() names the bad frame
                work = working_shape(f.shape, self.max_side)
                f = cv2.resize(f, (work[1], work[0]), interpolation=cv2.INTER_AREA) if work != f.shape else f
                if prev is not None and prev.shape == f.shape:
                    flow = dis.calc(prev, f, None)
                    mags.append(cv2.magnitude(flow[..., 0], flow[..., 1]))
                prev = f
            out.append(chain(head, it))
        self.object_size = moving_region_size(mags)
        self.cell = auto_cell(self.object_size, self.cell_scale, work or (FALLBACK_CELL * 4,) * 2)
        return out

    def fit_features(self, samples: Sequence[np.ndarray], frame_shape: tuple[int, int] | None) -> MotionCue:
        """Fit from pooled training features (items of ``features``, ``None`` left out): each ``(Gh, Gw, 4)``.

        ``fit`` is ``features`` then this; it is public so that a study can compute the flow once and fit
        several models (other ``k``, other training frames) on the same features.
        """
        if not len(samples):
            raise DataError(None, "motion cue: need at least 2 frames of training footage to measure any motion")
        frame_shape = tuple(int(s) for s in frame_shape)
        want = (*self.grid_shape(frame_shape), self.n_features)
        x = np.stack(samples).astype(np.float32, copy=False)  # (N, Gh, Gw, 4)
        if x.shape[1:] != want:
            raise DataError(None, f"motion cue: features of shape {x.shape[1:]}; {frame_shape} frames give {want}")
        n, gh, gw, f = x.shape
        std = x.reshape(-1, f).std(axis=0).astype(np.float32)
        floor = np.concatenate([SCALE_FLOOR, np.full(self.orient_bins, ORIENT_FLOOR, np.float32)])
        # The warning reads the four base features only: a camera whose people all walk one way leaves some
        # direction sectors still, and that is normal, not a still camera.
        low = std[:N_FEATURES] < SCALE_FLOOR
        if low.any():
            names = ", ".join(FEATURES[i] for i in np.flatnonzero(low))
            warnings.warn(
                f"motion cue: almost no motion in the training footage ({names} barely vary); "
                "their scale is floored, so any motion at test time will score high",
                stacklevel=3,
            )
        if self.orient_bins:
            # One scale for all direction sectors (the std of all their values): a sector that normal footage
            # rarely uses keeps the common unit, so its noise is not magnified into alarms.
            std[N_FEATURES:] = x[..., N_FEATURES:].std()
        self.scale = np.maximum(std, floor).astype(np.float32)
        scaled = np.ascontiguousarray((x / self.scale).transpose(1, 2, 0, 3).reshape(gh * gw, n, f), dtype=np.float32)
        del x
        refs = kcenter_coreset(scaled, self.k)
        self.refs = np.ascontiguousarray(refs.reshape(gh, gw, refs.shape[1], f), dtype=np.float32)
        self.frame_shape = frame_shape
        return self

    def cross_fit(self, videos: Sequence[Iterable[np.ndarray]], folds: Sequence[int]) -> list[np.ndarray]:
        """Out-of-fold raw maps of every item of ``videos`` (``(n_i - 1, Gh, Gw)``: each part's first frame has no
        flow), each from references fitted on the items of the other ``folds``; then fit this cue on all of them.

        The same as fitting a fresh cue per fold and streaming the fold's frames through it
        (``thresholds.out_of_fold_maps``), at the cost of one pass of optical flow instead of one per fold: the
        pooled features do not depend on what the cue was fitted on."""
        videos = list(videos)
        if self.auto_cell:  # the cell is measured once, on all the footage, and shared by every fold
            videos = self._measure_cell(videos)
        sizes: list[tuple[int, int]] = []
        feats = [
            np.stack([f for f in self.features(_same_size(v, vi, sizes)) if f is not None])
            for vi, v in enumerate(videos)
        ]
        shape = sizes[0]
        folds = list(folds)
        out: list[np.ndarray | None] = [None] * len(feats)
        for fold in sorted(set(folds)):
            other = [f for f, g in zip(feats, folds) if g != fold]
            cue = MotionCue(self.config)
            cue.cell = self.cell
            cue.fit_features(list(np.concatenate(other)), shape)
            for i, g in enumerate(folds):
                if g == fold:
                    out[i] = np.stack([cue.score_features(f) for f in feats[i]])
        self.fit_features(list(np.concatenate(feats)), shape)
        return out  # type: ignore[return-value]

    def absorb(self, frames: Iterable[np.ndarray], skip: int = 0, max_add: int = 256, boxes=None) -> int:
        """Learn more normal motion (user feedback): the pooled features of ``frames`` after the first ``skip``
        (context for the flow and the pooling) join the cells' references (``CellGridCue._add_refs``; ``boxes``:
        per frame after ``skip`` the object's pixels, None: every cell)."""
        if not self.fitted:
            raise ConfigError("motion cue: not fitted; nothing to add feedback to")
        feats = [f for i, f in enumerate(self.features(_fitted_size(frames, self.frame_shape))) if i >= skip]
        return self._add_refs(feats, max_add, boxes=boxes)

    def score_features(self, feats: np.ndarray) -> np.ndarray:
        """Pooled features ``(Gh, Gw, F)`` -> ``(Gh, Gw)`` float32 distances to each cell's nearest reference."""
        d = self.refs - (feats / self.scale)[:, :, None, :]
        return np.sqrt(np.einsum("hwkf,hwkf->hwk", d, d).min(axis=-1))

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """Per ``(H, W)`` uint8 frame, ``(Gh, Gw)`` float32 raw scores (higher = more abnormal); ``None`` for frame 0.

        Causal: the map of frame ``t`` depends on frames ``<= t`` only.
        """
        if not self.fitted:
            raise ConfigError("motion cue: not fitted; call fit() on normal footage or load a fitted state first")
        for feats in self.features(_fitted_size(frames, self.frame_shape)):
            yield None if feats is None else self.score_features(feats)

    # -- state ----------------------------------------------------------------------------------------------

    def state_dict(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able meta and named float32 arrays (``scale`` (F,), ``refs`` (Gh, Gw, K, F)) for safetensors."""
        meta = {
            **self._state_head(STATE_VERSION),
            "cell": self.cell,
            "pool": self.pool,
            "preset": self.preset,
            "k": self.k,
            "max_side": self.max_side,
            "frame_shape": list(self.frame_shape),
            "features": list(FEATURES) + [f"flow_dir{b}" for b in range(self.orient_bins)],
        }
        if self.orient_bins:  # absent in 4-feature states, so that those stay byte-identical to earlier versions
            meta["orient_bins"] = self.orient_bins
        if self.auto_cell:
            meta["cell_auto"] = {"cell_scale": self.cell_scale, "object_size": self.object_size}
        return meta, {"scale": self.scale.copy(), "refs": self.refs.copy()}

    @classmethod
    def from_state(
        cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, folder: Path | None = None, device=None
    ) -> MotionCue:
        """Rebuild a fitted cue from ``state_dict``'s output (``folder``, ``device``: unused, the cue is numpy)."""
        where = "<motion cue state>"
        if meta.get("cue") != cls.name:
            raise CheckpointError(where, f"holds cue {meta.get('cue')!r}, not {cls.name!r}")
        if meta.get("version") != STATE_VERSION:
            raise CheckpointError(where, f"state version {meta.get('version')!r}; this code reads {STATE_VERSION}")
        missing = {"scale", "refs"} - set(arrays)
        if missing:
            raise CheckpointError(where, f"missing arrays {', '.join(sorted(missing))}")
        settings = [meta["cell"], meta["pool"], meta["preset"], meta["k"], meta["max_side"], meta.get("orient_bins", 0)]
        cue = cls(MotionConfig(*settings))
        auto = meta.get("cell_auto")
        if auto:
            cue.auto_cell, cue.cell_scale, cue.object_size = True, float(auto["cell_scale"]), auto["object_size"]
        cue.frame_shape = tuple(int(s) for s in meta["frame_shape"])
        scale = np.asarray(arrays["scale"], dtype=np.float32)
        refs = np.asarray(arrays["refs"], dtype=np.float32)
        want = (*cue.grid_shape(cue.frame_shape), cue.n_features)
        if scale.shape != (cue.n_features,) or refs.ndim != 4 or (refs.shape[:2] + refs.shape[3:]) != want:
            raise CheckpointError(
                where, f"arrays of shapes scale {scale.shape}, refs {refs.shape} do not fit a {want[:2]} grid"
            )
        cue.scale, cue.refs = scale, np.ascontiguousarray(refs)
        return cue


def synthetic_sequence(n_frames: int, shape: tuple[int, int] = (240, 360), seed: int = 0) -> np.ndarray:
    """``(n_frames, H, W)`` uint8: a textured static background with a few textured blobs walking across it."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    bg = 90 + 30 * np.sin(xx / 7.0) * np.cos(yy / 11.0) + rng.normal(0, 6, shape)
    movers = [
        (rng.uniform(0, h - 20), rng.uniform(0, w), rng.uniform(-2.5, 2.5), rng.uniform(-0.8, 0.8)) for _ in range(6)
    ]
    blob = 60 * np.cos(np.mgrid[0:20, 0:12][0] / 3.0) + 80
    out = np.empty((n_frames, h, w), dtype=np.uint8)
    for t in range(n_frames):
        f = bg.copy()
        for y0, x0, vx, vy in movers:
            x = int(x0 + vx * t) % (w - 12)
            y = int(np.clip(y0 + vy * t, 0, h - 20))
            f[y : y + 20, x : x + 12] = blob
        f += rng.normal(0, 2, shape)  # sensor noise
        out[t] = np.clip(f, 0, 255)
    return out


def benchmark(
    n_frames: int = 200,
    shape: tuple[int, int] = (240, 360),
    preset: str = "medium",
    cell: int = 16,
    k: int = 128,
    max_side: int | None = None,
) -> dict[str, Any]:
    """Frames/s of the motion cue on a synthetic ``shape`` sequence: fit on 100 frames, then stream ``n_frames``.

    Returns the preset, shape, frames, cell, k, fit seconds, ``fps`` of the whole stream (flow + features +
    scoring, frames already in memory) and ``flow_fps`` of DIS alone on the same frames.
    """
    import cv2

    frames = synthetic_sequence(n_frames + 1, shape, seed=1)
    cue = MotionCue(cell=cell, preset=preset, k=k, max_side=max_side)
    t0 = time.perf_counter()
    cue.fit([synthetic_sequence(100, shape, seed=2)])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in cue.stream(frames):
        pass
    total = time.perf_counter() - t0
    dis = cv2.DISOpticalFlow_create(_dis_preset(preset))
    work = working_shape(shape, max_side)
    small = [cv2.resize(f, (work[1], work[0]), interpolation=cv2.INTER_AREA) if work != shape else f for f in frames]
    t0 = time.perf_counter()
    for a, b in zip(small[:-1], small[1:]):
        dis.calc(a, b, None)
    flow = time.perf_counter() - t0
    return {
        "preset": preset,
        "shape": list(shape),
        "n_frames": n_frames,
        "cell": cell,
        "k": k,
        "max_side": max_side,
        "fit_s": round(fit_s, 3),
        "fps": round(n_frames / total, 1),
        "ms_per_frame": round(1000 * total / n_frames, 2),
        "flow_fps": round(n_frames / flow, 1),
        "cv2_threads": cv2.getNumThreads(),
    }
