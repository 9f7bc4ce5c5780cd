"""Frames in: dataset readers, frame sources and clip indexing.

``load_dataset(path)`` recognises the layout (UCSD, "frames", Avenue, ShanghaiTech, or a folder
of your own videos) and returns a ``VideoDataset`` of lazily read ``Video`` records.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .avenue import load_avenue
from .custom import find_videos, load_custom
from .folders import load_frames_layout
from .frames import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ImageFolderSource,
    VideoFileSource,
    list_images,
    open_source,
    read_image,
    read_masks,
    resize_stack,
)
from .records import ArraySource, FrameSource, Video, VideoDataset
from .shanghaitech import load_shanghaitech
from .ucsd import load_ucsd

KINDS = ("auto", "ucsd", "frames", "avenue", "shanghaitech", "custom")

__all__ = [
    "IMAGE_EXTENSIONS",
    "KINDS",
    "VIDEO_EXTENSIONS",
    "ArraySource",
    "FrameSource",
    "ImageFolderSource",
    "Video",
    "VideoDataset",
    "VideoFileSource",
    "detect_kind",
    "find_videos",
    "list_images",
    "load_avenue",
    "load_custom",
    "load_dataset",
    "load_frames_layout",
    "load_shanghaitech",
    "load_ucsd",
    "open_source",
    "read_image",
    "read_masks",
    "resize_stack",
]


def detect_kind(path: str | Path) -> str:
    """The layout of a dataset folder: ``ucsd``, ``shanghaitech``, ``frames``, ``avenue`` or ``custom``."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "not found")
    if path.is_file():
        return "custom"
    if (path / "Train").is_dir() or (path / "Test").is_dir():
        return "ucsd"
    if any((p / "Train").is_dir() or (p / "Test").is_dir() for p in path.iterdir() if p.is_dir()):
        return "ucsd"  # the parent of UCSDped1/UCSDped2
    # ShanghaiTech also has testing/frames: check its own folders first.
    if (path / "training" / "videos").is_dir() or (path / "testing" / "test_frame_mask").is_dir():
        return "shanghaitech"
    if (path / "training" / "frames").is_dir() or (path / "testing" / "frames").is_dir():
        return "frames"
    if (path / "training_videos").is_dir() or (path / "testing_videos").is_dir():
        return "avenue"
    return "custom"


def _ucsd_split(path: Path) -> str | None:
    """``"train"``/``"test"`` when ``path`` is the ``Train``/``Test`` folder of a UCSD-style dataset, else None."""
    if path.name not in ("Train", "Test") or not path.is_dir():
        return None
    return path.name.lower() if detect_kind(path.parent) == "ucsd" else None


def load_dataset(path: str | Path, kind: str = "auto", *, subset: str | None = None) -> VideoDataset:
    """Index the dataset at ``path`` (frames are read lazily).

    ``kind="custom"``: ``path/train`` and ``path/test`` when those folders exist; else ``path`` is your own
    normal footage: a video file, a frame folder, or a folder of video files and/or frame folders, each one a
    training video (no test set). ``subset`` picks ``UCSDped1``/``UCSDped2`` under the UCSD parent folder.
    The ``Train`` or ``Test`` folder of a UCSD dataset gives that split alone (with its labels and masks).
    """
    path = Path(path)
    if kind not in KINDS:
        raise DataError(path, f"unknown dataset kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "auto":
        split = _ucsd_split(path)
        if split is not None:
            ds = load_ucsd(path.parent)
            return VideoDataset(ds.name, path, train=ds.train if split == "train" else [],
                                test=ds.test if split == "test" else [])  # fmt: skip
        kind = detect_kind(path)
    if kind == "ucsd":
        return load_ucsd(path, subset=subset)
    if kind == "frames":
        return load_frames_layout(path)
    if kind == "avenue":
        return load_avenue(path)
    if kind == "shanghaitech":
        return load_shanghaitech(path)
    if path.is_dir() and ((path / "train").is_dir() or (path / "test").is_dir()):
        train = path / "train" if (path / "train").is_dir() else None
        test = path / "test" if (path / "test").is_dir() else None
        ds = load_custom(train=train, test=test)
        ds.name, ds.root = path.name, path
        return ds
    return load_custom(train=path)
