"""A detector folder as one integrity unit: ``detector.sha256`` lists the SHA-256 of every file of the detector.

The manifest is in ``sha256sum`` format (``DIGEST  PATH`` per line, paths relative to the folder, or absolute for
an autoencoder checkpoint kept elsewhere), so ``sha256sum -c detector.sha256`` checks a detector by hand too.

A save is atomic (``commit``): the old detector or the new one, whatever kills it. The new files are written into
``.detector.new/`` beside the live ones, its manifest last: that manifest is the commit point. Then each file is
renamed over its live name, the manifest last, and the folder goes. A save killed before the commit point leaves
the live files untouched (the half-written folder is dropped); one killed after it is finished by the next
``recover`` (every ``verify`` runs it first), so no load ever sees a mix.

* ``locked(folder)``: saves of one folder one at a time, across processes (``fcntl.flock`` on
  ``.detector.lock``); re-entrant within a process, so a load under the lock may recover.
* ``write_file(path, data)``: bytes under a temporary name, renamed over ``path`` (mode from the umask).
* ``commit(folder, files, others)``: the save above (call it under ``locked``).
* ``verify(folder, required, remedy)``: on load, never optional: the manifest must exist, name every ``required``
  file and match every file it names; anything else is a ``CheckpointError`` that says how to recover
  (``remedy``: one line, or a function of the file's path in the folder).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .errors import CheckpointError

MANIFEST = "detector.sha256"
STAGING = ".detector.new"
LOCK = ".detector.lock"

_guard = threading.Lock()
_held: dict[str, tuple[threading.RLock, list[int]]] = {}  # folder -> (its lock in this process, [depth, fd])


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s save lock (created with the folder when missing): one save at a time across processes,
    re-entrant in this one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    with _guard:
        rlock, state = _held.setdefault(key, (threading.RLock(), [0, -1]))
    with rlock:
        if state[0] == 0:
            import fcntl

            fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            state[1] = fd
        state[0] += 1
        try:
            yield
        finally:
            state[0] -= 1
            if state[0] == 0:
                os.close(state[1])  # closing the descriptor releases the flock


def write_file(path: Path, data: bytes) -> None:
    """``data`` into ``path`` through a temporary file beside it and one rename (``open`` applies the umask)."""
    tmp = _tmp(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno is not None:  # name the file meant, not its temporary name
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def sha256(path: Path) -> str:
    """The file's SHA-256, hex, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system can fsync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def commit(folder: Path, files: dict[str, bytes], others: Iterable[str] = ()) -> None:
    """Save ``files`` (``{name: bytes}``, names in ``folder``) and the manifest over them and ``others`` (files
    already in place, relative to ``folder`` or absolute) as one atomic step (module docstring). Hold
    ``locked(folder)``."""
    stage = folder / STAGING
    shutil.rmtree(stage, ignore_errors=True)  # a save killed before its commit point
    stage.mkdir(parents=True)
    for name, data in files.items():
        write_file(stage / name, data)
    digests = {name: sha256(stage / name) for name in files} | {rel: sha256(folder / rel) for rel in others}
    write_file(stage / MANIFEST, "".join(f"{d}  {rel}\n" for rel, d in sorted(digests.items())).encode("utf-8"))
    _sync_dir(stage)
    _roll_forward(folder)


def _roll_forward(folder: Path) -> None:
    """Move a committed ``.detector.new/`` (it holds its manifest) into place, the manifest last."""
    stage = folder / STAGING
    for p in sorted(stage.iterdir(), key=lambda p: p.name == MANIFEST):
        if p.name.endswith(".tmp"):
            p.unlink()
        else:
            os.replace(p, folder / p.name)
    _sync_dir(folder)
    stage.rmdir()


def recover(folder: Path) -> None:
    """Finish or drop a save that was killed (``.detector.new/`` left behind): finished when it had reached its
    commit point, else dropped (the live files were never touched)."""
    stage = folder / STAGING
    if not stage.is_dir():
        return
    try:
        with locked(folder):
            if not stage.is_dir():  # another process finished it while this one waited
                return
            if (stage / MANIFEST).is_file():
                _roll_forward(folder)
            else:
                shutil.rmtree(stage)
    except OSError as exc:
        raise CheckpointError(
            stage, f"an interrupted save cannot be finished here ({exc.strerror}): load it once with write access"
        ) from None


def read(folder: Path, remedy: str = "") -> dict[str, str] | None:
    """``{path: digest}`` of ``folder``'s manifest, None when there is none; a malformed one raises (with
    ``remedy``)."""
    path = folder / MANIFEST
    fix = f"; {remedy}" if remedy else ""
    if path.is_symlink():  # a save writes a plain file: a link points at a manifest the detector never had
        raise CheckpointError(path, f"is a symbolic link, not the manifest a save writes (altered?){fix}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(path, f"unreadable manifest ({exc}){fix}") from None
    out: dict[str, str] = {}
    for k, line in enumerate(text.splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or not rel:
            raise CheckpointError(path, f"line {k} is not 'SHA256  PATH' (damaged or altered){fix}")
        out[rel] = digest
    return out


def verify(folder: Path, required: Iterable[str], remedy: str | Callable[[str], str]) -> dict[str, str]:
    """Raise ``CheckpointError`` (ending with the remedy for the file at fault) unless ``folder`` is a whole
    detector as saved; return the manifest ``{path: digest}``. A save killed half-way is recovered first."""
    fix = remedy if callable(remedy) else (lambda _rel: remedy)
    recover(folder)
    listed = read(folder, fix(MANIFEST))
    if listed is None:
        raise CheckpointError(
            folder / MANIFEST,
            f"missing: the detector is incomplete or older than this version; {fix(MANIFEST)}",
        )
    for rel in required:
        if rel not in listed:
            raise CheckpointError(folder / rel, f"not covered by {MANIFEST} (altered?); {fix(rel)}")
    for rel, digest in listed.items():
        p = folder / rel
        if not p.is_file():
            raise CheckpointError(p, f"missing file of detector {folder}; {fix(rel)}")
        if sha256(p) != digest:
            why = "checksum mismatch: changed since the detector was saved (altered, damaged or half-written)"
            raise CheckpointError(p, f"{why}; {fix(rel)}")
    return listed
