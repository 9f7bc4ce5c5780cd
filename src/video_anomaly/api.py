"""The small public API: train or load a detector, score a video, evaluate, calibrate.

>>> from video_anomaly import Detector, load_dataset
>>> data = load_dataset("UCSD_Anomaly_Dataset.v1p2/UCSDped2")
>>> det = Detector.train(data, "runs/ped2")          # seed recipe, then calibration on held-out frames
>>> scores = det.score(data.test[0])                  # VideoScores: per-frame scores, Sa, Sr
>>> results = det.evaluate(data.test, "runs/ped2/evaluation")

Everything the command line does goes through these calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig


def _videos(data, part: str) -> list:
    """A list of ``Video`` records from a dataset, a dataset path, a list of videos or one video/path."""
    from .data import load_dataset
    from .data.records import Video, VideoDataset

    if isinstance(data, VideoDataset):
        return list(getattr(data, part))
    if isinstance(data, Video):
        return [data]
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.is_file() or _is_frame_folder(path):
            from .data.frames import open_source

            return [Video(path.stem if path.is_file() else path.name, open_source(path))]
        return list(getattr(load_dataset(path), part))
    return list(data)


def _is_frame_folder(path: Path) -> bool:
    from .data.frames import list_images

    return path.is_dir() and bool(list_images(path, required=False))


@dataclass
class Detector:
    """A trained model with its config, training record and (optional) calibration.

    ``path``: the checkpoint folder it was loaded from or saved to (None for an in-memory model).
    """

    model: torch.nn.Module
    config: RunConfig
    extras: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    device: torch.device | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, path_or_name: str | Path, device: str | torch.device | None = None) -> Detector:
        """Load a checkpoint folder, or a shipped model by name (see ``video_anomaly.weights``)."""
        from .checkpoint import load_checkpoint
        from .device import pick_device

        dev = pick_device(None if device is None else str(device))
        path = resolve_model_path(path_or_name)
        model, cfg, extras = load_checkpoint(path, device=dev)
        return cls(model, cfg, extras, Path(path), dev)

    @classmethod
    def train(
        cls,
        data,
        out_dir: str | Path,
        config: RunConfig | None = None,
        *,
        device: str | torch.device | None = None,
        calibrate: bool = True,
        target_far: float | None = None,
        max_steps: int | None = None,
        progress: bool = True,
    ) -> Detector:
        """Train on the normal (training) videos of ``data`` and, with ``calibrate``, fit the live
        threshold and per-patch statistics on the held-out frames. Writes ``out_dir``."""
        from .training import train

        cfg = config or RunConfig()
        videos = _videos(data, "train")
        root = data if isinstance(data, (str, Path)) else getattr(data, "root", None)
        extras = {"dataset_root": str(Path(root).resolve())} if root is not None else None
        result = train(cfg, videos, out_dir, device=device, max_steps=max_steps, progress=progress, extras=extras)
        det = cls.load(result.checkpoint, device=device)
        if calibrate:
            det.calibrate(videos, target_far=target_far)
        return det

    # ------------------------------------------------------------------ use
    def calibrate(self, videos=None, ranges=None, *, target_far: float | None = None):
        """Fit the alarm threshold and per-patch error statistics on normal frames; store them in the
        checkpoint when the detector has one. Default: the frames held out from training."""
        from . import calibration as cal

        kwargs = {} if target_far is None else {"target_far": target_far}
        if videos is None:
            if self.path is None:
                raise ValueError("an in-memory detector needs calibration videos")
            result = cal.calibrate_checkpoint(self.path, device=self.device, log=lambda *_: None, **kwargs)
        else:
            videos = _videos(videos, "train")
            if ranges is None:
                ranges = cal.holdout_ranges(self.extras, videos)
            result = cal.calibrate(self.model, self.config, videos, ranges, device=self.device, **kwargs)
            if self.path is not None:
                from .checkpoint import update_checkpoint_extras

                meta, arrays = result.to_extras()
                update_checkpoint_extras(self.path, arrays=arrays, **meta)
        if self.path is not None:
            from .checkpoint import load_checkpoint

            _, _, self.extras = load_checkpoint(self.path)
        return result

    @property
    def calibration(self):
        """The stored ``Calibration``, or None when the detector is not calibrated."""
        from .calibration import Calibration
        from .errors import CheckpointError

        try:
            return Calibration.from_extras(self.extras, str(self.path or "detector"))
        except CheckpointError:
            return None

    def score(self, video, *, protocol: str = "exact", score_config=None, want_maps: bool = False):
        """Score one video (a ``Video``, a video file or a frame folder): a ``scoring.VideoScores``."""
        from .scoring import score_video

        (v,) = _videos(video, "test")[:1] or [None]
        cfg = score_config or self.config.score
        return score_video(
            self.model,
            v,
            cfg,
            self.config.data.size,
            clip_length=self.config.data.clip_length,
            device=self.device,
            protocol=protocol,
            want_maps=want_maps,
            **self._calibration_kwargs(),
        )

    def evaluate(self, data, out_dir: str | Path, *, protocol: str = "exact", figures: bool = True, **kw) -> dict:
        """Score the labelled test videos of ``data`` and write ``evaluation.json/.md``, ROC and curves."""
        from .evaluation import evaluate

        return evaluate(
            self.model,
            _videos(data, "test"),
            self.config,
            out_dir,
            device=self.device,
            protocol=protocol,
            figures=figures,
            **{**self._calibration_kwargs(), **kw},
        )

    def _calibration_kwargs(self) -> dict:
        cal = self.calibration
        if cal is None:
            return {}
        from .scoring import PatchStats

        return {"patch_stats": PatchStats(cal.patch, cal.mean, cal.std)}


def resolve_model_path(path_or_name: str | Path) -> Path:
    """A checkpoint path, or the folder of a model shipped with the package (``ucsd-ped2``...)."""
    path = Path(path_or_name)
    if path.exists():
        return path
    from importlib import resources

    shipped = Path(str(resources.files("video_anomaly") / "weights" / str(path_or_name)))
    if shipped.is_dir():
        return shipped
    return path  # load_checkpoint reports the missing path
