"""The shipped detectors: checksums, loading, scoring a clip on the CPU, refusal of a damaged file, names."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from video_anomaly import weights
from video_anomaly.api import Detector
from video_anomaly.errors import CheckpointError, ConfigError
from video_anomaly.manifest import sha256 as _sha256


@pytest.mark.parametrize("name", list(weights.MODELS))
def test_shipped_detector_checksums_load_and_score(name, tmp_path):
    folder = weights.folder(name)
    assert (folder / "detector.json").is_file(), f"{name} is not installed"
    listed = dict(reversed(line.split("  ", 1)) for line in (folder / "detector.sha256").read_text().splitlines())
    files = {"detector.json", "detector.safetensors", "checkpoint/checkpoint.json", "checkpoint/model.safetensors"}
    assert set(listed) == files
    for rel, digest in listed.items():
        assert _sha256(folder / rel) == digest, rel
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 12 * 2**20, size  # the autoencoder (7.5 MB) and, for ucsd-ped2, the appearance exemplars (2.8 MB)
    det = Detector.load(name, device="cpu")
    # ucsd-ped2 was rebuilt with the appearance cue too; ucsd-ped1 not yet (docs/models.md).
    want = {"ae", "motion", "appearance"} if name == "ucsd-ped2" else {"ae", "motion"}
    assert set(det.cues) == want and det.config.score == "motion"
    h, w = det.frame_shape
    frames = np.random.default_rng(0).integers(90, 110, (14, h, w), dtype=np.uint8)
    for score in ("motion", "fused"):
        vs = det.score_video(iter(frames), score=score)
        assert vs.n_frames == 14 and np.isfinite(vs.frame_scores).all() and vs.scored.sum() >= 5


def test_damaged_shipped_file_names_it_and_the_rebuild(tmp_path, monkeypatch):
    name = "ucsd-ped2"
    copy = tmp_path / name
    shutil.copytree(weights.folder(name), copy)
    blob = copy / "detector.safetensors"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "folder", lambda n: copy)
    with pytest.raises(CheckpointError, match="checksum mismatch.*rebuild it with"):
        Detector.load(name, device="cpu")
    (copy / "checkpoint" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing|checksum"):
        Detector.load(name, device="cpu")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="ucsd-ped2"):
        Detector.load("ucsd-ped3")


def test_models_command_lists_what_ships(capsys):
    from video_anomaly.cli import main

    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(weights.MODELS) and all(r["installed"] for r in rows)
    assert all(r["ae_input"] == "128x128" for r in rows)
