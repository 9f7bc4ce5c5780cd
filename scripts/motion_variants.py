"""Motion-feature variants on one dataset, flow computed once (study helper for scripts/cue_study.py).

Computes DIS flow (medium, longer side 240) for every frame of the training and test videos once, then compares
cell sizes, feature sets (the four base statistics, plus the cell's mean signed flow dx, dy), pooling lengths
and frame scores by micro AUC. The motion cue is fitted on the first 90% of each training video, as the detector
does. Selection honesty: choose on the synthetic scene and Ped2 only.

    python scripts/motion_variants.py $UCSD/UCSDped2 --out runs/study/ped2-motion
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def flows(frames, max_side=240, preset=cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
    from video_anomaly.cues.grid import working_shape

    dis = cv2.DISOpticalFlow_create(preset)
    out, prev = [], None
    for f in frames:
        h, w = working_shape(f.shape, max_side)
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) if (h, w) != f.shape else f
        if prev is None:
            out.append(np.zeros((h, w, 3), np.float16))
        else:
            fl = dis.calc(prev, f, None)
            d = cv2.absdiff(f, prev).astype(np.float32) / 255
            out.append(np.dstack([fl, d]).astype(np.float16))
        prev = f
    return np.stack(out)


def cell_feats(fl, cell, feats):
    n, h, w, _ = fl.shape
    gh, gw = -(-h // cell), -(-w // cell)
    pad = np.zeros((n, gh * cell, gw * cell, 3), np.float32)
    pad[:, :h, :w] = fl
    c = pad.reshape(n, gh, cell, gw, cell, 3).transpose(0, 1, 3, 2, 4, 5).reshape(n, gh, gw, cell * cell, 3)
    mag = np.hypot(c[..., 0], c[..., 1])
    cols = [mag.mean(-1), np.percentile(mag, 95, axis=-1), (mag > 0.5).mean(-1), c[..., 2].mean(-1)]
    if "dxdy" in feats:
        cols += [c[..., 0].mean(-1), c[..., 1].mean(-1)]
    if "p50" in feats:
        cols += [np.median(mag, axis=-1)]
    return np.stack(cols, -1).astype(np.float32)


def pool(x, k):
    cs = np.cumsum(np.concatenate([np.zeros_like(x[:1]), x]), 0)
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - k, 0)
    return (cs[idx] - cs[lo]) / (idx - lo)[:, None, None, None]


def main():
    from sklearn.metrics import roc_auc_score

    from video_anomaly.cues.grid import kcenter_coreset
    from video_anomaly.data import load_dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    a.out.mkdir(parents=True, exist_ok=True)
    tr = [flows(v.source.frames(None)) for v in ds.train]
    te = [flows(v.source.frames(None)) for v in ds.test]
    y = np.concatenate([np.asarray(v.labels, bool) for v in ds.test])
    rows = []
    for cell in (16, 21, 28, 36):
        for feats in ("base", "dxdy"):
            ftr = [cell_feats(f, cell, feats) for f in tr]
            fte = [cell_feats(f, cell, feats) for f in te]
            for pl in (5, 10):
                xs = [pool(f, pl)[1:] for f in ftr]
                fit = np.concatenate([x[: int(len(x) * 0.9)] for x in xs])
                scale = np.maximum(fit.reshape(-1, fit.shape[-1]).std(0), 1e-3)
                n, gh, gw, nf = fit.shape
                refs = kcenter_coreset((fit / scale).transpose(1, 2, 0, 3).reshape(gh * gw, n, nf), 128)
                scores = []
                for f in fte:
                    p = pool(f, pl) / scale
                    d = p.reshape(len(p), gh * gw, 1, nf) - refs[None]
                    dist = np.sqrt((d**2).sum(-1)).min(-1)
                    dist[0] = dist[1]
                    scores.append(dist)
                for how in ("max", "top3"):
                    s = np.concatenate([m.max(1) if how == "max" else np.sort(m, 1)[:, -3:].mean(1) for m in scores])
                    auc = float(roc_auc_score(y, s))
                    rows.append({"cell": cell, "features": feats, "pool": pl, "frame": how, "auc": auc})
                    print(rows[-1], flush=True)
    rows.sort(key=lambda r: -r["auc"])
    (a.out / "variants.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
