"""``video-anomaly data`` in-process."""

from __future__ import annotations

import json

import pytest

from video_anomaly.cli import main


def test_data_info_shared_ped2(shared_datasets, capsys):
    root = shared_datasets / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped2"
    if not root.is_dir():
        pytest.skip("UCSDped2 not in ../shared/datasets")
    assert main(["data", "info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "train: 16 videos, 2550 frames" in out
    assert "test: 12 videos, 2010 frames, 1648 abnormal frames" in out
    assert "12 with pixel masks" in out


def test_data_info_shared_ped1_json(shared_datasets, capsys):
    root = shared_datasets / "UCSD_Anomaly_Dataset.v1p2"
    if not (root / "UCSDped1").is_dir():
        pytest.skip("UCSDped1 not in ../shared/datasets")
    assert main(["data", "info", str(root), "--subset", "UCSDped1", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["train_videos"], s["train_frames"], s["test_videos"]) == (34, 6800, 11)
    assert s["test_videos_with_masks"] == 10


def test_data_info_errors_are_one_line(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err


def test_data_synth_and_preview(tmp_path, synthetic_root, capsys):
    assert (
        main(
            [
                "data",
                "synth",
                str(tmp_path),
                "--frames",
                "12",
                "--height",
                "32",
                "--width",
                "40",
                "--train",
                "1",
                "--test",
                "1",
            ]
        )
        == 0
    )
    written = tmp_path / "SyntheticPed"
    assert capsys.readouterr().out.strip() == str(written)
    assert len(list((written / "Train" / "Train001").glob("*.tif"))) == 12
    assert (written / "Test" / "SyntheticPed.m").is_file()
    assert main(["data", "info", str(written)]) == 0
    assert "train: 1 videos, 12 frames" in capsys.readouterr().out
    png = tmp_path / "preview.png"
    assert main(["data", "preview", str(synthetic_root), str(png)]) == 0
    assert png.stat().st_size > 1000
