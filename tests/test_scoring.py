"""Scoring formulas against hand computation, the streaming scorer against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from video_anomaly.data.records import ArraySource, Video
from video_anomaly.errors import ConfigError, DataError
from video_anomaly.fusion.scores import ema
from video_anomaly.seed import scoring


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


def test_own_frame_errors_by_hand():
    # Windows 0 and 1 of T = 2 over N = 3 frames: frame 1 is in both.
    per_window = np.array([[1.0, 3.0], [5.0, 7.0]])
    np.testing.assert_allclose(scoring.own_frame_errors(per_window, 3), [1.0, 4.0, 7.0])
    np.testing.assert_allclose(scoring.own_error_score([1.0], [9.0], "l2"), [3.0])


def test_ema_is_causal_by_hand():
    x = np.array([0.0, 3.0, 6.0, 0.0])
    np.testing.assert_allclose(ema(x, 0.5), [0.0, 1.5, 3.75, 1.875])
    # Causal: changing a future value leaves the past untouched.
    y = x.copy()
    y[3] = 100
    np.testing.assert_allclose(ema(y, 0.5)[:3], ema(x, 0.5)[:3])


def test_patch_errors_by_hand():
    m = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(scoring.patch_errors(m, 2), [[2.5, 4.5], [10.5, 12.5]])
    with pytest.raises(ConfigError):
        scoring.patch_errors(m, 3)


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
    vs = scoring.score_frames(model, iter(frames), len(frames), cost=cost, clip_length=T, batch_windows=3)
    e, l1, sq = direct_errors(frames, background, T)
    np.testing.assert_allclose(vs.l1, l1, rtol=1e-5)
    np.testing.assert_allclose(vs.sq, sq, rtol=1e-5)
    cost_ref = l1.sum(1) if cost == "l1" else np.sqrt(sq.sum(1))
    np.testing.assert_allclose(vs.cost, cost_ref, rtol=1e-5)
    np.testing.assert_allclose(vs.sa, (cost_ref - cost_ref.min()) / cost_ref.max(), rtol=1e-5)
    np.testing.assert_allclose(vs.sr, 1 - vs.sa)
    # The model is frame-wise, so each frame's own error is the same in every window that holds it.
    own = e.sum(axis=(1, 2)) if cost == "l1" else np.sqrt((e**2).sum(axis=(1, 2)))
    np.testing.assert_allclose(vs.frame_scores, own, rtol=1e-5)
    np.testing.assert_allclose(vs.frame_sa, (own - own.min()) / own.max(), rtol=1e-5)
    np.testing.assert_allclose(vs.frame_sr, 1 - vs.frame_sa)
    assert vs.n_frames == len(frames) and vs.frame_scores[labels].min() > vs.frame_scores[~labels].max()
    with pytest.raises(ConfigError, match="cost"):
        scoring.score_frames(model, iter(frames), len(frames), cost="l3")


def test_a_stream_shorter_than_announced_is_a_data_error_naming_it():
    frames, _, _, background = blob_video(n=15)
    with pytest.raises(DataError, match="clip7.*expected 20 frames but the stream gave 15"):
        scoring.score_frames(BackgroundModel(background), iter(frames), 20, name="clip7")


def test_untrained_seed_model_gives_finite_scores_every_frame():
    from video_anomaly.seed.config import ModelConfig
    from video_anomaly.seed.models import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig())
    frames, _, _, _ = blob_video(n=12)
    vs = scoring.score_frames(model, iter(frames), len(frames), batch_windows=3)
    assert vs.l1.shape == (3, 10) and vs.frame_scores.shape == (12,)
    assert np.all(np.isfinite(vs.frame_scores)) and np.all(vs.frame_scores > 0)


def test_short_video_raises_data_error_naming_it():
    frames = np.zeros((5, 32, 32), np.uint8)
    video = Video("tiny_clip", ArraySource(frames))
    with pytest.raises(DataError, match="tiny_clip"):
        scoring.seed_score_video(BackgroundModel(frames[0]), video, 32)


def test_score_video_reads_the_video_at_the_model_size():
    frames, labels, _, background = blob_video()
    video = Video("blob", ArraySource(frames), labels)
    vs = scoring.seed_score_video(BackgroundModel(background), video, 32, batch_windows=2)
    direct = scoring.score_frames(BackgroundModel(background), iter(frames), len(frames))
    assert vs.name == "blob"
    np.testing.assert_array_equal(vs.frame_scores, direct.frame_scores)
