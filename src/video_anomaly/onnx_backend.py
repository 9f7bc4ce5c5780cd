"""ONNX Runtime scoring backend, and a side-by-side CPU benchmark of the backends.

``OrtModel`` runs an exported graph (see ``export``) behind the PyTorch model's calling convention: a float32
tensor ``(B, T, 1, S, S)`` in, a tensor out, plus ``eval()`` and ``parameters()`` so that
``inference.stream_windows(OrtModel(...), frames)`` works unchanged. When the seed model's stages were exported
beside it, ``encode_frames`` / ``temporal`` / ``decode_frames`` run them too. ``onnxruntime`` is imported inside.
"""

from __future__ import annotations

import copy
import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .export import STAGES, export_onnx, export_stages, stage_paths


def _session(source: str | Path | bytes, threads: int | None):
    try:
        import onnxruntime as ort
    except ModuleNotFoundError as exc:
        from .errors import ConfigError

        raise ConfigError("the ONNX Runtime backend needs 'onnxruntime': pip install onnxruntime") from exc
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
    # One graph runs at a time; parallelism is inside the convolutions.
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(source if isinstance(source, bytes) else str(source), opts, ["CPUExecutionProvider"])


class _Graph:
    """One session with a single input and output, called on torch tensors."""

    def __init__(self, source: str | Path | bytes, threads: int | None):
        self.session = _session(source, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        # Fixed dims are ints; the dynamic batch is a name (str) or None.
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inp.shape)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        if len(shape) != len(self.input_shape) or any(
            want is not None and want != got for want, got in zip(self.input_shape, shape)
        ):
            raise ValueError(f"this ONNX graph takes input shape {self.input_shape} (None = any), got {shape}")
        arr = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        (out,) = self.session.run(None, {self.input_name: arr})
        return torch.from_numpy(out)


class OrtModel:
    """An exported model run by ONNX Runtime on the CPU, called like the PyTorch model.

    ``path_or_model``: an ``.onnx`` file from ``export_onnx`` (stage files beside it, from ``export_stages``, are
    loaded too), or an ``nn.Module`` to export now at ``size`` x ``size`` with ``clip_length`` frames (stages
    included when the model has them and ``stages`` is true). ``threads``: ONNX Runtime intra-op threads
    (``None``: its default, one per physical core).

    ``model(clips)``: ``(B, T, 1, S, S)`` float32 in [0, 1) -> ``(B, T, 1, S, S)`` float32 CPU tensor in (0, 1).
    """

    def __init__(
        self,
        path_or_model: str | Path | nn.Module,
        *,
        threads: int | None = None,
        size: int = 256,
        clip_length: int = 10,
        stages: bool = True,
    ):
        self.threads = threads
        self.stages: dict[str, _Graph] = {}
        if isinstance(path_or_model, nn.Module):
            model = path_or_model
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.onnx"
                export_onnx(model, path, size=size, clip_length=clip_length)
                if stages and all(hasattr(model, m) for m in ("encode_frames", "temporal", "decode_frames")):
                    export_stages(model, path, size=size, clip_length=clip_length)
                self._load(path, threads)
            self.path = None
        else:
            self.path = Path(path_or_model)
            if not self.path.is_file():
                from .errors import DataError

                raise DataError(self.path, "ONNX model file not found")
            self._load(self.path, threads)

    def _load(self, path: Path, threads: int | None) -> None:
        # Sessions read the file at creation, so a temporary export may be deleted afterwards.
        self.graph = _Graph(path, threads)
        found = {name: p for name, p in stage_paths(path).items() if p.is_file()}
        if len(found) == len(STAGES):
            self.stages = {name: _Graph(p, threads) for name, p in found.items()}
        self.input_shape = self.graph.input_shape

    # The calling convention of an nn.Module, as far as the scorers use it.
    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        return self.graph(clips)

    forward = __call__

    def eval(self) -> OrtModel:
        return self

    def parameters(self) -> Iterator[torch.Tensor]:
        """One empty CPU tensor: callers read ``next(model.parameters()).device`` to place their batches."""
        return iter([torch.empty(0)])

    @property
    def has_stages(self) -> bool:
        return bool(self.stages)

    def _stage(self, name: str) -> _Graph:
        if name not in self.stages:
            raise AttributeError(f"this OrtModel has no '{name}' stage (export with export_stages / --stages)")
        return self.stages[name]

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N, 1, S, S)`` -> ``(N, C, S/8, S/8)``."""
        return self._stage("encoder")(frames)

    def temporal(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, S/8, S/8)`` -> same shape."""
        return self._stage("temporal")(feats)

    def decode_frames(self, feats: torch.Tensor) -> torch.Tensor:
        """``(N, C, S/8, S/8)`` -> ``(N, 1, S, S)``."""
        return self._stage("decoder")(feats)


def _openvino_model(model: nn.Module, size: int, clip_length: int) -> Callable[[torch.Tensor], torch.Tensor]:
    import openvino as ov

    example = torch.rand(1, clip_length, 1, size, size)
    compiled = ov.compile_model(ov.convert_model(model.eval(), example_input=example), "CPU")

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(compiled(x.numpy())[0]))

    return run


def benchmark_backends(
    model: nn.Module,
    size: int = 256,
    windows: int = 3,
    *,
    clip_length: int = 10,
    batch: int = 1,
    threads: int | None = None,
) -> dict:
    """Seconds per window of each available CPU backend on the same random clips, measured side by side.

    Backends: ``torch`` (eager, ``no_grad``), ``onnxruntime`` (``OrtModel``), ``fast`` (``models.fast.fast_model``,
    when that module exists) and ``openvino`` (when installed). Each is warmed up once, then the backends take
    turns, one call of ``batch`` windows each, ``windows`` rounds, so that load from other processes hits them
    alike; the medians are reported. Returns ``{"size", "batch", "rounds", "threads", "seconds_per_window":
    {name: s}, "speedup_vs_torch": {name: x}, "max_abs_diff_vs_torch": {name: d}, "skipped": {name: why}}``.
    """
    model = model.cpu().eval()
    runners: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"torch": model}
    skipped: dict[str, str] = {}
    runners["onnxruntime"] = OrtModel(model, threads=threads, size=size, clip_length=clip_length, stages=False)
    if importlib.util.find_spec("video_anomaly.models.fast") is not None:
        from .models.fast import fast_model

        # A copy: a fast path may fuse or re-layout the weights it is given.
        runners["fast"] = fast_model(copy.deepcopy(model))
    else:
        skipped["fast"] = "video_anomaly.models.fast not present"
    if importlib.util.find_spec("openvino") is not None:
        try:
            runners["openvino"] = _openvino_model(model, size, clip_length)
        except Exception as exc:  # an optional extra: report why, measure the rest
            skipped["openvino"] = f"{type(exc).__name__}: {exc}"
    else:
        skipped["openvino"] = "openvino not installed"

    clips = torch.rand(batch, clip_length, 1, size, size, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in runners}
    diffs: dict[str, float] = {}
    with torch.no_grad():
        reference = model(clips)
        for name, run in runners.items():
            diffs[name] = float((run(clips).float() - reference).abs().max())  # warm-up and correctness
        for _ in range(windows):
            for name, run in runners.items():
                t0 = time.perf_counter()
                run(clips)
                times[name].append((time.perf_counter() - t0) / batch)
    per_window = {name: statistics.median(ts) for name, ts in times.items()}
    return {
        "size": size,
        "batch": batch,
        "rounds": windows,
        "threads": threads if threads else torch.get_num_threads(),
        "seconds_per_window": per_window,
        "speedup_vs_torch": {name: per_window["torch"] / s for name, s in per_window.items()},
        "max_abs_diff_vs_torch": diffs,
        "skipped": skipped,
    }
