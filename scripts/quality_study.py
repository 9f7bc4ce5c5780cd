"""Detection-quality study: score the test videos of a dataset once, then compare score variants.

    python scripts/quality_study.py CHECKPOINT DATASET --out DIR [--protocols exact live]
    python scripts/quality_study.py --select-on A/study.json --report-on B/study.json

The first form scores every test video once per protocol (with the checkpoint's calibration for the
per-patch statistics) and keeps per-frame arrays (own L1/L2 errors, window costs, raw patch errors) in
``DIR/scores_<protocol>.npz``; then it computes frame-level micro and macro AUC/EER for every variant in
``VARIANTS`` and writes ``DIR/study.json`` and ``DIR/study.md``.

The second form is the honest selection: the best variant of each regime (offline: any normalisation
and centred smoothing; live-usable: live protocol, no per-video normalisation, causal smoothing only)
is chosen on dataset A's labels and reported on dataset B, whose labels played no part in the choice.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def score_all(
    checkpoint: str, dataset: str, out: Path, protocols: list[str], limit: int | None, eval_dir: Path | None = None
) -> dict:
    from video_anomaly.api import Detector
    from video_anomaly.config import ScoreConfig
    from video_anomaly.data import load_dataset
    from video_anomaly.scoring import PatchStats, score_video

    det = Detector.load(checkpoint)
    cal = det.calibration
    if cal is None:
        raise SystemExit(f"{checkpoint}: not calibrated (run video-anomaly calibrate)")
    stats = PatchStats(cal.patch, cal.mean, cal.std)
    videos = [v for v in load_dataset(dataset).test if v.labels is not None][:limit]
    timing = {}
    for protocol in protocols:
        path = out / f"scores_{protocol}.npz"
        reuse = None if eval_dir is None else eval_dir / protocol / "arrays.npz"
        if reuse is not None and reuse.exists() and not path.exists():
            shutil.copyfile(reuse, path)  # `video-anomaly evaluate` already scored these videos
        if path.exists():
            continue
        t0 = time.perf_counter()
        arrays = {}
        for v in videos:
            vs = score_video(
                det.model, v, ScoreConfig(frame_scores="patch_max"), det.config.data.size,
                clip_length=det.config.data.clip_length, device=det.device, patch_stats=stats,
                protocol=protocol, use_masks=False,
            )  # fmt: skip
            arrays[f"{v.name}/labels"] = np.asarray(v.labels, bool)
            arrays[f"{v.name}/frame_l1"] = vs.frame_l1
            arrays[f"{v.name}/frame_sq"] = vs.frame_sq
            arrays[f"{v.name}/cost"] = vs.cost
            arrays[f"{v.name}/patch"] = np.asarray(vs.patch, np.float32)
            v.source.clear_cache()
            print(f"{protocol} {v.name}: {len(v)} frames", file=sys.stderr, flush=True)
        timing[protocol] = time.perf_counter() - t0
        np.savez_compressed(path, **arrays)
    return {"timing_s": timing, "patch": cal.patch, "n_calibration_frames": cal.n_frames}


def _load(path: Path) -> dict[str, dict[str, np.ndarray]]:
    data = np.load(path)
    videos: dict[str, dict[str, np.ndarray]] = {}
    for key in data.files:
        name, field = key.split("/")
        videos.setdefault(name, {})[field] = data[key]
    return videos


def _frame_scores(v: dict[str, np.ndarray], base: str, stats) -> np.ndarray:
    from video_anomaly.scoring import patch_frame_scores, windows_to_frames

    n = len(v["labels"])
    if base == "own_l1":
        return v["frame_l1"]
    if base == "own_l2":
        return np.sqrt(v["frame_sq"])
    if base == "seed_window":  # the article's window cost, spread over the frames of each window
        return windows_to_frames(v["cost"], n, n - len(v["cost"]) + 1, "mean_window")
    if base == "patch_max_raw":
        return v["patch"].reshape(n, -1).max(axis=1)
    if base == "patch_max_z":
        return patch_frame_scores(v["patch"], stats, "patch_max")
    if base == "patch_top5_z":
        return patch_frame_scores(v["patch"], stats, "patch_topk", k=5)
    if base == "patch_max_diff":  # excess over the place's normal error, not divided by its spread
        return (v["patch"] - stats.mean).reshape(n, -1).max(axis=1)
    if base == "patch_max_ratio":  # error relative to the place's normal error
        return (v["patch"] / np.maximum(stats.mean, 1e-6)).reshape(n, -1).max(axis=1)
    if base == "patch2x_max_raw":  # max over patches twice as large (2x2 blocks of the grid)
        p = v["patch"]
        q = p.reshape(n, p.shape[1] // 2, 2, p.shape[2] // 2, 2).mean(axis=(2, 4))
        return q.reshape(n, -1).max(axis=1)
    raise ValueError(base)


BASES = (
    "seed_window", "own_l1", "own_l2", "patch_max_raw", "patch_max_z", "patch_top5_z", "patch_max_diff",
    "patch_max_ratio", "patch2x_max_raw",
)  # fmt: skip
SMOOTHING = {"none": None, "centred9": ("centred", 9), "ema0.5": ("ema", 0.5), "ema0.2": ("ema", 0.2)}


def variants(checkpoint: str, out: Path, protocols: list[str]) -> list[dict]:
    from video_anomaly import metrics
    from video_anomaly.api import Detector
    from video_anomaly.scoring import PatchStats, ema, moving_average

    cal = Detector.load(checkpoint, device="cpu").calibration
    stats = PatchStats(cal.patch, cal.mean, cal.std)
    rows = []
    for protocol in protocols:
        videos = _load(out / f"scores_{protocol}.npz")
        names = list(videos)
        labels = [videos[n]["labels"] for n in names]
        for base in BASES:
            if protocol == "live" and base == "seed_window":
                continue  # the live protocol has no windows of 10 decoded frames
            raw = [_frame_scores(videos[n], base, stats) for n in names]
            for sname, smooth in SMOOTHING.items():
                if smooth is None:
                    scores = raw
                elif smooth[0] == "centred":
                    scores = [moving_average(s, smooth[1]) for s in raw]
                else:
                    scores = [ema(s, smooth[1]) for s in raw]
                for norm in ("none", "seed"):
                    causal = smooth is None or smooth[0] == "ema"
                    live_usable = protocol == "live" and norm == "none" and causal
                    mi = metrics.micro(labels, scores, normalization=None if norm == "none" else norm)
                    ma = metrics.macro(labels, scores, names, normalization=None if norm == "none" else norm)
                    rows.append(
                        {
                            "protocol": protocol, "score": base, "smoothing": sname, "normalisation": norm,
                            "live_usable": live_usable, "micro_auc": mi["auc"], "micro_eer": mi["eer"],
                            "macro_auc": ma["auc"], "macro_eer": ma["eer"],
                        }
                    )  # fmt: skip
    return rows


def _key(r: dict) -> str:
    return f"{r['protocol']}|{r['score']}|{r['smoothing']}|{r['normalisation']}"


def select(select_on: Path, report_on: Path) -> str:
    a = json.loads(select_on.read_text())
    b = {_key(r): r for r in json.loads(report_on.read_text())["rows"]}
    lines = [
        f"Selection on {a['dataset']} labels, reported on {json.loads(report_on.read_text())['dataset']}:",
        "",
        "| regime | chosen variant | micro AUC (selection set) | micro AUC | macro AUC | micro EER | macro EER |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for regime, keep in (("offline", lambda r: True), ("live-usable", lambda r: r["live_usable"])):
        cands = [r for r in a["rows"] if keep(r) and r["micro_auc"] == r["micro_auc"]]
        best = max(cands, key=lambda r: r["micro_auc"])
        rep = b.get(_key(best))
        lines.append(
            f"| {regime} | {_key(best)} | {best['micro_auc']:.3f} | {rep['micro_auc']:.3f} | {rep['macro_auc']:.3f} "
            f"| {rep['micro_eer']:.3f} | {rep['macro_eer']:.3f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?")
    p.add_argument("dataset", nargs="?")
    p.add_argument("--out", type=Path)
    p.add_argument("--protocols", nargs="+", default=["exact", "live"])
    p.add_argument("--limit-videos", type=int)
    p.add_argument("--eval-dir", type=Path, help="reuse EVAL_DIR/<protocol>/arrays.npz written by evaluate")
    p.add_argument("--select-on", type=Path)
    p.add_argument("--report-on", type=Path)
    args = p.parse_args(argv)
    if args.select_on:
        print(select(args.select_on, args.report_on))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    info = score_all(args.checkpoint, args.dataset, args.out, args.protocols, args.limit_videos, args.eval_dir)
    rows = variants(args.checkpoint, args.out, args.protocols)
    study = {"checkpoint": args.checkpoint, "dataset": args.dataset, **info, "rows": rows}
    (args.out / "study.json").write_text(json.dumps(study, indent=1))
    md = ["| protocol | score | smoothing | normalisation | live-usable | micro AUC | macro AUC | micro EER |"]
    md.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in sorted(rows, key=lambda r: -r["micro_auc"]):
        md.append(
            f"| {r['protocol']} | {r['score']} | {r['smoothing']} | {r['normalisation']} | {r['live_usable']} "
            f"| {r['micro_auc']:.3f} | {r['macro_auc']:.3f} | {r['micro_eer']:.3f} |"
        )
    (args.out / "study.md").write_text("\n".join(md) + "\n")
    print("\n".join(md[:12]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
