"""An object detector over ONNX Runtime: frame in, ``Detections`` out (resize, normalise, run, decode, NMS).

Everything model-specific (mean/std, channel order, strides, bins, the input size rule, NMS overlap) is read from
the model's ``provenance.json``; the label map from its ``labels.json``; the files are checked against the model's
``detector.sha256`` before the session is made. ONNX Runtime is imported when a model is loaded, never at import.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, ConfigError
from .decode import Detections, decode
from .models import OBJECT_MODELS, ObjectModel


def input_size_for(frame_hw: tuple[int, int], long_side: int, multiple: int) -> tuple[int, int]:
    """The default input ``(h, w)`` for a frame of ``frame_hw``: the frame scaled so that its longer side is
    ``long_side``, each side rounded to the nearest multiple of ``multiple`` (at least one multiple).

    Small frames are enlarged (a 360x240 Ped2 frame becomes 640x416: its 20-px walkers become 35 px, within what
    NanoDet was trained on); large ones shrunk (1920x1080 becomes 640x352), as NVRs do. The small change of aspect
    that rounding brings is undone when boxes are mapped back to the frame.
    """
    h, w = frame_hw
    scale = long_side / max(h, w)
    return tuple(max(multiple, int(round(side * scale / multiple)) * multiple) for side in (h, w))  # type: ignore[return-value]


class ObjectDetector:
    """One loaded object detector. ``names`` is its label map; ``provenance`` its ``provenance.json``."""

    def __init__(self, name: str, session: Any, names: tuple[str, ...], provenance: dict, path: Path | None = None):
        self.name = name
        self.path = path  # the ONNX file, for messages
        self.names = names
        self.provenance = provenance
        self._session = session
        self._input = session.get_inputs()[0].name
        pre, head = provenance["input"], provenance["head"]
        self._mean = np.asarray(pre["mean"], np.float32)
        self._scale = 1.0 / np.asarray(pre["std"], np.float32)
        self._bgr = pre["channels"] == "BGR"
        self._multiple = int(pre["size_multiple"])
        self._long_side = int(pre["default_long_side"])
        self._strides = tuple(int(s) for s in head["strides"])
        self._bins = int(head["bins"])
        self._iou = float(provenance.get("postprocess", {}).get("nms_iou", 0.6))

    def input_size(self, frame_hw: tuple[int, int]) -> tuple[int, int]:
        """The input ``(h, w)`` ``detect`` uses by default for frames of ``frame_hw`` (``input_size_for``)."""
        return input_size_for(frame_hw, self._long_side, self._multiple)

    def _blob(self, frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``(1, 3, h, w)`` float32: the frame resized (bilinear), in the model's channel order, normalised."""
        import cv2

        resized = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        if resized.ndim == 2:
            # Grey: resized before it is made three channels (the same values, a third of the resizing), and its
            # three equal channels need no reordering: the mean and std broadcast over them.
            resized = resized[..., None]
        elif not self._bgr:
            resized = resized[..., ::-1]
        x = (resized.astype(np.float32) - self._mean) * self._scale
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def _levels(self, outputs: list[np.ndarray], size: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The raw outputs paired per stride, told apart by shape (cells per stride; classes vs ``4 * bins``)."""
        by_shape = {(o.shape[1], o.shape[2]): o[0] for o in outputs}
        levels = []
        for stride in self._strides:
            cells = math.ceil(size[0] / stride) * math.ceil(size[1] / stride)
            try:
                levels.append((by_shape[(cells, len(self.names))], by_shape[(cells, 4 * self._bins)]))
            except KeyError:
                shapes = sorted(by_shape)
                raise CheckpointError(
                    self.path or self.name,
                    f"outputs {shapes} do not match stride {stride} at input {size} "
                    f"({len(self.names)} classes, {self._bins} bins per side)",
                ) from None
        return levels

    def detect(
        self, frame: np.ndarray, *, input_size: tuple[int, int] | None = None, min_score: float = 0.2
    ) -> Detections:
        """The objects of one frame, in frame pixels, best score first.

        ``frame``: ``(H, W)`` uint8 gray (replicated to three channels) or ``(H, W, 3)`` uint8 BGR.
        ``input_size``: the network's ``(h, w)``, multiples of 32; default ``self.input_size((H, W))`` (longer
        side 640). ``min_score``: the class-score floor in [0, 1] before per-class NMS.
        """
        if frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
            raise ValueError(f"frame must be (H, W) or (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        size = tuple(input_size) if input_size is not None else self.input_size(frame.shape[:2])
        if len(size) != 2 or any(s <= 0 or s % self._multiple for s in size):
            raise ConfigError(
                f"input_size {size} of {self.name}: both sides must be positive multiples of {self._multiple}"
            )
        outputs = self._session.run(None, {self._input: self._blob(frame, size)})
        boxes, scores, labels = decode(
            self._levels(outputs, size), self._strides, size, min_score=min_score, iou=self._iou
        )
        if scores.size == 0:
            return Detections.empty(self.names)
        boxes[:, 0::2] *= frame.shape[1] / size[1]
        boxes[:, 1::2] *= frame.shape[0] / size[0]
        return Detections(boxes, scores, labels, self.names)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(path, f"unreadable ({exc})") from None


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def load_object_detector(name: str = "nanodet", *, threads: int | None = None) -> ObjectDetector:
    """The shipped object detector ``name`` (a key of ``OBJECT_MODELS``), its files checked first.

    ``threads``: ONNX Runtime's intra-op threads; default the package's thread policy
    (``device.apply_thread_policy``, the count the CLI's ``--threads`` or the first API call chose).
    Raises ``ConfigError`` for an unknown name, ``CheckpointError`` naming the file that is missing or altered.
    """
    from .. import manifest

    model: ObjectModel | None = OBJECT_MODELS.get(name)
    if model is None:
        raise ConfigError(f"unknown object detector {name!r}; choose from {', '.join(OBJECT_MODELS)}")
    manifest.verify(model.folder, model.files, f"reinstall the package or rebuild it: {model.rebuild}")
    names = tuple(_read_json(model.folder / model.labels))
    provenance = _read_json(model.folder / model.provenance)
    if threads is None:
        from ..device import apply_thread_policy  # torch is a core dependency; the policy lives there

        threads = apply_thread_policy()
    path = model.folder / model.onnx
    return ObjectDetector(name, _session(path, threads), names, provenance, path)
