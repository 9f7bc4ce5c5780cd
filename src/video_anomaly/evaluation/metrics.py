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
``H / h`` repeat when ``h`` divides ``H``). Numpy index arithmetic only, no OpenCV."""

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
