"""The evaluation of named scores end to end on in-memory videos with a stand-in model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from video_anomaly.data.records import ArraySource, Video
from video_anomaly.seed.config import DataConfig, RunConfig


class BackgroundModel(nn.Module):
    def __init__(self, background: np.ndarray):
        super().__init__()
        self.register_buffer("background", torch.from_numpy(background.astype(np.float32) / 256.0))
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, clips):
        return self.background.expand_as(clips).clone()


def blob_videos(n_videos=3, n=24, size=32):
    rng = np.random.default_rng(0)
    videos = []
    for k in range(n_videos):
        frames = np.clip(100 + rng.normal(0, 3, (n, size, size)), 0, 255).astype(np.uint8)
        labels = np.zeros(n, bool)
        masks = np.zeros((n, size, size), bool)
        if k < n_videos - 1:  # the last video is all normal: macro must leave it out
            # After the autoencoder's 9-frame warm-up (warm-up frames take the first score)
            labels[11 + k : 17 + k] = True
            masks[11 + k : 17 + k, 4:12, 16:24] = True
            frames[masks] = 240
        videos.append(Video(f"Test{k:03d}", ArraySource(frames), labels, masks=masks))
    return videos, np.full((size, size), 100, np.uint8)


def _detector(background):
    """A fitted ae-only detector over the background stand-in (its error is exactly what differs from it)."""
    from video_anomaly.api import Detector
    from video_anomaly.cues.ae import AECue
    from video_anomaly.detector import DetectorConfig

    rng = np.random.default_rng(1)
    normal = [ArraySource(np.clip(100 + rng.normal(0, 3, (40, 32, 32)), 0, 255).astype(np.uint8)) for _ in range(3)]
    ae = AECue(BackgroundModel(background), RunConfig(data=DataConfig(size=32)), patch=4, device="cpu")
    return Detector.fit(normal, DetectorConfig(cues=("ae",), score="ae", holdout=0.5), ae=ae)


def test_evaluate_writes_every_output_and_finds_planted_blobs(tmp_path):
    from video_anomaly.evaluation.evaluate import evaluate_scores, scores_table_markdown

    videos, background = blob_videos()
    det = _detector(background)
    res = evaluate_scores(det, videos, tmp_path, "ae", progress=False)
    for name in (
        "evaluation.json",
        "evaluation.md",
        "arrays.npz",
        "roc.png",
        "scores/Test000.png",
        "scores/Test002.png",
    ):
        assert (tmp_path / name).exists(), name
    on_disk = json.loads((tmp_path / "evaluation.json").read_text())
    assert on_disk["frame_level"]["micro"]["auc"] == pytest.approx(res["frame_level"]["micro"]["auc"])
    fl = res["frame_level"]
    assert set(fl) == {"micro", "micro_normalized", "macro", "macro_normalized"}
    assert fl["micro"]["auc"] > 0.95 and fl["macro"]["auc"] > 0.95
    assert fl["macro"]["skipped"] == ["Test002"] and fl["macro"]["videos"] == 2
    # The blob covers its mask exactly: every abnormal frame is a pixel-level hit, every box is found.
    assert res["pixel_level"]["auc"] > 0.95 and res["rbdc_tbdc"]["tbdc"] > 0.9
    assert res["events"]["labelled_anomalies"] == 2 and res["events"]["anomalies_with_alarm"] == 2
    arrays = np.load(tmp_path / "arrays.npz")
    assert arrays["Test000/score"].shape == (24,) and arrays["Test000/maps"].shape[0] == 24
    assert (tmp_path / "evaluation.md").read_text() == scores_table_markdown(res)


def test_evaluate_unlabelled_and_the_seed_protocol(tmp_path):
    from video_anomaly.evaluation.evaluate import evaluate_many

    videos, background = blob_videos(n_videos=2, n=20)
    videos.append(Video("unlabelled", ArraySource(videos[0].source.frames().copy())))
    det = _detector(background)
    res = evaluate_many(det, videos, {"ae": tmp_path / "ae", "seed": tmp_path / "seed"}, figures=False, progress=False)
    for name in ("ae", "seed"):
        assert res[name]["n_videos"] == 3 and res[name]["n_labelled_videos"] == 2
        assert np.isfinite(res[name]["frame_level"]["micro"]["auc"])
        assert not (tmp_path / name / "roc.png").exists()
    assert res["seed"]["protocol"] == "exact" and res["seed"]["pixel_level"] is None
    assert res["ae"]["protocol"] == "live" and res["ae"]["pixel_level"] is not None
