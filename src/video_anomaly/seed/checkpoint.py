"""Checkpoints: a folder that rebuilds its own model, never a pickle.

Layout of a checkpoint folder::

    checkpoint.json          format version, the run config (model, data, train, score sections),
                             the training state (epoch, step, data fingerprint, ...), what the
                             trainer stored beside it (hold-out ranges, dataset root) and the
                             SHA-256 of every file below
    model.safetensors        the weights (plain model state dict, float32 on CPU)
    optimizer.safetensors    optimiser state tensors; its scalar state is JSON in the file's metadata

Writes are atomic: the new folder is written beside the old one under a hidden name and swapped
in with ``os.replace``; the previous checkpoint stays whole until the new one is complete. A crash
between the two renames of the swap leaves the old checkpoint under ``.<name>.old``, which
``load_checkpoint`` picks up. Loading reads JSON and safetensors only, so it never unpickles.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..manifest import sha256
from ..outputs import umask_mode
from .config import RunConfig

FORMAT = "video-anomaly-checkpoint"
VERSION = 1
META = "checkpoint.json"
WEIGHTS = "model.safetensors"
OPTIMIZER = "optimizer.safetensors"
# What repairs trained weights (calibration cannot): the file as written, or a new training run.
RESTORE = "restore the checkpoint folder from a backup, or retrain: video-anomaly train DATA --out RUN --overwrite"
# Top-level JSON keys owned by this module; everything else is an "extra".
_RESERVED = {"format", "version", "config", "files", "parameters"}
# Checkpoints written before the [score] section went (issue 19) still hold one; no code read it, so it is skipped.
_CONFIG_SECTIONS = ("data", "model", "train")


# --------------------------------------------------------------------------------------------- paths


def checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint folder for ``path``: the folder itself, its ``checkpoint.json`` or a file in it.

    Falls back to the ``.<name>.old`` copy a crash in the middle of a swap may leave behind.
    """
    path = Path(path)
    if path.is_file() or (path.suffix in {".json", ".safetensors"} and not path.is_dir()):
        path = path.parent
    if not (path / META).is_file():
        backup = _backup_path(path)
        if (backup / META).is_file():
            return backup
        if not path.exists():
            raise CheckpointError(path, "no such checkpoint")
        raise CheckpointError(path, f"not a checkpoint: {META} is missing")
    return path


def _backup_path(directory: Path) -> Path:
    return directory.with_name(f".{directory.name}.old")


def _tmp_path(directory: Path) -> Path:
    return directory.with_name(f".{directory.name}.tmp-{os.getpid()}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _write_dir_atomically(directory: Path, fill: Callable[[Path], None]) -> None:
    """Create ``directory`` (replacing any old one) from ``fill(tmp)`` so that no reader sees it torn."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(directory)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        fill(tmp)
        for f in tmp.iterdir():
            umask_mode(f)  # safetensors writes 0o600: other accounts (a service) must read what the umask allows
            _fsync(f)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    backup = _backup_path(directory)
    if directory.exists():
        if backup.exists():
            shutil.rmtree(backup)
        os.replace(directory, backup)
    os.replace(tmp, directory)
    if backup.exists():
        shutil.rmtree(backup)


# ---------------------------------------------------------------------------------------- save/load


def _unwrap(model: nn.Module) -> nn.Module:
    # DistributedDataParallel (and similar wrappers) keep the real model in ``.module``.
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return model


def _write_meta(tmp: Path, meta: dict[str, Any]) -> None:
    meta["files"] = {
        f.name: {"sha256": sha256(f), "bytes": f.stat().st_size}
        for f in sorted(tmp.iterdir())
        if f.suffix == ".safetensors"
    }
    with open(tmp / META, "w") as fh:
        json.dump(meta, fh, indent=2, sort_keys=False)
        fh.write("\n")


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    run_config: RunConfig,
    extras: Mapping[str, Any] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write a checkpoint folder atomically and return its path.

    ``extras``: JSON-serialisable training state (epoch, step, data fingerprint, loss history, ...).
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    extras = dict(extras or {})
    clash = _RESERVED & set(extras)
    if clash:
        raise ValueError(f"extras may not use the reserved keys {sorted(clash)}")
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in _unwrap(model).state_dict().items()}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": run_config.to_dict(),
        "parameters": int(sum(v.numel() for v in state.values())),
        **extras,
    }

    def fill(tmp: Path) -> None:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        if optimizer is not None:
            tensors, scalars = optimizer_state_to_flat(optimizer)
            save_file(tensors, str(tmp / OPTIMIZER), metadata={"state": json.dumps(scalars)})
        _write_meta(tmp, meta)

    _write_dir_atomically(directory, fill)
    return directory


def read_meta(path: str | Path) -> dict[str, Any]:
    """The parsed ``checkpoint.json`` of a checkpoint (format and version checked)."""
    directory = checkpoint_dir(path)
    meta_path = directory / META
    try:
        with open(meta_path) as fh:
            meta = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(meta_path, f"damaged checkpoint metadata (not valid JSON: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(meta_path, "not a video-anomaly checkpoint (no 'format' marker)")
    if meta.get("version") != VERSION:
        raise CheckpointError(meta_path, f"checkpoint format version {meta.get('version')} is not supported")
    return meta


def _verified(directory: Path, meta: dict[str, Any], name: str) -> Path:
    """``directory/name`` after checking it exists and matches the checksum recorded for it."""
    path = directory / name
    record = meta.get("files", {}).get(name)
    if record is None or not path.is_file():
        raise CheckpointError(path, f"missing from the checkpoint; {RESTORE}")
    size = path.stat().st_size
    if size != record["bytes"]:
        raise CheckpointError(
            path, f"damaged file: {size} bytes where {record['bytes']} were written (truncated?); {RESTORE}"
        )
    if sha256(path) != record["sha256"]:
        raise CheckpointError(
            path, f"damaged file: contents do not match the checksum recorded when it was written; {RESTORE}"
        )
    return path


def _load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError variants
        raise CheckpointError(path, f"not a readable safetensors file ({exc}); {RESTORE}") from None


def run_config_from_meta(meta: dict[str, Any], where: str | Path) -> RunConfig:
    """The ``RunConfig`` stored in a checkpoint's metadata."""
    try:
        return RunConfig.from_dict({k: v for k, v in meta["config"].items() if k in _CONFIG_SECTIONS})
    except (KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise CheckpointError(where, f"checkpoint config is unusable: {exc}") from None


def load_checkpoint(
    path: str | Path, device: torch.device | str | None = None
) -> tuple[nn.Module, RunConfig, dict[str, Any]]:
    """Rebuild a model from a checkpoint.

    ``path``: the checkpoint folder, its ``checkpoint.json`` or its ``model.safetensors``.
    Returns ``(model in eval mode on device, run_config, extras)``; ``extras`` holds the training
    state and whatever else the trainer stored beside it (``extras_from_meta``).
    Raises ``CheckpointError`` for a missing or damaged file, or weights of another model.
    """
    from .models import build_model

    directory = checkpoint_dir(path)
    meta = read_meta(directory)
    cfg = run_config_from_meta(meta, directory / META)
    try:
        model = build_model(cfg.model)
    except ConfigError as exc:
        raise CheckpointError(directory / META, str(exc)) from None
    load_weights(directory, model)
    if device is not None:
        model.to(device)
    model.eval()
    return model, cfg, extras_from_meta(meta)


def extras_from_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The extras of a checkpoint's metadata: the training state and whatever the trainer stored beside it."""
    return {k: v for k, v in meta.items() if k not in _RESERVED}


def load_weights(path: str | Path, model: nn.Module) -> dict[str, Any]:
    """Load a checkpoint's weights into an existing ``model`` (checked); returns the checkpoint metadata."""
    directory = checkpoint_dir(path)
    meta = read_meta(directory)
    weights_path = _verified(directory, meta, WEIGHTS)
    state, _ = _load_tensors(weights_path)
    load_state_strict(_unwrap(model), state, weights_path)
    return meta


def load_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], where: str | Path) -> None:
    """Copy ``state`` into ``model``, naming missing, unexpected or mis-shaped keys in the error."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = [
        f"{what} {len(keys)} keys ({'; '.join(keys[:3])}{'; ...' if len(keys) > 3 else ''})"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shapes))
        if keys
    ]
    if problems:
        name = type(model).__name__
        raise CheckpointError(where, f"weights do not belong to a {name}: " + "; ".join(problems))
    model.load_state_dict(dict(state), strict=True)


# ------------------------------------------------------------------------------------------ optimiser


def optimizer_state_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state dict into tensors (``state.<param>.<name>``) and JSON scalars."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for idx, entry in sd["state"].items():
        plain = {}
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{name}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                plain[name] = value
        scalars["state"][str(idx)] = plain
    return tensors, scalars


def load_optimizer_state(path: str | Path, optimizer: torch.optim.Optimizer) -> None:
    """Restore ``optimizer`` from a checkpoint's ``optimizer.safetensors`` (checked against its checksum)."""
    directory = checkpoint_dir(path)
    meta = read_meta(directory)
    opt_path = _verified(directory, meta, OPTIMIZER)
    tensors, file_meta = _load_tensors(opt_path)
    try:
        scalars = json.loads(file_meta["state"])
        state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in scalars["state"].items()}
        for key, value in tensors.items():
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
        groups = scalars["param_groups"]
        # JSON turns tuples (Adam's betas) into lists; give them back the type the optimiser uses.
        for group, current in zip(groups, optimizer.param_groups):
            for key, value in current.items():
                if isinstance(value, tuple) and isinstance(group.get(key), list):
                    group[key] = tuple(group[key])
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(opt_path, f"optimiser state does not fit this optimiser: {exc}") from None
