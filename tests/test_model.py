"""The seed model, layer for layer (Chong & Tay 2017; the issue's table)."""

from __future__ import annotations

import pytest
import torch

from video_anomaly.seed.config import ModelConfig
from video_anomaly.seed.models import build_model
from video_anomaly.seed.models.convlstm_ae import ChannelLayerNorm, ConvLSTMAutoencoder, same_padding


def test_parameter_count_is_the_seed_keras_models():
    assert sum(p.numel() for p in ConvLSTMAutoencoder().parameters()) == 1_958_209


@torch.no_grad()
def test_output_shape_after_every_layer_at_256():
    m = ConvLSTMAutoencoder().eval()
    x = torch.rand(1, 10, 1, 256, 256)
    f = x.flatten(0, 1)
    shapes = {}
    h = m.norm1(m.conv1(f))
    shapes[1] = h.shape[1:]
    h = m.norm2(m.conv2(h))
    shapes[2] = h.shape[1:]
    s = h.unflatten(0, (1, 10))
    for i, (lstm, norm) in enumerate(((m.lstm1, m.norm3), (m.lstm2, m.norm4), (m.lstm3, m.norm5)), start=3):
        s = norm(lstm(s).flatten(0, 1)).unflatten(0, (1, 10))
        shapes[i] = s.shape[2:]
    h = m.norm6(m.deconv1(s.flatten(0, 1)))
    shapes[6] = h.shape[1:]
    h = m.norm7(m.deconv2(h))
    shapes[7] = h.shape[1:]
    out = torch.sigmoid(m.conv_out(h))
    shapes[8] = out.shape[1:]
    assert shapes == {
        1: (128, 64, 64),
        2: (64, 32, 32),
        3: (64, 32, 32),
        4: (32, 32, 32),
        5: (64, 32, 32),
        6: (64, 64, 64),
        7: (128, 256, 256),
        8: (1, 256, 256),
    }
    y = m(x)
    assert y.shape == x.shape and 0 < y.min() and y.max() < 1


@pytest.mark.parametrize("size", [(32, 48), (40, 40)])
def test_any_size_divisible_by_8(size):
    m = build_model(ModelConfig())
    x = torch.rand(2, 10, 1, *size)
    assert m(x).shape == x.shape


def test_rejects_sizes_not_divisible_by_8():
    with pytest.raises(ValueError, match="multiples of 8"):
        ConvLSTMAutoencoder()(torch.rand(1, 10, 1, 36, 36))


def test_keras_layer_norm_normalises_each_position_over_channels():
    ln = ChannelLayerNorm(4, eps=1e-3)
    x = torch.randn(2, 4, 3, 5)
    y = ln(x)
    assert torch.allclose(y.mean(dim=1), torch.zeros(2, 3, 5), atol=1e-5)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    ref = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(var + 1e-3)
    assert torch.allclose(y, ref, atol=1e-5)


def test_initialisation_follows_the_seed():
    m = ConvLSTMAutoencoder()
    cell = m.lstm1.cell
    h = cell.hidden
    assert torch.all(cell.input_conv.bias[h : 2 * h] == 1) and torch.all(cell.input_conv.bias[:h] == 0)
    w = cell.recurrent_conv.weight.reshape(4 * h, -1)
    assert torch.allclose(w @ w.T, torch.eye(4 * h), atol=1e-4)  # orthogonal rows (4h <= 9h columns)
    fan_in, fan_out = 128 * 25, 64 * 25
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert m.conv2.weight.abs().max() <= bound


def test_tensorflow_same_padding():
    assert same_padding(256, 11, 4) == (3, 4)
    assert same_padding(64, 5, 2) == (1, 2)
    assert same_padding(32, 3, 1) == (1, 1)
