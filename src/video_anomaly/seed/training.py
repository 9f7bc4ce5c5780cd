"""Training the autoencoder on normal clips: the seed's recipe, resumable and distributable.

The seed recipe (``TrainConfig`` defaults): MSE loss, Adam (lr 1e-4, eps 1e-6) with Keras' legacy
per-step inverse-time decay ``lr / (1 + 1e-5 * step)``, batch 4, 3 epochs, shuffled clips.

A run folder holds::

    config.json        the resolved RunConfig
    train_log.jsonl    one line per epoch: epoch, step, loss, lr, seconds, clips_per_s, peak_rss_mb
    loss.png           the loss curve
    checkpoint/        see ``video_anomaly.seed.checkpoint``; rewritten atomically after every epoch

Exact resume: the model is initialised from ``torch.manual_seed(seed)``; clip order in epoch ``e``
comes from a generator seeded with ``seed + e`` (``DistributedSampler``'s rule), and nothing else
draws random numbers. So a checkpoint's (epoch, step in epoch) fixes everything that follows, and
``resume=True`` continues to the same weights as an uninterrupted run, also from a mid-epoch stop
(``max_steps``): the already-seen batches of that epoch are skipped.

Distributed: when ``torch.distributed`` is initialised (``init_distributed``, e.g. under
``torchrun``), the model is wrapped in ``DistributedDataParallel``, each rank reads its share of
the epoch's permutation, and rank 0 alone writes files and shows progress. ``batch_size`` is per
process."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..device import autocast, autocast_dtype, configure_backend, pick_device
from ..errors import ConfigError, TrainingError
from . import checkpoint as ckpt
from .config import RunConfig, TrainConfig
from .run_state import (
    _all_reduce_sum,
    _peak_rss_mb,
    _plot_loss,
    _prepare_data,
    _restore_state,
    _rewrite_log,
    _wrap_model,
    _write_json_atomic,
    dist_info,
    ranges_by_name,
)

LOG_NAME = "train_log.jsonl"


CONFIG_NAME = "config.json"


CURVE_NAME = "loss.png"


CHECKPOINT_NAME = "checkpoint"


# A relative improvement below this does not count as "the loss decreased" for the plateau schedule.
PLATEAU_THRESHOLD = 1e-4


@dataclass
class TrainResult:
    """What ``train`` did. ``losses``: mean training MSE of each completed epoch; ``model``: the trained model, in
    eval mode on the training device (the same weights as the checkpoint)."""

    out_dir: Path
    checkpoint: Path
    model: nn.Module
    epochs: int
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    clips_per_s: float = 0.0
    stopped_at_max_steps: bool = False
    run_config: RunConfig | None = None
    # What the checkpoint holds beside the weights (``checkpoint.load_checkpoint``'s extras), so
    # that a caller can use the trained model without reading it back; None when no checkpoint was written.
    checkpoint_extras: dict[str, Any] | None = None


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


@dataclass
class _Run:
    """What one training run carries from batch to batch: its settings, data, model and resumable ``state``."""

    cfg: RunConfig
    device: torch.device
    rank: int
    world: int
    out_dir: Path
    videos: list
    dataset: Any  # ClipDataset of the training clips
    holdout_set: Any  # ClipDataset of the held-out clips, or None
    holdout_ranges: list[tuple[int, int]] | None
    fingerprint: str
    model: nn.Module
    net: nn.Module  # what trains: the fast path, wrapped in DDP across processes
    eval_net: nn.Module  # what only scores (no DDP wrapper: nothing to synchronise)
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    sampler: Any  # DistributedSampler over ``dataset``
    state: dict[str, Any]
    log_rows: list[dict[str, Any]]
    extras: dict[str, Any]
    max_steps: int | None
    progress: bool
    # The checkpoint's extras as last written (JSON values), or as read on resume; None while there is none.
    checkpoint_extras: dict[str, Any] | None = None
    run_clips: int = 0  # clips trained by this call, all ranks

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def ckpt_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    @property
    def log_path(self) -> Path:
        return self.out_dir / LOG_NAME

    @property
    def pin(self) -> bool:
        return self.device.type == "cuda"

    @property
    def check_every(self) -> int:
        # With a GPU, reading the loss every step would stall the launch queue; check every few steps.
        return 1 if self.device.type == "cpu" else 10

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.sampler) / self.cfg.train.batch_size)


def _check_config(cfg: RunConfig) -> None:
    if cfg.model.name == "conv_ae" and cfg.model.clip_length != cfg.data.clip_length:
        raise ConfigError(
            f"model.clip_length ({cfg.model.clip_length}) must equal data.clip_length ({cfg.data.clip_length})"
        )


def _setup(
    cfg: RunConfig,
    videos: list,
    out_dir: Path,
    device,
    *,
    resume: bool,
    holdout: bool,
    use_fast: bool,
    max_steps: int | None,
    progress: bool,
    extras: dict[str, Any],
) -> _Run:
    """Data, seeded model, optimiser and the state of an interrupted run (``resume``); writes ``config.json``."""
    from torch.utils.data import DistributedSampler

    from .models import build_model

    tcfg = cfg.train
    _check_config(cfg)
    rank, world = dist_info()
    device = pick_device(device)
    autocast_dtype(device, tcfg.precision)  # reject e.g. fp16 on CPU before any work
    configure_backend(device)
    dataset, holdout_set, holdout_ranges, fingerprint = _prepare_data(videos, cfg, holdout)
    with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
        torch.manual_seed(tcfg.seed)
        model = build_model(cfg.model)
    ckpt_path, log_path = out_dir / CHECKPOINT_NAME, out_dir / LOG_NAME
    state, log_rows, saved_extras = _restore_state(resume, ckpt_path, log_path, model, cfg, fingerprint, world)
    model.to(device)
    model.train()
    net, eval_net = _wrap_model(model, device, use_fast, tcfg.decode_chunk, world)
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg.lr, eps=tcfg.eps)
    if resume and state["step"] > 0:
        ckpt.load_optimizer_state(ckpt_path, optimizer)
    scaler = torch.amp.GradScaler(device.type, enabled=tcfg.precision == "fp16")
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(out_dir / CONFIG_NAME, cfg.to_dict())
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=tcfg.shuffle, seed=tcfg.seed)
    return _Run(cfg=cfg, device=device, rank=rank, world=world, out_dir=out_dir, videos=videos, dataset=dataset,
                holdout_set=holdout_set, holdout_ranges=holdout_ranges, fingerprint=fingerprint, model=model, net=net,
                eval_net=eval_net, optimizer=optimizer, scaler=scaler, sampler=sampler, state=state,
                log_rows=log_rows, extras=extras, max_steps=max_steps, progress=progress,
                checkpoint_extras=saved_extras)  # fmt: skip


def _save(run: _Run, partial: bool) -> None:
    """Checkpoint the run (rank 0 writes it; every rank keeps the extras it holds)."""
    saved = {
        **run.extras,
        **run.state,
        "partial": partial,
        "data_fingerprint": run.fingerprint,
        "holdout_ranges": ranges_by_name(run.videos, run.holdout_ranges),
        "train_clips": len(run.dataset),
        "world_size": run.world,
        "scaler": run.scaler.state_dict() if run.scaler.is_enabled() else None,
    }
    if run.is_main:
        ckpt.save_checkpoint(run.ckpt_path, run.model, run.cfg, saved, optimizer=run.optimizer)
    # A copy through JSON, as the checkpoint stores it: later epochs change the state's lists in place.
    run.checkpoint_extras = json.loads(json.dumps(saved))


@torch.no_grad()
def _holdout_loss(run: _Run) -> float | None:
    """Mean MSE over the held-out clips (each rank takes a share; summed over ranks)."""
    from torch.utils.data import DataLoader, DistributedSampler

    if run.holdout_set is None:
        return None
    tcfg = run.cfg.train
    share = DistributedSampler(run.holdout_set, num_replicas=run.world, rank=run.rank, shuffle=False)
    total = torch.zeros((), dtype=torch.float64, device=run.device)
    count = 0
    for batch in DataLoader(run.holdout_set, batch_size=tcfg.batch_size, sampler=list(share)):
        clips = batch.to(run.device, non_blocking=run.pin).float().div_(256.0)
        with autocast(run.device, tcfg.precision):
            recon = run.eval_net(clips)
        total += reconstruction_loss(recon, clips).double() * clips.shape[0]
        count += clips.shape[0]
    total_all, count_all = _all_reduce_sum([total.item(), float(count)], run.device, run.world)
    return total_all / max(count_all, 1.0)


def _epoch_loader(run: _Run, epoch: int):
    """The epoch's batches (this rank's share of its permutation) that the run has not trained on yet."""
    from torch.utils.data import DataLoader

    tcfg = run.cfg.train
    run.sampler.set_epoch(epoch)
    indices = list(run.sampler)[run.state["epoch_step"] * tcfg.batch_size :]
    return DataLoader(
        run.dataset,
        batch_size=tcfg.batch_size,
        sampler=indices,
        num_workers=tcfg.num_workers,
        pin_memory=run.pin,
        drop_last=False,
    )


def _progress_bar(run: _Run, epoch: int):
    """A tqdm bar on stderr for the epoch (rank 0 with ``progress``), else None."""
    if not (run.progress and run.is_main):
        return None
    from tqdm import tqdm

    return tqdm(
        total=run.steps_per_epoch,
        initial=run.state["epoch_step"],
        desc=f"epoch {epoch + 1}/{run.cfg.train.epochs}",
        unit="step",
        dynamic_ncols=True,
        file=sys.stderr,
    )


def _train_step(run: _Run, batch: torch.Tensor) -> tuple[torch.Tensor, float]:
    """One optimiser step on a uint8 batch ``(B, T, 1, H, W)``: ``(loss, learning rate used)``."""
    tcfg = run.cfg.train
    lr = scheduled_lr(tcfg, run.state["step"], run.state["plateau"]["lr"])
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    # uint8 until here; [0, 1) float32 only inside the batch (the seed divides by 256).
    clips = batch.to(run.device, non_blocking=run.pin).float().div_(256.0)
    with autocast(run.device, tcfg.precision):
        recon = run.net(clips)
    loss = reconstruction_loss(recon, clips)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.state["step"] += 1
    run.state["epoch_step"] += 1
    return loss, lr


class _PendingLoss:
    """The loss summed over the clips of the steps since the last check, kept on the device (see ``check_every``)."""

    def __init__(self, device: torch.device):
        self.sum = torch.zeros((), dtype=torch.float64, device=device)
        self.clips = 0

    def add(self, loss: torch.Tensor, n: int) -> None:
        self.sum += loss.detach().double() * n
        self.clips += n

    def take_into(self, run: _Run, epoch: int) -> None:
        """Add the pending sum (all ranks) to the epoch's; ``TrainingError`` when it is not finite."""
        total, count = _all_reduce_sum([self.sum.item(), float(self.clips)], run.device, run.world)
        if not math.isfinite(total):
            raise TrainingError(
                f"the training loss became non-finite at step {run.state['step']} (epoch {epoch + 1}); "
                f"stopped. The last good checkpoint ({run.ckpt_path}, epoch {run.state['epoch']}) is kept. "
                "Try a lower learning rate or --precision fp32."
            )
        run.state["epoch_loss_sum"] += total
        run.state["epoch_clips"] += int(count)
        self.sum.zero_()
        self.clips = 0


def _run_epoch(run: _Run, epoch: int) -> tuple[bool, float, int]:
    """Train the rest of epoch ``epoch``: ``(stopped at max_steps, seconds, clips this rank trained)``."""
    state, max_steps = run.state, run.max_steps
    loader = _epoch_loader(run, epoch)
    bar = _progress_bar(run, epoch)
    start = time.perf_counter()
    clips_here, stopped = 0, False
    pending = _PendingLoss(run.device)
    try:
        for batch in loader:
            loss, lr = _train_step(run, batch)
            pending.add(loss, batch.shape[0])
            clips_here += batch.shape[0]
            last_of_epoch = state["epoch_step"] >= run.steps_per_epoch
            at_max = max_steps is not None and state["step"] >= max_steps
            if state["step"] % run.check_every == 0 or last_of_epoch or at_max:
                pending.take_into(run, epoch)
                if bar is not None:
                    elapsed = time.perf_counter() - start
                    bar.set_postfix(
                        loss=f"{state['epoch_loss_sum'] / max(state['epoch_clips'], 1):.5f}",
                        clips_s=f"{clips_here * run.world / max(elapsed, 1e-9):.1f}",
                        lr=f"{lr:.2e}",
                        refresh=False,
                    )
            if bar is not None:
                bar.update(1)
            if at_max and not last_of_epoch:
                stopped = True
                break
    finally:
        if bar is not None:
            bar.close()
    return stopped, time.perf_counter() - start, clips_here


def _epoch_row(run: _Run, epoch: int, stopped: bool, seconds: float, clips_here: int) -> dict[str, Any]:
    """The epoch's line of ``train_log.jsonl`` (the held-out loss measured here, after a whole epoch)."""
    state, tcfg = run.state, run.cfg.train
    row = {
        "epoch": epoch + 1,
        "step": state["step"],
        "loss": state["epoch_loss_sum"] / max(state["epoch_clips"], 1),
        "lr": scheduled_lr(tcfg, max(state["step"] - 1, 0), state["plateau"]["lr"]),
        "seconds": round(seconds, 3),
        "clips_per_s": round(clips_here * run.world / max(seconds, 1e-9), 3),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    if not stopped:
        row["holdout_loss"] = _holdout_loss(run)
        state["holdout_history"].append(row["holdout_loss"])
    if run.device.type == "cuda":
        row["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(run.device) / 2**20, 1)
    if stopped:
        row["partial"] = True
    return row


def _end_epoch(run: _Run, epoch: int, stopped: bool, seconds: float, clips_here: int) -> None:
    """Log the epoch, close it in the state (unless stopped inside it), checkpoint, rewrite log and curve."""
    state, tcfg = run.state, run.cfg.train
    state["seconds"] += seconds
    run.run_clips += clips_here * run.world
    row = _epoch_row(run, epoch, stopped, seconds, clips_here)
    if not stopped:
        state["loss_history"].append(row["loss"])
        if tcfg.schedule == "plateau":
            state["plateau"] = plateau_update(state["plateau"], row["loss"], tcfg)
        state.update(epoch=epoch + 1, epoch_step=0, epoch_loss_sum=0.0, epoch_clips=0)
    _save(run, partial=stopped)
    if run.is_main:
        run.log_rows.append(row)
        _rewrite_log(run.log_path, run.log_rows)
        if state["loss_history"]:
            _plot_loss(run.out_dir / CURVE_NAME, state["loss_history"], state["holdout_history"])
    if run.world > 1:
        import torch.distributed as dist

        dist.barrier()


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
    run = _setup(
        run_config,
        list(train_videos),
        Path(out_dir),
        device,
        resume=resume,
        holdout=holdout,
        use_fast=use_fast,
        max_steps=max_steps,
        progress=progress,
        extras=dict(extras or {}),
    )
    start_time = time.perf_counter()
    stopped = False
    for epoch in range(run.state["epoch"], run_config.train.epochs):
        if max_steps is not None and run.state["step"] >= max_steps:
            stopped = True
            break
        stopped, seconds, clips_here = _run_epoch(run, epoch)
        _end_epoch(run, epoch, stopped, seconds, clips_here)
        if stopped:
            break
    wall = time.perf_counter() - start_time
    run.model.eval()
    return TrainResult(
        out_dir=run.out_dir,
        checkpoint=run.ckpt_path,
        model=run.model,
        epochs=run.state["epoch"],
        steps=run.state["step"],
        losses=list(run.state["loss_history"]),
        seconds=wall,
        clips_per_s=run.run_clips / wall if wall > 0 else 0.0,
        stopped_at_max_steps=stopped,
        run_config=run_config,
        checkpoint_extras=run.checkpoint_extras,
    )
