"""Region- and track-based detection criteria (RBDC / TBDC, Ramachandra et al. 2020) from per-region score maps:
connected regions of the maps against the ground-truth regions of the masks, tracks linked over time, the
detection rate against false positives per frame swept over thresholds (see ``metrics``' docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data.records import true_runs  # noqa: F401 - metrics.true_runs, the runs its callers count
from . import metrics  # metrics._CHUNK read at call time: one block size for both (tests change it)
from .metrics import (
    _COARSE_THRESHOLDS,
    DEFAULT_THRESHOLDS,
    FALSE_POSITIVE_RULES,
    MATCHINGS,
    _check_rule,
    _extents,
    _video_arrays,
    nearest_index,
)


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
    step = max(1, metrics._CHUNK // max(1, masks[0].size if n else 1))
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
        t_step = max(1, min(n_t, metrics._CHUNK // (h * w)))
        f_step = max(1, metrics._CHUNK // (t_step * h * w))
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
    """Sorted map values (a deterministic strided sample when there are more than ``metrics._CHUNK``)."""
    total = sum(m.size for m in maps)
    step = max(1, -(-total // metrics._CHUNK))
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
