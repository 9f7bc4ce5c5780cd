"""Helpers for the live-detection tests: a deterministic stand-in model and a scene it can be judged on.

The stand-in is honest about what it is: a background model. It "reconstructs" every frame of a clip as
the per-pixel temporal median of the clip, so its error is large wherever something moved that the
median does not contain. It has no notion of shape or speed, so on the synthetic scene it can only find
anomalies of *place*: the tests plant people walking on the grass (``grass`` anomalies), which it sees
because the calibrated per-patch statistics say that nothing moves there on normal footage. Training a
ConvLSTM inside a test is too slow on the shared 2-core CI machine.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

SIZE = 32  # model input side
PATCH = 4  # calibration patch side (8 x 8 patches at 32 px)
H, W = 48, 64  # scene size
FRAMES = 120
SEED = 0
N_TRAIN = 8  # normal videos for calibration
MOTION_CELL = 8  # motion cells of 8 px (6 x 8 cells at 48 x 64)


class TemporalMedian(nn.Module):
    """``(B, T, 1, S, S)`` -> each frame replaced by the clip's per-pixel temporal median."""

    def __init__(self):
        super().__init__()
        # stream_live finds the device from the parameters; this one is never used in the computation.
        self.anchor = nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return clips.median(dim=1, keepdim=True).values.expand_as(clips)


def install_median(monkeypatch) -> None:
    """Make ``build_model(ModelConfig(name="median"))`` (used by ``load_checkpoint``) return the stand-in."""
    import video_anomaly.seed.models as models

    real = models.build_model

    def build(config):
        return TemporalMedian() if config.name == "median" else real(config)

    monkeypatch.setattr(models, "build_model", build)


class FakeObjectDetector:
    """Stands in for the ONNX object detector (``video_anomaly.objects``), stateless like it: every blob of pixels
    more than 30 grey levels from the frame blurred over 15 px (small things, not the walkway) is a ``person``. Same
    ``detect`` signature and ``Detections`` fields."""

    names = ("person", "bicycle")

    def detect(self, frame, *, input_size=None, min_score=0.2):
        from types import SimpleNamespace

        import cv2

        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        local = np.abs(gray.astype(np.int16) - cv2.blur(gray, (15, 15)).astype(np.int16)) > 30
        n, _, stats, _ = cv2.connectedComponentsWithStats(local.astype(np.uint8))
        st = stats[1:n][stats[1:n, 4] >= 4]
        boxes = np.column_stack([st[:, 0], st[:, 1], st[:, 0] + st[:, 2], st[:, 1] + st[:, 3]]).astype(np.float32)
        k = len(boxes)
        return SimpleNamespace(boxes=boxes.reshape(k, 4), scores=np.full(k, 0.9, np.float32),
                               labels=np.zeros(k, np.int64), names=self.names)  # fmt: skip


def install_fake_objects(monkeypatch) -> None:
    """Every objects cue uses ``FakeObjectDetector`` (the tests need no ONNX model)."""
    from video_anomaly.cues.objects import ObjectsCue

    fake = FakeObjectDetector()
    monkeypatch.setattr(ObjectsCue, "detector", property(lambda self: fake))


def objects_detector(tmp: Path, monkeypatch) -> Path:
    """A detector folder with the objects cue alone over ``FakeObjectDetector`` (installed for the test), fitted
    on the synthetic scene's normal videos (4 of 60 frames); its events name a ``person``."""
    from video_anomaly.data import load_dataset
    from video_anomaly.data.synthetic import make_synthetic_scene
    from video_anomaly.detector import Detector, DetectorConfig

    install_fake_objects(monkeypatch)
    root = make_synthetic_scene(tmp / "scene", seed=SEED, height=H, width=W, n_train=4, n_test=1, frames=60)
    cfg = DetectorConfig(cues=("objects",), folds=2, cue_settings={"objects": {"input_size": [64, 64], "every": 1}})
    return Detector.fit(load_dataset(root).train, cfg).save(tmp / "det")


def run_config():
    from video_anomaly.seed.config import RunConfig

    return RunConfig().replace(data={"size": SIZE}, model={"name": "median"})


def grass_videos(n: int = 2, seed: int = SEED):
    """Test videos of the synthetic scene (same background as ``make_synthetic_scene(seed)``) with one person
    walking on the grass from frame 40. Returns ``[(frames (N, H, W) uint8, labels (N,) bool)]``."""
    from video_anomaly.data.synthetic import _Scene

    scene = _Scene(H, W, np.random.default_rng([seed, 99]))
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, 7, i])
        mover = scene.anomaly(rng, "grass", 40)
        v = scene.render(rng, FRAMES, [mover])
        out.append((v.frames, v.labels))
    return out


def write_folder(frames: np.ndarray, folder: Path) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{t:03d}.png")
    return folder


def json_lines(text: str) -> list[dict]:
    """The JSON objects of a JSON-lines text (event logs, ``watch`` output)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_ts(frames: np.ndarray, path: Path, fps: int = 10) -> Path:
    """MPEG-TS (H.264, near-lossless) of ``frames`` for network-stream tests."""
    return write_video(frames, path, fps, format="mpegts", tune="zerolatency")


def write_video(frames: np.ndarray, path: Path, fps: int = 10, *, format=None, tune=None, options=None) -> Path:
    """H.264 (near-lossless) of ``frames`` in the container ``format`` (default: from the extension) with
    container ``options`` (e.g. ``{"movflags": "faststart"}``: an MP4 whose index comes first)."""
    import av

    with av.open(str(path), mode="w", format=format, options=options or {}) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "10", "preset": "ultrafast", **({"tune": tune} if tune else {})}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.repeat(f[..., None], 3, 2), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def main_with_sigterm_at(argv: list[str], index: int, monkeypatch, on_signal=lambda: None) -> int:
    """``cli.main(argv)`` with SIGTERM sent to this process when the live session receives frame ``index``
    (``on_signal()`` runs first). A handler that only raises KeyboardInterrupt stands in until the code under
    test installs its own, so a test can never kill pytest."""
    import os
    import signal

    from video_anomaly.cli import main
    from video_anomaly.detector import LiveSession

    real_push = LiveSession.push

    def push(self, frame, i=None):
        if i == index:
            on_signal()
            os.kill(os.getpid(), signal.SIGTERM)
        return real_push(self, frame, i)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(LiveSession, "push", push)
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        return main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)
        monkeypatch.setattr(LiveSession, "push", real_push)


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def udp_sender(data: bytes, port: int, delay: float = 0.3, pace: float = 0.002) -> threading.Thread:
    """Send ``data`` (MPEG-TS) to ``127.0.0.1:port`` over UDP after ``delay`` seconds, ``pace`` seconds between
    datagrams, on a thread (started)."""

    def send():
        time.sleep(delay)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(0, len(data), 1316):  # 7 TS packets per datagram, paced so that none is lost
            sock.sendto(data[i : i + 1316], ("127.0.0.1", port))
            time.sleep(pace)
        sock.close()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def calibrated_checkpoint(tmp: Path, monkeypatch, cues: str = "ae,motion") -> tuple[Path, Path]:
    """A synthetic scene (normal training videos) and a detector folder over the stand-in. ``(run, root)``.

    The stand-in was never trained, so any training frames may calibrate it: the hold-out recorded in its
    checkpoint is the second half of each training video (the motion cue fits on the first halves).
    """
    from video_anomaly.cli import main
    from video_anomaly.data import load_dataset
    from video_anomaly.data.synthetic import make_synthetic_scene
    from video_anomaly.seed.checkpoint import save_checkpoint

    install_median(monkeypatch)
    install_fake_objects(monkeypatch)
    root = make_synthetic_scene(tmp / "scene", seed=SEED, height=H, width=W, n_train=N_TRAIN, n_test=1, frames=FRAMES)
    ds = load_dataset(root)
    holdout = {v.name: [len(v) // 2, len(v)] for v in ds.train}
    run = tmp / "run"
    save_checkpoint(run / "checkpoint", TemporalMedian(), run_config(),
                    {"holdout_ranges": holdout, "dataset_root": str(root)})  # fmt: skip
    # The stand-in background model is judged per place here (people on the grass), so these tests use the
    # per-region z-score calibration and the fused score (the stand-in is the cue that sees a slow walker).
    score = "fused" if "," in cues else cues
    assert main(["calibrate", str(run), "--cues", cues, "--ae-patch", str(PATCH), "--motion-cell", str(MOTION_CELL),
                 "--calibration", "region_z", "--score", score, "--device", "cpu"]) == 0  # fmt: skip
    return run, root
