"""The "frames" layout used by many anomaly-detection repositories for Ped1/Ped2/Avenue/ShanghaiTech.

::

    <root>/training/frames/<video>/0.jpg ...
    <root>/testing/frames/<video>/0.jpg ...
    <root>/<labels>.npy    per-frame 0/1 for all test videos concatenated in order, or
    <root>/<labels>.mat    per test video a [start; end] array (2 x K, 1-based inclusive),
                           in a cell (object) array or a struct array
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .frames import ImageFolderSource, list_subfolders
from .records import Video, VideoDataset


def _videos(folder: Path) -> list[Video]:
    if not folder.is_dir():
        return []
    return [Video(p.name, ImageFolderSource(p)) for p in list_subfolders(folder)]


def _find_labels(root: Path) -> Path | None:
    candidates = [
        p
        for d in (root, root / "testing")
        if d.is_dir()
        for p in sorted(d.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".npy", ".mat")
    ]
    if not candidates:
        return None
    if len(candidates) > 1:
        names = ", ".join(str(p.relative_to(root)) for p in candidates)
        raise DataError(root, f"several label files ({names}): pass labels= to choose one")
    return candidates[0]


def _npy_labels(path: Path, lengths: list[int]) -> list[np.ndarray]:
    try:
        flat = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read labels: {exc}") from None
    flat = np.asarray(flat).reshape(-1)
    total = sum(lengths)
    if len(flat) != total:
        raise DataError(path, f"{len(flat)} frame labels for {total} test frames in {len(lengths)} videos")
    bounds = np.cumsum([0, *lengths])
    return [flat[a:b] != 0 for a, b in zip(bounds[:-1], bounds[1:])]


def _mat_cells(value: np.ndarray) -> list[np.ndarray]:
    """Per-video arrays out of a loadmat value: a cell (object) array, or a struct array (first field)."""
    value = np.asarray(value)
    if value.dtype.names:  # struct array: take the labelled field of every element
        field = "gt_frame" if "gt_frame" in value.dtype.names else value.dtype.names[0]
        return [np.asarray(v) for v in value[field].reshape(-1)]
    if value.dtype == object:
        return [np.asarray(v) for v in value.reshape(-1)]
    raise DataError(None, f"expected a cell or struct array, got {value.dtype} {value.shape}")


def _mat_labels(path: Path, lengths: list[int]) -> list[np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except (OSError, ValueError, NotImplementedError) as exc:
        raise DataError(path, f"cannot read labels: {exc}") from None
    keys = [k for k in mat if not k.startswith("__")]
    if len(keys) != 1:
        raise DataError(path, f"expected one variable, found {keys}")
    try:
        cells = _mat_cells(mat[keys[0]])
    except DataError as exc:
        raise DataError(path, f"variable {keys[0]!r}: {exc.problem}") from None
    if len(cells) != len(lengths):
        raise DataError(path, f"{len(cells)} label entries for {len(lengths)} test videos")
    out = []
    for k, (cell, n) in enumerate(zip(cells, lengths), start=1):
        arr = np.asarray(cell, dtype=np.int64)
        if arr.size == 0:
            out.append(np.zeros(n, dtype=bool))
            continue
        if arr.ndim == 1 and arr.size == 2:
            arr = arr.reshape(2, 1)
        if arr.ndim != 2 or arr.shape[0] != 2:
            raise DataError(path, f"entry {k}: expected a 2 x K [start; end] array, got shape {arr.shape}")
        labels = np.zeros(n, dtype=bool)
        for a, b in arr.T:
            if a < 1 or b < a or b > n:
                raise DataError(path, f"entry {k}: frame range {a}:{b} is outside the video's 1..{n} frames")
            labels[a - 1 : b] = True
        out.append(labels)
    return out


def load_frames_layout(root: str | Path, labels: str | Path | None = None) -> VideoDataset:
    """Index a ``training/frames`` + ``testing/frames`` dataset; ``labels`` defaults to the one .npy/.mat found."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    train = _videos(root / "training" / "frames")
    test = _videos(root / "testing" / "frames")
    if not train and not test:
        raise DataError(root, "no video folders under training/frames or testing/frames")
    label_path = Path(labels) if labels is not None else _find_labels(root)
    if label_path is not None and test:
        if not label_path.is_file():
            raise DataError(label_path, "label file not found")
        lengths = [len(v) for v in test]
        reader = _mat_labels if label_path.suffix.lower() == ".mat" else _npy_labels
        for video, lab in zip(test, reader(label_path, lengths)):
            video.labels = lab
    return VideoDataset(root.name, root, train=train, test=test)
