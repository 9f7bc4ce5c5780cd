"""The objects cue: what moves, by name. A pretrained object detector (NanoDet, COCO's 80 classes, run by ONNX
Runtime: ``video_anomaly.objects``) finds the objects; each is tracked, given a velocity from the optical flow,
and scored against the normal objects of its part of the frame.

Per frame ``t >= 1`` (frame 0 has no flow yet and gets ``None``):

1. **Gate, the NVR way** (Frigate runs its detector only where its motion detector fires): the frame difference
   at the working resolution (longer side at most ``max_side``, the motion cue's); when fewer than
   ``motion_share`` of its pixels change by more than ``motion_px`` grey levels, the detector is not called.
   It runs at most every ``every``-th frame; between runs the objects are carried by the flow.
2. **Flow**: DIS (the motion cue's preset and working size) through ``flow.shared_flow``, so that beside the
   motion cue the flow of a frame is computed once. Each object's velocity is the median flow inside its box,
   in frame pixels per frame.
3. **Tracks** (``tracks.Tracker``: IoU + Hungarian): each object keeps an id across frames.
4. **Features** of an object, camera-relative: the centre (fractions of the frame's width and height), width,
   height and velocity (fractions of the frame's height, per frame), each divided by its spread over the
   training objects; the position weighted by ``position_weight`` (default 0: on Ped2 every weight above 0 lowered
   the objects score's AUC, ``docs/detection_study.md``; the place then comes from the fusion with the per-region
   cues); the class apart.
5. **Score**: distance to the nearest normal training object of the same class, or to the nearest of any other
   class plus ``class_weight * sqrt(2)`` (the distance of two one-hot class vectors): an object of a class
   never seen in that part of the frame, or of an unusual size, speed or direction there, is far from all of
   them. With ``position_weight > 0`` the position is among the features and "normal" is normal *for that
   place*: a model of normal objects per region, without cutting the frame into hard cells. Averaged over the
   object's last ``pool`` frames of its track (causal).
6. **Region map**: a uniform grid of ``cells`` regions across the frame's longer side (8 x 12 at 360x240, as the
   motion cue's 21-px cells); each object's score is painted (max) into the regions its box covers.

The detector's input size (``input_size="auto"``) follows the frame and the smallest objects of the training
footage: the detector looks at a few training frames at its largest size (``max_input_side``), and the input is
scaled so that the 10th percentile of the boxes' heights is ``min_object_px`` input pixels (NanoDet's finest
stride is 8 px), within ``[320, max_input_side]`` on the longer side, each side a multiple of 32.

``fit`` / ``cross_fit`` track every training frame once (the detector never runs twice on a frame: the folds
reuse the objects found) and keep the normal objects' features (a k-center coreset of ``max_refs`` at most).
A camera where the detector finds few objects in the training footage (a top-down or thermal view: fewer than
``min_objects`` per frame on average) makes ``unusable`` say so, and ``train`` leaves the cue out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError
from .base import Cue
from .flow import shared_flow
from .grid import _fitted_size, _same_size, kcenter_coreset, working_shape
from .motion import PRESETS, _dis_preset
from .tracks import Tracker

STATE_VERSION = 1
N_FEATURES = 6  # cx, cy, w, h, vx, vy
PROBE_FRAMES = 200  # input_size="auto": the first training frames looked at ...
PROBE_EVERY = 8  # ... one in this many of them (with motion) goes through the detector
STD_FLOOR = 1e-3  # a feature that never varies in training (one parked object) is not blown up


@dataclass(frozen=True)
class ObjectsConfig:
    """Settings of the objects cue (see the module docstring). ``detector``: the name for
    ``objects.load_object_detector``; ``min_score``: detections below this confidence are ignored; ``every``:
    the detector runs at most every ``every``-th frame; ``input_size``: ``"auto"`` or ``[h, w]`` (multiples of
    32); ``motion_px``, ``motion_share``: the gate; ``cells``: regions across the longer side of the map;
    ``pool``: frames of a track's score averaged; ``max_refs``: normal objects kept; ``min_objects``: mean objects
    per training frame below which ``train`` drops the cue."""

    detector: str = "nanodet"
    min_score: float = 0.25
    every: int = 3
    input_size: str | tuple[int, int] = "auto"
    min_object_px: int = 32
    max_input_side: int = 640
    motion_px: float = 12.0
    motion_share: float = 0.0005
    max_side: int = 240
    preset: str = "medium"
    cells: int = 12
    pool: int = 5
    class_weight: float = 1.0
    # 0: the place is left to the fusion with the per-region cues (scripts/objects_study.py on Ped2, objects alone:
    # micro AUC 0.928 without the position, 0.895 at weight 0.5, 0.885 at 1, 0.859 at 2).
    position_weight: float = 0.0
    max_refs: int = 20000
    min_objects: float = 0.3
    min_iou: float = 0.2
    max_missed: int = 2

    def __post_init__(self):
        size = self.input_size
        if size != "auto":
            size = tuple(int(s) for s in size)
            if len(size) != 2 or any(s < 32 or s % 32 for s in size):
                raise ConfigError(f"objects cue: input_size must be 'auto' or [h, w] multiples of 32, got {size}")
            object.__setattr__(self, "input_size", size)
        if self.preset not in PRESETS:
            raise ConfigError(f"objects cue: preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        for label in ("every", "min_object_px", "max_input_side", "max_side", "cells", "pool", "max_refs"):
            v = getattr(self, label)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"objects cue: {label} must be a positive integer, got {v!r}")
        if not 0 <= self.min_score < 1 or not 0 <= self.min_iou < 1:
            raise ConfigError(f"objects cue: min_score, min_iou must be in [0, 1): {self.min_score}, {self.min_iou}")


@dataclass
class FrameObjects:
    """The tracked objects of one frame: ``ids`` ``(n,)`` int64, ``labels`` ``(n,)`` int64 (class indices of
    ``names``), ``scores`` ``(n,)`` float32 (confidence), ``boxes`` ``(n, 4)`` float32 xyxy frame pixels,
    ``velocity`` ``(n, 2)`` float32 frame pixels per frame; ``detected``: the detector ran on this frame."""

    ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    velocity: np.ndarray
    detected: bool = False

    def __len__(self) -> int:
        return len(self.ids)

    def features(self, frame_shape: tuple[int, int]) -> np.ndarray:
        """``(n, 6)`` float32: centre x / W, centre y / H, width / H, height / H, vx / H, vy / H."""
        h, w = float(frame_shape[0]), float(frame_shape[1])
        b = self.boxes.reshape(-1, 4)
        cx, cy = (b[:, 0] + b[:, 2]) / (2 * w), (b[:, 1] + b[:, 3]) / (2 * h)
        size = (b[:, 2:] - b[:, :2]) / h
        vel = self.velocity.reshape(-1, 2) / h
        return np.column_stack([cx, cy, size, vel]).astype(np.float32)

    def to_dicts(self, names: Sequence[str], scores: np.ndarray | None = None) -> list[dict[str, Any]]:
        """JSON-able ``{"track_id", "label", "confidence", "box", "velocity"[, "score"]}`` per object."""
        out = []
        for i in range(len(self)):
            lab = int(self.labels[i])
            d = {
                "track_id": int(self.ids[i]),
                "label": names[lab] if 0 <= lab < len(names) else str(lab),
                "confidence": round(float(self.scores[i]), 3),
                "box": [int(round(float(v))) for v in self.boxes[i]],
                "velocity": [round(float(v), 2) for v in self.velocity[i]],
            }
            if scores is not None:
                d["score"] = round(float(scores[i]), 4)
            out.append(d)
        return out


class ObjectMap(np.ndarray):
    """A raw region map ``(gh, gw)`` float32 that also carries its frame's tracked objects (``objects``: list of
    ``FrameObjects.to_dicts``), so that the live session can name the object of an alarm without a second
    channel beside the cue's stream. Arithmetic on it keeps the type and the same ``objects`` (numpy's subclass
    rule): where plain numbers are wanted, take ``np.asarray`` first (calibration, ``cross_fit``)."""

    objects: list

    def __array_finalize__(self, obj):
        self.objects = getattr(obj, "objects", [])


def _median_flow(flow: np.ndarray, boxes: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """``(n, 2)`` median flow inside each box (frame pixels per frame) of ``flow`` ``(h, w, 2)`` working pixels;
    frame -> working pixel scales ``sx, sy``."""
    h, w = flow.shape[:2]
    out = np.zeros((len(boxes), 2), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(boxes, np.float32).reshape(-1, 4)):
        c0, c1 = int(np.clip(np.floor(x0 * sx), 0, w - 1)), int(np.clip(np.ceil(x1 * sx), 1, w))
        r0, r1 = int(np.clip(np.floor(y0 * sy), 0, h - 1)), int(np.clip(np.ceil(y1 * sy), 1, h))
        patch = flow[r0 : max(r1, r0 + 1), c0 : max(c1, c0 + 1)].reshape(-1, 2)
        out[i] = np.median(patch, axis=0) * (1.0 / sx, 1.0 / sy)
    return out


def choose_input_size(heights: np.ndarray, frame_shape: tuple[int, int], config: ObjectsConfig) -> tuple[int, int]:
    """The detector's ``(h, w)`` input: the frame scaled so the 10th percentile of ``heights`` (boxes found at the
    largest size, frame pixels) is ``min_object_px``, the longer side within ``[320, max_input_side]``, each side
    rounded up to a multiple of 32 (NanoDet's graph needs it). No boxes: the largest size."""
    h, w = frame_shape
    longest = max(h, w)
    top = config.max_input_side / longest
    scale = top if len(heights) == 0 else config.min_object_px / max(float(np.percentile(heights, 10)), 1.0)
    scale = float(np.clip(scale, min(320 / longest, top), top))
    return int(-(-round(h * scale) // 32) * 32), int(-(-round(w * scale) // 32) * 32)


class ObjectsCue(Cue):
    """Per-region anomaly of the objects a pretrained detector finds (see the module docstring).

    ``ObjectsCue(config, detector=...)``: ``detector`` anything with ``detect(frame, *, input_size, min_score)``
    returning ``objects.Detections`` (tests inject one); by default ``objects.load_object_detector(config.detector)``,
    loaded on first use. ``calls``: detector calls so far (the gate's effect is measurable)."""

    name: ClassVar[str] = "objects"
    Config: ClassVar[type] = ObjectsConfig
    summary: ClassVar[str] = (
        "objects alone: each object a pretrained detector finds (class, size, speed, direction) against the normal "
        "objects of its part of the frame"
    )
    preferred: ClassVar[bool] = True

    def __init__(self, config: ObjectsConfig | None = None, *, detector=None):
        super().__init__(config)
        self._detector = detector
        self.calls = 0
        self.frame_shape: tuple[int, int] | None = None
        self.input_size: tuple[int, int] | None = None if self.config.input_size == "auto" else self.config.input_size
        self.names: tuple[str, ...] = ()
        self.mean: np.ndarray | None = None  # (6,) feature means of the training objects
        self.std: np.ndarray | None = None  # (6,) their spread (floored)
        self.refs: np.ndarray | None = None  # (N, 6) float32 standardised, weighted features of normal objects
        self.ref_labels: np.ndarray | None = None  # (N,) int64
        self.objects_per_frame: float | None = None
        self._trees: dict | None = None
        # After fit / cross_fit: the tracked objects of each training item (frame 0 of each left out), kept for
        # the detector's behaviour models (fitted on the same tracks, the detector not run again); not saved.
        self.collected: list[list[FrameObjects]] | None = None

    @property
    def detector(self):
        if self._detector is None:
            from ..objects import load_object_detector

            self._detector = load_object_detector(self.config.detector)
        return self._detector

    @detector.setter
    def detector(self, value) -> None:
        self._detector = value

    @property
    def fitted(self) -> bool:
        return self.refs is not None

    @property
    def warmup(self) -> int:
        return 1

    def grid_shape(self, frame_shape: tuple[int, int]) -> tuple[int, int]:
        """``cells`` regions across the longer side, square-ish: ``(8, 12)`` for 240x360 frames."""
        h, w = int(frame_shape[0]), int(frame_shape[1])
        side = max(h, w) / self.config.cells
        return max(1, round(h / side)), max(1, round(w / side))

    # -- objects over a stream ----------------------------------------------------------------------------

    def _detect(self, frame: np.ndarray, size: tuple[int, int] | None):
        self.calls += 1
        d = self.detector.detect(frame, input_size=size, min_score=self.config.min_score)
        if not self.names and getattr(d, "names", None):
            self.names = tuple(d.names)
        return d

    def track_objects(self, frames: Iterable[np.ndarray]) -> Iterator[FrameObjects | None]:
        """Per ``(H, W)`` uint8 frame its tracked objects (``None`` for frame 0: no flow yet). Causal; the
        detector runs on frames that move, at most every ``every``-th (see the module docstring)."""
        import cv2

        c = self.config
        dis = cv2.DISOpticalFlow_create(_dis_preset(c.preset))
        tracker = Tracker(min_iou=c.min_iou, max_missed=c.max_missed)
        prev = shape = work = None
        since = c.every  # the first frame that moves is looked at
        for i, frame in enumerate(frames):
            frame = np.asarray(frame)
            if frame.ndim != 2 or frame.dtype != np.uint8:
                raise DataError(None, f"objects cue: frame {i} is {frame.dtype} {frame.shape}; want (H, W) uint8 grey")
            if shape is None:
                shape, work = frame.shape, working_shape(frame.shape, c.max_side)
            elif frame.shape != shape:
                raise DataError(None, f"objects cue: frame {i} is {frame.shape[1]}x{frame.shape[0]} but the stream "
                                      f"began at {shape[1]}x{shape[0]}")  # fmt: skip
            small = cv2.resize(frame, (work[1], work[0]), interpolation=cv2.INTER_AREA) if work != shape else frame
            if prev is None:
                prev = small
                yield None
                continue
            flow = shared_flow(dis, prev, small, c.preset)
            sx, sy = work[1] / shape[1], work[0] / shape[0]
            if tracker.tracks:
                shift = _median_flow(flow, np.stack([t.box for t in tracker.tracks]), sx, sy)
                tracker.predict(shift)
            since += 1
            # The frame difference only where the detector may run (``every``): most frames are not looked at.
            detected = since >= c.every and (
                float(np.count_nonzero(cv2.absdiff(prev, small) > c.motion_px)) / small.size >= c.motion_share
            )
            if detected:
                d = self._detect(frame, self.input_size)
                tracker.update(d.boxes, d.scores, d.labels)
                since = 0
            tracks = tracker.tracks
            boxes = np.stack([t.box for t in tracks]) if tracks else np.zeros((0, 4), np.float32)
            vel = _median_flow(flow, boxes, sx, sy)
            for t, v in zip(tracks, vel):
                t.velocity = v
            prev = small
            yield FrameObjects(
                np.array([t.id for t in tracks], np.int64),
                np.array([t.label for t in tracks], np.int64),
                np.array([t.score for t in tracks], np.float32),
                boxes.astype(np.float32).reshape(-1, 4),
                vel,
                detected,
            )

    def _probe_input_size(self, videos: list[Iterable[np.ndarray]]) -> list[Iterable[np.ndarray]]:
        """``input_size="auto"``: look at some of the first training frames at the largest input size, fix the
        size from the smallest objects; returns the videos with those frames put back in front."""
        out, heights, need = [], [], PROBE_FRAMES
        for video in videos:
            it = iter(video)
            head = [np.asarray(f) for f in islice(it, need)] if need > 0 else []
            need -= len(head)
            for j in range(PROBE_EVERY, len(head), PROBE_EVERY):
                a, b = head[j - 1], head[j]
                if a.ndim != 2 or a.shape != b.shape:
                    break
                if self.frame_shape is None:
                    self.frame_shape = tuple(int(s) for s in b.shape)
                if float(np.mean(np.abs(a.astype(np.int16) - b) > self.config.motion_px)) < self.config.motion_share:
                    continue
                top = choose_input_size(np.zeros(0), b.shape, self.config)
                d = self._detect(b, top)
                boxes = np.asarray(d.boxes, np.float32).reshape(-1, 4)
                heights.extend(boxes[:, 3] - boxes[:, 1])
            out.append(chain(head, it))
        if self.frame_shape is not None:
            self.input_size = choose_input_size(np.asarray(heights, np.float32), self.frame_shape, self.config)
        return out

    def _collect(self, videos: Sequence[Iterable[np.ndarray]]) -> list[list[FrameObjects]]:
        """Every training video's tracked objects, frame 0 of each (no flow) left out."""
        videos = list(videos)
        if self.input_size is None:
            videos = self._probe_input_size(videos)
        shape: list = []  # video 0's frame size (a video's own frames keep one size: ``track_objects``)
        objs = [
            [o for o in self.track_objects(_same_size(v, vi, shape, self.name)) if o is not None]
            for vi, v in enumerate(videos)
        ]
        if not shape:
            raise DataError(None, "objects cue: no training frames")
        self.frame_shape = shape[0]
        return objs

    # -- the model of normal objects ----------------------------------------------------------------------

    def fit_objects(self, videos: Sequence[Sequence[FrameObjects]], frame_shape: tuple[int, int]) -> ObjectsCue:
        """Fit from tracked objects (per video, per frame ``FrameObjects``) of normal footage."""
        frames = [fo for v in videos for fo in v]
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.objects_per_frame = float(np.mean([len(fo) for fo in frames])) if frames else 0.0
        feats = [fo.features(self.frame_shape) for fo in frames if len(fo)]
        if not feats:
            # Nothing found: a model that scores every object far (``unusable`` tells train to drop the cue).
            self.mean, self.std = np.zeros(N_FEATURES, np.float32), np.ones(N_FEATURES, np.float32)
            self.refs, self.ref_labels = np.full((1, N_FEATURES), 1e3, np.float32), np.full(1, -1, np.int64)
            self._trees = None
            return self
        x = np.concatenate(feats)
        labels = np.concatenate([fo.labels for fo in frames if len(fo)])
        self.mean = x.mean(axis=0).astype(np.float32)
        self.std = np.maximum(x.std(axis=0), STD_FLOOR).astype(np.float32)
        z = self._standardise(x)
        keep_z, keep_l = [], []
        for lab in np.unique(labels):
            zc = z[labels == lab]
            k = max(1, int(round(self.config.max_refs * len(zc) / len(z))))
            zc = kcenter_coreset(np.ascontiguousarray(zc[None]), k)[0]
            keep_z.append(zc)
            keep_l.append(np.full(len(zc), lab, np.int64))
        self.refs = np.ascontiguousarray(np.concatenate(keep_z), np.float32)
        self.ref_labels = np.concatenate(keep_l)
        self._trees = None
        return self

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        z[:, :2] *= self.config.position_weight
        return z.astype(np.float32)

    def _tree(self, label):
        from scipy.spatial import cKDTree

        if self._trees is None:
            self._trees = {"all": cKDTree(self.refs)}
            for lab in np.unique(self.ref_labels):
                self._trees[int(lab)] = cKDTree(self.refs[self.ref_labels == lab])
        return self._trees.get(label)

    def score_objects(self, fo: FrameObjects) -> np.ndarray:
        """``(n,)`` float32 distance of each object to the nearest normal object (same class; another class costs
        ``class_weight * sqrt(2)`` more, in quadrature)."""
        if not len(fo):
            return np.zeros(0, np.float32)
        z = self._standardise(fo.features(self.frame_shape))
        d_all, _ = self._tree("all").query(z)
        out = np.sqrt(d_all**2 + 2.0 * self.config.class_weight**2)
        for lab in np.unique(fo.labels):
            tree = self._tree(int(lab))
            if tree is not None:
                sel = fo.labels == lab
                out[sel] = np.minimum(out[sel], tree.query(z[sel])[0])
        return out.astype(np.float32)

    def paint(self, fo: FrameObjects, scores: np.ndarray) -> ObjectMap:
        """The region map of one frame: each object's score (max) in the regions its box covers."""
        h, w = self.frame_shape
        gh, gw = self.grid_shape(self.frame_shape)
        m = np.zeros((gh, gw), np.float32)
        for (x0, y0, x1, y1), s in zip(fo.boxes, scores):
            r0, r1 = int(np.clip(y0 * gh / h, 0, gh - 1)), int(np.clip(np.ceil(y1 * gh / h), 1, gh))
            c0, c1 = int(np.clip(x0 * gw / w, 0, gw - 1)), int(np.clip(np.ceil(x1 * gw / w), 1, gw))
            m[r0 : max(r1, r0 + 1), c0 : max(c1, c0 + 1)] = np.maximum(m[r0 : max(r1, r0 + 1), c0 : max(c1, c0 + 1)], s)
        out = m.view(ObjectMap)
        out.objects = fo.to_dicts(self.names, scores)
        return out

    def maps(self, objects: Iterable[FrameObjects | None]) -> Iterator[ObjectMap | None]:
        """Region maps of a stream of tracked objects: each object's score averaged over the last ``pool`` frames
        of its track (causal)."""
        # Keyed by track and class: a track whose class changes (a walker taken for a cyclist) starts afresh.
        history: dict[tuple[int, int], deque] = {}
        for fo in objects:
            if fo is None:
                yield None
                continue
            raw = self.score_objects(fo)
            pooled = np.empty_like(raw)
            keys = list(zip(fo.ids.tolist(), fo.labels.tolist()))
            for j, (key, s) in enumerate(zip(keys, raw)):
                hist = history.setdefault(key, deque(maxlen=self.config.pool))
                hist.append(float(s))
                pooled[j] = np.mean(hist)
            for key in set(history) - set(keys):
                del history[key]
            yield self.paint(fo, pooled)

    # -- the Cue contract -----------------------------------------------------------------------------------

    def fit(self, videos: Sequence[Iterable[np.ndarray]], *, progress: bool = False) -> ObjectsCue:
        objs = self._collect(videos)
        self.collected = objs
        return self.fit_objects(objs, self.frame_shape)

    def cross_fit(self, videos: Sequence[Iterable[np.ndarray]], folds: Sequence[int]) -> list[np.ndarray]:
        """Out-of-fold raw maps of every item of ``videos`` (``(n_i - 1, gh, gw)``), each from the normal objects
        of the other ``folds``; then fit on all. The detector runs once per frame: the folds reuse the objects
        (a training object is never its own neighbour: its video is out of the fold that scores it)."""
        objs = self._collect(videos)
        self.collected = objs
        folds = list(folds)
        out: list = [None] * len(objs)
        for fold in sorted(set(folds)):
            cue = ObjectsCue(self.config, detector=self._detector)
            cue.names, cue.input_size = self.names, self.input_size
            cue.fit_objects([o for o, g in zip(objs, folds) if g != fold], self.frame_shape)
            for i, g in enumerate(folds):
                if g == fold:
                    gh, gw = self.grid_shape(self.frame_shape)
                    ms = [np.asarray(m) for m in cue.maps(objs[i])]
                    out[i] = np.stack(ms) if ms else np.zeros((0, gh, gw), np.float32)
        self.fit_objects(objs, self.frame_shape)
        return out

    def unusable(self) -> str | None:
        """After fit: why this cue should be left out on this camera (too few objects found), else None."""
        n = self.objects_per_frame
        if n is not None and n < self.config.min_objects:
            return (
                f"the object detector found {n:.2f} objects per training frame (fewer than {self.config.min_objects}): "
                "it does not recognise what moves on this camera (a top-down, thermal or drawn view?)"
            )
        return None

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[ObjectMap | None]:
        """Per ``(H, W)`` uint8 frame an ``ObjectMap`` ``(gh, gw)`` float32 of raw scores; ``None`` for frame 0."""
        if not self.fitted:
            raise ConfigError("objects cue: not fitted; call fit() on normal footage or load a fitted state first")
        yield from self.maps(self.track_objects(_fitted_size(frames, self.frame_shape, self.name)))

    def state_dict(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Meta (settings, frame size, input size, class names) and arrays ``refs`` ``(N, 6)``, ``ref_labels``
        ``(N,)``, ``mean``, ``std`` ``(6,)``."""
        if not self.fitted:
            raise ConfigError("objects cue: not fitted; nothing to save")
        cfg = asdict(self.config)
        meta = {
            "cue": self.name,
            "version": STATE_VERSION,
            "config": cfg,
            "frame_shape": list(self.frame_shape),
            "input_size": None if self.input_size is None else list(self.input_size),
            "names": list(self.names),
            "objects_per_frame": self.objects_per_frame,
        }
        arrays = {"refs": self.refs.copy(), "ref_labels": self.ref_labels.copy(), "mean": self.mean.copy(),
                  "std": self.std.copy()}  # fmt: skip
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, folder: Path | None = None,
                   device=None) -> ObjectsCue:  # fmt: skip
        """Rebuild a fitted cue from ``state_dict``'s output; the object detector loads on first use."""
        where = folder if folder is not None else "<objects cue state>"
        if meta.get("cue") != cls.name or meta.get("version") != STATE_VERSION:
            raise CheckpointError(where, f"holds cue {meta.get('cue')!r} version {meta.get('version')!r}; this "
                                         f"code reads {cls.name!r} version {STATE_VERSION}")  # fmt: skip
        missing = {"refs", "ref_labels", "mean", "std"} - set(arrays)
        if missing:
            raise CheckpointError(where, f"objects cue: missing arrays {', '.join(sorted(missing))}")
        try:
            cue = cls(ObjectsConfig(**meta["config"]))
        except (TypeError, ConfigError) as exc:
            raise CheckpointError(where, f"objects cue: bad settings ({exc})") from None
        cue.frame_shape = tuple(int(s) for s in meta["frame_shape"])
        cue.input_size = None if meta.get("input_size") is None else tuple(int(s) for s in meta["input_size"])
        cue.names = tuple(meta.get("names") or ())
        cue.objects_per_frame = meta.get("objects_per_frame")
        refs = np.asarray(arrays["refs"], np.float32)
        if refs.ndim != 2 or refs.shape[1] != N_FEATURES or len(arrays["ref_labels"]) != len(refs):
            raise CheckpointError(where, f"objects cue: refs {refs.shape} and labels do not fit {N_FEATURES} features")
        cue.refs, cue.ref_labels = refs, np.asarray(arrays["ref_labels"], np.int64)
        cue.mean, cue.std = np.asarray(arrays["mean"], np.float32), np.asarray(arrays["std"], np.float32)
        return cue


__all__ = ["FrameObjects", "ObjectMap", "ObjectsConfig", "ObjectsCue", "choose_input_size"]
