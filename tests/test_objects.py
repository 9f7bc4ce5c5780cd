"""The object-detector runtime: shipped files and their manifest, NanoDet's head decoding, a real Ped2 frame."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from video_anomaly import manifest
from video_anomaly.errors import CheckpointError, ConfigError
from video_anomaly.objects import OBJECT_MODELS, ObjectDetector, input_size_for, load_object_detector
from video_anomaly.objects.decode import decode

STRIDES = (8, 16, 32)
BINS = 11


def _heads(size, hot, classes=80):
    """Raw NanoDet outputs for input ``size`` (h, w), all cold except ``hot``: a list of
    ``(stride, row, col, label, score, (left, top, right, bottom) in bins)``. Returns ``[(scores, dists)]``."""
    levels = []
    for stride in STRIDES:
        cells = (size[0] // stride) * (size[1] // stride)
        levels.append((np.zeros((cells, classes), np.float32), np.zeros((cells, 4, BINS), np.float32)))
    for stride, row, col, label, score, sides in hot:
        scores, dists = levels[STRIDES.index(stride)]
        cell = row * (size[1] // stride) + col
        scores[cell, label] = score
        dists[cell, np.arange(4), sides] = 40.0  # softmax puts all mass on these bins
    return [(s, d.reshape(len(d), 4 * BINS)) for s, d in levels]


def test_decode_one_hot_cell_gives_its_box_and_label():
    size = (64, 96)
    levels = _heads(size, [(16, 2, 3, 7, 0.9, (2, 1, 2, 1))])
    boxes, scores, labels = decode(levels, STRIDES, size, min_score=0.2)
    cx, cy = (3 + 0.5) * 16, (2 + 0.5) * 16
    np.testing.assert_allclose(boxes, [[cx - 32, cy - 16, cx + 32, cy + 16]], atol=1e-3)
    assert labels.tolist() == [7] and scores.tolist() == pytest.approx([0.9])


def test_decode_drops_weak_cells_and_suppresses_per_class():
    size = (64, 96)
    hot = [
        (8, 3, 4, 0, 0.8, (4, 4, 4, 4)),  # a person
        (8, 3, 5, 0, 0.6, (4, 4, 4, 4)),  # the same person one cell over (IoU 0.78): suppressed
        (8, 3, 5, 1, 0.5, (4, 4, 4, 4)),  # a bicycle under it: another class, kept
        (32, 1, 1, 2, 0.1, (1, 1, 1, 1)),  # below the floor
    ]
    boxes, scores, labels = decode(_heads(size, hot), STRIDES, size, min_score=0.2)
    assert labels.tolist() == [0, 1] and scores.tolist() == pytest.approx([0.8, 0.5])
    assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= size[1]).all()


class _FakeSession:
    """Stands in for ONNX Runtime: records the input and returns a head with one hot cell at any input size."""

    def __init__(self, hot):
        self.hot, self.seen = hot, None

    def get_inputs(self):
        return [type("Input", (), {"name": "input_1"})()]

    def run(self, _names, feed):
        (self.seen,) = feed.values()
        size = self.seen.shape[2:]
        return [x[None] for level in _heads(size, self.hot) for x in level]


def test_detect_maps_boxes_back_to_frame_pixels():
    shipped = OBJECT_MODELS["nanodet"].folder
    names = tuple(json.loads((shipped / "labels.json").read_text()))
    provenance = json.loads((shipped / "provenance.json").read_text())
    session = _FakeSession([(16, 2, 3, 0, 0.9, (2, 1, 2, 1))])
    det = ObjectDetector("nanodet", session, names, provenance)
    found = det.detect(np.full((120, 180), 128, np.uint8), input_size=(64, 96))
    assert session.seen.shape == (1, 3, 64, 96) and session.seen.dtype == np.float32
    scale = np.array([180 / 96, 120 / 64] * 2)
    np.testing.assert_allclose(found.boxes[0], np.array([24, 24, 88, 56]) * scale, atol=1e-3)
    assert len(found) == 1 and found.names[found.labels[0]] == "person"
    with pytest.raises(ConfigError, match="multiples of 32"):
        det.detect(np.zeros((120, 180), np.uint8), input_size=(60, 96))
    with pytest.raises(ValueError, match="uint8"):
        det.detect(np.zeros((120, 180), np.float32))


def test_input_size_rule_gives_multiples_of_32_near_the_aspect():
    for hw in [(240, 360), (158, 238), (1080, 1920), (480, 640), (20, 30)]:
        size = input_size_for(hw, 640, 32)
        assert all(s % 32 == 0 and s >= 32 for s in size)
        assert max(size) == 640 or min(size) == 32
        assert abs(size[0] / size[1] - hw[0] / hw[1]) < 0.1


def test_shipped_files_match_their_manifest_and_provenance():
    for model in OBJECT_MODELS.values():
        listed = manifest.verify(model.folder, model.files, "rebuild")
        on_disk = {p.name for p in model.folder.iterdir() if p.name != manifest.MANIFEST}
        assert on_disk == set(listed), "every shipped file is covered by the manifest"
        record = json.loads((model.folder / model.provenance).read_text())
        assert record["onnx"]["sha256"] == listed[model.onnx]
        assert record["upstream"]["licence"] and record["package"]["licence"]
        names = json.loads((model.folder / model.labels).read_text())
        assert len(names) == record["head"]["classes"] and len(set(names)) == len(names)


@pytest.mark.parametrize("altered", ["labels.json", "nanodet.onnx"])
def test_an_altered_file_is_refused_by_name(tmp_path, monkeypatch, altered):
    model = OBJECT_MODELS["nanodet"]
    copy = tmp_path / "nanodet"
    shutil.copytree(model.folder, copy)
    with open(copy / altered, "ab") as fh:
        fh.write(b" ")
    monkeypatch.setitem(OBJECT_MODELS, "nanodet", dataclasses.replace(model, root=copy))
    with pytest.raises(CheckpointError, match=altered):
        load_object_detector("nanodet", threads=1)
    with pytest.raises(ConfigError, match="unknown object detector"):
        load_object_detector("centernet", threads=1)


def test_the_detector_finds_the_walkers_of_a_real_ped2_frame(shared_datasets):
    import cv2

    path = shared_datasets / "UCSD_Anomaly_Dataset.v1p2/UCSDped2/Test/Test001/100.jpg"  # a dozen walkers, a cyclist
    frame = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    found = load_object_detector("nanodet", threads=1).detect(frame, min_score=0.3)
    people = found.labels == found.names.index("person")
    assert people.sum() >= 5, f"{people.sum()} people found"
    heights = found.boxes[people, 3] - found.boxes[people, 1]
    assert 15 < np.median(heights) < 80, "walkers are 20-50 px tall in Ped2"
    assert (found.boxes[:, 2] <= frame.shape[1]).all() and (found.boxes[:, 3] <= frame.shape[0]).all()


def test_running_a_detector_imports_no_tensorflow_and_opens_no_socket():
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "import numpy as np\n"
        "import video_anomaly.objects as objects\n"
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported at import time'\n"
        "objects.load_object_detector(threads=1).detect(np.zeros((64, 96), np.uint8))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf2onnx', 'tensorflowjs')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_objects_bench_times_every_size_side_by_side():
    from video_anomaly.bench import format_objects, objects_bench

    frames = [np.full((48, 64), v, np.uint8) for v in (60, 120)]
    r = objects_bench(frames, sizes=((64, 96), (96, 128)), threads=1)
    assert [s["input"] for s in r["sizes"]] == ["64x96", "96x128"] and r["sizes"][0]["ratio"] == 1.0
    assert all(s["ms_per_frame"] > 0 for s in r["sizes"]) and "| 96x128 |" in format_objects(r)


def test_bench_command_reads_a_frame_folder(tmp_path, capsys):
    import cv2

    from video_anomaly.cli import main

    for k in range(2):
        cv2.imwrite(str(tmp_path / f"{k:03d}.png"), np.full((48, 64), 80 * k, np.uint8))
    assert main(["--threads", "1", "bench", "--what", "objects", "--objects-frames", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 frames of 64x48" in out and "| 512x768 |" in out


def test_a_grey_frame_gives_the_network_the_same_input_as_its_three_channel_copy():
    import cv2

    class Session:
        def get_inputs(self):
            return [dataclasses.make_dataclass("Input", [("name", str)])("x")]

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (50, 70), dtype=np.uint8)
    for channels in ("BGR", "RGB"):
        provenance = {
            "input": {"mean": [100.0, 110.0, 120.0], "std": [50.0, 55.0, 60.0], "channels": channels,
                      "size_multiple": 32, "default_long_side": 96},
            "head": {"strides": [8, 16], "bins": 8},
        }  # fmt: skip
        det = ObjectDetector("fake", Session(), ("a",), provenance)
        got = det._blob(grey, (64, 96))
        want = det._blob(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), (64, 96))
        assert got.shape == (1, 3, 64, 96) and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(got[0, 0], got[0, 2])  # each channel its own mean and std
