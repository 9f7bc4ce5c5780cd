"""Scoring formulas against hand computation, the streaming scorer against a direct computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from video_anomaly import metrics, scoring
from video_anomaly.config import ScoreConfig
from video_anomaly.data.records import ArraySource, Video
from video_anomaly.errors import ConfigError, DataError


class BackgroundModel(nn.Module):
    """Reconstructs every frame as a fixed background: the error is exactly what differs from it."""

    def __init__(self, background: np.ndarray):
        super().__init__()
        self.register_buffer("background", torch.from_numpy(background.astype(np.float32) / 256.0))
        self.dummy = nn.Parameter(torch.zeros(()))  # so that the engine can find the model's device

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.background.expand_as(clips).clone()


def blob_video(n=30, size=32, start=12, stop=18, seed=0):
    """Noisy grey frames; a bright 8x8 blob in frames ``start .. stop-1`` (labels and masks to match)."""
    rng = np.random.default_rng(seed)
    background = np.full((size, size), 100, np.uint8)
    frames = np.clip(background + rng.normal(0, 3, (n, size, size)), 0, 255).astype(np.uint8)
    labels = np.zeros(n, bool)
    labels[start:stop] = True
    masks = np.zeros((n, size, size), bool)
    masks[start:stop, 8:16, 8:16] = True
    frames[masks] = 250
    return frames, labels, masks, background


# --- pure formulas --------------------------------------------------------------------------------


def test_window_costs_l1_and_l2_by_hand():
    l1 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    sq = np.array([[1.0, 4.0, 4.0], [9.0, 16.0, 0.0]])
    np.testing.assert_allclose(scoring.window_costs(l1, sq, "l1"), [6.0, 15.0])
    np.testing.assert_allclose(scoring.window_costs(l1, sq, "l2"), [3.0, 5.0])
    with pytest.raises(ConfigError):
        scoring.window_costs(l1, sq, "l3")


def test_normalize_methods_by_hand():
    c = np.array([2.0, 4.0, 10.0])
    np.testing.assert_allclose(scoring.normalize(c, "seed"), [0.0, 0.2, 0.8])  # (c - 2) / 10
    np.testing.assert_allclose(scoring.normalize(c, "minmax"), [0.0, 0.25, 1.0])
    np.testing.assert_allclose(scoring.normalize(c, "none"), c)
    np.testing.assert_allclose(scoring.normalize(np.full(3, 5.0), "minmax"), 0.0)
    np.testing.assert_allclose(scoring.regularity(scoring.normalize(c, "seed")), [1.0, 0.8, 0.2])
    # normalize_like applies the reference's map to other values.
    np.testing.assert_allclose(scoring.normalize_like([7.0, 12.0], c, "seed"), [0.5, 1.0])


def test_windows_to_frames_by_hand():
    costs = np.array([1.0, 2.0, 3.0])  # N = 5 frames, T = 3
    np.testing.assert_allclose(scoring.windows_to_frames(costs, 5, 3, "mean_window"), [1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(scoring.windows_to_frames(costs, 5, 3, "last"), [1, 1, 1, 2, 3])
    with pytest.raises(ValueError):
        scoring.windows_to_frames(costs, 6, 3)


def test_own_frame_errors_by_hand():
    # Windows 0 and 1 of T = 2 over N = 3 frames: frame 1 is in both.
    per_window = np.array([[1.0, 3.0], [5.0, 7.0]])
    np.testing.assert_allclose(scoring.own_frame_errors(per_window, 3), [1.0, 4.0, 7.0])
    np.testing.assert_allclose(scoring.own_error_score([1.0], [9.0], "l2"), [3.0])


def test_smoothing_by_hand():
    x = np.array([0.0, 3.0, 6.0, 0.0])
    np.testing.assert_allclose(scoring.moving_average(x, 3), [1.5, 3.0, 3.0, 3.0])
    np.testing.assert_allclose(scoring.trailing_mean(x, 2), [0.0, 1.5, 4.5, 3.0])
    np.testing.assert_allclose(scoring.ema(x, 0.5), [0.0, 1.5, 3.75, 1.875])
    # Causal: changing a future value leaves the past untouched.
    y = x.copy()
    y[3] = 100
    np.testing.assert_allclose(scoring.ema(y, 0.5)[:3], scoring.ema(x, 0.5)[:3])
    np.testing.assert_allclose(scoring.trailing_mean(y, 2)[:3], scoring.trailing_mean(x, 2)[:3])


def test_patch_errors_and_calibrated_scores():
    m = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(scoring.patch_errors(m, 2), [[2.5, 4.5], [10.5, 12.5]])
    with pytest.raises(ConfigError):
        scoring.patch_errors(m, 3)
    patches = np.array([[[1.0, 2.0], [3.0, 10.0]]])
    stats = scoring.PatchStats(2, mean=np.full((2, 2), 1.0), std=np.full((2, 2), 2.0))
    assert scoring.patch_frame_scores(patches, stats, "patch_max")[0] == pytest.approx(4.5)
    assert scoring.patch_frame_scores(patches, stats, "patch_topk", k=2)[0] == pytest.approx((4.5 + 1.0) / 2)
    fitted = scoring.fit_patch_stats(np.stack([np.zeros((2, 2)), np.full((2, 2), 2.0)]), 2)
    np.testing.assert_allclose(fitted.mean, 1.0)
    np.testing.assert_allclose(fitted.std, 1.0)
    assert scoring.PatchStats.from_dict(fitted.to_dict()).patch == 2


def test_cover_value_is_the_40_percent_point():
    err = np.arange(1, 11, dtype=np.float64).reshape(2, 5)
    mask = np.ones((2, 5), bool)
    v = scoring.cover_value(err, mask)
    assert v == 7.0  # 4 of 10 pixels (40%) have error >= 7; 5 have >= 6 but v is the largest such value
    assert np.mean(err[mask] >= v) >= 0.4 and np.mean(err[mask] >= v + 1e-9) < 0.4
    assert scoring.cover_value(err, np.zeros((2, 5), bool)) == math.inf


# --- streaming scorer -----------------------------------------------------------------------------


def direct_errors(frames, background, clip_length):
    """Per window and frame l1 / sq computed without the engine."""
    f = frames.astype(np.float64) / 256.0
    b = background.astype(np.float64) / 256.0
    e = np.abs(f - b)
    n_windows = len(frames) - clip_length + 1
    l1 = np.stack([e[w : w + clip_length].sum(axis=(1, 2)) for w in range(n_windows)])
    sq = np.stack([(e[w : w + clip_length] ** 2).sum(axis=(1, 2)) for w in range(n_windows)])
    return e, l1, sq


@pytest.mark.parametrize("cost", ["l1", "l2"])
def test_score_frames_matches_direct_computation(cost):
    frames, labels, masks, background = blob_video()
    model = BackgroundModel(background)
    T = 10
    cfg = ScoreConfig(cost=cost, frame_scores="own_error")
    vs = scoring.score_frames(model, iter(frames), len(frames), config=cfg, clip_length=T, masks=masks,
                              want_maps=True, batch_windows=3)  # fmt: skip
    e, l1, sq = direct_errors(frames, background, T)
    np.testing.assert_allclose(vs.l1, l1, rtol=1e-5)
    np.testing.assert_allclose(vs.sq, sq, rtol=1e-5)
    cost_ref = l1.sum(1) if cost == "l1" else np.sqrt(sq.sum(1))
    np.testing.assert_allclose(vs.cost, cost_ref, rtol=1e-5)
    np.testing.assert_allclose(vs.sa, (cost_ref - cost_ref.min()) / cost_ref.max(), rtol=1e-5)
    np.testing.assert_allclose(vs.sr, 1 - vs.sa)
    own = e.sum(axis=(1, 2)) if cost == "l1" else np.sqrt((e**2).sum(axis=(1, 2)))
    np.testing.assert_allclose(vs.frame_scores, own, rtol=1e-5)
    # The model is frame-wise, so the averaged maps equal each frame's own map.
    np.testing.assert_allclose(vs.maps, e, atol=1e-6)
    # Cover in frame-score units: S^2 * v (l1) or S * v (l2).
    factor = 32 * 32 if cost == "l1" else 32
    for i in np.flatnonzero(labels):
        assert vs.pixel_cover[i] == pytest.approx(factor * scoring.cover_value(e[i], masks[i]), rel=1e-5)
    assert np.all(np.isinf(vs.pixel_cover[~labels]))


def test_map_averaging_holds_at_most_T_frames():
    T, N = 4, 9
    avg = scoring._MapAverager(T, N - T + 1)
    finished, peak = [], 0
    for w in range(N - T + 1):
        maps = np.stack([np.full((2, 2), float(w + k)) for k in range(T)])  # frame i sees value i in every window
        finished += avg.add(w, maps)
        peak = max(peak, len(avg.acc))
    assert [i for i, _ in finished] == list(range(N))
    for i, m in finished:
        np.testing.assert_allclose(m, float(i))
    assert peak <= T


def test_planted_blob_scores_higher_for_every_method():
    frames, labels, masks, background = blob_video()
    model = BackgroundModel(background)
    for method in scoring.FRAME_SCORES:
        cfg = ScoreConfig(frame_scores=method)
        cfg = type("Cfg", (), {**cfg.__dict__, "patch": 8})()
        vs = scoring.score_frames(model, iter(frames), len(frames), config=cfg)
        assert vs.frame_scores.shape == (len(frames),)
        assert vs.frame_scores[labels].mean() > vs.frame_scores[~labels].mean(), method
        assert metrics.roc_auc(labels, vs.frame_scores) > 0.7, method


def test_untrained_seed_model_gives_finite_scores_every_frame():
    from video_anomaly.config import ModelConfig
    from video_anomaly.models import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig())
    frames, _, _, _ = blob_video(n=12)
    vs = scoring.score_frames(model, iter(frames), len(frames), config=ScoreConfig(), batch_windows=3)
    assert vs.l1.shape == (3, 10) and vs.frame_scores.shape == (12,)
    assert np.all(np.isfinite(vs.frame_scores)) and np.all(vs.frame_scores > 0)


def synthetic_scene_aucs(methods=("own_error", "mean_window", "last")):
    """Frame AUC of each window-to-frame mapping on a synthetic scene: a short (4-frame) and a long (25-frame)
    event, as surveillance events vary in length, reconstructed by a background model."""
    frames, labels, _, background = blob_video(n=100, start=20, stop=24)
    long_frames, long_labels, _, _ = blob_video(n=100, start=55, stop=80, seed=1)
    frames[50:], labels[50:] = long_frames[50:], long_labels[50:]
    model = BackgroundModel(background)
    auc = {}
    for method in methods:
        vs = scoring.score_frames(model, iter(frames), len(frames), config=ScoreConfig(frame_scores=method))
        auc[method] = metrics.roc_auc(labels, vs.frame_scores)
    return auc


def test_own_error_localises_better_than_mean_window():
    """The measurement behind the default ``frame_scores = "own_error"`` (synthetic scene, never UCSD)."""
    auc = synthetic_scene_aucs()
    assert auc["own_error"] == pytest.approx(1.0)
    assert auc["own_error"] > auc["mean_window"] + 0.005 and auc["own_error"] > auc["last"] + 0.02


def test_short_video_raises_data_error_naming_it():
    frames = np.zeros((5, 32, 32), np.uint8)
    video = Video("tiny_clip", ArraySource(frames))
    with pytest.raises(DataError, match="tiny_clip"):
        scoring.score_video(BackgroundModel(frames[0]), video, ScoreConfig(), 32)


def test_score_video_uses_in_memory_masks():
    frames, labels, masks, background = blob_video()
    video = Video("blob", ArraySource(frames), labels, masks=masks)
    vs = scoring.score_video(BackgroundModel(background), video, ScoreConfig(), 32)
    assert vs.name == "blob" and vs.pixel_cover is not None
    assert np.all(np.isfinite(vs.pixel_cover[labels]))
