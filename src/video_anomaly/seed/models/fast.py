"""A faster formulation of the seed model that shares the plain model's parameters.

``FastConvLSTMAE(model)`` computes the same function as ``ConvLSTMAutoencoder`` (equal within
float32 rounding, ~1e-6) from the very same ``nn.Parameter`` objects, so training through it
updates the plain model and checkpoints are unchanged. Autograd works through every stage.

Why it is faster on a CPU (measured on 2 cores, see docs/performance.md):

* Activations are kept channels-last (``N, H, W, C`` in memory). oneDNN's convolutions and
  transposed convolutions run 2-3x faster on that layout than on NCHW, and Keras'
  per-position ``LayerNormalization`` over channels becomes a contiguous last-dim ``layer_norm``.
* The final ``Conv 11x11, 128 -> 1`` (2 GFLOP per 256x256 frame, ~15 GFLOP/s as a direct
  convolution with one output channel) is one GEMM ``(H*W, 128) @ (128, 121)`` giving one plane
  per kernel tap, then a shift-and-add of the 121 planes (``F.fold``, i.e. col2im).
* The ConvLSTM skips the recurrent convolution of the first step (its state is zero).
* ``encode_frames`` and ``input_gates`` (the state-free input part of the first ConvLSTM) are per
  frame, so a scorer can compute them once per frame and share them across overlapping windows.

Device-agnostic: nothing here picks a device; channels-last is also the fast layout for cuDNN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .convlstm_ae import ConvLSTM, ConvLSTMAutoencoder, same_padding

_CL = torch.channels_last


def conv_out_gemm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, crop: tuple[int, int, int, int] | None = None
) -> torch.Tensor:
    """Stride-1 "same" convolution to ONE channel as a GEMM plus shift-and-add.

    ``x``: ``(N, C, H, W)`` (channels-last memory: the GEMM then reads it in place),
    ``weight``: ``(1, C, k, k)`` with odd ``k``. ``crop = (top, left, height, width)`` convolves only
    that window of ``x`` (zero outside it, as if ``x`` had been cropped first), which lets the caller
    skip copying a cropped view. Returns ``(N, 1, height, width)``.

    One GEMM gives a plane per kernel tap (``(k*k, C) @ (C, H*W)``); output pixel ``p`` sums tap
    ``(dy, dx)`` of input pixel ``p + (dy, dx) - k//2``, i.e. 121 shifted plane additions.
    """
    n, c, h, w = x.shape
    k = weight.shape[-1]
    if weight.shape[0] != 1 or k % 2 == 0 or weight.shape[-2] != k:
        raise ValueError("conv_out_gemm needs a (1, C, k, k) kernel with odd k")
    top, left, hh, ww = crop if crop is not None else (0, 0, h, w)
    taps = weight[0].reshape(c, k * k).t()  # (k*k, C)
    cols = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view when x is channels-last
    # bmm reads the transposed channels-last operand in place (matmul would copy it first).
    planes = torch.bmm(taps.expand(n, -1, -1), cols.transpose(1, 2)).view(n, k * k, h, w)
    planes = planes[:, :, top : top + hh, left : left + ww]
    r = k // 2
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        # For autograd, one col2im (backward: im2col) beats 121 slice-adds, whose backward
        # materialises a zero-filled gradient per plane. fold adds tap (ky, kx) of pixel q at
        # q + (ky, kx) - r, the mirror of the convolution's tap: hence the flip.
        flipped = planes.flip(1).reshape(n, k * k, hh * ww)
        out = F.fold(flipped, (hh, ww), k, padding=r)
        return out if bias is None else out + bias.view(1, 1, 1, 1)
    out = x.new_zeros(n, hh + 2 * r, ww + 2 * r)
    # Input pixel q feeds output q - (dy, dx) + r: plane (dy, dx) lands at offset (k-1-dy, k-1-dx).
    for dy in range(k):
        for dx in range(k):
            out[:, k - 1 - dy : k - 1 - dy + hh, k - 1 - dx : k - 1 - dx + ww] += planes[:, dy * k + dx]
    out = out[:, r : r + hh, r : r + ww].unsqueeze(1)
    if bias is not None:
        out = out + bias.view(1, 1, 1, 1)
    return out


def _lstm_layer(lstm: ConvLSTM, gates_x: torch.Tensor, b: int, t: int) -> torch.Tensor:
    """Recurrence of one ConvLSTM from its input gates ``(B*T, 4h, H, W)`` -> ``(B*T, h, H, W)``.

    Output frames are in ``(b, t)`` order, channels-last.
    """
    cell = lstm.cell
    hid = cell.hidden
    _, _, hh, ww = gates_x.shape
    gx = gates_x.view(b, t, 4 * hid, hh, ww) if gates_x.is_contiguous() else gates_x.unflatten(0, (b, t))
    outputs = []
    h = c = None
    for step in range(t):
        g = gx[:, step]
        if h is not None:  # the recurrent term of step 0 is conv(0) = 0 (no bias)
            g = g + F.conv2d(h, cell.recurrent_conv.weight, None, padding=cell.recurrent_conv.padding)
        i, f, gg, o = g.chunk(4, dim=1)
        i, o = torch.sigmoid(i), torch.sigmoid(o)
        c = i * torch.tanh(gg) if c is None else torch.sigmoid(f) * c + i * torch.tanh(gg)
        h = (o * torch.tanh(c)).contiguous(memory_format=_CL)
        outputs.append(h)
    return torch.stack(outputs, dim=1).flatten(0, 1).contiguous(memory_format=_CL)


class FastConvLSTMAE(nn.Module):
    """The seed model, computed faster, on the parameters of ``model`` (shared, not copied).

    ``forward``: ``(B, T, 1, H, W)`` -> ``(B, T, 1, H, W)``, equal to ``model(clips)``. The convolutions and norms
    of the encoder and decoder are the plain model's own layers, called on channels-last tensors; the final
    convolution and the ConvLSTM recurrence are computed here in their faster form.
    Stages (all accept and return ``(N, C, H, W)`` tensors in channels-last memory):
    ``encode_frames`` -> ``input_gates`` -> ``temporal`` -> ``decode_frames``.

    ``decode_chunk``: under autograd, decode this many frames at a time with activation checkpointing
    (the decoder's activations are recomputed in the backward pass). The decoder's 256x256x128 tensors
    dominate training memory (about 2.7 GB kept for a batch of 4 clips at 256x256); chunks of 4 frames keep
    a tenth of that, for about a third more compute. None: keep everything (fastest).
    """

    def __init__(self, model: ConvLSTMAutoencoder, decode_chunk: int | None = None):
        super().__init__()
        self.model = model
        self.decode_chunk = decode_chunk

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Spatial encoder, per frame: ``(N, 1, H, W)`` -> ``(N, 64, H/8, W/8)``."""
        m = self.model
        x = m.norm1(m.conv1(frames.contiguous(memory_format=_CL)))
        return m.norm2(m.conv2(x))

    def input_gates(self, feats: torch.Tensor) -> torch.Tensor:
        """Input part of the first ConvLSTM's gates, per frame: ``(N, 64, h, w)`` -> ``(N, 256, h, w)``."""
        conv = self.model.lstm1.cell.input_conv
        return F.conv2d(feats.contiguous(memory_format=_CL), conv.weight, conv.bias, padding=conv.padding)

    def temporal(self, gates1: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """ConvLSTM stack from first-layer input gates ``(B, T, 256, h, w)``.

        Returns ``(B, T, 64, h, w)``, or ``(B, 64, h, w)`` for the last step alone when
        ``last_only`` (the recurrence still runs over every step; only the last norm is skipped).
        """
        m = self.model
        b, t = gates1.shape[:2]
        x = m.norm3(_lstm_layer(m.lstm1, gates1.flatten(0, 1), b, t))
        c2 = m.lstm2.cell.input_conv
        x = m.norm4(_lstm_layer(m.lstm2, F.conv2d(x, c2.weight, c2.bias, padding=c2.padding), b, t))
        c3 = m.lstm3.cell.input_conv
        x = _lstm_layer(m.lstm3, F.conv2d(x, c3.weight, c3.bias, padding=c3.padding), b, t)
        if last_only:
            return m.norm5(x.unflatten(0, (b, t))[:, -1])
        return m.norm5(x).unflatten(0, (b, t))

    def decode_frames(self, feats: torch.Tensor) -> torch.Tensor:
        """Spatial decoder, per frame: ``(N, 64, H/8, W/8)`` -> ``(N, 1, H, W)`` in (0, 1)."""
        m = self.model
        x = m.norm6(m.deconv1(feats.contiguous(memory_format=_CL)))
        # deconv2's full (uncropped) output is contiguous: normalising all of it and convolving only
        # the "same" window is cheaper than copying the cropped view (~5% more pixels normalised).
        d = m.deconv2
        (kh, kw), (sh, sw) = d.kernel_size, d.stride
        h, w = x.shape[-2] * sh, x.shape[-1] * sw
        top, left = same_padding(h, kh, sh)[0], same_padding(w, kw, sw)[0]
        full = m.norm7(F.conv_transpose2d(x, d.weight, d.bias, d.stride))
        return torch.sigmoid(conv_out_gemm(full, m.conv_out.weight, m.conv_out.bias, (top, left, h, w)))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = clips.shape
        if h % 8 or w % 8:
            raise ValueError(f"frame height and width must be multiples of 8, got {h}x{w}")
        feats = self.encode_frames(clips.reshape(b * t, c, h, w))
        gates = self.input_gates(feats).unflatten(0, (b, t))
        feats = self.temporal(gates).flatten(0, 1)
        if self.decode_chunk and torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            parts = [checkpoint(self.decode_frames, f, use_reentrant=False) for f in feats.split(self.decode_chunk)]
            out = torch.cat(parts)
        else:
            out = self.decode_frames(feats)
        return out.reshape(b, t, 1, h, w)


def fast_model(model: nn.Module, decode_chunk: int | None = None) -> nn.Module:
    """The fast wrapper for a ``ConvLSTMAutoencoder`` (sharing its parameters); other models as they are."""
    if isinstance(model, FastConvLSTMAE):
        return model
    if isinstance(model, ConvLSTMAutoencoder):
        return FastConvLSTMAE(model, decode_chunk).train(model.training)
    return model
