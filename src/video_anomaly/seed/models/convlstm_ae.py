"""The seed's spatiotemporal autoencoder (Chong & Tay 2017), layer for layer.

A plain ``nn.Module`` with no I/O or device logic: ``(B, T, 1, H, W)`` in [0, 1) in, its
reconstruction in (0, 1) out. ``H`` and ``W`` must be multiples of 8.

Fidelity to the seed's Keras code: every layer is followed by Keras ``LayerNormalization()``
(each spatial position normalised over its channels, epsilon 1e-3, learned per-channel scale and
offset); convolutions are linear; the only non-linearities are the ConvLSTM gates and the final
sigmoid; Glorot-uniform kernels, orthogonal recurrent kernels, forget-gate bias 1. "same" padding
follows TensorFlow's rule (the extra pixel, when the total is odd, goes after). 1,958,209 parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding ``(before, after)`` for one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ChannelLayerNorm(nn.Module):
    """Keras ``LayerNormalization()`` on channels-last data, applied to ``(N, C, H, W)``.

    Each ``(n, :, h, w)`` vector is normalised over its ``C`` channels.
    """

    def __init__(self, channels: int, eps: float = 1e-3):
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), (self.channels,), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class SameConv2d(nn.Conv2d):
    """``Conv2d`` with TensorFlow "same" padding for any stride."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = same_padding(x.shape[-2], kh, sh)
        left, right = same_padding(x.shape[-1], kw, sw)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride)


class SameConvTranspose2d(nn.ConvTranspose2d):
    """``ConvTranspose2d`` with TensorFlow "same" output: ``out = in * stride``.

    The full transposed convolution is cropped by the padding the matching forward "same"
    convolution would use (``before`` rows first), as TensorFlow's ``conv2d_transpose`` does.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        h, w = x.shape[-2] * sh, x.shape[-1] * sw
        top, _ = same_padding(h, kh, sh)
        left, _ = same_padding(w, kw, sw)
        y = F.conv_transpose2d(x, self.weight, self.bias, self.stride)
        return y[..., top : top + h, left : left + w]


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step (Shi et al. 2015, Keras ``ConvLSTM2D`` without peepholes).

    Gates in Keras order ``i, f, c, o``. The input part of the gates (``input_conv``, with the bias)
    does not depend on the state, so ``ConvLSTM`` computes it for all time steps at once.
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3):
        super().__init__()
        self.hidden = hidden
        self.input_conv = nn.Conv2d(in_channels, 4 * hidden, kernel, padding=kernel // 2)
        self.recurrent_conv = nn.Conv2d(hidden, 4 * hidden, kernel, padding=kernel // 2, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        h = self.hidden
        # Keras: glorot_uniform over the kernel as a (k, k, in, 4h) array, i.e. one fan for all gates.
        nn.init.xavier_uniform_(self.input_conv.weight)
        # Keras: orthogonal recurrent kernel, reshaped to (k*k*h, 4h).
        w = torch.empty(4 * h, h * self.recurrent_conv.kernel_size[0] * self.recurrent_conv.kernel_size[1])
        nn.init.orthogonal_(w)
        with torch.no_grad():
            self.recurrent_conv.weight.copy_(w.view_as(self.recurrent_conv.weight))
            self.input_conv.bias.zero_()
            self.input_conv.bias[h : 2 * h] = 1.0  # unit_forget_bias

    def step(self, gates_x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from precomputed input gates ``(N, 4h, H, W)`` and state ``h, c``."""
        gates = gates_x + self.recurrent_conv(h)
        i, f, g, o = gates.chunk(4, dim=1)
        # Keras ConvLSTM2D default recurrent_activation is hard_sigmoid in Keras 2.0 and sigmoid
        # from Keras 2.3 on; we use sigmoid.
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
        c = f * c + i * torch.tanh(g)
        h = o * torch.tanh(c)
        return h, c


class ConvLSTM(nn.Module):
    """A ConvLSTM layer returning all steps: ``(B, T, C, H, W)`` -> ``(B, T, hidden, H, W)``."""

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3):
        super().__init__()
        self.cell = ConvLSTMCell(in_channels, hidden, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, hh, ww = x.shape
        gates_x = self.cell.input_conv(x.reshape(b * t, c, hh, ww)).view(b, t, -1, hh, ww)
        h = x.new_zeros(b, self.cell.hidden, hh, ww)
        state = h.clone()
        outputs = []
        for step in range(t):
            h, state = self.cell.step(gates_x[:, step], h, state)
            outputs.append(h)
        return torch.stack(outputs, dim=1)


class ConvLSTMAutoencoder(nn.Module):
    """The seed model. ``forward``: ``(B, T, 1, H, W)`` -> ``(B, T, 1, H, W)``.

    ``encode_frames`` / ``temporal`` / ``decode_frames`` expose the three stages so that fast
    scoring paths can reuse per-frame encoder features between overlapping windows.
    """

    def __init__(self, layer_norm_eps: float = 1e-3):
        super().__init__()
        eps = layer_norm_eps
        self.conv1 = SameConv2d(1, 128, 11, stride=4)
        self.norm1 = ChannelLayerNorm(128, eps)
        self.conv2 = SameConv2d(128, 64, 5, stride=2)
        self.norm2 = ChannelLayerNorm(64, eps)
        self.lstm1 = ConvLSTM(64, 64)
        self.norm3 = ChannelLayerNorm(64, eps)
        self.lstm2 = ConvLSTM(64, 32)
        self.norm4 = ChannelLayerNorm(32, eps)
        self.lstm3 = ConvLSTM(32, 64)
        self.norm5 = ChannelLayerNorm(64, eps)
        self.deconv1 = SameConvTranspose2d(64, 64, 5, stride=2)
        self.norm6 = ChannelLayerNorm(64, eps)
        self.deconv2 = SameConvTranspose2d(64, 128, 11, stride=4)
        self.norm7 = ChannelLayerNorm(128, eps)
        self.conv_out = SameConv2d(128, 1, 11, stride=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in (self.conv1, self.conv2, self.deconv1, self.deconv2, self.conv_out):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Spatial encoder, per frame: ``(N, 1, H, W)`` -> ``(N, 64, H/8, W/8)``."""
        x = self.norm1(self.conv1(frames))
        return self.norm2(self.conv2(x))

    def temporal(self, feats: torch.Tensor) -> torch.Tensor:
        """ConvLSTM stack: ``(B, T, 64, h, w)`` -> ``(B, T, 64, h, w)``."""
        b, t = feats.shape[:2]

        def norm(layer: ChannelLayerNorm, x: torch.Tensor) -> torch.Tensor:
            return layer(x.flatten(0, 1)).reshape(b, t, *x.shape[2:])

        x = norm(self.norm3, self.lstm1(feats))
        x = norm(self.norm4, self.lstm2(x))
        return norm(self.norm5, self.lstm3(x))

    def decode_frames(self, feats: torch.Tensor) -> torch.Tensor:
        """Spatial decoder, per frame: ``(N, 64, H/8, W/8)`` -> ``(N, 1, H, W)`` in (0, 1)."""
        x = self.norm6(self.deconv1(feats))
        x = self.norm7(self.deconv2(x))
        return torch.sigmoid(self.conv_out(x))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = clips.shape
        if h % 8 or w % 8:
            raise ValueError(f"frame height and width must be multiples of 8, got {h}x{w}")
        feats = self.encode_frames(clips.reshape(b * t, c, h, w))
        feats = self.temporal(feats.reshape(b, t, *feats.shape[1:]))
        out = self.decode_frames(feats.flatten(0, 1))
        return out.view(b, t, 1, h, w)
