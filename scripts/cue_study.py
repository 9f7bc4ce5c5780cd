"""Which calibration, frame score, fusion rule and smoothing turn the two cues into the best live detector.

Computes, once per dataset, each cue's raw per-region maps on (a) the held-out normal frames of the training
videos (the last 10% of each; never used to fit the cue) and (b) every test frame, all causally, then scores
variants from those arrays: per-region calibration (global quantile, per-region quantile, per-region quantile
floored at the global one, per-region z-score), frame score (max, mean of the top 3 regions), fusion (each cue
alone, max, sum of calibrated maps on a common grid) and causal EMA smoothing. Prints micro AUC per variant.

Every step is the detector's own: the cues of ``cues.CUES``, its hold-out rule (``detector.holdout_ranges_of``),
its held-out maps (``detector.held_out_maps``), warm-up convention (``detector.fill_warmup``), and the pure
functions of ``calibration.py`` (``fit_region_stats``, ``fuse``, ``frame_value``); only the variants are the
study's.

Selection honesty: run it on the synthetic scene and Ped2 to choose; Ped1 is reported, never chosen on.

    python scripts/cue_study.py $UCSD/UCSDped2 --ae runs/ped2-128/checkpoint --out runs/study/ped2
"""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path

import numpy as np

FLOORS = (1.0, 0.5, 0.25)
# The study's calibrations as (calibration.fit_region_stats method, floor).
CALS = {
    "global_q99": ("global_q99", 1.0),
    "region_q99": ("region_q99_floor", 0.0),
    "region_z_floor": ("region_z", 1.0),
    **{f"region_q99_floor{f}": ("region_q99_floor", f) for f in FLOORS},
}


def cue_maps(cue, ds, ranges):
    """``(held-out maps per training video, maps of every test frame per test video)`` of one fitted cue, the
    warm-up frames of a test video given its first map (the detector's convention)."""
    from video_anomaly.detector.core import held_out_maps
    from video_anomaly.fusion.session import fill_warmup

    hold = held_out_maps({cue.name: cue}, [v.source for v in ds.train], ranges)[cue.name]
    test = []
    for v in ds.test:
        ms = list(cue.stream(v.source.iter_frames(None)))
        test.append(np.stack(fill_warmup(ms, np.asarray([m is not None for m in ms]))))
    return hold, test


def variant_scores(test, stats, grid, fusion, topks=(1, 3)):
    """Per ``topk`` the frame values of every test frame (all videos concatenated) under ``stats``."""
    from video_anomaly.fusion.calibration import frame_value, fuse

    out = {k: [] for k in topks}
    names = list(stats)
    for i in range(len(test[names[0]])):
        vals = {k: [] for k in topks}
        for t in range(len(test[names[0]][i])):
            fused = fuse({c: test[c][i][t] for c in names}, stats, grid, fusion)
            for k in topks:
                vals[k].append(frame_value(fused, k))
        for k in topks:
            out[k].append(np.asarray(vals[k]))
    return out


def rows_for(label, test, stats, grid, fusion, alphas, y):
    from sklearn.metrics import roc_auc_score

    from video_anomaly.fusion.scores import ema

    rows = []
    for k, per_video in variant_scores(test, stats, grid, fusion).items():
        how = "max" if k == 1 else f"top{k}"
        for alpha in alphas:
            s = np.concatenate([ema(v, alpha) for v in per_video])
            rows.append((*label, how, alpha, float(roc_auc_score(y, s))))
    return rows


def main():
    from video_anomaly.cues import AECue, MotionCue
    from video_anomaly.data import load_dataset
    from video_anomaly.detector import DetectorConfig
    from video_anomaly.detector.core import holdout_ranges_of
    from video_anomaly.fusion.calibration import common_grid, fit_region_stats

    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--ae", help="autoencoder checkpoint (128px) with holdout ranges")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--motion", default="{}", help="motion cue settings over its defaults (JSON)")
    ap.add_argument("--holdout", type=float, default=0.1)
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    a.out.mkdir(parents=True, exist_ok=True)
    trained = {"ae": AECue.from_checkpoint(Path(a.ae), device="cpu")} if a.ae else {}
    ranges = holdout_ranges_of(ds.train, DetectorConfig(holdout=a.holdout), trained)
    motion = MotionCue(MotionCue.config_from(json.loads(a.motion)))
    motion.fit([islice(v.source.iter_frames(None), 0, start) for v, (start, _) in zip(ds.train, ranges)])
    maps = {"motion": cue_maps(motion, ds, ranges)}
    if a.ae:
        maps["ae"] = cue_maps(trained["ae"], ds, ranges)
    y = np.concatenate([np.asarray(v.labels, bool) for v in ds.test])
    shape = np.asarray(next(iter(ds.test[0].source.iter_frames(None)))).shape[:2]
    cues = {"motion": motion, **trained}
    grid = common_grid([c.grid_shape(shape) for c in cues.values()])
    test = {c: t for c, (_, t) in maps.items()}
    rows = []
    for cal, (method, floor) in CALS.items():
        stats = {c: fit_region_stats(np.concatenate(h), method, floor) for c, (h, _) in maps.items()}
        for c in cues:
            rows += rows_for((cal, c), {c: test[c]}, {c: stats[c]}, grid, "max", (0.0, 0.5, 0.2), y)
        if len(cues) > 1:
            for fusion in ("max", "sum"):
                rows += rows_for((cal, fusion), test, stats, grid, fusion, (0.0, 0.5, 0.2), y)
    if "ae" in cues:  # the motion cue by its best calibration (one global divisor), the autoencoder each way
        motion_stats = fit_region_stats(np.concatenate(maps["motion"][0]), "global_q99")
        for cal in ("global_q99", "region_z_floor", "region_q99_floor1.0"):
            ae_stats = fit_region_stats(np.concatenate(maps["ae"][0]), *CALS[cal])
            for fusion in ("max", "sum"):
                stats = {"ae": ae_stats, "motion": motion_stats}
                rows += rows_for((f"motion global_q99, ae {cal}", fusion), test, stats, grid, fusion, (1.0, 0.5), y)
    rows.sort(key=lambda r: -r[-1])
    lines = ["| calibration | cues/fusion | frame score | EMA | micro AUC |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {c} | {f} | {h} | {al} | {auc:.4f} |" for c, f, h, al, auc in rows]
    (a.out / "study.md").write_text("\n".join(lines) + "\n")
    (a.out / "study.json").write_text(json.dumps(rows))
    print("\n".join(lines[:40]))


if __name__ == "__main__":
    main()
