"""The appearance cue: the autoencoder's live reconstruction error, per region.

Each frame is resized to the model's input (``S x S``), the window of the last ``T`` frames is reconstructed
(``inference.stream_live``: the fast path encodes each frame once and decodes only the newest one) and the
newest frame's absolute pixel errors are averaged over ``patch x patch`` regions: a ``(S/p, S/p)`` map per frame,
in units of mean absolute grey level / 256. The first ``T - 1`` frames only fill the window: ``None``.

The autoencoder is trained by ``training.train`` before the detector is fitted (``trained_first``): the API
runs ``AECue.train`` and the cue's ``fit`` has nothing left to learn. Its state on disk is the checkpoint
folder it names (``checkpoint/`` inside the detector).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import Cue, OneFrameFeed


@dataclass(frozen=True)
class AEConfig:
    """``patch``: region side in pixels of the model's input (it must divide the input size)."""

    patch: int = 8


class AECue(Cue):
    """Per-region live reconstruction error of a trained autoencoder (``model`` with its ``run_config``)."""

    name = "ae"
    Config = AEConfig
    trained_first = True
    summary = "autoencoder alone: each region's live reconstruction error, calibrated per region on normal frames"

    def __init__(self, model, run_config, *, patch: int = 8, device=None, checkpoint: Path | None = None,
                 holdout_ranges=None):  # fmt: skip
        from ..errors import ConfigError

        super().__init__(AEConfig(patch=int(patch)))
        self.model = model
        self.size = int(run_config.data.size)
        self.clip_length = int(run_config.data.clip_length)
        if self.size % patch:
            raise ConfigError(f"ae cue: patch {patch} must divide the model input size {self.size}")
        self.patch = int(patch)
        if isinstance(device, str):
            import torch

            device = torch.device(device)
        self.device = device
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.holdout_ranges = holdout_ranges  # {video name: [start, stop)} held out by training, or None
        self.dataset_root: str | None = None  # the training data its checkpoint recorded

    # -- training (before the detector's fit) ---------------------------------------------------------
    @classmethod
    def train(cls, videos: Sequence, out_dir: Path, config: Any = None, *, settings=None, device=None,
              log=lambda *_: None, **train_kw) -> AECue:  # fmt: skip
        """Train the autoencoder (``training.train``; ``config``: a ``RunConfig``, the seed recipe by default)
        on ``videos`` into ``out_dir/checkpoint`` and return the cue of the model it trained, as it is in memory
        (the checkpoint holds the same weights); ``log`` gets one summary line."""
        from ..device import pick_device
        from ..seed.config import RunConfig
        from ..seed.run_state import dist_info
        from ..seed.training import train

        r = train(config or RunConfig(), videos, out_dir, device=device, **train_kw)
        rank, world = dist_info()
        if rank == 0:
            loss = f"{r.losses[-1]:.6f}" if r.losses else "n/a"
            where = f" on {world} processes" if world > 1 else ""
            stop = " (stopped at --max-steps)" if r.stopped_at_max_steps else ""
            log(
                f"trained {r.epochs} full epochs, {r.steps} steps{where} in {r.seconds:.1f} s "
                f"({r.clips_per_s:.1f} clips/s){stop}; last epoch loss {loss}; checkpoint: {r.checkpoint}"
            )
        if r.checkpoint_extras is None:  # no checkpoint at all (nothing trained): loading it says so, naming it
            return cls.from_checkpoint(r.checkpoint, settings=settings, device=device)
        r.model.zero_grad(set_to_none=True)  # the cue only scores: the last step's gradients are not needed
        return cls._of(r.model, r.run_config, r.checkpoint_extras, r.checkpoint, settings, pick_device(device))

    @classmethod
    def find_trained(cls, run: Path, doc: dict | None, *, settings=None, device=None) -> AECue | None:
        """The cue of the checkpoint a run folder holds (named by its ``detector.json`` ``doc``, else
        ``run/checkpoint``), or None when it has none."""
        meta = ((doc or {}).get("cues") or {}).get(cls.name) or {}
        path = meta.get("checkpoint") or (doc or {}).get(f"{cls.name}_checkpoint")  # version 1: at the top
        path = Path(run) / "checkpoint" if path is None else Path(path)
        path = path if path.is_absolute() else Path(run) / path
        if not (path / "checkpoint.json").is_file():
            return None
        if settings is None and doc is not None:
            from .base import saved_settings

            settings = saved_settings(doc["config"], (cls.name,)).get(cls.name, {})
        return cls.from_checkpoint(path, settings=settings, device=device)

    @classmethod
    def from_checkpoint(cls, checkpoint: Path, *, settings=None, device=None) -> AECue:
        """The cue of an autoencoder checkpoint folder (the hold-out ranges its training recorded included)."""
        from ..device import pick_device
        from ..seed.checkpoint import load_checkpoint

        dev = pick_device(device)
        model, run_config, extras = load_checkpoint(checkpoint, device=dev)
        return cls._of(model, run_config, extras, checkpoint, settings, dev)

    @classmethod
    def _of(cls, model, run_config, extras: dict[str, Any], checkpoint: Path, settings, device) -> AECue:
        """The cue of a model on ``device`` and its checkpoint's ``extras`` (the hold-out ranges, the dataset)."""
        cfg = cls.config_from(settings)
        cue = cls(model, run_config, patch=cfg.patch, device=device, checkpoint=Path(checkpoint),
                  holdout_ranges=extras.get("holdout_ranges"))  # fmt: skip
        cue.dataset_root = extras.get("dataset_root")
        return cue

    def held_out(self, videos: Sequence) -> list[tuple[int, int]] | None:
        """The ``[start, stop)`` frames per video that training held out, or None when it recorded none."""
        holdout = self.holdout_ranges
        if not holdout:
            return None
        names = [getattr(v, "name", str(i)) for i, v in enumerate(videos)]
        if isinstance(holdout, dict):
            return [tuple(int(x) for x in holdout.get(n, (len(v), len(v)))) for n, v in zip(names, videos)]
        if len(holdout) != len(videos):
            return None
        return [(int(a), int(b)) for a, b in holdout]

    def fit(self, videos: Sequence[Iterable[np.ndarray]], *, progress: bool = False) -> AECue:
        """Nothing to fit: the autoencoder was trained by ``training.train`` (see ``train``)."""
        return self

    # -- geometry and stream ----------------------------------------------------------------------------
    @property
    def warmup(self) -> int:
        """Frames that yield no map at the start of a stream."""
        return self.clip_length - 1

    def grid_shape(self, frame_shape=None) -> tuple[int, int]:
        n = self.size // self.patch
        return n, n

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """Per ``(H, W)`` uint8 frame one ``(S/p, S/p)`` float32 map (``None`` for the first ``T - 1``); one
        frame is read per item yielded, so the stream can be fed live one frame at a time."""
        from ..data.images import resize_frame
        from ..seed.inference import stream_live
        from ..seed.scoring import patch_errors

        window: collections.deque = collections.deque(maxlen=self.clip_length)
        feed = OneFrameFeed()
        results = None
        for frame in frames:
            small = resize_frame(np.asarray(frame), self.size)
            window.append(small)
            if results is not None:
                feed.put(small)
            if len(window) < self.clip_length:
                yield None
                continue
            r = None
            if results is not None:
                r = next(results, None)
            if r is None:  # (re)start the engine on the current window
                feed.pending.clear()
                feed.pending.extend(window)
                results = iter(
                    stream_live(self.model, feed, clip_length=self.clip_length, device=self.device, maps=True)
                )
                r = next(results)
            yield patch_errors(r.map, self.patch).astype(np.float32)

    # -- state ------------------------------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The checkpoint folder it reads (the weights live there, not in the detector's arrays)."""
        meta = {"patch": self.patch, "size": self.size, "clip_length": self.clip_length, "checkpoint": self.checkpoint}
        return meta, {}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, folder: Path, device=None) -> AECue:
        from ..errors import CheckpointError

        if not meta.get("checkpoint"):
            raise CheckpointError(folder, "the ae cue names no autoencoder checkpoint folder")
        path = Path(meta["checkpoint"])
        path = path if path.is_absolute() else Path(folder) / path
        return cls.from_checkpoint(path, settings={"patch": int(meta["patch"])}, device=device)

    def files(self) -> list[Path]:
        """The checkpoint's files: the detector's manifest covers them (its config and its weights)."""
        if self.checkpoint is None:
            return []
        return [self.checkpoint / f for f in ("checkpoint.json", "model.safetensors") if (self.checkpoint / f).exists()]
