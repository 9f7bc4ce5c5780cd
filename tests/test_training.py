"""Training: exact resume, run-folder outputs, schedules, non-finite loss, the train command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from video_anomaly.data.records import ArraySource, Video
from video_anomaly.errors import TrainingError
from video_anomaly.seed import run_state, training
from video_anomaly.seed.checkpoint import load_checkpoint, read_meta
from video_anomaly.seed.config import RunConfig, TrainConfig, load_config
from video_anomaly.seed.training import plateau_update, scheduled_lr, train

# 2 videos x 16 frames; hold-out 4 frames each -> 12 frames -> 3 clips of 4 per video -> 3 steps of 2 per epoch.
# (32x32 is the smallest cheap size: the seed model is slower at 16x16 on oneDNN.)
CFG = RunConfig().replace(
    data={"size": 32, "clip_length": 4, "strides": [1]},
    model={"clip_length": 4},
    train={"epochs": 2, "batch_size": 2},
)
STEPS_PER_EPOCH = 3


def _videos(seed: int = 0, n: int = 16) -> list[Video]:
    rng = np.random.default_rng(seed)
    # A bright square moving over a noisy background: learnable, and different in each video.
    videos = []
    for v in range(2):
        frames = rng.integers(0, 60, (n, 40, 48), dtype=np.uint8)
        for t in range(n):
            x = (3 * t + 7 * v) % 36
            frames[t, 10:22, x : x + 12] = 220
        videos.append(Video(f"video{v}", ArraySource(frames)))
    return videos


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted 2-epoch run."""
    out = tmp_path_factory.mktemp("straight")
    result = train(CFG, _videos(), out, progress=False)
    return out, result


def test_run_folder_outputs(straight):
    out, result = straight
    assert result.epochs == 2 and result.steps == 2 * STEPS_PER_EPOCH and not result.stopped_at_max_steps
    assert RunConfig.from_dict(json.loads((out / "config.json").read_text())) == CFG
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and [r["step"] for r in rows] == [3, 6]
    assert all(r["clips_per_s"] > 0 and r["seconds"] > 0 and r["peak_rss_mb"] > 0 for r in rows)
    assert all(0 < r["holdout_loss"] < 1 for r in rows)
    assert [r["loss"] for r in rows] == result.losses
    assert rows[1]["loss"] < rows[0]["loss"]  # it learns something
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model, cfg, extras = load_checkpoint(out / "checkpoint")
    assert cfg == CFG
    _assert_same(_weights(model), _weights(result.model))
    assert extras["epoch"] == 2 and extras["step"] == 6 and extras["epoch_step"] == 0
    assert extras["data_fingerprint"] == run_state.data_fingerprint(_videos(), 32)
    assert extras["holdout_ranges"] == {"video0": [12, 16], "video1": [12, 16]}
    assert extras["loss_history"] == result.losses


def test_resume_at_epoch_boundary_gives_same_weights(straight, tmp_path):
    _, full = straight
    first = train(CFG.replace(train={"epochs": 1}), _videos(), tmp_path, progress=False)
    assert first.epochs == 1
    resumed = train(CFG, _videos(), tmp_path, resume=True, progress=False)
    assert resumed.epochs == 2 and resumed.steps == full.steps
    _assert_same(_weights(resumed.model), _weights(full.model))
    assert resumed.losses == full.losses
    rows = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]


def test_resume_mid_epoch_gives_same_weights(straight, tmp_path):
    _, full = straight
    stopped = train(CFG, _videos(), tmp_path, max_steps=4, progress=False)
    assert stopped.stopped_at_max_steps and stopped.steps == 4 and stopped.epochs == 1
    meta = read_meta(tmp_path / "checkpoint")
    assert meta["step"] == 4 and meta["epoch_step"] == 1 and meta["partial"]
    resumed = train(CFG, _videos(), tmp_path, resume=True, progress=False)
    _assert_same(_weights(resumed.model), _weights(full.model))
    assert resumed.losses == pytest.approx(full.losses, rel=1e-12)
    rows = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r.get("partial", False)) for r in rows] == [(1, False), (2, False)]


def test_resume_refuses_other_data_or_settings(straight, tmp_path):
    out, _ = straight
    with pytest.raises(TrainingError, match="training data differ"):
        train(CFG.replace(train={"epochs": 3}), _videos(seed=1), out, resume=True, progress=False)
    with pytest.raises(TrainingError, match="train.lr"):
        train(CFG.replace(train={"epochs": 3, "lr": 1e-3}), _videos(), out, resume=True, progress=False)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = CFG.replace(train={"epochs": 1})
    first = train(cfg, _videos(), tmp_path, progress=False)
    good = _weights(first.model)
    calls = {"n": 0}
    real_loss = training.reconstruction_loss

    def loss_then_nan(recon, clips):
        calls["n"] += 1
        loss = real_loss(recon, clips)
        return loss * float("nan") if calls["n"] >= 3 else loss

    monkeypatch.setattr(training, "reconstruction_loss", loss_then_nan)
    with pytest.raises(TrainingError, match="non-finite at step 6"):
        train(CFG, _videos(), tmp_path, resume=True, progress=False)
    model, _, extras = load_checkpoint(tmp_path / "checkpoint")
    assert extras["epoch"] == 1 and extras["step"] == STEPS_PER_EPOCH
    _assert_same(_weights(model), good)


def test_bf16_autocast_trains(tmp_path):
    result = train(CFG, _videos(), tmp_path, max_steps=2, progress=False, holdout=False)
    cfg = CFG.replace(train={"precision": "bf16"})
    bf16 = train(cfg, _videos(), tmp_path / "bf16", max_steps=2, progress=False, holdout=False)
    assert bf16.steps == 2 and result.steps == 2
    assert all(torch.isfinite(p).all() for p in bf16.model.parameters())


def test_inverse_time_schedule_is_keras_legacy_decay():
    t = TrainConfig()
    assert scheduled_lr(t, 0) == pytest.approx(1e-4)
    assert scheduled_lr(t, 100_000) == pytest.approx(1e-4 / 2)
    assert scheduled_lr(TrainConfig(schedule="constant"), 100_000) == pytest.approx(1e-4)
    assert scheduled_lr(TrainConfig(schedule="plateau"), 100_000, 2.5e-5) == pytest.approx(2.5e-5)


def test_plateau_reduces_only_when_loss_stops_decreasing():
    t = TrainConfig(schedule="plateau", plateau_patience=2, plateau_factor=0.5)
    s = {"lr": 1e-4, "best": None, "bad_epochs": 0}
    for loss in (1.0, 0.9, 0.8):
        s = plateau_update(s, loss, t)
    assert s["lr"] == 1e-4 and s["best"] == 0.8
    s = plateau_update(s, 0.8, t)
    assert s["lr"] == 1e-4 and s["bad_epochs"] == 1
    s = plateau_update(s, 0.85, t)
    assert s["lr"] == pytest.approx(5e-5) and s["bad_epochs"] == 0


def test_seed_config_file_is_the_default_recipe():
    from pathlib import Path

    assert load_config(Path(__file__).resolve().parents[1] / "configs" / "seed.toml") == RunConfig()


def _write_ucsd(root, n_videos=2, n_frames=16):
    from PIL import Image

    for v, video in enumerate(_videos(n=n_frames)[:n_videos]):
        folder = root / "Train" / f"Train{v + 1:03d}"
        folder.mkdir(parents=True)
        for i, frame in enumerate(video.source.frames()):
            Image.fromarray(frame).save(folder / f"{i + 1:03d}.tif")
    return root


def test_train_command_flags_override_config_and_resume(tmp_path, capsys):
    from video_anomaly.cli import main

    data = _write_ucsd(tmp_path / "UCSDtiny")
    toml = tmp_path / "c.toml"
    toml.write_text("[data]\nsize = 64\nstrides = [1]\n[train]\nbatch_size = 2\nepochs = 5\n")
    run = tmp_path / "run"
    args = ["train", str(data), "--out", str(run), "--config", str(toml), "--size", "32", "--clip-length", "4",
            "--cues", "ae"]  # fmt: skip
    assert main([*args, "--epochs", "1", "--quiet", "--seed", "3"]) == 0
    assert "trained 1 full epochs, 3 steps" in capsys.readouterr().out
    cfg = RunConfig.from_dict(json.loads((run / "config.json").read_text()))
    assert (cfg.data.size, cfg.data.clip_length, cfg.model.clip_length) == (32, 4, 4)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.seed) == (1, 2, 3)
    # Resume without --config takes the checkpoint's config; --epochs extends it.
    assert main(["train", str(data), "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0
    meta = read_meta(run / "checkpoint")
    assert meta["epoch"] == 2 and meta["dataset_root"] == str(data.resolve())
    # A damaged checkpoint is one line of error and exit status 2.
    (run / "checkpoint" / "model.safetensors").write_bytes(b"junk")
    assert main(["train", str(data), "--out", str(run), "--resume", "--epochs", "3", "--quiet"]) == 2
    assert "model.safetensors" in capsys.readouterr().err


def test_api_training_hands_over_the_model_it_trained(tmp_path, monkeypatch):
    """``Detector.train`` scores with the autoencoder it has just trained, from memory: the checkpoint is not read
    back, and the detector loaded from disk later gives the same scores."""
    import warnings

    from video_anomaly.api import Detector
    from video_anomaly.seed import checkpoint

    results = []

    def spy(*args, **kwargs):
        results.append(train(*args, **kwargs))
        return results[-1]

    def no_read(*_args, **_kwargs):
        raise AssertionError("the checkpoint just trained was read back from disk")

    monkeypatch.setattr(training, "train", spy)
    monkeypatch.setattr(checkpoint, "load_checkpoint", no_read)
    videos = _videos(n=24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few calibration frames only: the threshold is rough, and says so
        det = Detector.train(videos, tmp_path / "run", CFG.replace(train={"epochs": 1}), cues=("ae",), device="cpu",
                             progress=False)  # fmt: skip
    (r,) = results
    assert det.cues["ae"].model is r.model and not r.model.training
    assert all(p.grad is None for p in r.model.parameters())
    assert det.cues["ae"].holdout_ranges == {"video0": [20, 24], "video1": [20, 24]}
    monkeypatch.undo()
    _assert_same(_weights(load_checkpoint(r.checkpoint)[0]), _weights(r.model))
    on_disk = Detector.load(tmp_path / "run")
    for v in videos:
        assert np.array_equal(det.score(v, "ae").frame_scores, on_disk.score(v, "ae").frame_scores)
