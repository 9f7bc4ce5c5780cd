"""Models by name. Every model maps ``(B, T, 1, H, W)`` clips in [0, 1) to reconstructions in (0, 1)."""

from __future__ import annotations

from torch import nn

from ...errors import ConfigError
from ..config import ModelConfig


def build_model(config: ModelConfig) -> nn.Module:
    """A freshly initialised model for ``config.name``."""
    if config.name == "convlstm_ae":
        from .convlstm_ae import ConvLSTMAutoencoder

        return ConvLSTMAutoencoder(layer_norm_eps=config.layer_norm_eps)
    if config.name == "conv_ae":
        from .conv_ae import ConvAutoencoder

        return ConvAutoencoder(clip_length=config.clip_length)
    raise ConfigError(f"unknown model {config.name!r}; known: convlstm_ae, conv_ae")


MODEL_NAMES = ("convlstm_ae", "conv_ae")
