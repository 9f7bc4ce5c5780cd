"""The fast formulation computes the plain seed model's function, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder
from video_anomaly.seed.models.fast import FastConvLSTMAE, conv_out_gemm, fast_model


def _model(seed: int = 0) -> ConvLSTMAutoencoder:
    torch.manual_seed(seed)
    m = ConvLSTMAutoencoder()
    with torch.no_grad():  # non-trivial norms and biases, so every parameter matters
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


def test_shares_parameters_and_fast_model_dispatch():
    m = _model()
    f = fast_model(m)
    assert isinstance(f, FastConvLSTMAE)
    assert {id(p) for p in f.parameters()} == {id(p) for p in m.parameters()}
    assert fast_model(f) is f
    other = torch.nn.Linear(2, 2)
    assert fast_model(other) is other


@pytest.mark.parametrize("size", [(32, 32), (40, 56)])
def test_forward_equals_plain(size):
    m = _model().eval()
    clips = torch.rand(2, 5, 1, *size)
    with torch.no_grad():
        want = m(clips)
        got = FastConvLSTMAE(m)(clips)
    assert got.shape == want.shape
    assert (got - want).abs().max().item() < 1e-4


def test_stages_equal_plain_stages():
    m = _model().eval()
    f = FastConvLSTMAE(m)
    clips = torch.rand(2, 4, 1, 32, 32)
    with torch.no_grad():
        feats = m.encode_frames(clips.flatten(0, 1))
        assert torch.allclose(f.encode_frames(clips.flatten(0, 1)), feats, atol=1e-5)
        temporal = m.temporal(feats.unflatten(0, (2, 4)))
        got = f.temporal(f.input_gates(feats).unflatten(0, (2, 4)))
        assert torch.allclose(got, temporal, atol=1e-5)
        last = f.temporal(f.input_gates(feats).unflatten(0, (2, 4)), last_only=True)
        assert torch.allclose(last, temporal[:, -1], atol=1e-5)
        assert torch.allclose(
            f.decode_frames(temporal.flatten(0, 1)), m.decode_frames(temporal.flatten(0, 1)), atol=1e-5
        )


def test_conv_out_gemm_matches_conv2d_with_crop():
    torch.manual_seed(1)
    x = torch.randn(2, 8, 20, 22).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(1, 8, 5, 5), torch.randn(1)
    want = F.conv2d(x[:, :, 1:17, 2:20], w, b, padding=2)
    got = conv_out_gemm(x, w, b, (1, 2, 16, 18))
    assert torch.allclose(got, want, atol=1e-4)
    assert torch.allclose(conv_out_gemm(x, w, None), F.conv2d(x, w, None, padding=2), atol=1e-4)


def test_gradients_equal_plain():
    m = _model().train()
    clips = torch.rand(2, 4, 1, 32, 32)
    target = torch.rand_like(clips)

    def grads(module):
        m.zero_grad()
        F.mse_loss(module(clips), target).backward()
        return {n: p.grad.clone() for n, p in m.named_parameters()}

    want = grads(m)
    got = grads(FastConvLSTMAE(m))
    for name, g in want.items():
        scale = g.abs().max().item() + 1e-12
        assert (got[name] - g).abs().max().item() <= 1e-4 * scale + 1e-7, name


def test_decode_chunk_checkpointing_keeps_outputs_and_gradients():
    torch.manual_seed(0)
    model = ConvLSTMAutoencoder()
    x = torch.rand(2, 10, 1, 32, 32)
    grads = []
    for chunk in (None, 3):
        model.zero_grad()
        out = fast_model(model, decode_chunk=chunk)(x)
        torch.nn.functional.mse_loss(out, x).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
