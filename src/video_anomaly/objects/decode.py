"""NanoDet's raw head outputs to boxes: pure numpy (and OpenCV's NMS), no model, no file access.

Per stride ``s`` the head gives, for each cell of the ``(H / s) x (W / s)`` grid in row-major order, the class
scores (already passed through a sigmoid in the graph) and ``4 x bins`` box logits: for each side (left, top,
right, bottom) a distribution over the distances ``0 .. bins - 1`` (Generalized Focal Loss); its expected value
times ``s`` is the distance in input pixels from the cell centre ``((col + 0.5) s, (row + 0.5) s)`` to that side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Detections:
    """One frame's objects, in frame pixels.

    ``boxes`` ``(N, 4)`` float32 ``x0, y0, x1, y1``; ``scores`` ``(N,)`` float32 in [0, 1]; ``labels`` ``(N,)``
    int64 indices into ``names``, the model's label map (read from its ``labels.json``).
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> Detections:
        """No objects (a still frame, or nothing above the score floor)."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), names)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def decode_level(
    scores: np.ndarray, dists: np.ndarray, stride: int, grid_w: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One stride's candidates: every (cell, class) pair scoring at least ``min_score``.

    ``scores`` ``(cells, classes)`` in [0, 1]; ``dists`` ``(cells, 4 * bins)`` logits; ``grid_w`` cells per row.
    Returns boxes ``(M, 4)`` float32 ``x0, y0, x1, y1`` in input pixels, scores ``(M,)``, labels ``(M,)`` int64.
    A cell above the floor for two classes (a cyclist: person and bicycle) gives two candidates, as NanoDet does.
    """
    cells, classes = np.nonzero(scores >= min_score)
    if cells.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    kept = np.unique(cells)
    logits = dists[kept].reshape(kept.size, 4, -1)
    bins = np.arange(logits.shape[-1], dtype=np.float32)
    side = (_softmax(logits.astype(np.float32)) * bins).sum(-1) * stride  # (K, 4): left, top, right, bottom
    cx = (kept % grid_w + 0.5) * stride
    cy = (kept // grid_w + 0.5) * stride
    per_cell = np.stack([cx - side[:, 0], cy - side[:, 1], cx + side[:, 2], cy + side[:, 3]], axis=1)
    rows = np.searchsorted(kept, cells)
    return per_cell[rows].astype(np.float32), scores[cells, classes].astype(np.float32), classes.astype(np.int64)


def nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou: float, max_boxes: int) -> np.ndarray:
    """Indices kept by per-class non-maximum suppression (``cv2.dnn.NMSBoxesBatched``), best score first."""
    if scores.size == 0:
        return np.zeros(0, np.int64)
    import cv2

    rects = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64)
    keep = cv2.dnn.NMSBoxesBatched(rects.tolist(), scores.tolist(), labels.tolist(), 0.0, iou, top_k=max_boxes)
    keep = np.asarray(keep, np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


def decode(
    levels: Sequence[tuple[np.ndarray, np.ndarray]],
    strides: Sequence[int],
    input_hw: tuple[int, int],
    *,
    min_score: float,
    iou: float = 0.6,
    max_boxes: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All strides' candidates, then per-class NMS: boxes ``(N, 4)`` in input pixels (clipped), scores, labels.

    ``levels[i]`` is ``(scores (cells, classes), dists (cells, 4 * bins))`` of stride ``strides[i]`` for an input
    of ``input_hw = (h, w)`` pixels (multiples of the largest stride).
    """
    h, w = input_hw
    parts = [decode_level(s, d, stride, -(-w // stride), min_score) for (s, d), stride in zip(levels, strides)]
    boxes = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([p[2] for p in parts])
    np.clip(boxes[:, 0::2], 0, w, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, h, out=boxes[:, 1::2])
    keep = nms(boxes, scores, labels, iou, max_boxes)
    return boxes[keep], scores[keep], labels[keep]
