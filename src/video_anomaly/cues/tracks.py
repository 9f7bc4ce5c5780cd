"""Object tracks with ids across frames: boxes matched by IoU with the Hungarian assignment.

A small tracker of our own rather than a library's, for a stated reason: norfair (Frigate's tracker) needs
numpy < 2, which our OpenCV build cannot share, and the ByteTrack of ``supervision`` / ``trackers`` needs the
``opencv-python`` wheel, which clashes with the ``opencv-python-headless`` the package depends on. What it does:

* ``predict(flow_shift)``: between detector runs every track's box moves by its own displacement (the caller
  gives the median optical flow inside the box, in frame pixels);
* ``update(boxes, scores, labels)``: on a frame the detector ran on, detections are matched to tracks by
  ``scipy.optimize.linear_sum_assignment`` on ``1 - IoU`` (pairs below ``min_iou`` never match; a detection
  matches a track of any class, and the track takes the detection's class and confidence); an unmatched
  detection starts a track with the next id; a track unmatched for ``max_missed`` detector runs ends.

Ids increase from 1 in the order tracks start and are never reused within one ``Tracker``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Track:
    """One tracked object: ``id``, ``box`` ``(4,)`` float32 ``x0, y0, x1, y1`` frame pixels, ``label`` (class
    index of the detector's names), ``score`` (its last detection's confidence), ``velocity`` ``(2,)`` float32
    frame pixels per frame (``vx, vy``, set by the caller), ``missed`` detector runs without a match, ``age``
    frames since it started."""

    id: int
    box: np.ndarray
    label: int
    score: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    missed: int = 0
    age: int = 0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` intersection over union of ``xyxy`` boxes ``a`` ``(N, 4)`` and ``b`` ``(M, 4)``."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda z: np.clip(z[:, 2] - z[:, 0], 0, None) * np.clip(z[:, 3] - z[:, 1], 0, None)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


class Tracker:
    """IoU + Hungarian tracker (see the module docstring). ``tracks``: the live tracks."""

    def __init__(self, *, min_iou: float = 0.2, max_missed: int = 2):
        self.min_iou = float(min_iou)
        self.max_missed = int(max_missed)
        self.tracks: list[Track] = []
        self._next_id = 1

    def predict(self, shifts: np.ndarray) -> None:
        """Move each track's box by its ``shifts[i]`` ``(dx, dy)`` frame pixels (``(len(tracks), 2)``)."""
        for tr, d in zip(self.tracks, np.asarray(shifts, np.float32).reshape(-1, 2)):
            tr.box = tr.box + np.array([d[0], d[1], d[0], d[1]], np.float32)
            tr.age += 1

    def update(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> list[Track]:
        """Match one detector run's detections (``(N, 4)`` xyxy, ``(N,)``, ``(N,)``) to the tracks; returns the
        live tracks (matched, new, and those missed fewer than ``max_missed`` runs)."""
        from scipy.optimize import linear_sum_assignment

        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        matched_t: set[int] = set()
        matched_d: set[int] = set()
        if self.tracks and len(boxes):
            iou = iou_matrix(np.stack([t.box for t in self.tracks]), boxes)
            rows, cols = linear_sum_assignment(1.0 - iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.min_iou:
                    tr = self.tracks[r]
                    tr.box, tr.label, tr.score, tr.missed = boxes[c].copy(), int(labels[c]), float(scores[c]), 0
                    matched_t.add(r)
                    matched_d.add(c)
        live = []
        for i, tr in enumerate(self.tracks):
            if i not in matched_t:
                tr.missed += 1
                if tr.missed > self.max_missed:
                    continue
            live.append(tr)
        for j in range(len(boxes)):
            if j not in matched_d:
                live.append(Track(self._next_id, boxes[j].copy(), int(labels[j]), float(scores[j])))
                self._next_id += 1
        self.tracks = live
        return live


def best_object(objects, box) -> dict | None:
    """Of ``objects`` (dicts with a ``"box"`` ``[x0, y0, x1, y1]``, as a frame's ``FrameScore.objects``), the one
    whose box overlaps ``box`` (frame pixels) most, by intersection area; None when none overlaps."""
    if not objects or box is None:
        return None
    b = np.asarray([o["box"] for o in objects], np.float32).reshape(-1, 4)
    x0, y0, x1, y1 = (float(v) for v in box)
    inter = np.clip(np.minimum(b[:, 2], x1) - np.maximum(b[:, 0], x0), 0, None) * np.clip(
        np.minimum(b[:, 3], y1) - np.maximum(b[:, 1], y0), 0, None
    )
    i = int(np.argmax(inter))
    return objects[i] if inter[i] > 0 else None


__all__ = ["Track", "Tracker", "best_object", "iou_matrix"]
