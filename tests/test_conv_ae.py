"""The Conv-AE baseline (Hasan et al. 2016): shapes, range, size, gradients, unpooling."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from video_anomaly.seed.config import ModelConfig
from video_anomaly.seed.models import build_model
from video_anomaly.seed.models.conv_ae import ConvAutoencoder, max_unpool


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ConvAutoencoder(clip_length=10).eval()


@pytest.mark.parametrize("size", [32, 40, 64])
def test_shape_and_range(model, size):
    clips = torch.rand(2, 10, 1, size, size)
    with torch.no_grad():
        out = model(clips)
    assert out.shape == clips.shape
    assert out.dtype == torch.float32
    assert float(out.min()) > 0.0 and float(out.max()) < 1.0


def test_non_square_frames(model):
    with torch.no_grad():
        assert model(torch.rand(1, 10, 1, 32, 48)).shape == (1, 10, 1, 32, 48)


def test_rejects_bad_shapes(model):
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.rand(1, 10, 1, 36, 36))
    with pytest.raises(ValueError, match="expected clips"):
        model(torch.rand(1, 5, 1, 32, 32))


def test_parameter_count_by_hand():
    t = 10
    layers = [  # (in, out, kernel): weights in*out*k*k, bias = out
        (t, 512, 11),  # conv1
        (512, 256, 5),  # conv2
        (256, 128, 3),  # conv3
        (128, 256, 3),  # deconv3
        (256, 512, 5),  # deconv2
        (512, t, 11),  # deconv1
    ]
    expected = sum(i * o * k * k + o for i, o, k in layers)
    assert expected == 8_384_138
    n = sum(p.numel() for p in ConvAutoencoder(clip_length=t).parameters())
    print(f"ConvAutoencoder(T=10): {n:,} parameters")
    assert n == expected


def test_registry_builds_it():
    model = build_model(ModelConfig(name="conv_ae", clip_length=4))
    assert isinstance(model, ConvAutoencoder) and model.clip_length == 4
    with torch.no_grad():
        assert model(torch.rand(1, 4, 1, 32, 32)).shape == (1, 4, 1, 32, 32)


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    model = ConvAutoencoder(clip_length=3)
    clips = torch.rand(2, 3, 1, 32, 32)
    F.mse_loss(model(clips), clips).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert float(p.grad.abs().sum()) > 0.0, name


def test_xavier_init_and_zero_bias():
    model = ConvAutoencoder(clip_length=10)
    w = model.conv2.weight.detach()  # (256, 512, 5, 5): fan_in 512*25, fan_out 256*25
    bound = (6.0 / (512 * 25 + 256 * 25)) ** 0.5
    assert float(w.abs().max()) <= bound * (1 + 1e-6)
    assert float(w.std()) == pytest.approx(bound / 3**0.5, rel=0.05)
    assert float(model.conv1.bias.detach().abs().max()) == 0.0


@pytest.mark.parametrize("ceil", [False, True])
def test_max_unpool_matches_torch(ceil):
    x = torch.randn(2, 3, 10, 10)
    values, idx = F.max_pool2d(x, 2, ceil_mode=ceil, return_indices=True)
    got = max_unpool(values, idx, (10, 10))
    want = F.max_unpool2d(values, idx, 2, output_size=(10, 10))
    assert torch.equal(got, want)
    # Each pooled maximum goes back to where it came from.
    assert torch.equal(got[got != 0], x[got != 0])
