"""Which motion features, cell size, frame value and appearance fusion make the best live detector (issue 20).

Step 1 (``cache``, the slow part, once per dataset): every frame of every training and test video at the cues'
working resolution (longer side at most 240 px) and the DIS flow (preset ``medium``) into it from the previous
frame, written under ``--cache`` (git-ignored ``runs/``). Step 2 (``score``): for each variant the motion cue's
own feature code (``cues.motion``) runs on the cached flow, the appearance cue (``cues.appearance``) on the cached
frames; the cues are fitted on the first 90% of each training video, calibrated on the last 10% (one divisor for
all regions, as the detector's ``global_q99``), fused per region, and every test frame is scored causally. Reports
micro and macro frame-level AUC (live: no per-video normalisation) and the share of labelled-normal test frames
above the threshold at a 1% target false-alarm rate (the held-out frames' 99th percentile).

Selection honesty: run it on the synthetic scene and Ped2 to choose; Ped1 is never read here.

    nice -n 10 .venv/bin/python scripts/detection_study.py cache ped2 synthetic
    nice -n 10 .venv/bin/python scripts/detection_study.py score ped2 synthetic --json runs/study/detection.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PED2 = ROOT.parent / "shared/datasets/UCSD_Anomaly_Dataset.v1p2/UCSDped2"
MAX_SIDE = 240
HOLDOUT = 0.1
SYNTH_SEEDS = (0, 1, 2)


def datasets(name: str):
    """``name`` -> list of (dataset tag, train frame lists, test frame lists, test labels)."""
    if name == "ped2":
        from video_anomaly.data import load_dataset

        ds = load_dataset(PED2)
        yield (
            "ped2",
            [v.source.iter_frames(None) for v in ds.train],
            [v.source.iter_frames(None) for v in ds.test],
            [np.asarray(v.labels, bool) for v in ds.test],
        )
    elif name == "synthetic":
        from video_anomaly.data.synthetic import render_synthetic_videos

        for seed in SYNTH_SEEDS:  # the demo's scene (seed 0) and two more draws of it
            train, test = render_synthetic_videos(seed=seed)
            yield f"synthetic{seed}", [v.frames for v in train], [v.frames for v in test], [v.labels for v in test]
    else:
        raise SystemExit(f"unknown dataset {name!r}: ped2 or synthetic")


def flow_video(frames) -> dict[str, np.ndarray]:
    """Working-resolution frames ``(N, h, w)`` uint8 and flow ``(N, h, w, 2)`` float16 (frame 0's is zero)."""
    import cv2

    from video_anomaly.cues.motion import working_shape

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey, flow, prev = [], [], None
    for f in frames:
        f = np.asarray(f)
        h, w = working_shape(f.shape, MAX_SIDE)
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if (h, w) != f.shape else f
        flow.append(np.zeros((h, w, 2), np.float16) if prev is None else dis.calc(prev, f, None).astype(np.float16))
        grey.append(f)
        prev = f
    return {"grey": np.stack(grey), "flow": np.stack(flow)}


def cache(args) -> None:
    for name in args.datasets:
        for tag, train, test, labels in datasets(name):
            out = args.cache / tag
            out.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            n = 0
            for split, videos in (("train", train), ("test", test)):
                for i, frames in enumerate(videos):
                    p = out / f"{split}{i:03d}.npz"
                    if p.exists():
                        continue
                    arr = flow_video(frames)
                    n += len(arr["grey"])
                    np.savez(p, **arr)
            np.save(out / "labels.npy", np.array(labels, dtype=object), allow_pickle=True)
            print(f"{tag}: cached {n} new frames in {time.perf_counter() - t0:.0f} s", flush=True)


# ------------------------------------------------------------------------------------------------ scoring

MOTION_CELLS = (12, 16, 21, 28)  # fixed cell sides, working pixels
AUTO_SCALES = (1.0, 1.5, 2.0)  # cell="auto": these times the measured moving-region size
POOL = 5  # the motion cue's default causal pooling
APPEARANCE = {  # appearance settings compared (the cue's defaults unless given: cell "auto" at scale 1.5)
    "app cell x1.0": {"cell_scale": 1.0},
    "app shape only": {"cell_scale": 1.0, "bins": 0},
    "app cell x1.5": {},
    "app pool 3": {"cell_scale": 1.5, "pool": 3},
    "app fg 30": {"cell_scale": 1.5, "fg_threshold": 30.0},
    "app k 128": {"cell_scale": 1.5, "k": 128},
    "app window 5": {"window": 5},
    "app sub 3": {"sub": 3},
    "app window 1": {"window": 1},
}


def load(tag: str, cache_dir: Path):
    d = cache_dir / tag
    if not d.is_dir():
        raise SystemExit(f"{d}: no cache; run `detection_study.py cache` first")

    def read(split):
        return [dict(np.load(p)) for p in sorted(d.glob(f"{split}*.npz"))]

    return read("train"), read("test"), list(np.load(d / "labels.npy", allow_pickle=True))


def split_at(n: int) -> int:
    """First held-out frame of a training video of ``n`` frames (the detector's rule)."""
    return n - max(int(round(HOLDOUT * n)), 2)


def pooled(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Causal mean over the last ``POOL`` frames of ``x[start:stop]``, restarting at ``start``."""
    x = x[start:stop]
    cs = np.cumsum(np.concatenate([np.zeros_like(x[:1]), x]), 0)
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - POOL, 0)
    return ((cs[idx] - cs[lo]) / (idx - lo)[:, None, None, None]).astype(np.float32)


def motion_features(videos, cell: int, bins: int) -> list[np.ndarray]:
    """Unpooled cell features of every frame ``(N, Gh, Gw, 4 + bins)`` (frame 0: zeros, never used)."""
    from video_anomaly.cues.motion import _CellReducer, flow_features

    out = []
    for v in videos:
        g, fl = v["grey"], v["flow"]
        red = _CellReducer(g.shape[1:], cell)
        f = np.zeros((len(g), red.gh, red.gw, 4 + bins), np.float32)
        for t in range(1, len(g)):
            diff = np.abs(g[t].astype(np.float32) - g[t - 1]) / 255.0
            f[t] = flow_features(red, fl[t].astype(np.float32), diff, bins)
        out.append(f)
    return out


def appearance_maps(train, test, **cfg):
    from video_anomaly.cues.appearance import AppearanceCue

    cue = AppearanceCue(max_side=MAX_SIDE, **cfg).fit([v["grey"][: split_at(len(v["grey"]))] for v in train])
    hold = [np.stack(list(cue.stream(v["grey"][split_at(len(v["grey"])) :]))) for v in train]
    tmaps = [np.stack(list(cue.stream(v["grey"]))) for v in test]
    return hold, tmaps, cue.cell


def evaluate(hold: dict, test: dict, labels, *, fusion: str, topk: int) -> dict:
    """Calibrate each cue's maps by one global 99th percentile of its held-out maps, fuse on the first cue's
    grid, frame value = mean of the ``topk`` highest regions; micro/macro AUC and achieved false-alarm rate."""
    from video_anomaly.evaluation.metrics import macro, micro
    from video_anomaly.fusion.calibration import far_quantile, fit_region_stats, to_grid

    cues = list(hold)
    grid = hold[cues[0]][0].shape[1:]
    stats = {c: fit_region_stats(np.concatenate(hold[c]), "global_q99") for c in cues}

    def frame_values(maps_by_cue):
        out = []
        for t in range(len(maps_by_cue[cues[0]])):
            fused = None
            for c in cues:
                loc, scale = stats[c]
                z = to_grid((maps_by_cue[c][t] - loc) / scale, grid)
                fused = z if fused is None else (np.maximum(fused, z) if fusion == "max" else fused + z)
            flat = fused.ravel()
            out.append(np.partition(flat, flat.size - topk)[-topk:].mean())
        return np.asarray(out)

    held_values = np.concatenate([frame_values({c: hold[c][i] for c in cues}) for i in range(len(hold[cues[0]]))])
    thr = far_quantile(held_values, 0.01)
    scores = [frame_values({c: test[c][i] for c in cues}) for i in range(len(labels))]
    normal = np.concatenate([s[~np.asarray(y, bool)] for s, y in zip(scores, labels)])
    return {
        "micro": round(micro(labels, scores)["auc"], 4),
        "macro": round(macro(labels, scores)["auc"], 4),
        "far_at_1pct": round(float((normal > thr).mean()), 4),
    }


def motion_pair(train, test, cell: int) -> dict[int, tuple]:
    """Motion maps with the 4 features and with 4 + 8 direction sectors (one feature pass: the first 4 of the
    12 features are the 4-feature cue's)."""
    from video_anomaly.cues.motion import MotionCue

    ftr, fte = motion_features(train, cell, 8), motion_features(test, cell, 8)
    work = train[0]["grey"].shape[1:]
    out = {}
    for b in (0, 8):
        nf = 4 + b
        fit = np.concatenate([pooled(f[..., :nf], 1, split_at(len(f))) for f in ftr])
        cue = MotionCue(cell=cell, orient_bins=b, max_side=MAX_SIDE, pool=POOL).fit_features(list(fit), work)
        hold = [np.stack([cue.score_features(x) for x in pooled(f[..., :nf], split_at(len(f)), len(f))]) for f in ftr]
        tmaps = []
        for f in fte:
            m = np.stack([cue.score_features(x) for x in pooled(f[..., :nf], 1, len(f))])
            tmaps.append(np.concatenate([m[:1], m]))
        out[b] = (hold, tmaps)
    return out


def score(args) -> None:
    from video_anomaly.cues.motion import AUTO_FRAMES, auto_cell, moving_region_size

    tags = [t for n in args.datasets for t in (["ped2"] if n == "ped2" else [f"synthetic{s}" for s in SYNTH_SEEDS])]
    rows = []

    def add(tag, variant, cells, r):
        rows.append({"data": tag, "variant": variant, "cells": cells} | r)
        print(f"{tag:11s} {variant:58s} {cells:9s} micro {r['micro']:.3f} macro {r['macro']:.3f} "
              f"far@1% {r['far_at_1pct']:.3f}", flush=True)  # fmt: skip

    for tag in tags:
        t0 = time.perf_counter()
        train, test, labels = load(tag, args.cache)
        work = train[0]["grey"].shape[1:]
        mags = [np.hypot(*np.moveaxis(v["flow"][1:].astype(np.float32), -1, 0)) for v in train]
        size = moving_region_size([m for v in mags for m in v][:AUTO_FRAMES])
        del mags
        cells = {f"cell {c}": c for c in args.cells}
        cells |= {f"auto x{s}": auto_cell(size, s, work) for s in args.auto}
        print(f"{tag}: working {work[1]}x{work[0]}, moving-region size {size:.1f} px", flush=True)
        motion = {}
        for label, cell in cells.items():
            if cell not in motion:
                motion[cell] = motion_pair(train, test, cell)
            for b in (0, 8):
                hold, tm = motion[cell][b]
                for topk in (1, 3):
                    r = evaluate({"motion": hold}, {"motion": tm}, labels, fusion="max", topk=topk)
                    add(tag, f"motion {label}, {'4+8dir' if b else '4'} feats, top{topk}", str(cell), r)
        for name, cfg in ((n, APPEARANCE[n]) for n in args.appearance):
            ah, at, acell = appearance_maps(train, test, **cfg)
            for topk in (1, 3):
                r = evaluate({"appearance": ah}, {"appearance": at}, labels, fusion="max", topk=topk)
                add(tag, f"{name} alone, top{topk}", str(acell), r)
            for mlabel in args.fuse_with:
                cell = cells[mlabel]
                for b in (0, 8):
                    mh, mt = motion[cell][b]
                    for fusion in ("max", "sum"):
                        for topk in (1, 3):
                            r = evaluate({"motion": mh, "appearance": ah}, {"motion": mt, "appearance": at}, labels,
                                         fusion=fusion, topk=topk)  # fmt: skip
                            v = f"motion {mlabel} {'4+8dir' if b else '4'} + {name}, {fusion}, top{topk}"
                            add(tag, v, f"{cell}/{acell}", r)
        print(f"{tag}: {time.perf_counter() - t0:.0f} s", flush=True)
    summary(rows)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


def summary(rows) -> None:
    """One Markdown row per variant: Ped2 micro/macro/far, synthetic micro/macro/far averaged over the seeds."""
    by = {}
    for r in rows:
        by.setdefault(r["variant"], {}).setdefault("ped2" if r["data"] == "ped2" else "synthetic", []).append(r)
    print("\n| variant | Ped2 cells | Ped2 micro | Ped2 macro | Ped2 FAR@1% | synthetic cells | synthetic micro | "
          "synthetic macro | synthetic FAR@1% |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for v, d in by.items():
        cols = []
        for k in ("ped2", "synthetic"):
            rs = d.get(k, [])
            if not rs:
                cols += ["-"] * 4
                continue
            cols.append("/".join(sorted({r["cells"] for r in rs})))
            cols += [f"{np.mean([r[m] for r in rs]):.3f}" for m in ("micro", "macro", "far_at_1pct")]
        print(f"| {v} | " + " | ".join(cols) + " |")


def speed(args) -> None:
    """Frames/s of each cue setting at 360x240 (frames in memory), side by side in one run, best of 3 passes."""
    from video_anomaly.cues.appearance import AppearanceCue
    from video_anomaly.cues.motion import MotionCue, synthetic_sequence

    train = [synthetic_sequence(150, (240, 360), seed=2)]
    frames = synthetic_sequence(args.frames + 1, (240, 360), seed=1)
    auto = {"cell": "auto", "cell_scale": 1.5, "max_side": 240}
    setups = {
        "motion (cell 21, 4 features)": [MotionCue(cell=21, max_side=240)],
        "motion (cell auto x1.5, 4 features)": [MotionCue(**auto)],
        "motion (cell 21, 4 + 8 directions)": [MotionCue(cell=21, max_side=240, orient_bins=8)],
        "appearance": [AppearanceCue()],
        "motion (cell 21) + appearance: the default": [MotionCue(cell=21, max_side=240), AppearanceCue()],
    }
    for cues in setups.values():
        for c in cues:
            c.fit(train)
    best = {k: 0.0 for k in setups}
    for _ in range(3):
        for name, cues in setups.items():
            t0 = time.perf_counter()
            for c in cues:
                for _ in c.stream(frames):
                    pass
            best[name] = max(best[name], args.frames / (time.perf_counter() - t0))
    for name, fps in best.items():
        print(f"| {name} | {fps:.0f} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=["cache", "score", "speed"])
    p.add_argument("datasets", nargs="*")
    p.add_argument("--frames", type=int, default=300, help="speed: frames streamed per pass")
    p.add_argument("--cache", type=Path, default=ROOT / "runs/study/detection-cache")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument(
        "--fuse-with", nargs="*", default=["auto x1.0", "auto x1.5"], help="motion cells fused with the appearance cue"
    )
    p.add_argument("--cells", type=int, nargs="*", default=list(MOTION_CELLS), help="fixed motion cells")
    p.add_argument("--auto", type=float, nargs="*", default=list(AUTO_SCALES), help="cell='auto' scales")
    p.add_argument("--appearance", nargs="*", default=list(APPEARANCE), choices=list(APPEARANCE))
    a = p.parse_args()
    {"cache": cache, "score": score, "speed": speed}[a.step](a)
