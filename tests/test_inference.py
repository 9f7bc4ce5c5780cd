"""Streaming scorers: the fast paths reproduce the plain reference, window by window and frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from video_anomaly.seed.inference import stream_live, stream_windows
from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = ConvLSTMAutoencoder()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m.eval()


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(9)]


@pytest.mark.parametrize("batch_windows", [1, 3])
def test_exact_protocol_fast_equals_plain(model, frames, batch_windows):
    plain = list(stream_windows(model, frames, clip_length=4, batch_windows=2, fast=False, maps=True))
    fast = list(stream_windows(model, frames, clip_length=4, batch_windows=batch_windows, maps=True, decode_batch=3))
    assert [w.start for w in plain] == list(range(6)) == [w.start for w in fast]
    for p, f in zip(plain, fast):
        assert f.l1.shape == (4,) and f.maps.shape == (4, 32, 32)
        np.testing.assert_allclose(f.l1, p.l1, rtol=1e-4)
        np.testing.assert_allclose(f.sq, p.sq, rtol=1e-4)
        np.testing.assert_allclose(f.maps, p.maps, atol=1e-4)


@pytest.mark.parametrize("batch_windows", [1, 4])
def test_live_fast_equals_plain_last_frame(model, frames, batch_windows):
    plain = list(stream_live(model, frames, clip_length=4, fast=False, maps=True))
    fast = list(stream_live(model, frames, clip_length=4, batch_windows=batch_windows, maps=True))
    assert [r.index for r in plain] == list(range(3, 9)) == [r.index for r in fast]
    for p, f in zip(plain, fast):
        assert f.l1 == pytest.approx(p.l1, rel=1e-4)
        assert f.sq == pytest.approx(p.sq, rel=1e-4)
        np.testing.assert_allclose(f.map, p.map, atol=1e-4)


def test_short_video_gives_nothing(model, frames):
    assert list(stream_windows(model, frames[:3], clip_length=4)) == []
    assert list(stream_live(model, frames[:3], clip_length=4)) == []


def test_frames_are_consumed_lazily(model):
    """A generator of frames is read as scoring goes: never materialised as a whole video."""
    pulled = []

    def gen():
        for i in range(1000):
            pulled.append(i)
            yield np.zeros((32, 32), np.uint8)

    it = stream_windows(model, gen(), clip_length=4, batch_windows=2)
    next(it)
    assert len(pulled) <= 4 + 2
    it2 = stream_live(model, gen(), clip_length=4)
    pulled.clear()
    next(it2)
    assert len(pulled) <= 4 + 1
