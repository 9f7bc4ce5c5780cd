"""Training the autoencoder on normal clips: the seed's recipe, resumable and distributable.

The seed recipe (``TrainConfig`` defaults): MSE loss, Adam (lr 1e-4, eps 1e-6) with Keras' legacy
per-step inverse-time decay ``lr / (1 + 1e-5 * step)``, batch 4, 3 epochs, shuffled clips.

A run folder holds::

    config.json        the resolved RunConfig
    train_log.jsonl    one line per epoch: epoch, step, loss, lr, seconds, clips_per_s, peak_rss_mb
    loss.png           the loss curve
    checkpoint/        see ``video_anomaly.checkpoint``; rewritten atomically after every epoch

Exact resume: the model is initialised from ``torch.manual_seed(seed)``; clip order in epoch ``e``
comes from a generator seeded with ``seed + e`` (``DistributedSampler``'s rule), and nothing else
draws random numbers. So a checkpoint's (epoch, step in epoch) fixes everything that follows, and
``resume=True`` continues to the same weights as an uninterrupted run, also from a mid-epoch stop
(``max_steps``): the already-seen batches of that epoch are skipped.

Distributed: when ``torch.distributed`` is initialised (``init_distributed``, e.g. under
``torchrun``), the model is wrapped in ``DistributedDataParallel``, each rank reads its share of
the epoch's permutation, and rank 0 alone writes files and shows progress. ``batch_size`` is per
process.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint as ckpt
from .config import RunConfig, TrainConfig
from .device import autocast, autocast_dtype, configure_backend, pick_device
from .errors import ConfigError, TrainingError

LOG_NAME = "train_log.jsonl"
CONFIG_NAME = "config.json"
CURVE_NAME = "loss.png"
CHECKPOINT_NAME = "checkpoint"
# A relative improvement below this does not count as "the loss decreased" for the plateau schedule.
PLATEAU_THRESHOLD = 1e-4


@dataclass
class TrainResult:
    """What ``train`` did. ``losses``: mean training MSE of each completed epoch."""

    out_dir: Path
    checkpoint: Path
    model: nn.Module
    epochs: int
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    clips_per_s: float = 0.0
    stopped_at_max_steps: bool = False


# ------------------------------------------------------------------------------------ pure helpers


def reconstruction_loss(recon: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every pixel of the batch (Keras ``mse``), computed in float32."""
    return F.mse_loss(recon.float(), clips.float())


def scheduled_lr(train: TrainConfig, step: int, plateau_lr: float | None = None) -> float:
    """Learning rate of optimiser step ``step`` (0-based count of steps already taken).

    ``inverse_time``: Keras' legacy ``decay``: ``lr / (1 + decay * step)``; ``constant``: ``lr``;
    ``plateau``: the current reduced rate ``plateau_lr`` (``lr`` before any reduction).
    """
    if train.schedule == "inverse_time":
        return train.lr / (1.0 + train.decay * step)
    if train.schedule == "plateau":
        return train.lr if plateau_lr is None else plateau_lr
    return train.lr


def plateau_update(state: dict[str, Any], epoch_loss: float, train: TrainConfig) -> dict[str, Any]:
    """Reduce-on-plateau after an epoch: the rate is multiplied by ``plateau_factor`` once the training
    loss has not decreased (by a relative ``PLATEAU_THRESHOLD``) for ``plateau_patience`` epochs.

    ``state``: ``{"lr", "best", "bad_epochs"}``; returns the new state (the input is not changed).
    """
    state = dict(state)
    best = state.get("best")
    if best is None or epoch_loss < best * (1.0 - PLATEAU_THRESHOLD):
        state["best"], state["bad_epochs"] = epoch_loss, 0
    else:
        state["bad_epochs"] = state.get("bad_epochs", 0) + 1
        if state["bad_epochs"] >= max(train.plateau_patience, 1):
            state["lr"] = state.get("lr", train.lr) * train.plateau_factor
            state["bad_epochs"] = 0
    return state


def data_fingerprint(videos: Sequence, size: int | None = None) -> str:
    """SHA-256 over video names, frame counts, native sizes and three sampled frames of each video.

    Cheap: the frames are the ``size``-resized ones training reads anyway (cached by the source).
    """
    h = hashlib.sha256()
    for video in videos:
        n = len(video)
        h.update(json.dumps([video.name, n, list(video.source.native_size)]).encode())
        if n:
            frames = video.source.frames(size)
            for i in sorted({0, n // 2, n - 1}):
                h.update(np.ascontiguousarray(frames[i]).tobytes())
    return h.hexdigest()


def footage_fingerprint(videos: Sequence) -> str:
    """SHA-256 over video names, frame counts, native sizes and the first frame of each video: which footage a
    detector was fitted on, without decoding (or caching) more than one frame per video."""
    h = hashlib.sha256()
    for video in videos:
        h.update(json.dumps([video.name, len(video), list(video.source.native_size)]).encode())
        first = next(iter(video.source.iter_frames(None)), None)
        if first is not None:
            h.update(np.ascontiguousarray(first).tobytes())
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def ranges_by_name(videos: Sequence, ranges: Any) -> dict[str, Any]:
    """Per-video frame ranges keyed by video name (JSON-ready); ``ranges`` aligned with ``videos`` or a dict."""
    if ranges is None:
        return {}
    if isinstance(ranges, dict):
        return _jsonable(ranges)
    return {v.name: _jsonable(r) for v, r in zip(videos, ranges)}


# ------------------------------------------------------------------------------------- distributed


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


# ----------------------------------------------------------------------------------------- outputs


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def _plot_loss(path: Path, history: list[float], holdout: list[float | None] | None = None) -> None:
    epochs = np.arange(1, len(history) + 1)
    losses = np.asarray(history, dtype=float)
    held = [np.nan if v is None else v for v in holdout or []]
    try:
        from .plots import plot_loss_curve
    except ImportError:
        plot_loss_curve = None
    if plot_loss_curve is not None:
        plot_loss_curve(epochs, losses, path, val_losses=held if any(np.isfinite(held)) else None)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(epochs, losses, marker="o", label="train")
    if any(np.isfinite(held)):
        ax.plot(epochs[: len(held)], held, marker="s", label="held out")
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _rewrite_log(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    os.replace(tmp, path)


# -------------------------------------------------------------------------------------------- train


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
    from .data.clips import ClipDataset, split_holdout

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
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's state (a fresh one, or an interrupted run's with its weights loaded into ``model``) and the log
    rows written up to its checkpoint."""
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
    if resume:
        if not ckpt_path.exists() and not ckpt._backup_path(ckpt_path).exists():
            raise TrainingError(
                f"{ckpt_path}: nothing to resume: the run stopped before it wrote its first checkpoint (one is "
                "written at the end of each epoch and at --max-steps); start it again without --resume"
            )
        meta = ckpt.read_meta(ckpt_path)
        _check_resumable(meta, cfg, fingerprint, ckpt_path)
        saved_world = meta.get("world_size", 1)
        if saved_world != world and meta.get("epoch_step", 0):
            raise TrainingError(
                f"{ckpt_path}: stopped mid-epoch with {saved_world} processes; resume with the same number"
            )
        ckpt.load_weights(ckpt_path, model)
        for key in state:
            if key in meta:
                state[key] = meta[key]
        if log_path.is_file():
            with open(log_path) as fh:
                log_rows = [json.loads(line) for line in fh if line.strip()]
            # Lines written after the checkpoint (a crash between the two) are dropped.
            log_rows = [r for r in log_rows if r["step"] <= state["step"] and not r.get("partial")]
    return state, log_rows


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


def train(
    run_config: RunConfig,
    train_videos: Sequence,
    out_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    progress: bool = True,
    holdout: bool = True,
    use_fast: bool = True,
    extras: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``run_config.model`` on clips of ``train_videos`` (normal footage) and checkpoint it.

    ``train_videos``: ``Video`` records; with ``holdout`` a ``train.holdout_fraction`` of each
    video's frames is kept out of training for calibration (ranges stored in the checkpoint).
    ``max_steps``: stop after this many optimiser steps in total (a checkpoint is written there and
    ``resume`` continues exactly). ``resume``: continue from ``out_dir/checkpoint``; ``epochs`` may be
    raised, other settings must match. Raises ``TrainingError`` on a non-finite loss, leaving the
    last good checkpoint in place. ``extras``: JSON values stored in the checkpoint too (e.g. the
    dataset root). After each epoch the loss on the held-out clips is logged (``holdout_loss``).
    ``use_fast``: run the forward pass through ``models.fast.fast_model`` (same function, shared
    parameters, same gradients within 1e-5): 1.6x faster per step at 128x128 and at 256x256 on 2 CPU
    cores (docs/performance.md); ``False`` trains through the plain port.
    """
    from torch.utils.data import DataLoader, DistributedSampler

    from .models import build_model

    cfg, tcfg = run_config, run_config.train
    if cfg.model.name == "conv_ae" and cfg.model.clip_length != cfg.data.clip_length:
        raise ConfigError(
            f"model.clip_length ({cfg.model.clip_length}) must equal data.clip_length ({cfg.data.clip_length})"
        )
    rank, world = dist_info()
    is_main = rank == 0
    device = pick_device(device)
    autocast_dtype(device, tcfg.precision)  # reject e.g. fp16 on CPU before any work
    configure_backend(device)
    out_dir = Path(out_dir)
    ckpt_path = out_dir / CHECKPOINT_NAME
    log_path = out_dir / LOG_NAME

    videos = list(train_videos)
    dataset, holdout_set, holdout_ranges, fingerprint = _prepare_data(videos, cfg, holdout)

    # --- model, optimiser and the state of an interrupted run
    with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
        torch.manual_seed(tcfg.seed)
        model = build_model(cfg.model)
    state, log_rows = _restore_state(resume, ckpt_path, log_path, model, cfg, fingerprint, world)
    model.to(device)
    model.train()
    net, eval_net = _wrap_model(model, device, use_fast, tcfg.decode_chunk, world)
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg.lr, eps=tcfg.eps)
    if resume and state["step"] > 0:
        ckpt.load_optimizer_state(ckpt_path, optimizer)
    scaler = torch.amp.GradScaler(device.type, enabled=tcfg.precision == "fp16")

    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(out_dir / CONFIG_NAME, cfg.to_dict())

    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=tcfg.shuffle, seed=tcfg.seed)
    steps_per_epoch = math.ceil(len(sampler) / tcfg.batch_size)
    # With a GPU, reading the loss every step would stall the launch queue; check every few steps.
    check_every = 1 if device.type == "cpu" else 10
    pin = device.type == "cuda"

    def save(partial: bool) -> None:
        saved = {
            **(extras or {}),
            **state,
            "partial": partial,
            "data_fingerprint": fingerprint,
            "holdout_ranges": ranges_by_name(videos, holdout_ranges),
            "train_clips": len(dataset),
            "world_size": world,
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
        }
        ckpt.save_checkpoint(ckpt_path, model, cfg, saved, optimizer=optimizer)

    @torch.no_grad()
    def holdout_loss() -> float | None:
        """Mean MSE over the held-out clips (each rank takes a share; summed over ranks)."""
        if holdout_set is None:
            return None
        share = DistributedSampler(holdout_set, num_replicas=world, rank=rank, shuffle=False)
        total = torch.zeros((), dtype=torch.float64, device=device)
        count = 0
        for batch in DataLoader(holdout_set, batch_size=tcfg.batch_size, sampler=list(share)):
            clips = batch.to(device, non_blocking=pin).float().div_(256.0)
            with autocast(device, tcfg.precision):
                recon = eval_net(clips)
            total += reconstruction_loss(recon, clips).double() * clips.shape[0]
            count += clips.shape[0]
        total_all, count_all = _all_reduce_sum([total.item(), float(count)], device, world)
        return total_all / max(count_all, 1.0)

    start_time = time.perf_counter()
    run_clips = 0
    stopped = False
    for epoch in range(state["epoch"], tcfg.epochs):
        if max_steps is not None and state["step"] >= max_steps:
            stopped = True
            break
        sampler.set_epoch(epoch)
        indices = list(sampler)[state["epoch_step"] * tcfg.batch_size :]
        loader = DataLoader(
            dataset,
            batch_size=tcfg.batch_size,
            sampler=indices,
            num_workers=tcfg.num_workers,
            pin_memory=pin,
            drop_last=False,
        )
        bar = None
        if progress and is_main:
            from tqdm import tqdm

            bar = tqdm(
                total=steps_per_epoch,
                initial=state["epoch_step"],
                desc=f"epoch {epoch + 1}/{tcfg.epochs}",
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
            )
        epoch_start = time.perf_counter()
        epoch_clips_here = 0
        pending_sum = torch.zeros((), dtype=torch.float64, device=device)
        pending_clips = 0
        for batch in loader:
            lr = scheduled_lr(tcfg, state["step"], state["plateau"]["lr"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            # uint8 until here; [0, 1) float32 only inside the batch (the seed divides by 256).
            clips = batch.to(device, non_blocking=pin).float().div_(256.0)
            with autocast(device, tcfg.precision):
                recon = net(clips)
            loss = reconstruction_loss(recon, clips)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            n = clips.shape[0]
            pending_sum += loss.detach().double() * n
            pending_clips += n
            epoch_clips_here += n
            state["step"] += 1
            state["epoch_step"] += 1
            last_of_epoch = state["epoch_step"] >= steps_per_epoch
            at_max = max_steps is not None and state["step"] >= max_steps
            if state["step"] % check_every == 0 or last_of_epoch or at_max:
                total, count = _all_reduce_sum([pending_sum.item(), float(pending_clips)], device, world)
                if not math.isfinite(total):
                    if bar is not None:
                        bar.close()
                    raise TrainingError(
                        f"the training loss became non-finite at step {state['step']} (epoch {epoch + 1}); "
                        f"stopped. The last good checkpoint ({ckpt_path}, epoch {state['epoch']}) is kept. "
                        "Try a lower learning rate or --precision fp32."
                    )
                state["epoch_loss_sum"] += total
                state["epoch_clips"] += int(count)
                pending_sum.zero_()
                pending_clips = 0
                if bar is not None:
                    elapsed = time.perf_counter() - epoch_start
                    bar.set_postfix(
                        loss=f"{state['epoch_loss_sum'] / max(state['epoch_clips'], 1):.5f}",
                        clips_s=f"{epoch_clips_here * world / max(elapsed, 1e-9):.1f}",
                        lr=f"{lr:.2e}",
                        refresh=False,
                    )
            if bar is not None:
                bar.update(1)
            if at_max and not last_of_epoch:
                stopped = True
                break
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - epoch_start
        state["seconds"] += seconds
        run_clips += epoch_clips_here * world
        row = {
            "epoch": epoch + 1,
            "step": state["step"],
            "loss": state["epoch_loss_sum"] / max(state["epoch_clips"], 1),
            "lr": scheduled_lr(tcfg, max(state["step"] - 1, 0), state["plateau"]["lr"]),
            "seconds": round(seconds, 3),
            "clips_per_s": round(epoch_clips_here * world / max(seconds, 1e-9), 3),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
        }
        if not stopped:
            row["holdout_loss"] = holdout_loss()
            state["holdout_history"].append(row["holdout_loss"])
        if device.type == "cuda":
            row["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        if stopped:
            row["partial"] = True
        else:
            state["loss_history"].append(row["loss"])
            if tcfg.schedule == "plateau":
                state["plateau"] = plateau_update(state["plateau"], row["loss"], tcfg)
            state["epoch"] = epoch + 1
            state["epoch_step"] = 0
            state["epoch_loss_sum"] = 0.0
            state["epoch_clips"] = 0
        if is_main:
            save(partial=stopped)
            log_rows.append(row)
            _rewrite_log(log_path, log_rows)
            if state["loss_history"]:
                _plot_loss(out_dir / CURVE_NAME, state["loss_history"], state["holdout_history"])
        if world > 1:
            import torch.distributed as dist

            dist.barrier()
        if stopped:
            break

    wall = time.perf_counter() - start_time
    model.eval()
    return TrainResult(
        out_dir=out_dir,
        checkpoint=ckpt_path,
        model=model,
        epochs=state["epoch"],
        steps=state["step"],
        losses=list(state["loss_history"]),
        seconds=wall,
        clips_per_s=run_clips / wall if wall > 0 else 0.0,
        stopped_at_max_steps=stopped,
    )
