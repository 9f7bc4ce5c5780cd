"""Cues of the live detector: each maps frames of one camera to per-region raw anomaly scores."""
