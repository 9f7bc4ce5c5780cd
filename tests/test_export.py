"""ONNX export and the ONNX Runtime backend, at 32x32 with short clips."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from video_anomaly.export import ExportError, export_onnx, export_stages, stage_paths, verify_onnx
from video_anomaly.inference import stream_windows
from video_anomaly.models.conv_ae import ConvAutoencoder
from video_anomaly.models.convlstm_ae import ConvLSTMAutoencoder

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


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def test_seed_model_full_graph_matches_torch(seed_model, seed_onnx):
    from video_anomaly.onnx_backend import OrtModel

    ort_model = OrtModel(seed_onnx, threads=1)
    clips = torch.rand(3, T, 1, SIZE, SIZE)  # batch 3: the batch axis is dynamic
    with torch.no_grad():
        want = seed_model(clips)
    got = ort_model(clips)
    assert isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == torch.float32
    assert _max_diff(got, want) <= 1e-4


def test_seed_model_stages_match_torch(seed_model, seed_onnx):
    from video_anomaly.onnx_backend import OrtModel

    assert all(p.is_file() for p in stage_paths(seed_onnx).values())
    ort_model = OrtModel(seed_onnx, threads=1)
    assert ort_model.has_stages
    frames = torch.rand(2 * T, 1, SIZE, SIZE)
    with torch.no_grad():
        feats = seed_model.encode_frames(frames)
        temporal = seed_model.temporal(feats.unflatten(0, (2, T)))
        decoded = seed_model.decode_frames(temporal.flatten(0, 1))
    assert _max_diff(ort_model.encode_frames(frames), feats) <= 1e-4
    assert _max_diff(ort_model.temporal(feats.unflatten(0, (2, T))), temporal) <= 1e-4
    assert _max_diff(ort_model.decode_frames(temporal.flatten(0, 1)), decoded) <= 1e-4


def test_conv_ae_export_matches_torch(tmp_path):
    from video_anomaly.onnx_backend import OrtModel

    torch.manual_seed(0)
    model = ConvAutoencoder(clip_length=T).eval()
    path = export_onnx(model, tmp_path / "conv_ae.onnx", size=SIZE, clip_length=T, verify=True)
    ort_model = OrtModel(path, threads=1)
    assert not ort_model.has_stages
    clips = torch.rand(2, T, 1, SIZE, SIZE)
    with torch.no_grad():
        assert _max_diff(ort_model(clips), model(clips)) <= 1e-4
    with pytest.raises(ExportError, match="no separable stages"):
        export_stages(model, path, size=SIZE, clip_length=T)


def test_ort_model_through_stream_windows(seed_model, seed_onnx):
    from video_anomaly.onnx_backend import OrtModel

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(T + 5, SIZE, SIZE), dtype=np.uint8)
    want = list(stream_windows(seed_model, iter(frames), clip_length=T, batch_windows=4, maps=True))
    got = list(stream_windows(OrtModel(seed_onnx, threads=1), iter(frames), clip_length=T, batch_windows=4, maps=True))
    assert [w.start for w in got] == [w.start for w in want] == list(range(6))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.l1, w.l1, rtol=1e-4)
        np.testing.assert_allclose(g.sq, w.sq, rtol=1e-4)
        assert np.abs(g.maps - w.maps).max() <= 1e-4


def test_ort_model_from_module_and_shape_check():
    from video_anomaly.onnx_backend import OrtModel

    torch.manual_seed(0)
    model = ConvAutoencoder(clip_length=T).eval()
    ort_model = OrtModel(model, size=SIZE, clip_length=T, threads=1)
    assert ort_model.eval() is ort_model
    assert next(ort_model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="input shape"):
        ort_model(torch.rand(1, T, 1, 2 * SIZE, 2 * SIZE))


def test_verify_catches_a_wrong_graph(seed_model, seed_onnx):
    other = ConvLSTMAutoencoder().eval()  # different random weights
    with pytest.raises(ExportError, match="differs from PyTorch"):
        verify_onnx(seed_onnx, other, torch.rand(1, T, 1, SIZE, SIZE))


def test_export_rejects_bad_size(seed_model, tmp_path):
    with pytest.raises(ExportError, match="multiple of 8"):
        export_onnx(seed_model, tmp_path / "x.onnx", size=30, clip_length=T)


def test_benchmark_backends_reports_every_backend():
    from video_anomaly.onnx_backend import benchmark_backends

    torch.manual_seed(0)
    result = benchmark_backends(ConvLSTMAutoencoder(), size=SIZE, windows=2, clip_length=T, threads=1)
    times = result["seconds_per_window"]
    assert {"torch", "onnxruntime"} <= set(times)
    assert all(s > 0 for s in times.values())
    assert result["speedup_vs_torch"]["torch"] == pytest.approx(1.0)
    assert all(d <= 1e-4 for d in result["max_abs_diff_vs_torch"].values())


def test_cli_export_parser():
    from video_anomaly.cli import build_parser

    args = build_parser().parse_args(["export", "ckpt", "out.onnx", "--size", "64", "--stages"])
    assert (args.checkpoint, args.output, args.size, args.stages) == ("ckpt", "out.onnx", 64, True)


def test_cli_export_end_to_end(tmp_path, capsys):
    checkpoint = pytest.importorskip("video_anomaly.checkpoint", reason="video_anomaly.checkpoint not written yet")
    from video_anomaly.cli import main
    from video_anomaly.config import RunConfig
    from video_anomaly.onnx_backend import OrtModel

    cfg = RunConfig().replace(data={"size": SIZE, "clip_length": T}, model={"clip_length": T})
    torch.manual_seed(0)
    model = ConvLSTMAutoencoder().eval()
    ckpt = checkpoint.save_checkpoint(tmp_path / "ckpt", model, cfg)
    out = tmp_path / "model.onnx"
    assert main(["export", str(ckpt), str(out), "--stages"]) == 0
    assert "model.encoder.onnx" in capsys.readouterr().out
    ort_model = OrtModel(out, threads=1)
    assert ort_model.has_stages and ort_model.input_shape == (None, T, 1, SIZE, SIZE)
    clips = torch.rand(1, T, 1, SIZE, SIZE)
    with torch.no_grad():
        assert _max_diff(ort_model(clips), model(clips)) <= 1e-4
    assert main(["export", str(tmp_path / "missing"), str(out)]) == 2
