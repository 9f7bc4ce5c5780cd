"""ShanghaiTech Campus (Luo, Liu, Gao, ICCV 2017) as released.

::

    <root>/training/videos/01_001.avi ...
    <root>/testing/frames/01_0014/000.jpg ...
    <root>/testing/test_frame_mask/01_0014.npy     per-frame 0/1
    <root>/testing/test_pixel_mask/01_0014.npy     (N, H, W) 0/1, optional
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .frames import ImageFolderSource, VideoFileSource, is_video_file, list_subfolders, natural_key, resize_masks
from .records import Video, VideoDataset


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read: {exc}") from None


def load_shanghaitech(root: str | Path) -> VideoDataset:
    """Index a ShanghaiTech-style dataset (training videos, test frame folders, per-frame .npy labels)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    train_dir = root / "training" / "videos"
    train = []
    if train_dir.is_dir():
        files = sorted((p for p in train_dir.iterdir() if is_video_file(p)), key=natural_key)
        train = [Video(p.stem, VideoFileSource(p)) for p in files]
    test = []
    frames_dir = root / "testing" / "frames"
    if frames_dir.is_dir():
        for folder in list_subfolders(frames_dir):
            source = ImageFolderSource(folder)
            video = Video(folder.name, source)
            label_path = root / "testing" / "test_frame_mask" / f"{folder.name}.npy"
            if label_path.is_file():
                labels = _load_npy(label_path).reshape(-1)
                if len(labels) != len(source):
                    raise DataError(label_path, f"{len(labels)} frame labels for {len(source)} frames")
                video.labels = labels != 0
            pixel_path = root / "testing" / "test_pixel_mask" / f"{folder.name}.npy"
            if pixel_path.is_file():

                def loader(size, _path=pixel_path, _n=len(source)):
                    m = np.load(_path, mmap_mode="r")
                    if m.ndim != 3 or len(m) != _n:
                        raise DataError(_path, f"expected ({_n}, H, W) masks, got shape {m.shape}")
                    m = np.asarray(m) != 0
                    return m if size is None else resize_masks(m, size)

                video.mask_loader = loader
            test.append(video)
    if not train and not test:
        raise DataError(root, "no videos in training/videos or testing/frames")
    return VideoDataset(root.name, root, train=train, test=test)
