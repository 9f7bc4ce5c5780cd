"""The one place that decides device and precision.

Models and data code never call ``.cuda()``: they receive a ``torch.device`` from here.
"""

from __future__ import annotations

import contextlib

import torch


def pick_device(name: str | None = None) -> torch.device:
    """Return the requested device, or CUDA when present, else CPU.

    ``name`` is ``None``/``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from .errors import ConfigError

        raise ConfigError(f"device {name!r} was requested but CUDA is not available here")
    return device


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` ("fp32", "bf16", "fp16") on ``device``; None = no autocast."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            from .errors import ConfigError

            raise ConfigError("fp16 autocast is only supported on CUDA; use bf16 or fp32 on CPU")
        return torch.float16
    from .errors import ConfigError

    raise ConfigError(f"unknown precision {precision!r}; expected fp32, bf16 or fp16")


def autocast(device: torch.device, precision: str):
    """A context manager running the block under autocast for ``precision`` (no-op for fp32)."""
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def configure_backend(device: torch.device) -> None:
    """Global speed settings that do not change results beyond tolerance (TF32, cudnn autotune)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
