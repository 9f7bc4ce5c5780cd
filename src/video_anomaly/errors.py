"""Errors the toolkit raises on bad input.

Every error names the file or folder at fault and what is wrong with it, so the
command line can print one line instead of a traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path

_OS_REASONS = {
    errno.EACCES: "permission denied (a read-only folder, or not yours?)",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "not a folder: a file is in the way where a folder is expected",
    errno.EISDIR: "is a folder, a file was expected",
    errno.EEXIST: "already exists (a file where a folder is expected?)",
    errno.ENOENT: "no such file or folder",
    errno.ENOSPC: "no space left on the device",
    errno.ENAMETOOLONG: "name too long",
}


def os_reason(exc: OSError) -> str:
    """The plain reason of a file-system error (``permission denied (a read-only folder, or not yours?)``)."""
    return _OS_REASONS.get(exc.errno) or (exc.strerror or type(exc).__name__).lower()


def describe_os_error(exc: OSError) -> str:
    """``PATH: plain reason`` for a file-system error (the path as the program named it)."""
    return f"{exc.filename}: {os_reason(exc)}"


def plural(n: int, noun: str) -> str:
    """``"1 frame"``, ``"2 frames"``: counts in messages read as English."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class VideoAnomalyError(Exception):
    """Base class: a problem the user can fix (bad input, bad config)."""


class DataError(VideoAnomalyError):
    """A dataset, video, image or label file is missing, malformed or inconsistent."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}")


class CheckpointError(VideoAnomalyError):
    """A checkpoint is missing, damaged or belongs to another model."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(VideoAnomalyError):
    """A configuration value or file is invalid."""


class TrainingError(VideoAnomalyError):
    """Training could not go on (for example a non-finite loss)."""
