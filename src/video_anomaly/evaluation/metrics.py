"""Scores meet labels: frame-level and pixel-level ROC AUC and EER, as pure functions.

Conventions: ``labels`` are bool arrays aligned to frame index (True = abnormal), ``scores`` float arrays
of the same length with higher = more abnormal. Every aggregate result carries a ``protocol`` string that
says exactly what was pooled and how, to be written beside the number.

* **micro**: all test frames of all videos pooled into one ROC curve (the usual UCSD frame-level number);
* **macro**: the mean over videos of each video's AUC / EER; a video whose frames all carry one label has no
  ROC curve: it is listed in ``skipped`` and left out of the mean;
* **per-video normalisation**: each video's scores go through ``scoring.normalize`` (the seed's
  ``(s - min) / max``) before pooling, as the seed does. It changes micro numbers only: AUC and EER of one
  video are invariant to an increasing affine map, so macro numbers are equal with and without it.

Pixel level (the UCSD criterion of Mahadevan et al. 2010 / Li et al. 2014): a flagged, truly abnormal frame
is a true positive only if at least 40% of its truly abnormal pixels are flagged too (``pixel_level_maps``).

Spatial evaluation from per-region score maps (``pixel_level_maps``, ``region_track_detection``): maps
``(N, h, w)`` in the frame score's own units, masks ``(N, H, W)`` bool. A map is brought to the mask's
resolution by nearest neighbour with centres aligned (``upsample_nearest``): mask pixel ``y`` takes map row
``floor((y + 0.5) * h / H)``, so each region's score covers the block of pixels it was computed on (an exact
``H / h`` repeat when ``h`` divides ``H``). Numpy index arithmetic only, no OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data.records import true_runs  # noqa: F401 - metrics.true_runs, the runs its callers count
from ..seed.scoring import normalize

COVER_FRACTION = 0.4  # UCSD pixel-level criterion (Mahadevan et al. 2010)


def _as_pair(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in length")
    return labels, scores


def has_both_classes(labels) -> bool:
    labels = np.asarray(labels, dtype=bool)
    return bool(labels.any() and not labels.all())


def roc(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` from ``sklearn.metrics.roc_curve`` (all thresholds kept)."""
    from sklearn.metrics import roc_curve

    labels, scores = _as_pair(labels, scores)
    return roc_curve(labels, scores, drop_intermediate=False)


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    labels, scores = _as_pair(labels, scores)
    if not has_both_classes(labels):
        return float("nan")
    return float(roc_auc_score(labels, scores))


def eer_from_roc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Equal error rate: the FPR where ``FPR = 1 - TPR``, linearly interpolated between ROC points."""
    fpr = np.asarray(fpr, dtype=np.float64)
    fnr = 1.0 - np.asarray(tpr, dtype=np.float64)
    d = fpr - fnr  # rises from -1 (nothing flagged) to +1 (everything flagged)
    k = int(np.argmax(d >= 0))
    if d[k] < 0:  # pragma: no cover - the last ROC point always has fpr = 1, fnr = 0
        return float("nan")
    if k == 0 or d[k] == 0:
        return float(fpr[k]) if d[k] == 0 else float((fpr[k] + fnr[k]) / 2)
    a = -d[k - 1] / (d[k] - d[k - 1])
    return float(fpr[k - 1] + a * (fpr[k] - fpr[k - 1]))


def eer(labels, scores) -> float:
    """Frame-level equal error rate of one set of frames; NaN when only one class is present."""
    labels, scores = _as_pair(labels, scores)
    if not has_both_classes(labels):
        return float("nan")
    fpr, tpr, _ = roc(labels, scores)
    return eer_from_roc(fpr, tpr)


def _normalized(scores: Sequence[np.ndarray], method: str | None) -> list[np.ndarray]:
    if method is None or method == "none":
        return [np.asarray(s, dtype=np.float64) for s in scores]
    return [normalize(s, method) for s in scores]


def micro(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], *, normalization: str | None = None,
          what: str = "frame scores") -> dict[str, Any]:  # fmt: skip
    """AUC and EER over all frames of all videos pooled (after optional per-video normalisation)."""
    scores = _normalized(scores, normalization)
    y = np.concatenate([np.asarray(v, dtype=bool) for v in labels]) if labels else np.zeros(0, bool)
    s = np.concatenate(scores) if scores else np.zeros(0)
    norm = "none" if normalization in (None, "none") else f"{normalization} per video"
    return {
        "auc": roc_auc(y, s),
        "eer": eer(y, s),
        "frames": int(y.size),
        "abnormal_frames": int(y.sum()),
        "videos": len(labels),
        "protocol": f"micro: {y.size} frames of {len(labels)} videos pooled into one ROC; {what}; "
        f"normalisation: {norm}",
    }


def macro(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], names: Sequence[str] | None = None, *,
          normalization: str | None = None, what: str = "frame scores") -> dict[str, Any]:  # fmt: skip
    """Mean over videos of each video's AUC and EER; one-class videos are listed in ``skipped``."""
    names = list(names) if names is not None else [f"video{i}" for i in range(len(labels))]
    scores = _normalized(scores, normalization)
    per_video, skipped = {}, []
    for name, y, s in zip(names, labels, scores):
        if not has_both_classes(y):
            skipped.append(name)
            continue
        per_video[name] = {"auc": roc_auc(y, s), "eer": eer(y, s)}
    aucs = [v["auc"] for v in per_video.values()]
    eers = [v["eer"] for v in per_video.values()]
    norm = "none" if normalization in (None, "none") else f"{normalization} per video"
    return {
        "auc": float(np.mean(aucs)) if aucs else float("nan"),
        "eer": float(np.mean(eers)) if eers else float("nan"),
        "videos": len(per_video),
        "per_video": per_video,
        "skipped": skipped,
        "protocol": f"macro: mean of per-video ROC over {len(per_video)} videos with both labels"
        f" ({len(skipped)} one-label videos left out: {', '.join(skipped) or 'none'}); {what}; "
        f"normalisation: {norm}",
    }


# ---------------------------------------------------------------------------------------------
# Spatial evaluation from score maps: pixel level (UCSD) and region / track based (Street Scene)
# ---------------------------------------------------------------------------------------------

EMPTY_MASK_RULES = ("exclude", "miss", "frame")
FALSE_POSITIVE_RULES = ("iou", "disjoint")
MATCHINGS = ("many", "one")
DEFAULT_THRESHOLDS = 200
_COARSE_THRESHOLDS = 40
# Elements per vectorised block (frames x thresholds x map cells, or frames x mask pixels): bounds memory for
# per-pixel maps and long videos while keeping the numpy calls few.
_CHUNK = 1 << 22


def _check_rule(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")
    return value


def nearest_index(n_out: int, n_in: int) -> np.ndarray:
    """``(n_out,)`` int64: the input cell nearest to each output position, centres aligned.

    Output position ``y`` (centre ``y + 0.5``) falls in input cell ``floor((y + 0.5) * n_in / n_out)``.
    """
    return (2 * np.arange(n_out, dtype=np.int64) + 1) * n_in // (2 * n_out)


def upsample_nearest(maps, shape: tuple[int, int]) -> np.ndarray:
    """``(..., h, w)`` maps -> ``(..., H, W)`` by nearest neighbour: each region's score covers its pixels."""
    maps = np.asarray(maps)
    rows = nearest_index(int(shape[0]), maps.shape[-2])
    cols = nearest_index(int(shape[1]), maps.shape[-1])
    return maps[..., rows[:, None], cols[None, :]]


def _extents(idx: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last output position of each of the ``n`` input cells (empty when equal)."""
    cells = np.arange(n)
    return np.searchsorted(idx, cells, "left"), np.searchsorted(idx, cells, "right")


def _block_sum(a: np.ndarray, idx: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Sum of ``a`` along ``axis`` over the positions that ``idx`` maps to each of the ``n`` cells (int64)."""
    start, stop = _extents(idx, n)
    nonempty = stop > start
    shape = list(a.shape)
    shape[axis] = n
    out = np.zeros(shape, np.int64)
    if nonempty.any():  # reduceat needs strictly increasing starts: cells without a position stay 0
        part = np.add.reduceat(a, start[nonempty], axis=axis, dtype=np.int64)
        np.moveaxis(out, axis, 0)[nonempty] = np.moveaxis(part, axis, 0)
    return out


def _min_count(cover: float, m: np.ndarray) -> np.ndarray:
    """Smallest integer ``k`` with ``k / m >= cover`` in floating point, i.e. the rule exactly as written."""
    m = np.maximum(np.asarray(m, np.int64), 1)
    k = np.ceil(cover * m).astype(np.int64)
    k = np.where((k - 1) / m >= cover, k - 1, k)  # ``cover * m`` may round either way
    return np.where(k / m < cover, k + 1, k)


def _video_arrays(maps, masks, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    maps = np.asarray(maps)
    masks = np.asarray(masks, dtype=bool)
    if maps.ndim != 3 or masks.ndim != 3:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} must both be (N, rows, cols)")
    if len(maps) != len(masks) or (n is not None and len(maps) != n):
        raise ValueError(f"maps {maps.shape}, masks {masks.shape} and labels ({n}) differ in frame count")
    if not np.isfinite(maps).all():
        raise ValueError("score maps must be finite")
    return maps, masks


def pixel_criterion_scores(labels, maps, masks, *, cover: float = COVER_FRACTION,
                           empty_mask: str = "exclude") -> np.ndarray:  # fmt: skip
    """One scalar per frame of one video whose frame-level ROC is the pixel-level ROC (UCSD criterion).

    ``labels`` ``(N,)`` bool (True = abnormal); ``maps`` ``(N, h, w)`` float scores (per region or per pixel,
    in the frame score's units, higher = more abnormal); ``masks`` ``(N, H, W)`` bool ground truth.
    Returns ``(N,)`` float64.

    Criterion at threshold ``t``: a pixel is detected when its own (upsampled) score ``> t``; an abnormal frame
    is a true positive when the detected pixels are at least ``cover`` of its mask pixels; a normal frame is a
    false positive when any pixel is detected. Each reduces to one scalar ``v`` with "counted at ``t`` iff
    ``v > t``":

    * normal frame: ``v = max`` of the map (some pixel exceeds ``t`` iff the largest does);
    * abnormal frame with ``m`` mask pixels: ``k`` = the smallest integer with ``k / m >= cover``
      (``ceil(0.4 m)``), ``v`` = the ``k``-th largest upsampled score inside the mask: at least ``k`` mask
      pixels exceed ``t`` iff the ``k``-th largest does. The upsampling is never materialised: each region's
      score is weighted by the number of mask pixels it covers.

    The ROC of ``labels`` against ``v`` over all thresholds is thus the pixel-level ROC. A standard ROC counts
    ``v >= t`` rather than ``v > t``; over all real ``t`` both give the same set of (FPR, TPR) points, so AUC
    and EER are unchanged.

    Abnormal frames whose mask is empty have no pixels to cover (``empty_mask``): ``"exclude"`` (default):
    ``NaN``, left out of the ROC (the frame label and the mask disagree; neither reward nor penalise);
    ``"miss"``: ``-inf``, never a true positive; ``"frame"``: the vacuous reading (0 of 0 pixels covers
    "40%"), so only the frame-level condition remains: ``v = max`` of the map. Normal frames use the map
    maximum whatever their mask holds.
    """
    _check_rule("empty_mask", empty_mask, EMPTY_MASK_RULES)
    if not 0 < cover <= 1:
        raise ValueError(f"cover must be in (0, 1], got {cover}")
    labels = np.asarray(labels, dtype=bool).ravel()
    maps, masks = _video_arrays(maps, masks, len(labels))
    n, h, w = maps.shape
    big_h, big_w = masks.shape[1:]
    rows, cols = nearest_index(big_h, h), nearest_index(big_w, w)
    r0, r1 = _extents(rows, h)
    c0, c1 = _extents(cols, w)
    seen = ((r1 > r0)[:, None] & (c1 > c0)[None, :]).ravel()  # all True unless the map is finer than the mask
    flat = maps.reshape(n, h * w)
    out = np.empty(n)
    if (~labels).any():
        out[~labels] = flat[~labels][:, seen].max(axis=1)
    abnormal = np.flatnonzero(labels)
    step = max(1, _CHUNK // max(1, big_h * big_w, h * w))
    for i in range(0, len(abnormal), step):
        fr = abnormal[i : i + step]
        counts = _block_sum(_block_sum(masks[fr], rows, h, 1), cols, w, 2).reshape(len(fr), h * w)
        m = counts.sum(axis=1)
        vals = flat[fr].astype(np.float64)
        order = np.argsort(-vals, axis=1, kind="stable")
        reached = np.cumsum(np.take_along_axis(counts, order, axis=1), axis=1) >= _min_count(cover, m)[:, None]
        kth = np.take_along_axis(order, np.argmax(reached, axis=1)[:, None], axis=1)
        v = np.take_along_axis(vals, kth, axis=1)[:, 0]
        empty = m == 0
        if empty.any():
            if empty_mask == "exclude":
                v[empty] = np.nan
            elif empty_mask == "miss":
                v[empty] = -np.inf
            else:
                v[empty] = vals[empty][:, seen].max(axis=1)
        out[fr] = v
    return out


def pixel_level_maps(labels: Sequence[np.ndarray], maps: Sequence[np.ndarray], masks: Sequence[np.ndarray | None],
                     names: Sequence[str] | None = None, *, cover: float = COVER_FRACTION,
                     empty_mask: str = "exclude", what: str = "score maps") -> dict[str, Any]:  # fmt: skip
    """Pixel-level AUC and EER (UCSD; Mahadevan et al. 2010, Li et al. 2014) from score maps, frames pooled.

    Per video: ``labels`` ``(N,)`` bool, ``maps`` ``(N, h, w)`` float (final units: no normalisation here),
    ``masks`` ``(N, H, W)`` bool or ``None`` (the video is then skipped and listed in ``skipped``). See
    ``pixel_criterion_scores`` for the criterion, its reduction to one scalar per frame and ``empty_mask``.
    """
    _check_rule("empty_mask", empty_mask, EMPTY_MASK_RULES)
    names = list(names) if names is not None else [f"video{i}" for i in range(len(labels))]
    ys, vs, skipped = [], [], []
    empty_abnormal = normal_with_mask = 0
    for name, y, mp, mk in zip(names, labels, maps, masks):
        if mk is None:
            skipped.append(name)
            continue
        y = np.asarray(y, dtype=bool).ravel()
        v = pixel_criterion_scores(y, mp, mk, cover=cover, empty_mask=empty_mask)
        has_pixels = np.asarray(mk, dtype=bool).reshape(len(y), -1).any(axis=1)
        empty_abnormal += int((y & ~has_pixels).sum())
        normal_with_mask += int((~y & has_pixels).sum())
        keep = ~np.isnan(v)
        ys.append(y[keep])
        vs.append(v[keep])
    y = np.concatenate(ys) if ys else np.zeros(0, bool)
    v = np.concatenate(vs) if vs else np.zeros(0)
    if np.isneginf(v).any():  # scikit-learn wants finite scores; below every other score is the same ROC
        finite = v[np.isfinite(v)]
        v = np.where(np.isneginf(v), (finite.min() if finite.size else 0.0) - 1.0, v)
    auc, eer_ = float("nan"), float("nan")
    if has_both_classes(y):
        fpr, tpr, _ = roc(y, v)
        auc, eer_ = roc_auc(y, v), eer_from_roc(fpr, tpr)
    empty_text = {
        "exclude": "left out",
        "miss": "counted as never detected",
        "frame": "detected when any pixel is",
    }[empty_mask]
    return {
        "auc": auc,
        "eer": eer_,
        "n_frames": int(y.size),
        "abnormal_frames": int(y.sum()),
        "normal_frames": int((~y).sum()),
        "videos": len(ys),
        "skipped": skipped,
        "cover": cover,
        "empty_mask": empty_mask,
        "empty_mask_frames": empty_abnormal,
        "normal_frames_with_mask": normal_with_mask,
        "protocol": f"pixel-level (UCSD, from maps): {y.size} frames of {len(ys)} videos with masks pooled "
        f"({len(skipped)} without masks skipped: {', '.join(skipped) or 'none'}); a pixel is detected when its "
        f"nearest-neighbour upsampled score exceeds the threshold; an abnormal frame is a true positive when "
        f"detected pixels cover >= {cover:.0%} of its mask, a normal frame a false positive when any pixel is "
        f"detected; {empty_abnormal} abnormal frames with an empty mask {empty_text}; {what}",
    }


# --- region- and track-based detection criteria (Ramachandra & Jones, Street Scene, WACV 2020) ----------------


def _plane_structure(ndim: int) -> np.ndarray:
    """8-connectivity within the last two axes, none across the leading ones (frames, thresholds)."""
    st = np.zeros((3,) * ndim, bool)
    st[(1,) * (ndim - 2)] = True
    return st


def _components(above: np.ndarray, values: np.ndarray | None = None, repeat: int = 1):
    """8-connected components of each plane of ``above`` ``(P, h, w)`` bool, as boxes.

    Returns ``plane, y0, x0, y1, x1`` ``(K,)`` int64 (inclusive corners) in label order (raster order of each
    component's first cell) and, when ``values`` ``(P // repeat, h, w)`` is given (plane ``p`` reads
    ``values[p // repeat]``), each component's maximum value.
    Vectorised over components: ``ndimage.find_objects`` builds a Python object per component and costs
    seconds for the hundreds of thousands that a threshold sweep of one video produces.
    """
    from scipy import ndimage

    lab, _ = ndimage.label(above, structure=_plane_structure(3))
    cells = np.flatnonzero(lab)
    ids = lab.ravel()[cells]
    order = np.argsort(ids, kind="stable")  # labels arrive nearly sorted (raster order): cheap for timsort
    cells, ids = cells[order], ids[order]
    first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, np.int64)
    _, h, w = above.shape
    plane, rest = np.divmod(cells, h * w)
    row, col = np.divmod(rest, w)
    out = [plane[first]]
    if len(first):
        out += [np.minimum.reduceat(row, first), np.minimum.reduceat(col, first)]
        out += [np.maximum.reduceat(row, first), np.maximum.reduceat(col, first)]
    else:
        out += [np.zeros(0, np.int64)] * 4
    peak = None
    if values is not None:
        at = (plane // repeat) * (h * w) + rest
        peak = np.maximum.reduceat(values.ravel()[at], first) if len(first) else np.zeros(0)
    return (*(np.asarray(o, np.int64) for o in out), peak)


def _box_iou(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersection (pixels) and IoU of boxes ``(..., 4)`` = ``(y0, x0, y1, x1)``, inclusive pixel corners."""
    dy = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1
    dx = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1
    inter = np.clip(dy, 0, None) * np.clip(dx, 0, None)

    def area(q):
        return (q[..., 2] - q[..., 0] + 1) * (q[..., 3] - q[..., 1] + 1)

    return inter, inter / (area(a) + area(b) - inter)


def mask_regions(masks) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth regions of one video: the 8-connected components of each mask frame, as boxes.

    ``masks`` ``(N, H, W)`` bool. Returns ``frames`` ``(G,)`` int64 and ``boxes`` ``(G, 4)`` int64
    ``(y0, x0, y1, x1)`` inclusive pixel corners, sorted by frame, then ``y0, x0, y1, x1``.
    """
    masks = np.asarray(masks, dtype=bool)
    n = len(masks)
    step = max(1, _CHUNK // max(1, masks[0].size if n else 1))
    parts = []
    for i in range(0, n, step):
        *columns, _ = _components(masks[i : i + step])
        columns[0] = columns[0] + i
        parts.append(np.stack(columns, axis=1))
    rows = np.concatenate(parts) if parts else np.zeros((0, 5), np.int64)
    rows = rows[np.lexsort(rows.T[::-1])]
    return rows[:, 0], rows[:, 1:]


def link_tracks(frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Track id ``(G,)`` of each ground-truth region (``mask_regions``' order), tracks numbered from 0.

    A region in frame ``t`` continues the track of a region in frame ``t - 1`` whose box it overlaps (at least
    one common pixel). Links are one-to-one, chosen greedily by decreasing box IoU; ties go to the earlier
    region of frame ``t - 1``, then of frame ``t`` (``mask_regions``' order). A region left without a
    predecessor (a new object, or the smaller part of a split) starts a track; a region left without a
    successor (the smaller part of a merge, or an object leaving) ends one.
    """
    frames = np.asarray(frames, np.int64)
    boxes = np.asarray(boxes, np.int64)
    track = np.full(len(frames), -1, np.int64)
    n_tracks = 0
    prev = None  # (frame, start, stop) of the previous frame with regions
    uniq, starts = np.unique(frames, return_index=True)
    stops = np.append(starts[1:], len(frames))
    for f, a, b in zip(uniq, starts, stops):
        if prev is not None and prev[0] == f - 1:
            pa, pb = prev[1], prev[2]
            inter, iou = _box_iou(boxes[pa:pb, None], boxes[None, a:b])
            i, j = np.nonzero(inter > 0)
            used_i, used_j = set(), set()
            for k in np.lexsort((j, i, -iou[i, j])):
                if i[k] in used_i or j[k] in used_j:
                    continue
                used_i.add(i[k])
                used_j.add(j[k])
                track[a + j[k]] = track[pa + i[k]]
        new = np.flatnonzero(track[a:b] < 0) + a
        track[new] = np.arange(n_tracks, n_tracks + len(new))
        n_tracks += len(new)
        prev = (f, a, b)
    return track


class _Video:
    """One video's arrays for the region/track sweep; ground truth found once, reused at every threshold."""

    def __init__(self, maps: np.ndarray, masks: np.ndarray):
        self.maps = maps
        n, h, w = maps.shape
        big_h, big_w = masks.shape[1:]
        self.frames, self.boxes = mask_regions(masks)
        self.track = link_tracks(self.frames, self.boxes)
        self.n_tracks = int(self.track.max()) + 1 if len(self.track) else 0
        self.gt_start = np.searchsorted(self.frames, np.arange(n), "left")
        self.gt_count = np.searchsorted(self.frames, np.arange(n), "right") - self.gt_start
        # pixel extent of each map row / column at the mask's resolution
        self.rows = _extents(nearest_index(big_h, h), h)
        self.cols = _extents(nearest_index(big_w, w), w)

    def predictions(self, fr: slice, thresholds: np.ndarray, scored: bool):
        """Components of ``map > t`` for frames ``fr`` and every ``t``: frame, threshold index, pixel box
        ``(P, 4)`` and, when ``scored``, the component's maximum score."""
        maps = self.maps[fr]
        n, h, w = maps.shape
        above = (maps[:, None] > thresholds[None, :, None, None]).reshape(-1, h, w)
        plane, r0, c0, r1, c1, score = _components(above, maps if scored else None, len(thresholds))
        (ys, ye), (xs, xe) = self.rows, self.cols
        box = np.stack([ys[r0], xs[c0], ye[r1] - 1, xe[c1] - 1], axis=1)
        keep = (box[:, 2] >= box[:, 0]) & (box[:, 3] >= box[:, 1])  # maps finer than masks: may miss every pixel
        frame, k = np.divmod(plane[keep], len(thresholds))
        return frame + fr.start, k, box[keep], (score[keep] if scored else None)


def _greedy_one(pk, pf, ps, pairs_p, pairs_g, pairs_iou, detected):
    """``matching="one"``: per frame and threshold, predictions in decreasing score (ties: label order) each take
    the not-yet-matched ground-truth region of highest IoU (ties: region order) among those with IoU >= beta."""
    order = np.lexsort((pairs_g, -pairs_iou, pairs_p, -ps[pairs_p], pf[pairs_p], pk[pairs_p]))
    p, g = pairs_p[order], pairs_g[order]
    k, f = pk[p], pf[p]
    first = np.flatnonzero(np.r_[True, (k[1:] != k[:-1]) | (f[1:] != f[:-1])])
    size = np.diff(np.append(first, len(p)))
    lone = first[size == 1]
    detected[k[lone], g[lone]] = True
    for a, n in zip(first[size > 1], size[size > 1]):
        used_p, used_g = set(), set()
        for q in range(a, a + n):
            if p[q] in used_p or g[q] in used_g:
                continue  # a prediction whose candidates are all matched is neither a TP nor an FP
            used_p.add(p[q])
            used_g.add(g[q])
            detected[k[q], g[q]] = True


def _sweep(videos: list[_Video], thresholds: np.ndarray, beta: float, alpha: float, false_positive: str,
           matching: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """False positives, detected regions and detected tracks ``(T,)`` at each threshold, all videos summed."""
    n_t = len(thresholds)
    fp = np.zeros(n_t, np.int64)
    regions = np.zeros(n_t, np.int64)
    tracks = np.zeros(n_t, np.int64)
    for v in videos:
        n, h, w = v.maps.shape
        g_total = len(v.frames)
        detected = np.zeros((n_t, g_total), bool)
        t_step = max(1, min(n_t, _CHUNK // (h * w)))
        f_step = max(1, _CHUNK // (t_step * h * w))
        for t0 in range(0, n_t, t_step):
            thr = thresholds[t0 : t0 + t_step]
            for f0 in range(0, n, f_step):
                pf, pk, pbox, ps = v.predictions(slice(f0, min(n, f0 + f_step)), thr, matching == "one")
                pk = pk + t0
                rep = v.gt_count[pf]  # pair every prediction with every ground-truth region of its frame
                pair_p = np.repeat(np.arange(len(pf)), rep)
                pair_g = np.repeat(v.gt_start[pf], rep) + np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
                inter, iou = _box_iou(pbox[pair_p], v.boxes[pair_g])
                hit = iou >= beta
                spared = hit if false_positive == "iou" else inter > 0
                is_fp = np.ones(len(pf), bool)
                is_fp[pair_p[spared]] = False
                fp += np.bincount(pk[is_fp], minlength=n_t)
                if matching == "many":
                    detected[pk[pair_p[hit]], pair_g[hit]] = True
                elif hit.any():
                    _greedy_one(pk, pf, ps, pair_p[hit], pair_g[hit], iou[hit], detected)
        if g_total:
            regions += detected.sum(axis=1)
            order = np.argsort(v.track, kind="stable")
            starts = np.searchsorted(v.track[order], np.arange(v.n_tracks))
            hits = np.add.reduceat(detected[:, order].astype(np.int64), starts, axis=1)
            tracks += (hits / np.bincount(v.track, minlength=v.n_tracks) >= alpha).sum(axis=1)
    return fp, regions, tracks


def _value_sample(maps: list[np.ndarray]) -> np.ndarray:
    """Sorted map values (a deterministic strided sample when there are more than ``_CHUNK``)."""
    total = sum(m.size for m in maps)
    step = max(1, -(-total // _CHUNK))
    return np.sort(np.concatenate([m.ravel()[::step] for m in maps]).astype(np.float64))


def _curve_area(fpr: np.ndarray, rate: np.ndarray, max_fpr: float) -> float:
    """Area under the best detection rate reachable at each false-positive rate, from 0 to ``max_fpr``,
    divided by ``max_fpr`` (see ``region_track_detection``)."""
    order = np.lexsort((rate, fpr))
    x, y = fpr[order], np.maximum.accumulate(rate[order])
    inside = x <= max_fpr
    xi, yi = x[inside], y[inside]
    if inside.all():
        xi, yi = np.append(xi, max_fpr), np.append(yi, yi[-1])
    else:
        j = int(np.argmin(inside))
        y_at = yi[-1] + (y[j] - yi[-1]) * (max_fpr - xi[-1]) / (x[j] - xi[-1])
        xi, yi = np.append(xi, max_fpr), np.append(yi, y_at)
    return float(np.sum(np.diff(xi) * (yi[1:] + yi[:-1]) / 2) / max_fpr)


def _quantile_sweep(sweep, maps: list[np.ndarray], n_fine: int, n_frames: int, max_fpr: float):
    """The automatic thresholds of ``region_track_detection``: ``(thresholds, sweep results, description)``.

    ``_COARSE_THRESHOLDS`` geometrically spaced upper quantiles of all map values (and ``-inf``) first, then
    ``n_fine`` quantiles between the highest coarse threshold whose FPR reaches ``max_fpr`` and the maximum.
    """
    values = _value_sample(maps) if maps else np.zeros(1)
    p = np.geomspace(1.0 / len(values), 1.0, _COARSE_THRESHOLDS)
    coarse = np.unique(np.r_[np.quantile(values, 1.0 - p, method="nearest"), -np.inf])
    results = sweep(coarse)
    reached = coarse[results[0] / max(n_frames, 1) >= max_fpr]
    low = reached.max() if reached.size else -np.inf
    fine = np.unique(np.quantile(values[values >= low], np.linspace(0, 1, n_fine), method="nearest"))
    fine = np.setdiff1d(fine, coarse)
    more = sweep(fine)
    thr = np.r_[coarse, fine]
    results = tuple(np.r_[a, b] for a, b in zip(results, more))
    return (
        thr,
        results,
        f"{len(thr)} thresholds ({len(coarse)} coarse quantiles, {len(fine)} fine where FPR <= {max_fpr:g})",
    )


def _detection_curve(thr: np.ndarray, results, n_frames: int, n_regions: int, n_tracks: int,
                     max_fpr: float) -> dict[str, Any]:  # fmt: skip
    """``rbdc``, ``tbdc`` and the curve (thresholds decreasing, headed by ``+inf``) from ``_sweep``'s counts."""
    order = np.argsort(-thr)
    thr = np.r_[np.inf, thr[order]]
    fp, det_regions, det_tracks = (np.r_[0, r[order]] for r in results)
    fpr = fp / max(n_frames, 1)
    rbdr = det_regions / n_regions if n_regions else np.full(len(thr), np.nan)
    tbdr = det_tracks / n_tracks if n_tracks else np.full(len(thr), np.nan)
    return {
        "rbdc": _curve_area(fpr, rbdr, max_fpr) if n_regions and n_frames else float("nan"),
        "tbdc": _curve_area(fpr, tbdr, max_fpr) if n_tracks and n_frames else float("nan"),
        "curve": {
            "thresholds": thr,
            "fpr": fpr,
            "rbdr": rbdr,
            "tbdr": tbdr,
            "false_positives": fp,
            "detected_regions": det_regions,
            "detected_tracks": det_tracks,
        },
    }


def region_track_detection(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray | None],
                           names: Sequence[str] | None = None, *, beta: float = 0.1, alpha: float = 0.1,
                           max_fpr: float = 1.0, thresholds: int | Sequence[float] | None = None,
                           false_positive: str = "disjoint", matching: str = "one") -> dict[str, Any]:  # fmt: skip
    """Region- and track-based detection criteria, RBDC and TBDC (Ramachandra & Jones, Street Scene, 2020).

    Per video: ``maps`` ``(N, h, w)`` float scores (higher = more abnormal), ``masks`` ``(N, H, W)`` bool or
    ``None`` (the video is skipped and listed in ``skipped``). Returns ``rbdc``, ``tbdc`` in [0, 1], the curve
    (numpy arrays, one entry per threshold, thresholds decreasing), counts and a ``protocol`` string.

    * **Ground truth**: each mask frame's 8-connected components, as boxes (``mask_regions``), chained over
      consecutive frames into tracks (``link_tracks``). Frames without mask pixels hold no region.
    * **Detections at threshold t**: the 8-connected components of ``map > t`` found on the map grid (the
      same components as on the nearest-neighbour upsampled map when the map is no finer than the mask),
      each as the box of the mask pixels its regions cover; score = its largest map value. (The reference code
      instead sweeps a threshold over the scores of one fixed set of detected boxes.)
    * **True positives**: a ground-truth region is detected when a detection of its frame has box IoU
      ``>= beta`` with it. ``matching="one"`` (default, the project's issue: a prediction matches a not-yet-matched
      region) or ``"many"`` (the paper and the reference code of Georgescu et al.
      2021): one detection detects every region it reaches; ``"one"``: detections in decreasing score each
      take the one not-yet-matched region of highest IoU (``_greedy_one``). A region counts once either way.
    * **False positives**: ``false_positive="disjoint"`` is the default (the project's issue: only a detection that
      overlaps no ground truth); ``false_positive="iou"`` (the paper): a detection whose IoU is ``< beta``
      with every region of its frame; ``"disjoint"``: only a detection that shares no pixel with any region's
      box. A detection that reaches a region (by the rule) but detects nothing new is neither.
    * **Rates**: RBDR = detected regions / all regions; TBDR = tracks with ``detected / length >= alpha`` /
      all tracks; FPR = false positives / all frames of all videos with masks (false positives per frame).
    * **Thresholds**: an array is used as given; an int ``n`` (default ``DEFAULT_THRESHOLDS``) picks
      ``_COARSE_THRESHOLDS`` values at geometrically spaced upper quantiles of all map values (``map > t``
      holding from one value up to all), then ``n`` evenly spaced quantiles between the highest of those whose
      FPR reaches ``max_fpr`` and the maximum, where the area is decided; ``-inf`` (everything detected)
      joins that sweep. ``+inf`` (nothing detected: the point (0, 0)) always heads the curve.
    * **Area**: merging components can lower FPR or a detection rate as ``t`` falls, so the curve is not
      monotone in ``t``; each rate is taken as the best reached at no more false positives per frame (a
      running maximum over points ordered by FPR), integrated by trapezoids from FPR 0 to ``max_fpr``. Past the
      last point the curve is interpolated linearly to ``max_fpr`` when a point lies beyond, else held flat;
      the area is divided by ``max_fpr`` so that 1 is perfect (with ``max_fpr = 1``, the paper's number).
    """
    _check_rule("false_positive", false_positive, FALSE_POSITIVE_RULES)
    _check_rule("matching", matching, MATCHINGS)
    if max_fpr <= 0:
        raise ValueError(f"max_fpr must be > 0, got {max_fpr}")
    names = list(names) if names is not None else [f"video{i}" for i in range(len(maps))]
    videos = [_Video(*_video_arrays(mp, mk)) for mp, mk in zip(maps, masks) if mk is not None]
    skipped = [name for name, mk in zip(names, masks) if mk is None]
    n_frames = sum(len(v.maps) for v in videos)
    n_regions = sum(len(v.frames) for v in videos)
    n_tracks = sum(v.n_tracks for v in videos)

    def sweep(thr: np.ndarray):
        return _sweep(videos, thr, beta, alpha, false_positive, matching)

    if thresholds is None or np.isscalar(thresholds):
        n_fine = DEFAULT_THRESHOLDS if thresholds is None else int(thresholds)
        thr, results, how = _quantile_sweep(sweep, [v.maps for v in videos], n_fine, n_frames, max_fpr)
    else:
        thr = np.unique(np.asarray(thresholds, np.float64))
        results = sweep(thr)
        how = f"{len(thr)} given thresholds"
    res = _detection_curve(thr, results, n_frames, n_regions, n_tracks, max_fpr)
    return res | {
        "n_frames": n_frames,
        "regions": n_regions,
        "tracks": n_tracks,
        "videos": len(videos),
        "skipped": skipped,
        "beta": beta,
        "alpha": alpha,
        "max_fpr": max_fpr,
        "false_positive": false_positive,
        "matching": matching,
        "protocol": f"RBDC/TBDC (Street Scene): {n_frames} frames of {len(videos)} videos with masks "
        f"({len(skipped)} without masks skipped: {', '.join(skipped) or 'none'}); {n_regions} ground-truth "
        f"regions (8-connected mask components, boxes) in {n_tracks} tracks (box-overlap links); detections: "
        f"8-connected components of map > t; TP: box IoU >= {beta:g} (matching {matching}); FP rule "
        f"{false_positive}; track detected when >= {alpha:g} of its regions are; {how}; area of the best rate "
        f"at each FPR over [0, {max_fpr:g}] false positives per frame, divided by {max_fpr:g}",
    }
