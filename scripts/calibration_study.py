"""Which calibration gives thresholds that hold on new normal footage: today's hold-out or cross-fitting by video.

Per dataset, the motion cue's pooled features of every training and test frame are computed once (they do not
depend on what the cue is fitted on), then each method fits the cue's per-cell references and sets the live
score's divisor and threshold (the ``motion`` score: one divisor for all regions, the highest region):

* ``holdout10`` (the calibration before this study): fitted on the first 90% of each training video; divisor and
  threshold from the last 10% (each half of every range scored with a divisor from the other halves), the
  ``1 - a`` quantile; the test frames scored by that 90% fit;
* ``video_cv``: the training videos in ``k`` folds of whole videos (one video: blocks of time); each fold scored by
  references fitted on the other folds; the divisor is the 99th percentile of those out-of-fold maps and the
  threshold their conformal quantile (``thresholds.py``); the test frames scored by references fitted on all
  training frames.

Reported per method: the threshold and what it rests on, the achieved false-alarm rate on the labelled-normal
test frames (share above the threshold: the figure the method is chosen by), the test frames' micro AUC.
Choose on the synthetic scene and Ped2; Ped1 is never used to choose.

    python scripts/calibration_study.py $UCSD/UCSDped2 --out runs/calib-study/ped2
    video-anomaly data synth runs/synth && python scripts/calibration_study.py runs/synth/SyntheticPed \
        --out runs/calib-study/synth
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def features(cue, video) -> np.ndarray:
    """``(n, gh, gw, 4)`` pooled features of every frame (frame 0, which has no flow, copies frame 1)."""
    fs = list(cue.features(video.source.iter_frames(None)))
    fs[0] = fs[1]
    return np.stack(fs)


def fit(cfg, feats, shape):
    from video_anomaly.cues.motion import MotionCue

    return MotionCue(**cfg).fit_features(list(feats), shape)


def raw_maps(cue, feats) -> np.ndarray:
    return np.stack([cue.score_features(f) for f in feats])


def frame_values(maps: np.ndarray, g: float) -> np.ndarray:
    return maps.reshape(len(maps), -1).max(1) / g


def holdout10(cfg, train, test, shape, target, holdout=0.1):
    from video_anomaly.fusion.calibration import far_quantile

    cut = [len(f) - max(int(round(holdout * len(f))), 2) for f in train]
    cue = fit(cfg, np.concatenate([f[1:a] for f, a in zip(train, cut)]), shape)
    held = [raw_maps(cue, f[a:]) for f, a in zip(train, cut)]
    g = float(np.quantile(np.concatenate(held), 0.99))
    halves = [(h[: len(h) // 2], h[len(h) // 2 :]) for h in held]
    gk = [float(np.quantile(np.concatenate([p[1 - k] for p in halves]), 0.99)) for k in (0, 1)]
    vals = np.concatenate([np.concatenate([frame_values(a, gk[0]), frame_values(b, gk[1])]) for a, b in halves])
    thr = far_quantile(vals, target)
    info = {"frames": int(vals.size), "videos": len(train)}
    return thr, [frame_values(raw_maps(cue, f), g) for f in test], info


def video_cv(cfg, train, test, shape, target, k=5):
    from video_anomaly.fusion.thresholds import fit_threshold, video_folds

    parts = video_folds([len(f) for f in train], k)
    oof = {}
    for fold in sorted({p.fold for p in parts}):
        fit_on = [train[p.video][max(p.start, 1) : p.stop] for p in parts if p.fold != fold]
        cue = fit(cfg, np.concatenate(fit_on), shape)
        for i, p in enumerate(parts):
            if p.fold == fold:
                oof[i] = raw_maps(cue, train[p.video][max(p.start, 1) : p.stop])
    maps = [oof[i] for i in range(len(parts))]
    g = float(np.quantile(np.concatenate(maps), 0.99))
    info = fit_threshold([frame_values(m, g) for m in maps], [p.fold for p in parts], target, videos=len(train))
    cue = fit(cfg, np.concatenate([f[1:] for f in train]), shape)
    return info.threshold, [frame_values(raw_maps(cue, f), g) for f in test], info.to_dict()


def main() -> None:
    from sklearn.metrics import roc_auc_score

    from video_anomaly.cues.motion import MotionCue
    from video_anomaly.data import load_dataset
    from video_anomaly.detector import DetectorConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--motion", default=None, help="the motion cue's settings as JSON (default: the detector's)")
    ap.add_argument("--target-far", type=float, default=0.01)
    ap.add_argument("--folds", default="4,5", help="fold counts of video_cv to try")
    a = ap.parse_args()
    cfg = json.loads(a.motion) if a.motion else dict(DetectorConfig().motion)
    ds = load_dataset(a.dataset)
    a.out.mkdir(parents=True, exist_ok=True)
    cache = a.out / "features.npz"
    t0 = time.perf_counter()
    if cache.exists():
        z = np.load(cache)
        train = [z[f"tr{i}"] for i in range(len(ds.train))]
        test = [z[f"te{i}"] for i in range(len(ds.test))]
    else:
        cue = MotionCue(**cfg)
        train = [features(cue, v) for v in ds.train]
        test = [features(cue, v) for v in ds.test]
        np.savez(cache, **{f"tr{i}": f for i, f in enumerate(train)}, **{f"te{i}": f for i, f in enumerate(test)})
    shape = tuple(np.asarray(next(iter(ds.train[0].source.iter_frames(None)))).shape[:2])
    print(f"features: {time.perf_counter() - t0:.0f} s", flush=True)
    y = np.concatenate([np.asarray(v.labels, bool) for v in ds.test])
    rows = []
    methods = [("holdout10", lambda: holdout10(cfg, train, test, shape, a.target_far))]
    for k in (int(x) for x in a.folds.split(",")):
        methods.append((f"video_cv k={k}", lambda k=k: video_cv(cfg, train, test, shape, a.target_far, k)))
    for name, run in methods:
        t = time.perf_counter()
        thr, scores, info = run()
        s = np.concatenate(scores)
        far = float((s[~y] > thr).mean())
        per_video = [float((sc[~np.asarray(v.labels, bool)] > thr).mean()) for sc, v in zip(scores, ds.test)
                     if (~np.asarray(v.labels, bool)).any()]  # fmt: skip
        row = {
            "method": name,
            "threshold": round(thr, 4),
            "achieved_far": round(far, 4),
            "normal_test_frames": int((~y).sum()),
            "per_video_far_max": round(max(per_video), 4) if per_video else None,
            "micro_auc": round(float(roc_auc_score(y, s)), 4),
            "calibration": info,
            "seconds": round(time.perf_counter() - t, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = [
        f"target {a.target_far:.0%}; {Path(a.dataset).name}; motion {json.dumps(cfg)}",
        "",
        "| method | threshold | calibration frames (videos) | achieved FAR on normal test frames | worst video "
        "| micro AUC |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        c = r["calibration"]
        lines.append(
            f"| {r['method']} | {r['threshold']:.4g} | {c['frames']} ({c['videos']}) | {r['achieved_far']:.2%} of "
            f"{r['normal_test_frames']} | {r['per_video_far_max']:.1%} | {r['micro_auc']:.3f} |"
        )
    (a.out / "study.md").write_text("\n".join(lines) + "\n")
    (a.out / "study.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
