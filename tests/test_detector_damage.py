"""A damaged detector or a failed `train`: the message names the file, the problem and a remedy that works, and a
failure leaves nothing half-made behind (issue 30, items 6-9)."""

from __future__ import annotations

import json
import shutil

import pytest

from video_anomaly import weights
from video_anomaly.api import Detector
from video_anomaly.cli import main
from video_anomaly.errors import CheckpointError
from video_anomaly.manifest import sha256 as _sha256

MOTION = ["--cues", "motion", "--motion-cell", "8"]


@pytest.fixture
def ped2(tmp_path):
    """A copy of the shipped ``ucsd-ped2`` (its autoencoder checkpoint included), a detector of one's own."""
    return shutil.copytree(weights.folder("ucsd-ped2"), tmp_path / "ped2")


def _refusal(folder) -> str:
    with pytest.raises(CheckpointError) as info:
        Detector.load(folder)
    return str(info.value)


def test_damage_item6_a_damaged_detector_json_is_recovered_by_the_remedy_named(synthetic_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(synthetic_root), "--out", str(run), *MOTION]) == 0
    (run / "detector.json").write_text('{"format": "video-anomaly-detector", "config": {"cues": ["mo')
    said = _refusal(run)
    assert str(run / "detector.json") in said and f"video-anomaly calibrate {run}" in said
    remedy = said.split("video-anomaly ", 1)[1].split(" (")[0].replace("TRAINING_DATA", str(synthetic_root))
    capsys.readouterr()
    assert main([*remedy.split(), *MOTION[2:]]) == 0
    assert "unreadable" in capsys.readouterr().err  # the lost settings are said, not a traceback
    assert "motion" in Detector.load(run).cues  # the default settings, refitted


def test_damage_item7_a_cut_autoencoder_checkpoint_names_what_repairs_it(ped2):
    weights_file = ped2 / "checkpoint" / "model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[:1000])
    said = _refusal(ped2)
    assert str(weights_file) in said and "video-anomaly train" in said and "--overwrite" in said
    assert "restore" in said and "recover with: video-anomaly calibrate" not in said


@pytest.mark.parametrize("damage", ["garbage", "symlink"])
def test_damage_item8_a_bad_manifest_is_refused_with_its_fix(ped2, tmp_path, damage):
    manifest = ped2 / "detector.sha256"
    if damage == "garbage":
        manifest.write_bytes(b"\xff\xfe\x00\x81 not a manifest \x00" * 8)
    else:
        elsewhere = tmp_path / "elsewhere.sha256"
        shutil.copy(manifest, elsewhere)
        manifest.unlink()
        manifest.symlink_to(elsewhere)
    said = _refusal(ped2)
    assert str(manifest) in said and f"video-anomaly calibrate {ped2}" in said


def test_damage_item8_a_checkpoint_not_safetensors_is_refused_with_its_fix(ped2):
    """Weights replaced by another format, with every checksum made to agree: the reader refuses and says how to
    repair it."""
    from video_anomaly.seed.checkpoint import load_checkpoint

    ckpt = ped2 / "checkpoint"
    (ckpt / "model.safetensors").write_bytes(b"\x80\x04\x95 a pickle, not safetensors" * 40)
    meta = json.loads((ckpt / "checkpoint.json").read_text())
    meta["files"]["model.safetensors"] = {
        "bytes": (ckpt / "model.safetensors").stat().st_size,
        "sha256": _sha256(ckpt / "model.safetensors"),
    }
    (ckpt / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(ckpt, device="cpu")
    said = str(info.value)
    assert "model.safetensors" in said and "safetensors" in said and "video-anomaly train" in said


@pytest.mark.parametrize("damage", ["corrupt", "mixed"])
def test_damage_item9_a_failed_train_leaves_no_out_folder(tmp_path, capsys, damage):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "UCSDx"
    for video in ("Train/Train001", "Train/Train002", "Test/Test001"):
        (root / video).mkdir(parents=True)
        for i in range(1, 25):
            size = (40, 32) if damage == "mixed" and video.endswith("002") and i > 12 else (32, 32)
            Image.fromarray(rng.integers(0, 255, size, dtype=np.uint8)).save(root / video / f"{i:03d}.tif")
    if damage == "corrupt":
        frame = root / "Train" / "Train002" / "020.tif"
        frame.write_bytes(frame.read_bytes()[:200])
    out = tmp_path / "runs" / "run"
    assert main(["train", str(root), "--out", str(out), *MOTION]) != 0
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    kept = tmp_path / "kept"  # a folder that was there before is left as it was
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    assert main(["train", str(root), "--out", str(kept), *MOTION]) != 0
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]
