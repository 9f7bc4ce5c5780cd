"""Objects cue study (issue 27): track the objects of a dataset once, then score variants of the model of normal
objects on the cache. Chosen on UCSD Ped2 and the synthetic scene only; never run it on Ped1's test labels.

    nice -n 10 .venv/bin/python scripts/objects_study.py cache $UCSD/UCSDped2 runs/objects-study/ped2.npz
    nice -n 10 .venv/bin/python scripts/objects_study.py score runs/objects-study/ped2.npz

``cache``: every training and test video through ``ObjectsCue.track_objects`` (the gate, the detector every
``--every`` frames at ``--input-size`` or the automatic size, the tracker, the flow velocities), the objects of
every frame, the detector calls and their time. ``score``: per variant of the scoring settings (``class_weight``,
``position_weight``, ``pool``), the cue fitted on all training objects, the test frames' value (mean of the 3
highest regions of the raw map: one cue alone, so its calibration, a single divisor, changes no AUC), micro AUC.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from video_anomaly.cues.objects import FrameObjects, ObjectsConfig, ObjectsCue

FIELDS = ("ids", "labels", "scores", "boxes", "velocity")


def _pack(videos: list[list[FrameObjects]]) -> dict[str, np.ndarray]:
    rows = {k: [] for k in FIELDS}
    where, detected = [], []
    for vi, v in enumerate(videos):
        for fi, fo in enumerate(v):
            for k in FIELDS:
                rows[k].append(getattr(fo, k))
            where.append(np.full((len(fo), 2), (vi, fi), np.int64))
            detected.append((vi, fi, fo.detected))
    out = {k: np.concatenate(rows[k]) if rows[k] else np.zeros(0) for k in FIELDS}
    out["where"] = np.concatenate(where) if where else np.zeros((0, 2), np.int64)
    out["detected"] = np.asarray(detected, np.int64).reshape(-1, 3)
    return out


def _unpack(arrays: dict[str, np.ndarray], prefix: str, lengths: list[int]) -> list[list[FrameObjects]]:
    where = arrays[f"{prefix}where"]
    out = []
    for vi, n in enumerate(lengths):
        frames = []
        for fi in range(n):
            sel = (where[:, 0] == vi) & (where[:, 1] == fi)
            frames.append(FrameObjects(*(arrays[f"{prefix}{k}"][sel] for k in FIELDS)))
        out.append(frames)
    return out


def cache(args) -> None:
    from video_anomaly.data import load_dataset

    ds = load_dataset(args.dataset)
    cfg = ObjectsConfig(every=args.every, min_score=args.min_score,
                        input_size=tuple(args.input_size) if args.input_size else "auto")  # fmt: skip
    cue = ObjectsCue(cfg)
    t0 = time.perf_counter()
    train = cue._collect([v.source.iter_frames(None) for v in ds.train])
    fit_s = time.perf_counter() - t0
    calls_train = cue.calls
    t0 = time.perf_counter()
    test = [[fo for fo in cue.track_objects(v.source.iter_frames(None)) if fo is not None] for v in ds.test]
    test_s = time.perf_counter() - t0
    arrays = {f"train_{k}": v for k, v in _pack(train).items()} | {f"test_{k}": v for k, v in _pack(test).items()}
    labels = [np.asarray(v.labels, bool)[1:] for v in ds.test]  # frame 0 has no objects (no flow)
    arrays["frame_labels"] = np.concatenate(labels)
    meta = {
        "dataset": str(args.dataset),
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.__dict__.items()},
        "input_size": list(cue.input_size),
        "frame_shape": list(cue.frame_shape),
        "names": list(cue.names),
        "train_lengths": [len(v) for v in train],
        "test_lengths": [len(v) for v in test],
        "test_names": [v.name for v in ds.test],
        "detector_calls": {"train": calls_train, "test": cue.calls - calls_train},
        "seconds": {"train": round(fit_s, 1), "test": round(test_s, 1)},
        "objects_per_train_frame": float(np.mean([len(fo) for v in train for fo in v])),
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(json.dumps(meta, indent=1))


VARIANTS = {
    "default": {},
    "no position": {"position_weight": 0.0},
    "position x0.5": {"position_weight": 0.5},
    "position x2": {"position_weight": 2.0},
    "class x0 (no class)": {"class_weight": 0.0},
    "class x2": {"class_weight": 2.0},
    "class x4": {"class_weight": 4.0},
    "pool 1": {"pool": 1},
    "pool 10": {"pool": 10},
}


def score(args) -> None:
    from sklearn.metrics import roc_auc_score

    from video_anomaly.fusion.calibration import frame_value

    z = dict(np.load(args.cache))
    meta = json.loads(bytes(z.pop("meta")).decode())
    train = _unpack(z, "train_", meta["train_lengths"])
    test = _unpack(z, "test_", meta["test_lengths"])
    labels = z.pop("frame_labels")
    starts = np.cumsum([0, *meta["test_lengths"]])
    rows = {}
    for name, over in VARIANTS.items():
        cfg = replace(ObjectsConfig(input_size=tuple(meta["input_size"])), **over)
        cue = ObjectsCue(cfg, detector=object())
        cue.names = tuple(meta["names"])
        cue.fit_objects(train, tuple(meta["frame_shape"]))
        values = np.concatenate([[frame_value(np.asarray(m), 3) for m in cue.maps(v)] for v in test])
        spans = zip(meta["test_names"], starts[:-1], starts[1:])
        per = {
            n: round(float(roc_auc_score(labels[a:b], values[a:b])), 3)
            for n, a, b in spans
            if 0 < labels[a:b].mean() < 1
        }
        rows[name] = {"micro": round(float(roc_auc_score(labels, values)), 4), "per_video": per}
        print(f"{name:24s} micro {rows[name]['micro']:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


def alarms(args) -> None:
    """From `video-anomaly evaluate` folders: micro AUC, achieved false-alarm rate and, per named video, the share
    of its abnormal frames above the score's threshold."""
    for folder in args.evaluations:
        ev = json.loads((Path(folder) / "evaluation.json").read_text())
        z = np.load(Path(folder) / "arrays.npz")
        share = {}
        for v in args.videos.split(","):
            if f"{v}/labels" in z.files:
                lab = z[f"{v}/labels"].astype(bool)
                share[v] = round(float((z[f"{v}/score"][lab] > ev["threshold"]).mean()), 3)
        far = ev["false_alarm_rate"]
        print(f"{ev['score']:12s} micro {ev['frame_level']['micro']['auc']:.4f}  FAR {far['achieved']:.4f} "
              f"(target {far['target']})  abnormal frames above: {share}")  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("dataset")
    c.add_argument("out")
    c.add_argument("--every", type=int, default=ObjectsConfig.every)
    c.add_argument("--min-score", type=float, default=ObjectsConfig.min_score)
    c.add_argument("--input-size", type=int, nargs=2, default=None)
    s = sub.add_parser("score")
    s.add_argument("cache")
    s.add_argument("--json", default=None)
    a = sub.add_parser("alarms")
    a.add_argument("evaluations", nargs="+")
    a.add_argument("--videos", default="Test011,Test012")
    args = p.parse_args(argv)
    {"cache": cache, "score": score, "alarms": alarms}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
