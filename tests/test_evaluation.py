"""evaluate() end to end on in-memory videos, and the `evaluate` command with stand-in loaders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from video_anomaly.config import DataConfig, ModelConfig, RunConfig
from video_anomaly.data.records import ArraySource, Video
from video_anomaly.evaluation import evaluate, write_table_markdown


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
            labels[8 + k : 14 + k] = True
            masks[8 + k : 14 + k, 4:12, 16:24] = True
            frames[masks] = 240
        videos.append(Video(f"Test{k:03d}", ArraySource(frames), labels, masks=masks))
    return videos, np.full((size, size), 100, np.uint8)


def test_evaluate_writes_every_output_and_finds_planted_blobs(tmp_path):
    videos, background = blob_videos()
    cfg = RunConfig(data=DataConfig(size=32)).replace(score={"frame_scores": "own_error"})
    res = evaluate(BackgroundModel(background), videos, cfg, tmp_path, progress=False)
    for name in ("evaluation.json", "evaluation.md", "roc.png", "regularity/Test000.png", "regularity/Test002.png"):
        assert (tmp_path / name).exists(), name
    on_disk = json.loads((tmp_path / "evaluation.json").read_text())
    assert on_disk["frame_level"]["micro"]["auc"] == pytest.approx(res["frame_level"]["micro"]["auc"])
    fl = res["frame_level"]
    assert set(fl) == {"micro", "micro_normalized", "macro", "macro_normalized"}
    assert fl["micro"]["auc"] > 0.95 and fl["macro"]["auc"] > 0.95
    assert fl["macro"]["skipped"] == ["Test002"] and fl["macro"]["videos"] == 2
    assert res["pixel_level"]["micro"]["auc"] > 0.9
    assert all(row["protocol"] for row in fl.values())
    v0 = res["videos"][0]
    assert len(v0["frame_scores"]) == 24 and len(v0["labels"]) == 24
    assert on_disk["config"]["data"]["size"] == 32
    table = (tmp_path / "evaluation.md").read_text()
    assert table == write_table_markdown(res) and table.count("| frame |") == 4 and table.count("| pixel |") == 2


def test_evaluate_with_untrained_seed_model_live_protocol(tmp_path):
    from video_anomaly.models import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig())
    videos, _ = blob_videos(n_videos=2, n=14)
    videos.append(Video("unlabelled", ArraySource(videos[0].source.frames().copy())))
    res = evaluate(model, videos, RunConfig(data=DataConfig(size=32)), tmp_path, protocol="live", figures=False,
                   progress=False)  # fmt: skip
    assert res["n_videos"] == 3 and res["n_labelled_videos"] == 2
    assert np.isfinite(res["frame_level"]["micro"]["auc"])
    assert res["protocol"] == "live" and "live protocol" in res["frame_level"]["micro"]["protocol"]
    assert not (tmp_path / "roc.png").exists()
