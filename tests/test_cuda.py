"""CUDA paths: skipped with a reason where no NVIDIA GPU is present (CI); run by scripts/gpu-check.sh."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from video_anomaly.detector import DetectorConfig
from video_anomaly.device import autocast, configure_backend, pick_device
from video_anomaly.seed.config import RunConfig
from video_anomaly.seed.inference import stream_live, stream_windows
from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder
from video_anomaly.seed.models.fast import fast_model

pytestmark = pytest.mark.cuda


def _frames(n=14, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def test_auto_device_is_cuda():
    assert pick_device(None).type == "cuda"


def test_fast_path_on_cuda_matches_cpu_plain():
    torch.manual_seed(0)
    cpu = ConvLSTMAutoencoder().eval()
    gpu = ConvLSTMAutoencoder().eval()
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    frames = _frames()
    ref = [w.l1 for w in stream_windows(cpu, frames, fast=False, device=torch.device("cpu"))]
    got = [w.l1 for w in stream_windows(gpu, frames, device=torch.device("cuda"))]
    np.testing.assert_allclose(np.array(got), np.array(ref), rtol=2e-3)  # TF32 on the GPU
    live_ref = [r.l1 for r in stream_live(cpu, frames, fast=False, device=torch.device("cpu"))]
    live = [r.l1 for r in stream_live(gpu, frames, device=torch.device("cuda"))]
    np.testing.assert_allclose(live, live_ref, rtol=2e-3)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_step_on_cuda(precision):
    device = torch.device("cuda")
    configure_backend(device)
    torch.manual_seed(0)
    model = ConvLSTMAutoencoder().to(device)
    net = fast_model(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, eps=1e-6)
    x = torch.rand(4, 10, 1, 64, 64, device=device)
    losses = []
    for _ in range(3):
        with autocast(device, precision):
            y = net(x)
        loss = torch.nn.functional.mse_loss(y.float(), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_train_and_evaluate_on_cuda(synthetic_root, tmp_path):
    from video_anomaly.api import Detector
    from video_anomaly.data import load_dataset

    data = load_dataset(synthetic_root)
    cfg = RunConfig.from_dict({"data": {"size": 32}, "train": {"epochs": 1, "lr": 1e-3}})
    dcfg = DetectorConfig(cue_settings={"motion": {"cell": 8}})
    det = Detector.train(data, tmp_path / "run", cfg, cues=("ae", "motion"), detector_config=dcfg, device="cuda",
                         progress=False)  # fmt: skip
    assert next(det.cues["ae"].model.parameters()).device.type == "cuda"
    for score in ("fused", "seed"):
        res = det.evaluate(data, tmp_path / score, score, figures=False, progress=False)
        assert res["frame_level"]["micro"]["auc"] == res["frame_level"]["micro"]["auc"]  # not NaN
    # Loaded again, on the GPU, the detector gives the scores it gave when trained.
    again = Detector.load(tmp_path / "run", device="cuda")
    v = data.test[0]
    np.testing.assert_allclose(again.score(v, "fused").frame_scores, det.score(v, "fused").frame_scores, rtol=1e-5)
