"""Write a tree packed by ``pack_ucsd.py`` back in the official UCSD layout (PNG frames, PNG masks).

Runs where PyAV is absent (the GPU machine): decodes with OpenCV.

    python scripts/gpu/unpack_ucsd.py .carry/ped2 /tmp/UCSDped2
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("packed", type=Path)
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    for part in sorted(p for p in a.packed.iterdir() if p.is_dir()):
        dst = a.out / part.name
        dst.mkdir(parents=True, exist_ok=True)
        for m in part.glob("*.m"):
            shutil.copy(m, dst / m.name)
        for v in sorted(part.glob("*.mp4")):
            (dst / v.stem).mkdir(exist_ok=True)
            cap = cv2.VideoCapture(str(v))
            k = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                k += 1
                cv2.imwrite(str(dst / v.stem / f"{k:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            cap.release()
        for z in sorted(part.glob("*_gt.npz")):
            d = np.load(z)
            masks = np.unpackbits(d["bits"])[: int(np.prod(d["shape"]))].reshape(d["shape"]).astype(np.uint8) * 255
            (dst / z.stem).mkdir(exist_ok=True)
            for k, m in enumerate(masks, 1):
                cv2.imwrite(str(dst / z.stem / f"{k:03d}.png"), m)
    print("unpacked", sum(1 for _ in a.out.rglob("*.png")), "png files")


if __name__ == "__main__":
    main()
