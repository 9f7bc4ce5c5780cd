"""How well the motion cue alone separates abnormal frames of UCSD Ped2, live (causal) and label-free in its fit.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/motion_probe.py [--root DIR] [--cells 16 32] [--ks 128 none]
        [--presets medium] [--max-side N] [--holdout 0.1] [--json OUT]

For each DIS preset and cell size the flow and pooled features of every Train and Test frame are computed
once (``MotionCue.features``, exactly what ``stream`` computes); then, for each ``k`` (``none``: keep every
training sample):

* ``raw``: fit on all Train frames; a frame's score is the mean of its 3 largest cell distances;
* ``p99``: fit on the first 90% of each Train video; each cell's distance is divided by that cell's 99th
  percentile distance on the held-out last 10% of each Train video (normal frames not used for fitting),
  then the mean of the 3 largest.

Frame 0 of a video has no flow and takes frame 1's score. The AUC is the micro ROC AUC over all test frames
pooled (sklearn). Test labels are read only to compute the AUC: nothing is chosen on them here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared/datasets/UCSD_Anomaly_Dataset.v1p2/UCSDped2"
TOP = 3
P_FLOOR = 1e-3  # a held-out 99th percentile below this (a cell that never differs from its references) is floored


def frame_scores(maps: list[np.ndarray | None], norm: np.ndarray | None = None) -> np.ndarray:
    """Per frame: the mean of the ``TOP`` largest cell scores (divided by ``norm`` first); frame 0 copies frame 1."""
    out = np.empty(len(maps), dtype=np.float64)
    for i, m in enumerate(maps):
        if m is None:
            continue
        v = (m / norm if norm is not None else m).ravel()
        out[i] = np.partition(v, v.size - TOP)[-TOP:].mean()
    out[0] = out[1]
    return out


def extract(cue, videos) -> tuple[list[list], float, float, int]:
    """Pooled features of every frame of every video; seconds decoding, seconds in ``features``, frames."""
    feats, decode_s, feat_s, n = [], 0.0, 0.0, 0
    for video in videos:
        t0 = time.perf_counter()
        frames = list(video.source.iter_frames())
        t1 = time.perf_counter()
        feats.append(list(cue.features(frames)))
        t2 = time.perf_counter()
        decode_s += t1 - t0
        feat_s += t2 - t1
        n += len(frames)
    return feats, decode_s, feat_s, n


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import roc_auc_score

    from video_anomaly.cues.motion import MotionCue
    from video_anomaly.data.ucsd import load_ucsd

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the UCSDped2 folder")
    p.add_argument("--cells", type=int, nargs="+", default=[16, 32])
    p.add_argument("--ks", nargs="+", default=["128", "none"], help="coreset sizes; 'none' keeps all samples")
    p.add_argument("--presets", nargs="+", default=["medium"], choices=["ultrafast", "fast", "medium"])
    p.add_argument("--pool", type=int, default=5)
    p.add_argument("--max-side", type=int, default=None, help="downscale for the flow (default: native)")
    p.add_argument("--holdout", type=float, default=0.1, help="fraction at the end of each Train video held out")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    ks = [None if k.lower() == "none" else int(k) for k in args.ks]

    ds = load_ucsd(args.root)
    labels = np.concatenate([v.labels for v in ds.test]).astype(int)
    print(
        f"{ds.name}: {len(ds.train)} train videos, {len(ds.test)} test videos, {len(labels)} test frames "
        f"({labels.sum()} abnormal)"
    )
    results = []
    for preset in args.presets:
        for cell in args.cells:
            settings = {"cell": cell, "pool": args.pool, "preset": preset, "max_side": args.max_side}
            probe = MotionCue(**settings)
            shape = ds.train[0].source.native_size
            train, dec_tr, feat_tr, n_tr = extract(probe, ds.train)
            test, dec_te, feat_te, n_te = extract(probe, ds.test)
            print(
                f"\npreset={preset} cell={cell} grid={probe.grid_shape(shape)}: features "
                f"{n_tr / feat_tr:.1f} frames/s on Train ({feat_tr:.1f} s), {n_te / feat_te:.1f} frames/s on Test "
                f"(JPEG decoding apart: {dec_tr + dec_te:.1f} s)"
            )
            all_train = [f for v in train for f in v if f is not None]
            n_fit = [int(round(len(v) * (1 - args.holdout))) for v in train]
            fit_part = [f for v, n in zip(train, n_fit) for f in v[:n] if f is not None]
            held = [f for v, n in zip(train, n_fit) for f in v[n:] if f is not None]
            for k in ks:
                t0 = time.perf_counter()
                cue = MotionCue(**settings, k=k).fit_features(all_train, shape)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                maps = [[None if f is None else cue.score_features(f) for f in v] for v in test]
                score_s = time.perf_counter() - t0
                raw = np.concatenate([frame_scores(m) for m in maps])

                cue90 = MotionCue(**settings, k=k).fit_features(fit_part, shape)
                held_d = np.stack([cue90.score_features(f) for f in held])
                p99 = np.maximum(np.percentile(held_d, 99, axis=0), P_FLOOR)
                maps90 = [[None if f is None else cue90.score_features(f) for f in v] for v in test]
                norm = np.concatenate([frame_scores(m, p99) for m in maps90])

                row = {
                    "preset": preset,
                    "cell": cell,
                    "k": k,
                    "max_side": args.max_side,
                    "auc_raw": round(float(roc_auc_score(labels, raw)), 4),
                    "auc_p99": round(float(roc_auc_score(labels, norm)), 4),
                    "refs_per_cell": int(cue.refs.shape[2]),
                    "model_kib": round(cue.refs.nbytes / 1024, 1),
                    "fit_s": round(feat_tr + fit_s, 1),
                    "coreset_s": round(fit_s, 2),
                    "live_fps": round(n_te / (feat_te + score_s), 1),
                    "score_ms": round(1000 * score_s / n_te, 3),
                    "train_samples": len(all_train),
                    "heldout_samples": len(held),
                }
                results.append(row)
                print(
                    f"  k={k}: micro AUC raw {row['auc_raw']:.4f}, per-cell p99 {row['auc_p99']:.4f} | "
                    f"{row['refs_per_cell']} refs/cell ({row['model_kib']} KiB); fit {row['fit_s']} s "
                    f"(flow+features {feat_tr:.1f} s + coreset {fit_s:.2f} s); live {row['live_fps']} frames/s "
                    f"(scoring {row['score_ms']} ms/frame)"
                )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
