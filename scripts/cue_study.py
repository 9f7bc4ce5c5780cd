"""Which calibration, frame score, fusion rule and smoothing turn the two cues into the best live detector.

Computes, once per dataset, each cue's raw per-region maps on (a) the held-out normal frames of the training
videos (the last 10% of each; never used to fit the cue) and (b) every test frame, all causally, then scores
variants from those arrays: per-region calibration (global quantile, per-region quantile, per-region quantile
floored at the global one, per-region z-score), frame score (max, mean of the top 3 regions), fusion (each cue
alone, max, sum of calibrated maps on a common grid) and causal EMA smoothing. Prints micro AUC per variant.

Selection honesty: run it on the synthetic scene and Ped2 to choose; Ped1 is reported, never chosen on.

    python scripts/cue_study.py $UCSD/UCSDped2 --ae runs/ped2-128/checkpoint --out runs/study/ped2
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import islice
from pathlib import Path

import numpy as np


def motion_maps(ds, ranges, cfg):
    from video_anomaly.cues.motion import MotionCue

    cue = MotionCue(**cfg)
    t = time.perf_counter()
    cue.fit([islice(v.source.iter_frames(None), 0, a) for v, (a, _) in zip(ds.train, ranges)])
    fit_s = time.perf_counter() - t
    hold = [
        np.stack([m for m in cue.stream(islice(v.source.iter_frames(None), max(a - 1, 0), b))][1:])
        for v, (a, b) in zip(ds.train, ranges)
    ]
    test = []
    for v in ds.test:
        ms = list(cue.stream(v.source.iter_frames(None)))
        ms[0] = ms[1]
        test.append(np.stack(ms))
    return hold, test, fit_s


def ae_maps(ds, ranges, ckpt, patch=8):
    from video_anomaly.checkpoint import load_checkpoint
    from video_anomaly.inference import stream_live
    from video_anomaly.scoring import patch_errors

    model, cfg, _ = load_checkpoint(ckpt, device="cpu")
    size, t = cfg.data.size, cfg.data.clip_length

    def run(frames):
        return [patch_errors(r.map, patch) for r in stream_live(model, frames, clip_length=t, maps=True)]

    hold = [
        np.stack(run(islice(v.source.iter_frames(size), max(a - t + 1, 0), b))) for v, (a, b) in zip(ds.train, ranges)
    ]
    test = []
    for v in ds.test:
        ms = run(v.source.iter_frames(size))
        test.append(np.stack([ms[0]] * (t - 1) + ms))
    return hold, test


def to_grid(maps, shape):
    import cv2

    return np.stack(
        [cv2.resize(m.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA) for m in maps]
    )


def calibrators(hold):
    h = np.concatenate(hold)
    g = np.quantile(h, 0.99)
    q = np.quantile(h, 0.99, axis=0)
    mu, sd = h.mean(0), h.std(0)
    sdf = np.maximum(sd, np.median(sd))
    out = {
        "global_q99": lambda m: m / g,
        "region_q99": lambda m: m / np.maximum(q, 1e-9),
        "region_z_floor": lambda m: (m - mu) / sdf,
    }
    for f in FLOORS:
        out[f"region_q99_floor{f}"] = lambda m, f=f: m / np.maximum(q, f * g)
    return out


FLOORS = (1.0, 0.5, 0.25)


def mixed_rows(cues, y):
    """The motion cue divided by one global 99th percentile (its best calibration), the autoencoder calibrated
    each way, fused by max or sum; frame value = highest region (max) or top-3 mean; EMA none (1.0) or 0.5."""
    from sklearn.metrics import roc_auc_score

    (mh, mt), (ah, at) = cues["motion"], cues["ae"]
    mq = np.quantile(np.concatenate(mh), 0.99)
    a = np.concatenate(ah)
    sd = a.std(0)
    ae_cals = {
        "global_q99": (0.0, np.quantile(a, 0.99)),
        "region_z_floor": (a.mean(0), np.maximum(sd, np.median(sd))),
        "region_q99_floor1.0": (0.0, np.maximum(np.quantile(a, 0.99, axis=0), np.quantile(a, 0.99))),
    }
    rows = []
    for name, (loc, scale) in ae_cals.items():
        for fusion in ("max", "sum"):
            for how in ("max", "top3"):
                for alpha in (1.0, 0.5):
                    s = []
                    for m, x in zip(mt, at):
                        mm, aa = m / mq, (x - loc) / scale
                        fused = np.maximum(mm, aa) if fusion == "max" else mm + aa
                        s.append(ema(frame_scores(fused, how), alpha))
                    auc = float(roc_auc_score(y, np.concatenate(s)))
                    rows.append((f"motion global_q99, ae {name}", fusion, how, alpha, auc))
    return rows


def frame_scores(maps, how):
    flat = maps.reshape(len(maps), -1)
    if how == "max":
        return flat.max(1)
    return np.sort(flat, axis=1)[:, -3:].mean(1)


def ema(x, a):
    from video_anomaly.scoring import ema as e

    return e(x, a) if 0 < a < 1 else x


def main():
    from sklearn.metrics import roc_auc_score

    from video_anomaly.data import load_dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--ae", help="autoencoder checkpoint (128px) with holdout ranges")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--motion", default='{"cell": 21, "max_side": 240, "preset": "medium"}')
    ap.add_argument("--holdout", type=float, default=0.1)
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    ranges = [(len(v) - max(int(round(a.holdout * len(v))), 11), len(v)) for v in ds.train]
    a.out.mkdir(parents=True, exist_ok=True)
    cache = a.out / "maps.npz"
    mcfg = json.loads(a.motion)
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        mh = [z[f"mh{i}"] for i in range(len(ds.train))]
        mt = [z[f"mt{i}"] for i in range(len(ds.test))]
        ah = [z[f"ah{i}"] for i in range(len(ds.train))] if a.ae else None
        at = [z[f"at{i}"] for i in range(len(ds.test))] if a.ae else None
    else:
        mh, mt, fit_s = motion_maps(ds, ranges, mcfg)
        print(f"motion fit {fit_s:.1f}s", flush=True)
        arrays = {**{f"mh{i}": m for i, m in enumerate(mh)}, **{f"mt{i}": m for i, m in enumerate(mt)}}
        ah = at = None
        if a.ae:
            ah, at = ae_maps(ds, ranges, a.ae)
            arrays |= {f"ah{i}": m for i, m in enumerate(ah)} | {f"at{i}": m for i, m in enumerate(at)}
        np.savez_compressed(cache, **arrays)
    y = np.concatenate([np.asarray(v.labels, bool) for v in ds.test])
    grid = mt[0].shape[1:]
    cues = {"motion": (mh, mt)}
    if ah is not None:
        cues["ae"] = ([to_grid(m, grid) for m in ah], [to_grid(m, grid) for m in at])
    rows = []
    for cal in ("global_q99", "region_q99", "region_z_floor", *(f"region_q99_floor{f}" for f in FLOORS)):
        cal_maps = {}
        for name, (h, t) in cues.items():
            f = calibrators(h)[cal]
            cal_maps[name] = [f(m) for m in t]
        combos = dict(cal_maps)
        if "ae" in cal_maps:
            combos["max"] = [np.maximum(p, q) for p, q in zip(cal_maps["ae"], cal_maps["motion"])]
            combos["sum"] = [p + q for p, q in zip(cal_maps["ae"], cal_maps["motion"])]
        for fusion, maps in combos.items():
            for how in ("max", "top3"):
                for alpha in (0.0, 0.5, 0.2):
                    s = np.concatenate([ema(frame_scores(m, how), alpha) for m in maps])
                    rows.append((cal, fusion, how, alpha, float(roc_auc_score(y, s))))
    rows += mixed_rows(cues, y) if "ae" in cues else []
    rows.sort(key=lambda r: -r[-1])
    lines = ["| calibration | cues/fusion | frame score | EMA | micro AUC |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {c} | {f} | {h} | {al} | {auc:.4f} |" for c, f, h, al, auc in rows]
    (a.out / "study.md").write_text("\n".join(lines) + "\n")
    (a.out / "study.json").write_text(json.dumps(rows))
    print("\n".join(lines[:40]))


if __name__ == "__main__":
    main()
