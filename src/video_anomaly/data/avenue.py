"""CUHK Avenue (Lu, Shi, Jia, ICCV 2013) as released.

::

    <root>/training_videos/01.avi ...
    <root>/testing_videos/01.avi ...
    <root>/testing_label_mask/1_label.mat   variable volLabel: 1 x N cell of (H, W) masks

A frame is abnormal when any pixel of its mask is set. Videos and label files are matched by
number, so any subset of the videos may be present.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from .frames import VideoFileSource, is_video_file, natural_key, resize_masks
from .records import Video, VideoDataset


def _number(path: Path) -> int | None:
    m = re.search(r"(\d+)", path.stem)
    return int(m.group(1)) if m else None


def _video_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if is_video_file(p)), key=natural_key)


def read_vol_label(path: str | Path) -> np.ndarray:
    """All masks of an Avenue ``N_label.mat`` as ``(N, H, W)`` bool."""
    import scipy.io

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path)
    except (OSError, ValueError, NotImplementedError) as exc:
        raise DataError(path, f"cannot read label file: {exc}") from None
    if "volLabel" not in mat:
        raise DataError(path, f"no volLabel variable (found {[k for k in mat if not k.startswith('__')]})")
    cells = np.asarray(mat["volLabel"]).reshape(-1)
    if cells.dtype != object:
        raise DataError(path, "volLabel is not a cell array of masks")
    try:
        return np.stack([np.asarray(c) != 0 for c in cells])
    except ValueError as exc:
        raise DataError(path, f"volLabel masks differ in size: {exc}") from None


def load_avenue(root: str | Path) -> VideoDataset:
    """Index an Avenue-style dataset; labels are read from the .mat masks, masks on demand."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    train = [Video(p.stem, VideoFileSource(p)) for p in _video_files(root / "training_videos")]
    test_files = _video_files(root / "testing_videos")
    if not train and not test_files:
        raise DataError(root, "no video files in training_videos/ or testing_videos/")
    label_dir = root / "testing_label_mask"
    label_files: dict[int, Path] = {}
    if label_dir.is_dir():
        for p in label_dir.glob("*.mat"):
            n = _number(p)
            if n is not None and not p.name.startswith("."):
                label_files[n] = p
    test = []
    for p in test_files:
        source = VideoFileSource(p)
        video = Video(p.stem, source)
        label_path = label_files.get(_number(p)) if _number(p) is not None else None
        if label_path is not None:
            masks = read_vol_label(label_path)
            if len(masks) != len(source):
                raise DataError(label_path, f"{len(masks)} label masks for {len(source)} frames of {p.name}")
            video.labels = masks.reshape(len(masks), -1).any(axis=1)

            def loader(size, _path=label_path):
                m = read_vol_label(_path)
                return m if size is None else resize_masks(m, size)

            video.mask_loader = loader
        test.append(video)
    return VideoDataset(root.name, root, train=train, test=test)
