"""ONNX export of a model, checked against PyTorch with ONNX Runtime.

``export_onnx`` writes the whole model, ``(B, T, 1, S, S)`` -> ``(B, T, 1, S, S)`` float32, with a dynamic batch
axis and a fixed frame size ``S`` (the exported graph bakes the "same" padding of that size in). ``export_stages``
writes the seed model's three stages separately (per-frame encoder, ConvLSTM stack, per-frame decoder) so that a
scoring backend can encode each frame once and reuse it in the ``T`` windows that contain it.

Every export is run once through ONNX Runtime on random clips and compared with PyTorch; a graph that disagrees by
more than ``atol`` is an ``ExportError``, never a silent file. ``onnx`` and ``onnxruntime`` are optional and imported
inside the functions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import VideoAnomalyError

STAGES = ("encoder", "temporal", "decoder")


class ExportError(VideoAnomalyError):
    """An ONNX export failed or its graph does not reproduce the PyTorch model."""


def have_module(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def stage_paths(path: str | Path) -> dict[str, Path]:
    """Where ``export_stages`` puts the stages of ``path``: ``model.onnx`` -> ``model.encoder.onnx`` etc."""
    path = Path(path)
    return {name: path.with_name(f"{path.stem}.{name}{path.suffix or '.onnx'}") for name in STAGES}


class MethodModule(nn.Module):
    """Wraps one method of a model (``encode_frames``...) as a module the exporter can trace."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(x)


@contextlib.contextmanager
def _reshape_unflatten() -> Iterator[None]:
    """Trace ``Tensor.unflatten`` as the equivalent ``reshape`` while exporting.

    The TorchScript exporter's ONNX shape inference pins the output of ``unflatten`` to the traced batch size,
    and later ``x.shape`` reads then fold into constants: the seed model's graph would only accept the batch it
    was traced with. ``reshape`` with traced sizes stays dynamic.
    """
    original = torch.Tensor.unflatten

    def unflatten(self: torch.Tensor, dim: int, sizes) -> torch.Tensor:
        dim = dim % self.dim()
        return self.reshape(*self.shape[:dim], *sizes, *self.shape[dim + 1 :])

    torch.Tensor.unflatten = unflatten
    try:
        yield
    finally:
        torch.Tensor.unflatten = original


@contextlib.contextmanager
def _eval_mode(model: nn.Module, size: int) -> Iterator[torch.device]:
    """Check the export ``size``; run the block with ``model`` in eval mode (its mode restored after) and yield
    the device of its weights."""
    if size <= 0 or size % 8:
        raise ExportError(f"export size must be a positive multiple of 8, got {size}")
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters()).device
    finally:
        model.train(was_training)


def _export(module: nn.Module, example: torch.Tensor, path: Path, dynamic_batch: bool, opset: int) -> None:
    if not have_module("onnx"):
        raise ExportError("ONNX export needs the 'onnx' package: pip install 'video-anomaly[onnx]'")
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    # The dynamo exporter needs onnxscript; the TorchScript one ("legacy") covers every op our models use
    # (the ConvLSTM loop is unrolled over the fixed T, which is what we want anyway).
    use_dynamo = have_module("onnxscript")
    with warnings.catch_warnings(), _reshape_unflatten():
        # Tracing warns about the Python-level shape checks in forward(); the shapes are fixed per export.
        warnings.simplefilter("ignore")
        try:
            # The legacy exporter folds constants itself; the dynamo one takes no such flag.
            extra = {"dynamo": True} if use_dynamo else {"do_constant_folding": True, "dynamo": False}
            torch.onnx.export(
                module,
                (example,),
                str(path),
                input_names=["input"],
                output_names=["output"],
                dynamic_axes=axes,
                opset_version=opset,
                **extra,
            )
        except Exception as exc:  # the exporters raise many types; the user needs the one line
            raise ExportError(f"{path}: ONNX export failed: {type(exc).__name__}: {exc}") from exc


def verify_onnx(path: str | Path, module: nn.Module, example: torch.Tensor, atol: float = 1e-4) -> float:
    """Run ``path`` with ONNX Runtime on ``example`` and compare with ``module``; return the max abs difference.

    Raises ``ExportError`` when the difference exceeds ``atol`` or is not finite.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": example.detach().cpu().numpy()})
    with torch.no_grad():
        want = module(example).detach().float().cpu().numpy()
    if got.shape != want.shape:
        raise ExportError(f"{path}: ONNX output shape {got.shape} != PyTorch output shape {want.shape}")
    diff = float(np.max(np.abs(got - want))) if want.size else 0.0
    if not np.isfinite(diff) or diff > atol:
        raise ExportError(f"{path}: ONNX Runtime output differs from PyTorch by {diff:.3g} (> {atol:g})")
    return diff


def _should_verify(verify: bool | None) -> bool:
    if verify is None:
        return have_module("onnxruntime")
    if verify and not have_module("onnxruntime"):
        raise ExportError("verifying an export needs 'onnxruntime': pip install onnxruntime, or pass verify=False")
    return verify


def example_input(shape: tuple[int, ...], device: torch.device, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # Clips in [0, 1), as the scorer feeds them (uint8 / 256).
    return torch.rand(shape, generator=g).to(device)


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    size: int = 256,
    clip_length: int = 10,
    dynamic_batch: bool = True,
    opset: int = 17,
    verify: bool | None = None,
    atol: float = 1e-4,
) -> Path:
    """Export ``model`` as one ONNX graph ``input (B, T, 1, S, S)`` -> ``output (B, T, 1, S, S)``, float32.

    ``size``: ``S`` in pixels (a multiple of 8), fixed in the graph. ``clip_length``: ``T``, fixed.
    ``dynamic_batch``: leave ``B`` free (else the graph takes ``B = 1`` only). ``verify``: compare with PyTorch
    through ONNX Runtime (``None``: when onnxruntime is installed), max abs difference at most ``atol``.
    The model is exported in eval mode and left in the mode it was in. Returns ``path``.
    """
    path = Path(path)
    with _eval_mode(model, size) as device:
        _export(model, example_input((1, clip_length, 1, size, size), device, 0), path, dynamic_batch, opset)
        if _should_verify(verify):
            # Batch 2 checks that the batch axis really is dynamic.
            example = example_input((2 if dynamic_batch else 1, clip_length, 1, size, size), device, 1)
            verify_onnx(path, model, example, atol)
    return path


def export_stages(
    model: nn.Module,
    path: str | Path,
    *,
    size: int = 256,
    clip_length: int = 10,
    opset: int = 17,
    verify: bool | None = None,
    atol: float = 1e-4,
) -> dict[str, Path]:
    """Export the seed model's stages beside ``path`` (see ``stage_paths``); every batch axis is dynamic.

    * ``encoder``: ``(N, 1, S, S)`` -> ``(N, C, S/8, S/8)`` (``model.encode_frames``)
    * ``temporal``: ``(B, T, C, S/8, S/8)`` -> same shape (``model.temporal``; ``T`` fixed)
    * ``decoder``: ``(N, C, S/8, S/8)`` -> ``(N, 1, S, S)`` in (0, 1) (``model.decode_frames``)

    Only for models with those three methods (``ConvLSTMAutoencoder``); the Conv-AE has no per-frame stage.
    """
    missing = [m for m in ("encode_frames", "temporal", "decode_frames") if not hasattr(model, m)]
    if missing:
        raise ExportError(f"{type(model).__name__} has no separable stages (missing {', '.join(missing)})")
    paths = stage_paths(path)
    with _eval_mode(model, size) as device:
        do_verify = _should_verify(verify)
        with torch.no_grad():
            feats = model.encode_frames(example_input((1, 1, size, size), device, 0))
        h = feats.shape[1:]  # (C, S/8, S/8)
        jobs = {
            "encoder": (
                MethodModule(model, "encode_frames"),
                lambda n, s: example_input((n, 1, size, size), device, s),
            ),
            "temporal": (MethodModule(model, "temporal"), lambda n, s: example_input((n, clip_length, *h), device, s)),
            "decoder": (MethodModule(model, "decode_frames"), lambda n, s: example_input((n, *h), device, s)),
        }
        for name, (module, make) in jobs.items():
            _export(module, make(1, 0), paths[name], True, opset)
            if do_verify:
                verify_onnx(paths[name], module, make(2, 1), atol)
    return paths
