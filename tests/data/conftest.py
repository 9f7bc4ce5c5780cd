"""Writers for tiny datasets in each reader's exact on-disk format (real writers: Pillow, PyAV, scipy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _gradient_frames(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Distinct, smooth frames (codec-friendly): frame i has mean brightness rising with i."""
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 60, w)[None, :] + np.linspace(0, 40, h)[:, None]
    return np.stack([np.clip(base + 10 * i + rng.normal(0, 1, (h, w)), 0, 255) for i in range(n)]).astype(np.uint8)


@pytest.fixture
def frames_like():
    return _gradient_frames


@pytest.fixture
def write_images():
    """``write_images(folder, frames, ext=".tif", start=1, digits=3)`` -> list of paths (Pillow)."""
    from PIL import Image

    def write(folder: Path, frames: np.ndarray, ext: str = ".tif", start: int = 1, digits: int = 3) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, f in enumerate(frames, start=start):
            p = folder / f"{i:0{digits}d}{ext}"
            Image.fromarray(np.asarray(f, dtype=np.uint8)).save(p)
            paths.append(p)
        return paths

    return write


@pytest.fixture
def write_video():
    """``write_video(path, frames)``: an MPEG-4 .avi (or per extension container) written with PyAV."""
    av = pytest.importorskip("av")

    def write(path: Path, frames: np.ndarray, fps: int = 10) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        n, h, w = frames.shape
        with av.open(str(path), "w") as container:
            stream = container.add_stream("mpeg4", rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.codec_context.bit_rate = 4_000_000
            for f in frames:
                rgb = np.repeat(f[:, :, None], 3, axis=2)
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return path

    return write
