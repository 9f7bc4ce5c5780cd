"""Evaluate named scores on labelled test videos: every number, its protocol, the per-frame scores, the figures.

``evaluate_many`` scores each video once for all the live scores asked (each cue runs once; ``seed`` through
``scoring.seed_score_video``), computes frame-level micro and macro AUC/EER with and without per-video normalisation,
pixel-level AUC and RBDC/TBDC where masks and region maps exist, how the alarms read (labelled anomalies caught,
false alarm runs), and writes into each score's ``out_dir``:

* ``evaluation.json``: every number with its protocol string; ``evaluation.md``: the same as one table;
* ``arrays.npz``: per video the score, the raw score, the region maps (float16) and the labels;
* ``roc.png`` and ``scores/<video>.png`` (the score in its own units, threshold, alarms, labels) when ``figures``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from . import metrics, regions


def _jsonable(x: Any) -> Any:
    """NaN/inf become None (strict JSON), numpy values become Python ones."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4f}"


# ------------------------------------------------------------------------------------ named scores


def evaluate_scores(detector, test_videos: list, out_dir: str | Path, score: str, *, figures: bool = True,
                    progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Score ``test_videos`` with the named ``score`` of ``detector`` (``detector.Detector``) and write the evaluation.

    Frame level: micro (all frames pooled) and macro (mean over videos) AUC/EER, each without and with the seed's
    per-video normalisation. Where masks exist and the score has region maps: pixel-level AUC/EER (UCSD 40% rule,
    each pixel judged by its own region's score) and RBDC/TBDC (Ramachandra & Jones 2020). Writes
    ``evaluation.json``, ``evaluation.md``, ``arrays.npz`` (per-frame scores and maps) and, with ``figures``,
    ``roc.png`` and ``scores/<video>.png`` (the score in its own units, threshold line, alarms and labels).
    """
    return evaluate_many(detector, test_videos, {score: out_dir}, figures=figures, progress=progress)[score]


def evaluate_many(detector, test_videos: list, outs: dict[str, str | Path], *, figures: bool = True,
                  progress: bool = True) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``evaluate_scores`` for several scores (``{score: out_dir}``): each video is decoded, and each cue run,
    once for all the live scores."""
    from ..fusion.scores import spec

    if not test_videos:
        raise DataError(None, "no test videos to evaluate")
    live = [n for n in outs if spec(n).protocol == "live"]
    exact = [n for n in outs if spec(n).protocol != "live"]
    iterator = test_videos
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(test_videos, desc=f"evaluate {', '.join(outs)}", unit="video")
    per: dict[str, list] = {n: [] for n in outs}
    seconds = {n: 0.0 for n in outs}
    for video in iterator:
        t = time.perf_counter()
        got = {}
        if live:
            got |= detector.score_video_multi(video.source.iter_frames(None), live, name=video.name)
        dt_live = time.perf_counter() - t
        for n in exact:
            t1 = time.perf_counter()
            got[n] = detector.score(video, n)
            seconds[n] += time.perf_counter() - t1
        for n in live:
            seconds[n] += dt_live
        labels = None if video.labels is None else np.asarray(video.labels, dtype=bool)
        for vs in got.values():
            if labels is not None and len(labels) != vs.n_frames:
                raise DataError(video.source.path, f"{len(labels)} labels for {vs.n_frames} frames in {video.name}")
        masks = video.read_masks() if (labels is not None and live and video.has_masks) else None
        for n, vs in got.items():
            per[n].append((video, vs, labels, masks if vs.maps is not None else None))
        video.source.clear_cache()
    return {n: _write_evaluation(detector, per[n], outs[n], n, seconds[n], figures) for n in outs}


def _write_evaluation(detector, rows, out_dir, score, seconds, figures) -> dict[str, Any]:
    """Every number of the ``score`` over ``rows`` (``(video, VideoScores, labels or None, masks or None)`` per
    video), written into ``out_dir`` (the files of ``evaluate_scores``); returns them as JSON values."""
    from ..fusion.scores import spec

    sp = spec(score)
    out_dir = Path(out_dir)
    labelled = [r for r in rows if r[2] is not None]
    what = f"{score} score ({sp.protocol} protocol)"
    # The seed score is normalised per video by definition; its un-normalised form is its raw own error.
    base = [vs.raw if sp.protocol == "exact" else vs.frame_scores for _, vs, _, _ in labelled]
    results: dict[str, Any] = {
        "score": score,
        "protocol": sp.protocol,
        "score_help": sp.help,
        "detector": str(detector.path) if detector.path else None,
        "threshold": None if sp.protocol == "exact" else detector.threshold(score),
        "n_videos": len(rows),
        "n_labelled_videos": len(labelled),
        "n_frames": int(sum(vs.n_frames for _, vs, _, _ in rows)),
        "scoring_seconds": seconds,
        "frame_level": {},
        "pixel_level": None,
        "rbdc_tbdc": None,
    }
    if labelled:
        results.update(_labelled_metrics(labelled, base, what, detector.config.target_far))
    results["videos"] = [
        {"name": v.name, "n_frames": vs.n_frames, "alarms": int(vs.alarms.sum()),
         "auc": metrics.roc_auc(y, vs.frame_scores) if y is not None else None}
        for v, vs, y, _ in rows
    ]  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "arrays.npz", **_arrays(rows))
    files = {"json": str(out_dir / "evaluation.json"), "markdown": str(out_dir / "evaluation.md")}
    if figures:
        files |= _figures(rows, labelled, base, out_dir, score, what, results["threshold"])
    results["files"] = files
    results = _jsonable(results)
    (out_dir / "evaluation.json").write_text(json.dumps(results, indent=1) + "\n")
    (out_dir / "evaluation.md").write_text(scores_table_markdown(results))
    return results


def _arrays(rows) -> dict[str, np.ndarray]:
    """``arrays.npz``'s contents: per video its score, raw score, region maps (float16) and labels."""
    arrays = {}
    for video, vs, labels, _ in rows:
        arrays[f"{video.name}/score"] = vs.frame_scores
        arrays[f"{video.name}/raw"] = vs.raw
        if vs.maps is not None:
            arrays[f"{video.name}/maps"] = vs.maps.astype(np.float16)
        if labels is not None:
            arrays[f"{video.name}/labels"] = labels
    return arrays


def _labelled_metrics(labelled, base, what: str, target_far: float) -> dict[str, Any]:
    """Frame-level AUC/EER of the ``base`` scores of the labelled videos, pixel-level AUC and RBDC/TBDC where masks
    and region maps exist, the event summary and the false-alarm rate at the threshold."""
    ys = [y for _, _, y, _ in labelled]
    names = [v.name for v, _, _, _ in labelled]
    out: dict[str, Any] = {
        "frame_level": {
            "micro": metrics.micro(ys, base, what=what),
            "micro_normalized": metrics.micro(ys, base, normalization="seed", what=what),
            "macro": metrics.macro(ys, base, names, what=what),
            "macro_normalized": metrics.macro(ys, base, names, normalization="seed", what=what),
        }
    }
    masked = [(v, vs, y, m) for v, vs, y, m in labelled if m is not None]
    if masked:
        videos, scores, masked_ys, masks = (list(col) for col in zip(*masked))
        maps, masked_names = [vs.maps for vs in scores], [v.name for v in videos]
        out["pixel_level"] = metrics.pixel_level_maps(masked_ys, maps, masks, masked_names, what=what)
        out["rbdc_tbdc"] = regions.region_track_detection(maps, masks, masked_names)
        out["rbdc_tbdc"].pop("curve", None)
    out["events"] = _event_summary(labelled)
    out["false_alarm_rate"] = _false_alarm_rate(labelled, target_far)
    return out


def _figures(rows, labelled, base, out_dir: Path, score: str, what: str, threshold) -> dict[str, str]:
    """``scores/<video>.png`` for every video and, where both classes are labelled, ``roc.png`` (its path)."""
    from ..plots import plot_roc, plot_score

    for v, vs, y, _ in rows:
        plot_score(vs.frame_scores, out_dir / "scores" / f"{v.name}.png", threshold=threshold,
                   alarms=vs.alarms if threshold is not None else None, labels=y,
                   title=f"{v.name}: {score} score")  # fmt: skip
    ys = [y for _, _, y, _ in labelled]
    if not (labelled and metrics.has_both_classes(np.concatenate(ys))):
        return {}
    y_all, s_all = np.concatenate(ys), np.concatenate(base)
    fpr, tpr, _ = metrics.roc(y_all, s_all)
    label = f"{score}, micro (AUC {metrics.roc_auc(y_all, s_all):.3f})"
    return {"roc": str(plot_roc([(label, fpr, tpr)], out_dir / "roc.png", title=f"ROC ({what})"))}


def _event_summary(labelled) -> dict[str, Any]:
    """How the alarms would read to an operator: labelled anomalies (runs of abnormal frames) that raised at least
    one alarm frame, and alarm runs that overlap no abnormal frame (false events)."""
    hit = total = false = 0
    for _, vs, y, _ in labelled:
        if not np.isfinite(vs.threshold):
            return {}
        for a, b in metrics.true_runs(y):
            total += 1
            hit += bool(vs.alarms[a:b].any())
        for a, b in metrics.true_runs(vs.alarms):
            false += not bool(y[a:b].any())
    return {"labelled_anomalies": total, "anomalies_with_alarm": hit, "false_alarm_runs": false}


def _false_alarm_rate(labelled, target: float) -> dict[str, Any]:
    """The rate the threshold promises against the one it achieves: the share of labelled-normal scored frames
    above the threshold, with its Clopper-Pearson 95% interval (frames of one video are correlated: the interval
    is narrower than the truth) and the highest rate of any one video."""
    from ..fusion.thresholds import clopper_pearson

    above = n = 0
    worst = 0.0
    for _, vs, y, _ in labelled:
        if not np.isfinite(vs.threshold):
            return {}
        normal = vs.scored & ~y
        k = int(vs.alarms[normal].sum())
        above, n = above + k, n + int(normal.sum())
        worst = max(worst, k / normal.sum()) if normal.any() else worst
    return {"target": target, "achieved": above / n if n else None, "normal_frames": n, "above": above,
            "interval": list(clopper_pearson(above, n)), "worst_video": worst}  # fmt: skip


def scores_table_markdown(results: dict[str, Any]) -> str:
    """One Markdown table of every number of ``evaluate_scores``."""
    lines = [
        f"Evaluation of the `{results['score']}` score ({results['protocol']} protocol; {results['n_videos']} videos, "
        f"{results['n_frames']} frames)",
        "",
        "| metric | pooling | per-video normalisation | value | EER |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, row in (results.get("frame_level") or {}).items():
        pooling = "micro" if key.startswith("micro") else "macro"
        norm = "seed (c - min) / max" if key.endswith("normalized") else "none"
        lines.append(f"| frame AUC | {pooling} | {norm} | {_fmt(row['auc'])} | {_fmt(row['eer'])} |")
    px = results.get("pixel_level")
    if px:
        lines.append(f"| pixel-level AUC (40% rule) | micro | none | {_fmt(px['auc'])} | {_fmt(px['eer'])} |")
    rt = results.get("rbdc_tbdc")
    if rt:
        lines.append(f"| RBDC (beta 0.1) | all frames | none | {_fmt(rt['rbdc'])} | |")
        lines.append(f"| TBDC (alpha 0.1) | all frames | none | {_fmt(rt['tbdc'])} | |")
    far = results.get("false_alarm_rate") or {}
    if far and far.get("achieved") is not None:
        lo, hi = far["interval"]
        lines += ["", f"False-alarm rate on the {far['normal_frames']} labelled-normal frames: achieved "
                  f"{far['achieved']:.2%} (95% {lo:.2%}-{hi:.2%}; worst video {far['worst_video']:.1%}) at a target "
                  f"of {100 * far['target']:g}%."]  # fmt: skip
    ev = results.get("events") or {}
    if ev:
        lines += ["", f"Alarms at the calibrated threshold {_fmt(results['threshold'])}: "
                  f"{ev['anomalies_with_alarm']} of {ev['labelled_anomalies']} labelled anomalies raised an alarm; "
                  f"{ev['false_alarm_runs']} alarm runs overlapped no labelled anomaly."]  # fmt: skip
    return "\n".join(lines) + "\n"
