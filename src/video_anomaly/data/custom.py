"""Your own footage: video files (.mp4 .avi .mkv .mov) and/or folders of frames, without labels."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .frames import ImageFolderSource, VideoFileSource, is_video_file, list_images, natural_key
from .records import Video, VideoDataset


def find_videos(path: str | Path) -> list[Video]:
    """Videos under ``path``: a video file, a folder of frames, or a folder holding videos and frame folders."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "not found")
    if path.is_file():
        if not is_video_file(path):
            raise DataError(path, "not a video file (.mp4 .avi .mkv .mov)")
        return [Video(path.stem, VideoFileSource(path))]
    if list_images(path, required=False):
        return [Video(path.name, ImageFolderSource(path))]
    videos = []
    for p in sorted(path.iterdir(), key=natural_key):
        if p.name.startswith("."):
            continue
        if is_video_file(p):
            videos.append(Video(p.stem, VideoFileSource(p)))
        elif p.is_dir() and list_images(p, required=False):
            videos.append(Video(p.name, ImageFolderSource(p)))
    if not videos:
        raise DataError(path, "no video files (.mp4 .avi .mkv .mov) or folders of frames here")
    return videos


def load_custom(train: str | Path | None = None, test: str | Path | None = None) -> VideoDataset:
    """Unlabelled footage: ``train`` (normal) and/or ``test`` (to score), each as accepted by ``find_videos``."""
    if train is None and test is None:
        raise DataError(None, "load_custom needs train= or test=")
    root = Path(train if train is not None else test)
    return VideoDataset(
        root.name,
        root,
        train=find_videos(train) if train is not None else [],
        test=find_videos(test) if test is not None else [],
    )
