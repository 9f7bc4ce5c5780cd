"""Output files that never collide, never silently replace, and never stay half-written.

* ``output_stem(path)``: one output name per input path, the same in every call: ``cam1/video.avi`` and
  ``cam2/video.avi`` become ``video.avi-<8 hex digits of the path's hash>``, never the same name.
* ``check_no_overwrite(out_dir, names, overwrite)``: refuse, naming ``--overwrite``, when an output exists.
* ``atomic_output(path)``: write to a temporary file beside ``path``, rename it over ``path`` on success,
  remove it on failure: a reader sees the old file or the new one, never a partial one.
* ``umask_mode(path)``: the mode any other new file would have (``0o666`` less the umask).
* ``check_writable_folder(path)``: create ``path`` and prove a file can be written there, before long work.
* ``check_output_file(path, overwrite)``: a file path that is no folder and replaces nothing without ``--overwrite``.
* ``cleanup_on_failure(paths)``: when the block fails, remove the outputs it created or changed, so that a
  failed run leaves no mix of new and old files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import DataError


def safe_name(name: str) -> str:
    """``name`` with every run of characters outside ``[A-Za-z0-9._-]`` replaced by ``_`` (``"video"`` if empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"


def output_stem(path: str | Path) -> str:
    """The output name of the input at ``path``: its sanitised file name and 8 hex digits of the SHA-256 of its
    absolute path, e.g. ``video.mp4-1f3a9c0b``. A function of the input alone, so ``cam1/video.mp4`` and
    ``cam2/video.mp4`` never share a name and a later call (with ``--overwrite`` or not) never replaces the results
    of another recording; the extension is kept, so ``a.avi`` and ``a.mp4`` differ too. Stream URLs are taken as
    given."""
    text = str(path)
    if "://" not in text:
        text = str(Path(text).expanduser().absolute())
    digest = hashlib.sha256(os.path.normpath(text).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{safe_name(Path(str(path)).name or text)}-{digest}"


def check_no_overwrite(out_dir: str | Path, names: Iterable[str], overwrite: bool) -> None:
    """Raise ``DataError`` naming the first of ``out_dir/name`` that exists, unless ``overwrite``."""
    if overwrite:
        return
    out_dir = Path(out_dir)
    existing = [out_dir / n for n in names if (out_dir / n).exists()]
    if existing:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise DataError(existing[0], f"already exists{more}: pass --overwrite to replace, or choose another --out")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same extension, so writers that infer the format from it
    work); on success it replaces ``path`` in one rename, on failure it is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def check_writable_folder(path: str | Path) -> Path:
    """Create the folder ``path`` (and its parents) and write and remove a probe file in it: a read-only place or a
    file in the way raises the ``OSError`` naming it now, not after a long fit."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".write-probe-{secrets.token_hex(4)}"
    try:
        probe.open("x").close()
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    probe.unlink()
    return path


def check_output_file(path: str | Path, overwrite: bool, flag: str) -> Path:
    """``path`` as the target of a file output given by ``flag``: ``DataError`` when it is a folder, or exists and
    ``overwrite`` is false."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, f"is a folder: {flag} takes a file name")
    if path.exists() and not overwrite:
        raise DataError(path, f"already exists: pass --overwrite to replace it, or choose another {flag}")
    return path


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), else by setting it back."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode(path: str | Path) -> None:
    """Give ``path`` the mode a plain ``open(path, "w")`` would: ``0o666`` less the umask. Writers that create
    files through a private temporary file (safetensors) leave ``0o600``, which other accounts cannot read."""
    os.chmod(path, 0o666 & ~_umask())


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class _Watched(list):
    """Output paths, each with the state its file had when it was added (None: it did not exist)."""

    def __init__(self, paths: Iterable[str | Path]):
        super().__init__()
        self.before: dict[Path, tuple[int, int, int] | None] = {}
        self.extend(paths)

    def append(self, path: str | Path) -> None:
        path = Path(path)
        self.before.setdefault(path, _signature(path))
        super().append(path)

    def extend(self, paths: Iterable[str | Path]) -> None:
        for p in paths:
            self.append(p)


@contextlib.contextmanager
def folder_removed_on_failure(path: str | Path, keep: str | None = None) -> Iterator[Path]:
    """On an exception in the block (Ctrl-C included), remove the folder ``path`` and the parents the block
    created, when the block created it, unless it then holds ``keep`` (work worth resuming, e.g. a trained
    checkpoint); then re-raise. A folder that was there before is never removed."""
    path = Path(path).absolute()
    top = None  # the highest folder missing now: what the block creates
    p = path
    while not p.exists() and p != p.parent:
        top, p = p, p.parent
    try:
        yield path
    except BaseException:
        if top is not None and top.is_dir() and not (keep and (path / keep).exists()):
            shutil.rmtree(top, ignore_errors=True)
        raise


@contextlib.contextmanager
def cleanup_on_failure(paths: Iterable[str | Path] = ()) -> Iterator[list[Path]]:
    """On an exception in the block (Ctrl-C included), remove those of ``paths`` that the block created or
    changed, then re-raise; files it left untouched stay. Yields the list of watched paths: ``append`` more
    outputs to it before writing them."""
    watched = _Watched(paths)
    try:
        yield watched
    except BaseException:
        for p in watched:
            if p.is_file() and _signature(p) != watched.before[p]:
                with contextlib.suppress(OSError):
                    p.unlink()
        raise
