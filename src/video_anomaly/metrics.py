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

Pixel level (the UCSD criterion of Mahadevan et al. 2010 / Li et al. 2014): at threshold ``h`` a frame is
flagged when its score ``>= h``. A flagged, truly abnormal frame is a true positive only if at least 40% of
its truly abnormal pixels are flagged too; a pixel is flagged when its error, expressed in the units of the
frame score (``scoring.pixel_scale``: the frame score that frame would get if every pixel had that error)
and normalised with the same per-video map as the frame scores, is ``>= h``. So for an abnormal frame with
cover value ``c`` (the error reached by 40% of its abnormal pixels, ``scoring.cover_value``) it counts at
``h`` iff ``min(score, c) >= h``; false positives are counted as at frame level. The pixel-level ROC is thus
the ROC of ``labels`` against ``where(labels, min(score, cover), score)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .scoring import normalize, normalize_like


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


def pixel_level_scores(labels, scores, cover) -> np.ndarray:
    """Scores whose frame-level ROC is the UCSD pixel-level ROC: ``min(score, cover)`` on abnormal frames.

    ``cover``: ``(N,)`` per-frame cover value on the scores' scale (``inf`` = no mask pixel: vacuous).
    """
    labels, scores = _as_pair(labels, scores)
    cover = np.asarray(cover, dtype=np.float64).ravel()
    if cover.shape != scores.shape:
        raise ValueError(f"cover {cover.shape} and scores {scores.shape} differ in length")
    return np.where(labels, np.minimum(scores, cover), scores)


def pixel_level(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], covers: Sequence[np.ndarray], *,
                normalization: str | None = None, what: str = "frame scores") -> dict[str, Any]:  # fmt: skip
    """Pixel-level (UCSD 40% criterion) AUC and EER, all frames of the given videos pooled.

    With ``normalization``, each video's cover values go through the same affine map as its scores.
    """
    ys, ss = [], []
    for y, s, c in zip(labels, scores, covers):
        s = np.asarray(s, dtype=np.float64)
        if normalization not in (None, "none"):
            c = normalize_like(c, s, normalization)
            s = normalize(s, normalization)
        ys.append(np.asarray(y, dtype=bool))
        ss.append(pixel_level_scores(y, s, c))
    y = np.concatenate(ys) if ys else np.zeros(0, bool)
    s = np.concatenate(ss) if ss else np.zeros(0)
    norm = "none" if normalization in (None, "none") else f"{normalization} per video"
    return {
        "auc": roc_auc(y, s),
        "eer": eer(y, s),
        "frames": int(y.size),
        "abnormal_frames": int(y.sum()),
        "videos": len(ys),
        "protocol": f"pixel-level (UCSD): {y.size} frames of {len(ys)} videos with masks pooled; an abnormal "
        f"frame is a true positive only when >= 40% of its mask pixels are flagged too; {what}; "
        f"normalisation: {norm}",
    }
