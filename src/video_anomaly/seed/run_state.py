"""What a training run rests on besides its loop: fingerprints of its footage (what resume compares), the process
group under ``torchrun``, the data prepared into clips (with the hold-out), the state restored for an exact resume,
the model wrapped for DDP, and the run's files (log, loss curve) written atomically."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import resource
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..device import pick_device
from ..errors import TrainingError
from ..outputs import atomic_output
from . import checkpoint as ckpt
from .config import RunConfig


def _fingerprint(videos: Sequence, sampled) -> str:
    """SHA-256 over each video's name, frame count and native size, and the frames ``sampled(video)`` yields."""
    h = hashlib.sha256()
    for video in videos:
        h.update(json.dumps([video.name, len(video), list(video.source.native_size)]).encode())
        for frame in sampled(video):
            h.update(np.ascontiguousarray(frame).tobytes())
    return h.hexdigest()


def data_fingerprint(videos: Sequence, size: int | None = None) -> str:
    """SHA-256 over video names, frame counts, native sizes and three sampled frames of each video.

    Cheap: the frames are the ``size``-resized ones training reads anyway (cached by the source).
    """

    def three(video) -> list:
        n = len(video)
        if not n:
            return []
        frames = video.source.frames(size)
        return [frames[i] for i in sorted({0, n // 2, n - 1})]

    return _fingerprint(videos, three)


def footage_fingerprint(videos: Sequence) -> str:
    """SHA-256 over video names, frame counts, native sizes and the first frame of each video: which footage a
    detector was fitted on, without decoding (or caching) more than one frame per video."""
    return _fingerprint(videos, lambda video: itertools.islice(video.source.iter_frames(None), 1))


def ranges_by_name(videos: Sequence, ranges: Sequence[tuple[int, int]] | None) -> dict[str, list[int]]:
    """Per-video ``[start, stop)`` frame ranges keyed by video name (JSON-ready); ``ranges`` aligned with ``videos``."""
    if ranges is None:
        return {}
    return {v.name: [int(a), int(b)] for v, (a, b) in zip(videos, ranges)}


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device_name: str | None = None) -> torch.device:
    """Join the process group ``torchrun`` describes in the environment (RANK, WORLD_SIZE, ...).

    NCCL when the device is CUDA (one GPU per local rank), gloo on CPU. Without ``WORLD_SIZE`` > 1
    this only picks the device. Returns the device this process trains on.
    """
    import torch.distributed as dist

    device = pick_device(device_name)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    return device


def _all_reduce_sum(values: list[float], device: torch.device, world: int) -> list[float]:
    if world == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _write_json_atomic(path: Path, obj: Any) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def _plot_loss(path: Path, history: list[float], holdout: list[float | None] | None = None) -> None:
    from ..plots import plot_loss_curve

    held = [np.nan if v is None else v for v in holdout or []]
    epochs = np.arange(1, len(history) + 1)
    plot_loss_curve(epochs, np.asarray(history, dtype=float), path, val_losses=held if any(np.isfinite(held)) else None)


def _rewrite_log(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _check_resumable(meta: dict[str, Any], cfg: RunConfig, fingerprint: str, where: Path) -> None:
    """Raise unless ``cfg`` continues the checkpoint's run exactly (``epochs`` may grow)."""
    saved = ckpt.run_config_from_meta(meta, where)
    diffs = [f"data.{k}" for k, v in saved.data.__dict__.items() if v != getattr(cfg.data, k)] + [
        f"model.{k}" for k, v in saved.model.__dict__.items() if v != getattr(cfg.model, k)
    ]
    fixed = ("batch_size", "lr", "eps", "decay", "schedule", "plateau_patience", "plateau_factor", "shuffle", "seed")
    diffs += [f"train.{k}" for k in fixed if getattr(saved.train, k) != getattr(cfg.train, k)]
    diffs += ["train.holdout_fraction"] if saved.train.holdout_fraction != cfg.train.holdout_fraction else []
    if diffs:
        raise TrainingError(
            f"{where}: cannot resume with changed {', '.join(diffs)} (only train.epochs, precision and workers may "
            "change); start a new run instead"
        )
    if meta.get("data_fingerprint") != fingerprint:
        raise TrainingError(f"{where}: the training data differ from those this checkpoint was trained on")


def _prepare_data(videos: list, cfg: RunConfig, holdout: bool):
    """``(clips, held-out clips or None, held-out ranges or None, data fingerprint)`` of the training videos."""
    from .clips import ClipDataset, split_holdout

    tcfg = cfg.train
    if not videos:
        raise TrainingError("no training videos")
    if holdout and tcfg.holdout_fraction > 0:
        train_ranges, holdout_ranges = split_holdout(videos, tcfg.holdout_fraction, cfg.data.clip_length)
    else:
        train_ranges, holdout_ranges = None, None
    dataset = ClipDataset(videos, cfg.data, ranges=train_ranges)
    if len(dataset) == 0:
        raise TrainingError("no training clips: each video is shorter than one clip span")
    fingerprint = data_fingerprint(videos, cfg.data.size)
    if tcfg.num_workers > 0:
        # Decode once here so that forked workers share the frames instead of each decoding them.
        dataset.preload()
    holdout_set = None
    if holdout_ranges is not None and any(b > a for a, b in holdout_ranges):
        holdout_set = ClipDataset(videos, cfg.data, ranges=holdout_ranges)
    return dataset, holdout_set, holdout_ranges, fingerprint


def _restore_state(
    resume: bool, ckpt_path: Path, log_path: Path, model: nn.Module, cfg: RunConfig, fingerprint: str, world: int
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """The run's state (a fresh one, or an interrupted run's with its weights loaded into ``model``), the log
    rows written up to its checkpoint and that checkpoint's extras (None for a fresh run)."""
    state: dict[str, Any] = {
        "epoch": 0,  # completed epochs
        "epoch_step": 0,  # optimiser steps already taken in the current (incomplete) epoch
        "step": 0,
        "epoch_loss_sum": 0.0,  # sum over clips of the current epoch so far (all ranks)
        "epoch_clips": 0,
        "loss_history": [],
        "holdout_history": [],
        "plateau": {"lr": cfg.train.lr, "best": None, "bad_epochs": 0},
        "seconds": 0.0,
    }
    log_rows: list[dict[str, Any]] = []
    if not resume:
        return state, log_rows, None
    if not ckpt_path.exists() and not ckpt._backup_path(ckpt_path).exists():
        raise TrainingError(
            f"{ckpt_path}: nothing to resume: the run stopped before it wrote its first checkpoint (one is "
            "written at the end of each epoch and at --max-steps); start it again without --resume"
        )
    meta = ckpt.read_meta(ckpt_path)
    _check_resumable(meta, cfg, fingerprint, ckpt_path)
    saved_world = meta.get("world_size", 1)
    if saved_world != world and meta.get("epoch_step", 0):
        raise TrainingError(f"{ckpt_path}: stopped mid-epoch with {saved_world} processes; resume with the same number")
    ckpt.load_weights(ckpt_path, model)
    for key in state:
        if key in meta:
            state[key] = meta[key]
    if log_path.is_file():
        with open(log_path) as fh:
            log_rows = [json.loads(line) for line in fh if line.strip()]
        # Lines written after the checkpoint (a crash between the two) are dropped.
        log_rows = [r for r in log_rows if r["step"] <= state["step"] and not r.get("partial")]
    # A copy: the state shares its lists with ``meta`` and the run extends them.
    return state, log_rows, copy.deepcopy(ckpt.extras_from_meta(meta))


def _wrap_model(model: nn.Module, device: torch.device, use_fast: bool, decode_chunk, world: int):
    """``(net, eval_net)``: the module that trains (fast path, DDP across processes) and the one that only scores."""
    net: nn.Module = model
    if use_fast:
        try:
            from .models.fast import fast_model
        except ImportError:
            pass
        else:
            net = fast_model(model, decode_chunk=decode_chunk or None)
    eval_net = net  # forward-only passes skip the DDP wrapper (nothing to synchronise)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    return net, eval_net
