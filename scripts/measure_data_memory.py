"""Peak memory of serving UCSD Ped1 Train as clips at 256x256 (frames kept as uint8).

Builds the ClipDataset over Ped1 Train with the seed's settings (10-frame clips, strides 1 and 2),
iterates a shuffled DataLoader (batch 4) over every clip, converts each batch to float32 / 256,
and prints the clip count and the peak resident memory (``resource.getrusage``).

    .venv/bin/python scripts/measure_data_memory.py [PED1_FOLDER]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

from video_anomaly.data.ucsd import load_ucsd
from video_anomaly.seed.clips import ClipDataset, batch_to_float
from video_anomaly.seed.config import DataConfig

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/datasets/UCSD_Anomaly_Dataset.v1p2/UCSDped1"


def peak_rss_mb() -> float:
    # ru_maxrss is kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, nargs="?", default=DEFAULT)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    start_rss = peak_rss_mb()
    t0 = time.perf_counter()
    cfg = DataConfig(size=args.size)
    ds = ClipDataset(load_ucsd(args.root).train, cfg)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    total = 0.0
    n_batches = 0
    for batch in loader:
        x = batch_to_float(batch)  # (B, T, 1, S, S) float32 in [0, 1)
        total += float(x.mean())
        n_batches += 1
    cached = sum(s.frames(cfg.size).nbytes for s in ds.sources)
    print(f"clips: {len(ds)}  batches: {n_batches}  batch shape: {tuple(x.shape)} {x.dtype}")
    print(f"frames cached: {cached / 2**20:.0f} MB uint8 ({sum(len(s) for s in ds.sources)} frames)")
    print(
        f"peak RSS: {peak_rss_mb():.0f} MB (after imports: {start_rss:.0f} MB)  time: {time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
