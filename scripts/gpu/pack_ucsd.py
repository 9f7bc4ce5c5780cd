"""Pack a UCSD tree (Ped1/Ped2) into a few MB for a GPU machine that cannot see ../shared.

Each clip becomes one H.264 file of its grayscale frames (libx264, ``--crf``, yuv420p; the chroma planes are
constant), the masks become bit-packed arrays, the ``.m`` label files are copied. ``unpack_ucsd.py`` writes
the tree back in the official layout (PNG frames and masks). The round trip is lossy by a few grey levels
(measured and printed here: mean and max absolute difference), on top of the shared copy's own JPEG
re-encoding; training on the unpacked tree is the only use.

    python scripts/gpu/pack_ucsd.py ../shared/datasets/UCSD_Anomaly_Dataset.v1p2/UCSDped2 .carry/ped2 --crf 10
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import av
import numpy as np
from PIL import Image


def encode(frames: list[np.ndarray], path: Path, crf: int) -> np.ndarray:
    h, w = frames[0].shape
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(crf), "preset": "slow"}
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="gray").reformat(format="yuv420p")))
        out.mux(s.encode(None))
    with av.open(str(path)) as inp:
        back = [fr.to_ndarray(format="gray") for fr in inp.decode(video=0)]
    return np.stack(back)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--crf", type=int, default=10)
    ap.add_argument("--parts", default="Train,Test")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    diffs = []
    for part in a.parts.split(","):
        (a.out / part).mkdir(exist_ok=True)
        for m in sorted((a.root / part).glob("*.m")):
            shutil.copy(m, a.out / part / m.name)
        for clip in sorted(p for p in (a.root / part).iterdir() if p.is_dir()):
            files = sorted(f for f in clip.iterdir() if not f.name.startswith("."))
            frames = [np.asarray(Image.open(f).convert("L")) for f in files]
            if clip.name.endswith("_gt"):
                masks = np.stack(frames) > 127
                np.savez_compressed(a.out / part / f"{clip.name}.npz", bits=np.packbits(masks), shape=masks.shape)
                continue
            back = encode(frames, a.out / part / f"{clip.name}.mp4", a.crf)
            d = np.abs(back.astype(np.int16) - np.stack(frames).astype(np.int16))
            diffs.append((d.mean(), d.max()))
            print(f"{part}/{clip.name}: {len(frames)} frames, mean |diff| {d.mean():.3f}, max {d.max()}", flush=True)
    size = sum(f.stat().st_size for f in a.out.rglob("*") if f.is_file())
    print(
        f"packed {size / 2**20:.1f} MiB; mean |diff| {np.mean([x for x, _ in diffs]):.3f}, "
        f"max {max(y for _, y in diffs)}"
    )


if __name__ == "__main__":
    main()
