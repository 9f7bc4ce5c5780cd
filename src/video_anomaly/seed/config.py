"""Frozen configuration dataclasses for data, model and training.

A run writes its resolved config (``RunConfig.to_dict``) next to its outputs; a checkpoint
stores the same dict so that it rebuilds its own model and preprocessing.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# The largest frame side: the ConvLSTM's memory grows with its square (about 1.5 GB of activations per clip at 1024
# on the CPU; 4096 took 24 GB and the kernel killed the process). The seed trains at 256.
MAX_SIZE = 1024


@dataclass(frozen=True)
class DataConfig:
    """Preprocessing and clipping (the seed recipe: 256x256 grayscale, /256, 10-frame clips, strides 1 and 2)."""

    size: int = 256
    clip_length: int = 10
    strides: tuple[int, ...] = (1, 2)
    # Training clips by the seed's code: consecutive non-overlapping clips ("step" = clip span).
    # A smaller step gives overlapping clips (more, correlated, training samples).
    clip_step: int | None = None

    def __post_init__(self):
        if self.size <= 0 or self.size % 8 or self.size > MAX_SIZE:
            raise ConfigError(f"data.size must be a multiple of 8 from 8 to {MAX_SIZE}, got {self.size}")
        if self.clip_length < 1:
            raise ConfigError(f"data.clip_length must be >= 1, got {self.clip_length}")
        if not self.strides or any(s < 1 for s in self.strides):
            raise ConfigError(f"data.strides must be positive integers, got {self.strides}")
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))


@dataclass(frozen=True)
class ModelConfig:
    """Which model and its widths. ``name``: ``"convlstm_ae"`` (the seed's) or ``"conv_ae"`` (Hasan et al. 2016)."""

    name: str = "convlstm_ae"
    clip_length: int = 10
    layer_norm_eps: float = 1e-3


@dataclass(frozen=True)
class TrainConfig:
    """The seed's training settings: Adam lr 1e-4, eps 1e-6, Keras inverse-time decay 1e-5, batch 4, 3 epochs."""

    epochs: int = 3
    batch_size: int = 4
    lr: float = 1e-4
    eps: float = 1e-6
    decay: float = 1e-5
    schedule: str = "inverse_time"  # "inverse_time" | "plateau" | "constant"
    plateau_patience: int = 1
    plateau_factor: float = 0.5
    shuffle: bool = True
    seed: int = 0
    precision: str = "fp32"
    num_workers: int = 0
    holdout_fraction: float = 0.1  # fraction of training frames held out for calibration
    # Decode this many frames at a time with activation checkpointing (0 = off): caps training memory
    # (see models.fast.FastConvLSTMAE) for about a third more compute.
    decode_chunk: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("train.epochs and train.batch_size must be >= 1")
        if self.schedule not in {"inverse_time", "plateau", "constant"}:
            raise ConfigError(f"train.schedule must be inverse_time, plateau or constant, got {self.schedule!r}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ConfigError("train.holdout_fraction must be in [0, 1)")


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
        unknown = set(d) - set(sections)
        if unknown:
            # A [score] section was once accepted and silently ignored: say where scores are chosen now.
            why = " (scores are chosen per detector: --score / DetectorConfig.score)" if "score" in unknown else ""
            raise ConfigError(f"unknown config sections: {sorted(unknown)}; known: {sorted(sections)}{why}")
        kwargs = {}
        for key, klass in sections.items():
            kwargs[key] = _build(klass, d.get(key, {}), key)
        return cls(**kwargs)

    def replace(self, **overrides: dict[str, Any]) -> RunConfig:
        """A copy with some fields of some sections replaced: ``cfg.replace(train={"epochs": 1})``."""
        d = self.to_dict()
        for section, values in overrides.items():
            if section not in d:
                raise ConfigError(f"unknown config section {section!r}")
            d[section].update({k: v for k, v in values.items() if v is not None})
        return RunConfig.from_dict(d)


def _build(klass, values: dict[str, Any], section: str):
    names = {f.name for f in dataclasses.fields(klass)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown keys in [{section}]: {sorted(unknown)}; known: {sorted(names)}")
    values = dict(values)
    if "strides" in values:
        values["strides"] = tuple(values["strides"])
    try:
        return klass(**values)
    except TypeError as exc:
        raise ConfigError(f"bad value in [{section}]: {exc}") from exc


def load_config(path: str | Path | None) -> RunConfig:
    """Read a TOML config (sections ``[data] [model] [train]``); defaults when ``path`` is None.

    A bad section, key or value is one ``ConfigError`` naming the file."""
    if path is None:
        return RunConfig()
    d = read_toml(path)
    try:
        return RunConfig.from_dict(d)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def read_toml(path: str | Path) -> dict:
    """A TOML file as a dict; a missing, unreadable or malformed file is one ``ConfigError`` naming it."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, a TOML config file was expected") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
