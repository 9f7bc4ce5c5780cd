"""The contract every cue of the live detector keeps (scikit-learn's estimator contract, per region).

A cue turns the frames of one camera into one raw map per frame, higher = more unusual, on its own grid of
regions. It fits on normal footage, streams live (one frame read per map yielded, so it can be fed a camera one
frame at a time) and stores its own state: JSON-able settings plus named arrays, which the detector writes into
its ``detector.json`` and ``detector.safetensors`` under the cue's name. Calibration, fusion, the frame score,
the threshold and events come after, once, for every cue (``calibration.py``, ``detector.py``).

Adding a cue: one module in ``cues/`` with a ``Cue`` subclass and one entry in ``cues.CUES``; the command line
(``train --cues``), the named scores (``scores.SCORES``), save/load and the docs read that table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class NoConfig:
    """The settings of a cue that has none."""


class Cue(ABC):
    """One cue: ``fit`` on normal footage, ``stream`` raw per-region maps, ``state_dict``/``from_state``.

    Class attributes: ``name`` (its key in ``CUES``, the prefix of its arrays on disk); ``Config`` (a frozen
    dataclass of its settings; an instance is ``self.config``); ``trained_first`` (True when the cue needs a
    training run before ``fit``: the autoencoder; the API calls the class's ``train(videos, out_dir, config,
    settings=..., device=..., **train_kw)`` to get the cue, then the detector's fit); ``summary`` (the help line
    of its live score); ``preferred`` (a detector whose only preferred cue is this one scores with it alone by
    default; with several preferred cues it scores with them all, fused: ``scores.default_score``).
    """

    name: ClassVar[str]
    Config: ClassVar[type] = NoConfig
    trained_first: ClassVar[bool] = False
    summary: ClassVar[str] = ""
    preferred: ClassVar[bool] = False

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    @classmethod
    def config_from(cls, settings: dict[str, Any] | None) -> Any:
        """The cue's ``Config`` from a dict of settings (unknown keys are an error naming the cue)."""
        from ..errors import ConfigError

        settings = dict(settings or {})
        known = {f.name for f in fields(cls.Config)}
        bad = sorted(set(settings) - known)
        if bad:
            raise ConfigError(f"{cls.name} cue: unknown settings {', '.join(bad)}; known: {', '.join(sorted(known))}")
        return cls.Config(**settings)

    def settings(self) -> dict[str, Any]:
        """``self.config`` as a JSON-able dict."""
        return asdict(self.config)

    @property
    @abstractmethod
    def warmup(self) -> int:
        """Frames at the start of a stream that yield no map (``None``)."""

    @abstractmethod
    def grid_shape(self, frame_shape: tuple[int, int]) -> tuple[int, int]:
        """``(gh, gw)``: the regions of the maps for frames of ``frame_shape`` ``(H, W)``."""

    def region_box(self, r: int, c: int, frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """Region ``(r, c)`` as ``(x0, y0, x1, y1)`` in frame pixels (x1, y1 exclusive): a uniform grid."""
        return uniform_box(r, c, self.grid_shape(frame_shape), frame_shape)

    @abstractmethod
    def fit(self, videos: Sequence[Iterable[np.ndarray]], *, progress: bool = False) -> Cue:
        """Fit on normal footage: each item the grayscale uint8 ``(H, W)`` frames of one video. Returns self."""

    @abstractmethod
    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """One raw float32 ``(gh, gw)`` map per frame (higher = more unusual), ``None`` during the warm-up;
        exactly one frame is read per item yielded."""

    @abstractmethod
    def state_dict(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able meta (``Path`` values allowed: the detector stores them relative to its folder) and named
        arrays (stored in the detector's safetensors as ``<name>.<key>``)."""

    @classmethod
    @abstractmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, folder: Path, device=None) -> Cue:
        """Rebuild a fitted cue from ``state_dict``'s output; relative paths in ``meta`` are under ``folder``."""

    @classmethod
    def find_trained(cls, run: Path, doc: dict | None, *, settings=None, device=None) -> Cue | None:
        """For a ``trained_first`` cue: the cue of the training run in folder ``run`` (``doc``: its
        ``detector.json``, or None; ``settings``: its ``Config`` fields, default those of ``doc``), or None when
        there is none. Used by ``calibrate``."""
        return None

    def held_out(self, videos: Sequence) -> list[tuple[int, int]] | None:
        """Per video the ``[start, stop)`` frames this cue's own training kept out (calibration uses them), or
        None: the detector then holds out the last share of each video."""
        return None

    def unusable(self) -> str | None:
        """After ``fit``: why this cue does not work on this footage (the objects cue when the detector finds few
        objects), else None; ``Detector.fit`` then leaves it out, saying so, and keeps the others."""
        return None

    def files(self) -> list[Path]:
        """Files outside the detector's own two that this cue's state names (checksummed by the detector)."""
        return []


def uniform_box(r: int, c: int, grid: tuple[int, int], frame_shape) -> tuple[int, int, int, int]:
    """Region ``(r, c)`` of a uniform ``grid`` over frames of ``frame_shape`` as ``(x0, y0, x1, y1)`` pixels."""
    h, w = frame_shape[:2]
    gh, gw = grid
    return (int(c * w / gw), int(r * h / gh), int(round((c + 1) * w / gw)), int(round((r + 1) * h / gh)))


def overlapping(cell_boxes: np.ndarray, box) -> np.ndarray:
    """``(Gh, Gw)`` bool: the regions of ``cell_boxes`` ``(Gh, Gw, 4)`` (``x0, y0, x1, y1`` pixels, ends
    exclusive) that share pixels with ``box``."""
    x0, y0, x1, y1 = box
    cb = cell_boxes
    return (cb[..., 0] < x1) & (cb[..., 2] > x0) & (cb[..., 1] < y1) & (cb[..., 3] > y0)


class OneFrameFeed:
    """An iterator of frames put in one at a time: a cue's stream pulls from it; empty -> ``StopIteration``.

    The detector runs each cue's ``stream`` on one of these and puts one frame in per map it takes out."""

    def __init__(self):
        self.pending: list = []

    def put(self, item) -> None:
        self.pending.append(item)

    def __iter__(self):
        return self

    def __next__(self):
        if not self.pending:
            raise StopIteration
        return self.pending.pop(0)


def saved_settings(config: dict[str, Any], names, skip=()) -> dict[str, dict[str, Any]]:
    """Per cue of ``names`` the settings a detector's saved ``config`` holds: its ``cue_settings``, or a version-1
    file's ``<cue>`` (a dict) and ``<cue>_<field>`` keys (``skip``: the detector's own fields, never a cue's)."""
    settings = {k: dict(v) for k, v in (config.get("cue_settings") or {}).items()}
    for key, value in config.items():
        if key in skip or key == "cue_settings":
            continue
        if key in names and isinstance(value, dict):
            settings.setdefault(key, {}).update(value)
        else:
            cue, _, name = key.partition("_")
            if cue in names:
                settings.setdefault(cue, {})[name] = value
    return settings
