"""``video-anomaly data``: inspect a dataset, write the synthetic scene, preview frames and masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._types import nonneg_int, positive_int

KINDS = ("auto", "ucsd", "frames", "avenue", "shanghaitech", "custom")


HELP = "inspect datasets, write the synthetic scene, preview frames"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    info = sub.add_parser("info", help="count videos, frames, abnormal frames and masks of a dataset")
    info.add_argument("path", type=Path, help="dataset folder (UCSD, frames, Avenue, ShanghaiTech) or your videos")
    info.add_argument("--kind", choices=KINDS, default="auto", help="dataset layout (default: detect)")
    info.add_argument("--subset", default=None, help="UCSDped1 or UCSDped2 when PATH is the UCSD parent folder")
    info.add_argument("--json", action="store_true", help="print the counts as JSON")
    info.add_argument(
        "--quick",
        action="store_true",
        help="count only; skip decoding every frame (the checks that `train` would otherwise fail on)",
    )

    synth = sub.add_parser("synth", help="write the synthetic walkway scene in the UCSD layout")
    synth.add_argument("out", type=Path, help="folder to write SyntheticPed/ into")
    synth.add_argument("--seed", type=nonneg_int, default=0)
    synth.add_argument(
        "--frames", type=positive_int, help="frames per video (at least 8; default 120, 400 with --behaviour)"
    )
    synth.add_argument("--height", type=positive_int, default=120, help="frame height (at least 32)")
    synth.add_argument("--width", type=positive_int, default=160, help="frame width (at least 32)")
    synth.add_argument("--train", type=nonneg_int, help="number of training videos (default 4, 8 with --behaviour)")
    synth.add_argument("--test", type=nonneg_int, default=4, help="number of test videos")
    synth.add_argument(
        "--behaviour",
        action="store_true",
        help="write SyntheticBehaviour/ instead: a one-way walkway with day and night training videos (start times "
        "in manifest.json), one test video per behaviour or tamper anomaly (linger, against, night, cover, blur, "
        "shift, freeze) and the true tracks (tracks.json); --test is unused",
    )

    preview = sub.add_parser("preview", help="save a grid of training frames and test frames with mask overlay")
    preview.add_argument("path", type=Path)
    preview.add_argument("out", type=Path, help="image file to write (.png)")
    preview.add_argument("--kind", choices=KINDS, default="auto")
    preview.add_argument("--subset", default=None)
    preview.add_argument("--n", type=positive_int, default=4, help="frames per row")


def run(args) -> int:
    return {"info": _info, "synth": _synth, "preview": _preview}[args.data_command](args)


def _info(args) -> int:
    from ..api import load_dataset

    dataset = load_dataset(args.path, args.kind, subset=args.subset)
    summary = dataset.summary()
    check_dataset(dataset) if not args.quick else check_layout(dataset)
    summary["checked"] = not args.quick
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"dataset: {summary['name']} ({summary['root']})")
    print(f"train: {summary['train_videos']} videos, {summary['train_frames']} frames")
    print(
        f"test: {summary['test_videos']} videos, {summary['test_frames']} frames, "
        f"{summary['test_abnormal_frames']} abnormal frames"
    )
    print(
        f"labels: {summary['test_videos_labelled']} test videos labelled, "
        f"{summary['test_videos_with_masks']} with pixel masks"
    )
    if not args.quick:
        print("checked: every frame decodes, frame sizes agree within each video, training clips fit")
    return 0


# Where each layout keeps its normal videos: a dataset with one of these folders and no training video in
# it is one that `train` refuses.
_TRAIN_FOLDERS = ("Train", "training/frames", "training/videos", "training_videos", "train")


def check_layout(dataset) -> None:
    """Raise ``DataError`` when the dataset has a training folder without a video (what ``--quick`` checks too)."""
    from ..api import DataError

    root = Path(dataset.root)
    if not dataset.train and root.is_dir():
        for rel in _TRAIN_FOLDERS:
            if (root / rel).is_dir():
                raise DataError(root / rel, "holds no training videos: `train` needs at least one normal video")


def check_dataset(dataset) -> None:
    """Raise the ``DataError`` that training (or scoring) would raise on ``dataset``, naming the file at fault.

    Checks: a training folder without videos; empty (0-byte) files; every frame of every video decodes; frame
    sizes agree within each video; each training video gives at least one clip at the default clip length.
    Decodes every frame once (no caching): seconds for UCSD, minutes for ShanghaiTech (``--quick`` skips).
    """
    from ..api import ClipDataset, DataError, RunConfig, split_holdout

    check_layout(dataset)
    for video in [*dataset.train, *dataset.test]:
        source = video.source
        for f in getattr(source, "files", None) or [source.path]:
            if Path(f).is_file() and Path(f).stat().st_size == 0:
                raise DataError(f, "empty file (0 bytes)")
        for _ in source.iter_frames(None):
            pass
    if dataset.train:
        cfg = RunConfig()
        train_ranges, _ = split_holdout(dataset.train, cfg.train.holdout_fraction, cfg.data.clip_length)
        try:
            ClipDataset(dataset.train, cfg.data, ranges=train_ranges)
        except DataError as exc:
            raise DataError(
                exc.path, f"{exc.problem} (the default; `train --clip-length N` takes shorter clips)"
            ) from None


def _synth(args) -> int:
    from ..api import make_behaviour_scene, make_synthetic_scene
    from . import flags

    common = flags(args, "seed height width")
    if args.behaviour:
        path = make_behaviour_scene(args.out, n_train=args.train or 8, frames=args.frames or 400, **common)
    else:
        n_train = 4 if args.train is None else args.train
        path = make_synthetic_scene(args.out, n_train=n_train, n_test=args.test, frames=args.frames or 120, **common)
    print(path)
    return 0


def _pick(n_frames: int, k: int, labels: np.ndarray | None) -> list[int]:
    """``k`` frame indices spread over the video, or over its abnormal frames when it has some."""
    pool = np.flatnonzero(labels) if labels is not None and labels.any() else np.arange(n_frames)
    return sorted({int(pool[int(round(x))]) for x in np.linspace(0, len(pool) - 1, k)})


def preview_figure(rows: list[tuple[list[str], list[np.ndarray], list[np.ndarray | None]]]):
    """A figure with one row per ``(titles, frames, masks)``: ``(H, W)`` uint8 frames, bool masks in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = max(len(frames) for _, frames, _ in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(2.4 * ncols, 2.2 * len(rows)), squeeze=False)
    for r, (titles, frames, masks) in enumerate(rows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(frames):
                continue
            ax.imshow(frames[c], cmap="gray", vmin=0, vmax=255)
            if masks[c] is not None and masks[c].any():
                overlay = np.zeros((*masks[c].shape, 4))
                overlay[masks[c]] = (1.0, 0.0, 0.0, 0.45)
                ax.imshow(overlay)
            ax.set_title(titles[c], fontsize=7)
    fig.tight_layout()
    return fig


def _preview(args) -> int:
    from ..api import DataError, load_dataset

    ds = load_dataset(args.path, args.kind, subset=args.subset)
    rows = []
    if ds.train:
        v = ds.train[0]
        idx = _pick(len(v), args.n, None)
        frames = v.source.frames()
        rows.append(([f"train {v.name} #{i + 1}" for i in idx], [frames[i] for i in idx], [None] * len(idx)))
        v.source.clear_cache()
    if ds.test:
        v = next((t for t in ds.test if t.labels is not None and t.labels.any()), ds.test[0])
        idx = _pick(len(v), args.n, v.labels)
        frames = v.source.frames()
        masks = v.read_masks()
        rows.append(
            (
                [
                    f"test {v.name} #{i + 1}" + (" abnormal" if v.labels is not None and v.labels[i] else "")
                    for i in idx
                ],
                [frames[i] for i in idx],
                [masks[i] if masks is not None else None for i in idx],
            )
        )
        v.source.clear_cache()
    if not rows:
        raise DataError(args.path, "no videos to preview")
    fig = preview_figure(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(args.out)
    return 0
