"""Figures. Each function takes arrays, saves one PNG and returns its path; no computation hides here.

matplotlib (Agg backend) is imported inside the functions so that ``import video_anomaly`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _label(ax, xlabel: str, ylabel: str, title: str | None, **title_kw) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, **title_kw)


def _save(fig, path: str | Path) -> Path:
    """Save ``fig`` as a 100 dpi PNG at ``path`` (its folder made) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in ``mask`` as ``(first, last)`` inclusive."""
    from .data.records import true_runs

    return [(a, b - 1) for a, b in true_runs(mask)]


def plot_roc(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path, *, title: str | None = None):
    """ROC curves: each item ``(label, fpr, tpr)``; the chance diagonal is drawn dashed."""
    fig, ax = _pyplot().subplots(figsize=(4.8, 4.6))
    for label, fpr, tpr in curves:
        ax.plot(fpr, tpr, lw=1.5, label=label)
    ax.plot([0, 1], [0, 1], "--", color="gray", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    _label(ax, "false positive rate", "true positive rate", title, fontsize=10)
    if curves:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_loss_curve(epochs: Sequence[float], losses: Sequence[float], path: str | Path, *,
                    val_losses: Sequence[float] | None = None, title: str | None = None) -> Path:  # fmt: skip
    """Training loss per epoch (log scale when it spans more than a decade); optional validation loss."""
    fig, ax = _pyplot().subplots(figsize=(5.5, 3.5))
    ax.plot(epochs, losses, "o-", ms=3, label="train")
    if val_losses is not None:
        ax.plot(epochs[: len(val_losses)], val_losses, "s-", ms=3, label="held out")
        ax.legend(fontsize=8)
    values = np.asarray(list(losses) + list(val_losses or []), dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / values.min() > 10:
        ax.set_yscale("log")
    _label(ax, "epoch", "loss", title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_score(
    scores: np.ndarray,
    path: str | Path,
    *,
    threshold: float | None = None,
    alarms: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """The score the alarm uses, in its own units, against frame number: the threshold as a line, alarm frames
    shaded red, ground-truth abnormal frames (when known) shaded grey. ``scores``, ``alarms``, ``labels``: ``(N,)``."""
    return _save(score_figure(scores, threshold=threshold, alarms=alarms, labels=labels, title=title), path)


def score_figure(scores, *, threshold=None, alarms=None, labels=None, title=None):
    """``plot_score``'s figure, not saved. The legend sits below the axes, never over the curve: inside, any corner
    can hide the one threshold crossing (the demo's Test004 had it in the top right)."""
    s = np.asarray(scores, dtype=np.float64)
    t = np.arange(len(s))
    fig, ax = _pyplot().subplots(figsize=(8, 3.2), dpi=100, layout="constrained")
    if labels is not None:
        _shade(ax, np.asarray(labels, bool), "0.8", "ground truth: abnormal")
    if alarms is not None:
        _shade(ax, np.asarray(alarms, bool), (1.0, 0.6, 0.6, 0.5), "alarm")
    ax.plot(t, s, color="C0", lw=1.2, label="score")
    if threshold is not None and np.isfinite(threshold):
        ax.axhline(threshold, color="C3", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    _label(ax, "frame", "anomaly score", title)
    ax.set_xlim(0, max(len(s) - 1, 1))
    fig.legend(loc="outside lower center", ncols=4, fontsize=7, frameon=False)
    return fig


def _shade(ax, mask: np.ndarray, color, label: str) -> None:
    for k, (a, b) in enumerate(_spans(mask)):
        ax.axvspan(a - 0.5, b + 0.5, color=color, lw=0, label=label if k == 0 else None)
