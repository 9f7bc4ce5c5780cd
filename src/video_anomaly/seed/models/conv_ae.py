"""The Conv-AE baseline of Hasan et al. 2016 ("Learning Temporal Regularity in Video Sequences", arXiv:1604.04574).

A fully convolutional 2-D autoencoder that sees a clip of ``T`` frames as ``T`` input channels: no recurrence, the
temporal pattern is learned by the first convolution's filters across channels. A plain ``nn.Module``:
``(B, T, 1, H, W)`` in [0, 1) in, its reconstruction in (0, 1) out; ``H`` and ``W`` multiples of 8.

Layers (sizes for our default 256x256 input; the paper used 227x227 crops, which give 55, 27, 13)::

    conv1   T   -> 512, 11x11 stride 4   256 -> 64     ReLU
    pool1   2x2 max (indices kept)         64 -> 32
    conv2   512 -> 256, 5x5                 32          ReLU
    pool2   2x2 max (indices kept)         32 -> 16
    conv3   256 -> 128, 3x3                 16          ReLU
    deconv3 128 -> 256, 3x3                 16          ReLU
    unpool2 with pool2's indices           16 -> 32
    deconv2 256 -> 512, 5x5                 32          ReLU
    unpool1 with pool1's indices           32 -> 64
    deconv1 512 -> T, 11x11 stride 4       64 -> 256   sigmoid

The paper's figure labels each deconvolution by the convolution it mirrors ("deconv 128 3x3" is the transpose of
conv3, whose 128 filters it reads); we take that mirrored reading because it is the only one in which the unpooling
switches have the channel count of the features they place: pool2's switches are on 256 channels, so the layer
before unpool2 must output 256. The last deconvolution (the mirror of conv1) brings the 512 channels back to ``T``
frames through a sigmoid, so that every model of the toolkit shares the
(0, 1) output range. ReLU follows every hidden layer; weights are Xavier-uniform (the paper's initialisation),
biases zero. "Same" padding (TensorFlow's rule) makes the shapes come back exactly; at sizes where ``H/8`` is odd,
pool2 uses ceil mode so that no feature row is dropped, and unpool2 restores the exact size.

With ``T = 10``: 8,384,138 parameters (see ``tests/test_conv_ae.py`` for the layer-by-layer sum).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .convlstm_ae import SameConv2d, SameConvTranspose2d


def max_unpool(values: torch.Tensor, indices: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Place ``values`` ``(N, C, h, w)`` at the switch positions ``indices`` in a zero ``(N, C, *size)`` map.

    The same result as ``F.max_unpool2d`` (``indices`` index each flattened ``size`` plane, as
    ``F.max_pool2d(..., return_indices=True)`` returns them), written with ``scatter`` because that exports to
    ONNX (``ScatterElements``) where ``max_unpool2d`` has no exporter.
    """
    n, c = values.shape[:2]
    out = values.new_zeros(n, c, size[0] * size[1])
    out = out.scatter(2, indices.flatten(2), values.flatten(2))
    return out.view(n, c, size[0], size[1])


class ConvAutoencoder(nn.Module):
    """Hasan et al.'s Conv-AE. ``forward``: ``(B, T, 1, H, W)`` in [0, 1) -> ``(B, T, 1, H, W)`` in (0, 1).

    ``clip_length``: ``T``, the frames stacked as input channels (10 in the paper).
    """

    def __init__(self, clip_length: int = 10):
        super().__init__()
        t = clip_length
        self.clip_length = t
        self.conv1 = SameConv2d(t, 512, 11, stride=4)
        # Stride-1 odd kernels: symmetric padding k // 2 is TensorFlow's "same" and avoids an explicit pad.
        self.conv2 = nn.Conv2d(512, 256, 5, padding=2)
        self.conv3 = nn.Conv2d(256, 128, 3, padding=1)
        self.deconv3 = nn.ConvTranspose2d(128, 256, 3, padding=1)
        self.deconv2 = nn.ConvTranspose2d(256, 512, 5, padding=2)
        self.deconv1 = SameConvTranspose2d(512, t, 11, stride=4)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in (self.conv1, self.conv2, self.conv3, self.deconv3, self.deconv2, self.deconv1):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = clips.shape
        if c != 1 or t != self.clip_length:
            raise ValueError(f"expected clips (B, {self.clip_length}, 1, H, W), got {tuple(clips.shape)}")
        if h % 8 or w % 8:
            raise ValueError(f"frame height and width must be multiples of 8, got {h}x{w}")
        x = F.relu(self.conv1(clips.reshape(b, t, h, w)))
        size1 = x.shape[-2:]
        x, idx1 = F.max_pool2d(x, 2, return_indices=True)
        x = F.relu(self.conv2(x))
        size2 = x.shape[-2:]
        x, idx2 = F.max_pool2d(x, 2, ceil_mode=True, return_indices=True)
        x = F.relu(self.conv3(x))
        x = F.relu(self.deconv3(x))
        x = max_unpool(x, idx2, (size2[0], size2[1]))
        x = F.relu(self.deconv2(x))
        x = max_unpool(x, idx1, (size1[0], size1[1]))
        x = torch.sigmoid(self.deconv1(x))
        return x.view(b, t, 1, h, w)
