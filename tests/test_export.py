"""ONNX export checked against PyTorch with ONNX Runtime, at 32x32 with short clips."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from video_anomaly.seed.export import ExportError, MethodModule, export_onnx, export_stages, stage_paths, verify_onnx
from video_anomaly.seed.models.conv_ae import ConvAutoencoder
from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="onnx is not installed (extra 'onnx')"),
    pytest.mark.skipif(
        importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed (extra 'onnx')"
    ),
]

SIZE, T = 32, 4


@pytest.fixture(scope="module")
def seed_model():
    torch.manual_seed(0)
    return ConvLSTMAutoencoder().eval()


@pytest.fixture(scope="module")
def seed_onnx(seed_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "seed.onnx"
    export_onnx(seed_model, path, size=SIZE, clip_length=T, verify=True)
    export_stages(seed_model, path, size=SIZE, clip_length=T, verify=True)
    return path


def _input_shape(path) -> tuple:
    import onnxruntime as ort

    shape = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    return tuple(d if isinstance(d, int) else None for d in shape)  # the dynamic batch is a name


def test_seed_model_full_graph_matches_torch(seed_model, seed_onnx):
    assert _input_shape(seed_onnx) == (None, T, 1, SIZE, SIZE)
    clips = torch.rand(3, T, 1, SIZE, SIZE)  # batch 3: the batch axis is dynamic
    assert verify_onnx(seed_onnx, seed_model, clips) <= 1e-4


def test_seed_model_stages_match_torch(seed_model, seed_onnx):
    paths = stage_paths(seed_onnx)
    assert all(p.is_file() for p in paths.values())
    frames = torch.rand(2 * T, 1, SIZE, SIZE)
    with torch.no_grad():
        feats = seed_model.encode_frames(frames)
        temporal = seed_model.temporal(feats.unflatten(0, (2, T)))
    assert verify_onnx(paths["encoder"], MethodModule(seed_model, "encode_frames"), frames) <= 1e-4
    assert verify_onnx(paths["temporal"], MethodModule(seed_model, "temporal"), feats.unflatten(0, (2, T))) <= 1e-4
    assert verify_onnx(paths["decoder"], MethodModule(seed_model, "decode_frames"), temporal.flatten(0, 1)) <= 1e-4


def test_conv_ae_export_matches_torch(tmp_path):
    torch.manual_seed(0)
    model = ConvAutoencoder(clip_length=T).eval()
    path = export_onnx(model, tmp_path / "conv_ae.onnx", size=SIZE, clip_length=T, verify=True)
    assert verify_onnx(path, model, torch.rand(2, T, 1, SIZE, SIZE)) <= 1e-4
    with pytest.raises(ExportError, match="no separable stages"):
        export_stages(model, path, size=SIZE, clip_length=T)


def test_verify_catches_a_wrong_graph(seed_model, seed_onnx):
    other = ConvLSTMAutoencoder().eval()  # different random weights
    with pytest.raises(ExportError, match="differs from PyTorch"):
        verify_onnx(seed_onnx, other, torch.rand(1, T, 1, SIZE, SIZE))


def test_export_rejects_bad_size(seed_model, tmp_path):
    with pytest.raises(ExportError, match="multiple of 8"):
        export_onnx(seed_model, tmp_path / "x.onnx", size=30, clip_length=T)


def test_cli_export_parser():
    from video_anomaly.cli import build_parser

    args = build_parser().parse_args(["export", "ckpt", "out.onnx", "--size", "64", "--stages"])
    assert (args.checkpoint, args.output, args.size, args.stages) == ("ckpt", "out.onnx", 64, True)


def test_cli_export_end_to_end(tmp_path, capsys):
    checkpoint = pytest.importorskip(
        "video_anomaly.seed.checkpoint", reason="video_anomaly.seed.checkpoint not written yet"
    )
    from video_anomaly.cli import main
    from video_anomaly.seed.config import RunConfig

    cfg = RunConfig().replace(data={"size": SIZE, "clip_length": T}, model={"clip_length": T})
    torch.manual_seed(0)
    model = ConvLSTMAutoencoder().eval()
    ckpt = checkpoint.save_checkpoint(tmp_path / "ckpt", model, cfg)
    out = tmp_path / "model.onnx"
    assert main(["export", str(ckpt), str(out), "--stages"]) == 0
    assert "model.encoder.onnx" in capsys.readouterr().out
    assert all(p.is_file() for p in stage_paths(out).values())
    assert _input_shape(out) == (None, T, 1, SIZE, SIZE)
    assert verify_onnx(out, model, torch.rand(1, T, 1, SIZE, SIZE)) <= 1e-4
    assert main(["export", str(tmp_path / "missing"), str(out)]) == 2
