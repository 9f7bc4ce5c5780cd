"""``video-anomaly demo``: the whole pipeline on the built-in synthetic scene, in about a minute on 2 CPU cores.

Synthetic scene -> a new detector with the default cues (what `train` fits: motion + appearance; 8 normal videos,
a 2% target false-alarm rate) -> calibrate -> evaluate -> live scoring with events -> plots and report.
The seed's autoencoder at 64x64 (the slow part: tens of minutes on 2 cores) and its scores (ae, live, and seed,
the article's exact protocol) come on request: see the flag below.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ._types import nonneg_int, positive_int

# The steps: make the synthetic walkway scene (pedestrians; test videos with a planted bicycle, cart or person on
# the grass), fit what `train` fits by default (cues.DEFAULT_CUES), calibrate the live threshold on normal frames
# the cues were not fitted on, evaluate the test videos, score them as `watch` would, and write an HTML report.

# The seed autoencoder of --seed-ae: small enough to train in ~10 minutes on 2 cores; the seed recipe itself is
# 256x256, lr 1e-4, 3 epochs (configs/seed.toml). A higher learning rate and more epochs make up for the few clips.
DEMO_CONFIG = {
    "data": {"size": 64, "clip_length": 10, "strides": [1, 2], "clip_step": 5},
    "model": {"name": "convlstm_ae"},
    # A quarter of each training video is held out: 120 frames to calibrate the thresholds on (10% would leave 48).
    "train": {
        "epochs": 6,
        "batch_size": 4,
        "lr": 3e-4,
        "schedule": "inverse_time",
        "seed": 0,
        "holdout_fraction": 0.25,
    },
}


# The demo's own two settings, chosen on synthetic scenes of seeds 1-3 only (`scripts/demo_settings.py`; seed 0, the
# demo's scene, was the check): 8 normal training videos instead of 4 and a 2% target false-alarm rate instead of
# 1% caught 11 of 12 planted anomalies with no false event (8 of 12 with 4 videos at 1%); the achieved rate on the
# labelled-normal frames stayed at or below 0.51%. Everything else is what `train` fits by default.
DEMO_TRAIN_VIDEOS = 8
DEMO_TARGET_FAR = 0.02

HELP = "run the whole pipeline on the built-in synthetic scene"


def add_arguments(p) -> None:
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the synthetic scene")
    p.add_argument(
        "--seed-ae",
        action="store_true",
        help="also train the seed's autoencoder at 64x64 (tens of minutes on 2 cores) and evaluate its scores "
        "(ae live, seed: the article's exact protocol) into RUN/seed-ae",
    )
    p.add_argument(
        "--epochs", type=positive_int, help=f"--seed-ae's training epochs (default {DEMO_CONFIG['train']['epochs']})"
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    from ..api import (
        Detector,
        DetectorConfig,
        build_report,
        labelled_summary,
        load_dataset,
        make_synthetic_scene,
        score_recording,
        scores_for,
        summary_lines,
    )

    out = Path(args.out)
    t0 = time.perf_counter()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    steps = 6 if args.seed_ae else 5

    say(f"[1/{steps}] synthetic scene -> {out / 'data'}")
    dataset = load_dataset(make_synthetic_scene(out / "data", seed=args.seed, n_train=DEMO_TRAIN_VIDEOS))
    s = dataset.summary()
    say(
        f"      {s['train_videos']} train videos ({s['train_frames']} frames), {s['test_videos']} test videos "
        f"({s['test_frames']} frames, {s['test_abnormal_frames']} abnormal)"
    )
    say(f"[2/{steps}] fitting a new detector's default cues and calibrating its threshold -> {out / 'train'}")
    det = Detector.train(
        dataset, out / "train", detector_config=DetectorConfig(target_far=DEMO_TARGET_FAR), progress=not args.quiet
    )
    say(
        f"      cues {', '.join(det.cues)}; score {det.config.score}, threshold {det.threshold():.3f} for a target "
        f"false-alarm rate of {det.config.target_far:.1%}"
    )
    names = list(scores_for(det.cues))
    say(f"[3/{steps}] evaluating the scores {', '.join(names)} -> {out / 'evaluation'}")
    summary = det.evaluate(dataset, out / "evaluation", names, progress=not args.quiet)
    if args.seed_ae:
        say(f"[4/{steps}] training the seed autoencoder at 64x64 and evaluating ae, seed -> {out / 'seed-ae'}")
        summary |= _seed_autoencoder(dataset, out / "seed-ae", args)
    say(f"[{steps - 1}/{steps}] live scoring ({det.config.score}) with events and heatmap videos -> {out / 'scores'}")
    for video in dataset.test:
        score_recording(det, video, out / "scores", overlay=True)
    say(f"[{steps}/{steps}] report -> {out / 'report.html'}")
    build_report(out / "scores", out=out / "report.html", title="video-anomaly demo: synthetic walkway")
    minutes = (time.perf_counter() - t0) / 60
    records = [json.loads(p.read_text()) for p in sorted((out / "scores").glob("*.scores.json"))]
    lines = _summary_lines(summary, det.config.score) + summary_lines(labelled_summary(records), det.config.score)
    (out / "summary.json").write_text(json.dumps({"minutes": minutes, "lines": lines}, indent=2))
    print("\n".join(lines))
    print(f"demo finished in {minutes:.1f} min; open {out / 'report.html'}")
    return 0


def _seed_autoencoder(dataset, out: Path, args) -> dict:
    """The seed's autoencoder trained with ``DEMO_CONFIG`` as a detector of its own (the demo's alarm stays the
    default detector's); the evaluation of its ``ae`` and ``seed`` scores."""
    from ..api import Detector, RunConfig

    cfg = RunConfig.from_dict(DEMO_CONFIG)
    if args.epochs:
        cfg = cfg.replace(train={"epochs": args.epochs})
    ae = Detector.train(dataset, out, cfg, cues=("ae",), device=args.device, progress=not args.quiet)
    return ae.evaluate(dataset, out / "evaluation", ["ae", "seed"], progress=not args.quiet)


def _summary_lines(summary: dict, alarm: str) -> list[str]:
    """Per score its frame-level AUCs and, for the alarm's score, the achieved false-alarm rate against its target."""
    lines = []
    for name, res in summary.items():
        frame = res.get("frame_level") or {}
        parts = []
        for key in ("micro", "micro_normalized", "macro"):
            auc = (frame.get(key) or {}).get("auc")
            if auc is not None:
                parts.append(f"{key} {auc:.3f}")
        lines.append(f"{name:>10} score ({res.get('protocol')} protocol), frame-level AUC: " + ", ".join(parts))
    far = (summary.get(alarm) or {}).get("false_alarm_rate") or {}
    if far.get("achieved") is not None:
        lines.append(
            f"false-alarm rate of the alarm ({alarm}) on the {far['normal_frames']} labelled-normal test frames: "
            f"{far['achieved']:.2%} (target {far['target']:.1%})"
        )
    return lines
