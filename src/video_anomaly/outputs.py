"""Output files that never collide, never silently replace, and never stay half-written.

* ``unique_stems(inputs)``: one output name per input; ``cam1/video.avi`` and ``cam2/video.avi`` become
  ``cam1_video.avi`` and ``cam2_video.avi`` (the shortest tail of each path that tells them apart), and names
  that still agree after sanitising (or on a case-insensitive file system) get ``-2``, ``-3``...
* ``check_no_overwrite(out_dir, names, overwrite)``: refuse, naming ``--overwrite``, when an output exists.
* ``atomic_output(path)``: write to a temporary file beside ``path``, rename it over ``path`` on success,
  remove it on failure: a reader sees the old file or the new one, never a partial one.
* ``cleanup_on_failure(paths)``: when the block fails, remove the outputs it created or changed, so that a
  failed run leaves no mix of new and old files.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import DataError


def safe_name(name: str) -> str:
    """``name`` with every run of characters outside ``[A-Za-z0-9._-]`` replaced by ``_`` (``"video"`` if empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"


def _parts(item) -> tuple[str, ...]:
    """Path components of ``item`` without the root, ``.`` and ``..``: what can tell two inputs apart."""
    parts = Path(str(item)).parts
    anchor = Path(str(item)).anchor
    return tuple(p for p in parts if p not in (anchor, "", ".", "..")) or (str(item),)


def unique_stems(paths: Iterable) -> list[str]:
    """Output stems for ``paths`` (paths or names), distinct even on case-insensitive file systems.

    Each stem is the sanitised last path component; inputs whose stems collide take one more parent folder at a
    time (joined with ``_``) until they differ or run out of folders; any still equal get ``-2``, ``-3``... in
    input order. The extension is kept (``video.avi``), so ``a.avi`` and ``a.mp4`` never collide.
    """
    parts = [_parts(p) for p in paths]
    depth = [1] * len(parts)

    def stem(i: int) -> str:
        return safe_name("_".join(parts[i][-depth[i] :]))

    while True:
        groups: dict[str, list[int]] = {}
        for i in range(len(parts)):
            groups.setdefault(stem(i).casefold(), []).append(i)
        grew = False
        for group in groups.values():
            if len(group) > 1:
                for i in group:
                    if depth[i] < len(parts[i]):
                        depth[i] += 1
                        grew = True
        if not grew:
            break
    out: list[str] = []
    taken: set[str] = set()
    for i in range(len(parts)):
        name, k = stem(i), 1
        while (name if k == 1 else f"{name}-{k}").casefold() in taken:
            k += 1
        name = name if k == 1 else f"{name}-{k}"
        taken.add(name.casefold())
        out.append(name)
    return out


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
