"""Your own footage: video files (any format PyAV reads) and/or folders of frames, without labels."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .frames import ImageFolderSource, VideoFileSource, is_hidden, is_video_file, list_images, natural_key, open_source
from .records import Video, VideoDataset

LAYOUTS = (
    "a video file; a folder of video files and/or frame folders; train/ and test/ folders of those; or a dataset "
    "layout (UCSD Train/ and Test/, training/frames and testing/frames, Avenue training_videos/, "
    "ShanghaiTech training/videos/)"
)


def _is_mask_folder(path: Path) -> bool:
    """``NAME_gt`` beside ``NAME``: UCSD's pixel masks of video NAME, not a video."""
    return path.name.lower().endswith("_gt") and path.with_name(path.name[:-3]).is_dir()


def find_videos(path: str | Path) -> list[Video]:
    """Videos under ``path``: a video file, a folder of frames, or a folder holding videos and frame folders.

    Sub-folders ``NAME_gt`` beside a folder ``NAME`` are pixel masks (UCSD's layout) and are skipped.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "not found")
    if path.is_file():
        return [Video(path.stem, open_source(path))]
    if list_images(path, required=False):
        return [Video(path.name, ImageFolderSource(path))]
    videos = []
    for p in sorted(path.iterdir(), key=natural_key):
        if is_hidden(p):
            continue
        if p.is_dir():
            if not _is_mask_folder(p) and list_images(p, required=False):
                videos.append(Video(p.name, ImageFolderSource(p)))
        elif is_video_file(p):
            videos.append(Video(p.stem, VideoFileSource(p)))
    if not videos:
        raise DataError(path, f"no video files or frame folders here; expected {LAYOUTS}")
    return videos


def load_custom(train: str | Path | None = None, test: str | Path | None = None) -> VideoDataset:
    """Unlabelled footage: ``train`` (normal) and/or ``test`` (to score), each as accepted by ``find_videos``."""
    if train is None and test is None:
        raise DataError(None, "load_custom needs train= or test=")
    root = Path(train if train is not None else test)
    return VideoDataset(
        root.stem if root.is_file() else root.name,
        root,
        train=find_videos(train) if train is not None else [],
        test=find_videos(test) if test is not None else [],
    )
