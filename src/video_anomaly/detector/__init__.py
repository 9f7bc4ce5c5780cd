"""The ``Detector`` users hold (``core``), saved with a manifest of checksums (``manifest``)."""

from .core import Detector, DetectorConfig, FrameScore, LiveSession, VideoScores

__all__ = ["Detector", "DetectorConfig", "FrameScore", "LiveSession", "VideoScores"]
