"""``video-anomaly train DATASET --out RUN``: train on a dataset's normal videos.

Fit a detector on the training (normal) videos of DATASET (a dataset in a known layout, a folder of your own normal
videos or frame folders, or one video). With the ae cue the autoencoder is trained first (config, log, loss curve
and checkpoint in RUN/checkpoint; flags override --config; defaults are the seed recipe); the motion cue needs no
training loop (minutes on a CPU). Then each cue is calibrated per region on frames its cues were not fitted on (the
motion cue cross-fitted by whole videos, the autoencoder on the frames held out from its training) and the detector
is written into RUN.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..api import DEFAULT_CUES
from ._types import fraction, frame_side, nonneg_int, positive_float, positive_int, positive_ints

HELP = (
    f"train a detector on normal videos (default cues {','.join(DEFAULT_CUES)}: minutes, no training loop; "
    "--cues ae,... trains the seed's autoencoder too), then calibrate it"
)


def add_arguments(p) -> None:
    p.add_argument(
        "--cues",
        default=None,
        help="comma list of ae (the seed's autoencoder, trained here), motion (optical flow) and appearance (the "
        "shape of what moves), both fitted in minutes with no training loop; default motion,appearance, which "
        "ranked first in the study (docs/detection_study.md), or ae,motion with --resume",
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset folder (UCSD, Avenue, ShanghaiTech, frames, videos)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder to write (or resume)")
    p.add_argument(
        "--config",
        metavar="TOML",
        help="config file with [data] [model] [train] sections (default: none, the seed recipe)",
    )
    p.add_argument("--kind", default="auto", help="dataset layout (default: detect)")
    p.add_argument("--subset", help="UCSDped1/UCSDped2 when DATASET is their parent folder (default: none)")
    g = p.add_argument_group("data and model")
    g.add_argument("--size", type=frame_side, help="frame side after resizing (multiple of 8 up to 1024; seed 256)")
    g.add_argument(
        "--clip-length", type=positive_int, help="frames per clip (seed 10); sets data and model clip_length"
    )
    g.add_argument("--strides", type=positive_ints, help="temporal strides, e.g. 1,2 (seed)")
    g.add_argument("--clip-step", type=positive_int, help="start a clip every N frames (default: non-overlapping)")
    g.add_argument("--model", choices=("convlstm_ae", "conv_ae"), help="model (default convlstm_ae)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int)
    g.add_argument("--batch-size", type=positive_int, help="clips per step (per process when distributed)")
    g.add_argument("--lr", type=positive_float, help="Adam learning rate (seed 1e-4)")
    g.add_argument("--schedule", choices=("inverse_time", "plateau", "constant"))
    g.add_argument("--no-shuffle", dest="shuffle", action="store_const", const=False, help="keep clip order")
    g.add_argument("--seed", type=nonneg_int)
    g.add_argument("--holdout-fraction", type=fraction, help="fraction of each video kept for calibration, in [0, 1)")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    g.add_argument("--precision", choices=("fp32", "bf16", "fp16"))
    g.add_argument("--workers", type=nonneg_int, help="DataLoader worker processes")
    g.add_argument(
        "--decode-chunk", type=positive_int, help="recompute decoder activations in chunks of N frames (less memory)"
    )
    g.add_argument("--resume", action="store_true", help="continue RUN/checkpoint to the same weights")
    g.add_argument("--overwrite", action="store_true", help="replace a checkpoint already in RUN (a new run)")
    g.add_argument(
        "--max-steps",
        type=positive_int,
        help="stop after this many optimiser steps in total (default: none, every epoch)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument(
        "--no-calibrate",
        dest="calibrate",
        action="store_false",
        help="train the autoencoder only: no detector (run `video-anomaly calibrate RUN` later)",
    )
    g.add_argument(
        "--plain-model",
        dest="fast_model",
        action="store_false",
        help="train through the plain port instead of the fast path (same function, same weights)",
    )
    from .calibrate import add_detector_flags

    add_detector_flags(p.add_argument_group("detector (after training)"))


def resolve_config(args):
    """The RunConfig for ``args``: defaults (the seed recipe) < ``--config FILE.toml`` < flags; with ``--resume``
    and no ``--config`` the checkpoint's own config is the base."""
    from ..api import CHECKPOINT_NAME, load_config, read_meta, run_config_from_meta

    ckpt = Path(args.out) / CHECKPOINT_NAME
    if args.config is None and args.resume and ckpt.exists():
        cfg = run_config_from_meta(read_meta(ckpt), ckpt)
        if args.size is not None and args.size != cfg.data.size:
            from ..api import ConfigError

            raise ConfigError(
                f"{ckpt} was trained at {cfg.data.size}x{cfg.data.size}; --size {args.size} cannot "
                "resume it (the checkpoint's input size is the only one)"
            )
    else:
        cfg = load_config(args.config)
    clip_length = getattr(args, "clip_length", None)
    return cfg.replace(
        data={"size": args.size, "clip_length": clip_length, "strides": args.strides, "clip_step": args.clip_step},
        model={"name": args.model, "clip_length": clip_length},
        train={
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "schedule": args.schedule,
            "shuffle": args.shuffle,
            "seed": args.seed,
            "holdout_fraction": args.holdout_fraction,
            "precision": args.precision,
            "num_workers": args.workers,
            "decode_chunk": args.decode_chunk,
        },
    )


def refuse_to_replace(args) -> None:
    """A run folder that holds a checkpoint is continued (``--resume``) or replaced (``--overwrite``), never
    silently replaced."""
    from ..api import CHECKPOINT_NAME, ConfigError

    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: continue the run or replace it")
    for ckpt in (Path(args.out) / CHECKPOINT_NAME, Path(args.out) / "detector.json"):
        if ckpt.exists() and not (args.resume or args.overwrite):
            raise ConfigError(
                f"{ckpt} already exists: pass --resume to continue that run, or --overwrite to replace it"
            )


def run(args) -> int:
    """Under ``torchrun`` the run is distributed (DistributedDataParallel, gloo on CPU, NCCL on GPU); rank 0 alone
    writes."""
    from ..api import DataError, load_dataset, parse_cues, train
    from . import flags
    from .calibrate import detector_config

    resuming = args.resume and (Path(args.out) / "checkpoint").exists()
    cues = parse_cues(args.cues or ("ae,motion" if resuming else ",".join(DEFAULT_CUES)))
    refuse_to_replace(args)
    cfg = resolve_config(args)
    dataset = load_dataset(args.dataset, args.kind, subset=args.subset)
    if not dataset.train:
        raise DataError(args.dataset, "has no training videos")
    dcfg = detector_config(args)
    det = train(
        dataset,
        args.out,
        cfg,
        cues=cues,
        detector_config=dcfg,
        progress=not args.quiet,
        use_fast=args.fast_model,
        extras={"dataset_kind": args.kind},
        log=print,
        **flags(args, "score device calibrate resume max_steps"),
    )
    if det is not None:
        frames = det.meta.get("calibration_frames", {})
        print(
            f"detector ({', '.join(det.cues)}) calibrated on {min(frames.values(), default=0)} normal frames its "
            f"cues were not fitted on; {det.config.score} threshold {det.threshold():.4g} for a target false-alarm "
            f"rate of {det.config.target_far:.2%}; written to {det.path}"
        )
    elif int(os.environ.get("RANK", "0")) == 0 and not args.calibrate:
        print(f"no detector fitted (--no-calibrate): run `video-anomaly calibrate {args.out}` before scoring")
    return 0
