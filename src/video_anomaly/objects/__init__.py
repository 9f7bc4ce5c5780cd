"""Objects in frames: pretrained detectors converted to ONNX at build time (``scripts/convert_objects.py``) and run
with ONNX Runtime; nothing is downloaded at run time and TensorFlow is never imported.

``load_object_detector("nanodet").detect(frame)`` gives a ``Detections`` (boxes in frame pixels, scores, labels,
the model's label map). ``OBJECT_MODELS`` is the table of shipped models (files, licence, how to rebuild).
"""

from .decode import Detections
from .detector import ObjectDetector, input_size_for, load_object_detector
from .models import OBJECT_MODELS, ObjectModel

__all__ = ["OBJECT_MODELS", "Detections", "ObjectDetector", "ObjectModel", "input_size_for", "load_object_detector"]
