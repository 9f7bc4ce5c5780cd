"""A detector folder as one integrity unit: ``detector.sha256`` lists the SHA-256 of every file of the detector.

The manifest is in ``sha256sum`` format (``DIGEST  PATH`` per line, paths relative to the folder, or absolute for
an autoencoder checkpoint kept elsewhere), so ``sha256sum -c detector.sha256`` checks a detector by hand too.

* ``begin(folder)``: the first step of a save: the old manifest goes, so that from here until ``finish`` the
  folder is *incomplete*, whatever else a kill leaves in it.
* ``write_file(path, data)``: bytes under a temporary name, renamed over ``path`` (mode from the umask).
* ``finish(folder, files)``: the manifest, written last (temporary name, one rename).
* ``verify(folder, required, remedy)``: on load, never optional: the manifest must exist, name every ``required``
  file and match every file it names; anything else is a ``CheckpointError`` that says how to recover.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from ..errors import CheckpointError

MANIFEST = "detector.sha256"


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def begin(folder: Path) -> None:
    """Mark ``folder`` as being written: remove its manifest and what an earlier killed save left behind."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (folder / MANIFEST).unlink()
    for stale in folder.glob(".detector.*.tmp"):  # only a save's own temporary names
        with contextlib.suppress(OSError):
            stale.unlink()


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


def _sha256(path: Path) -> str:
    from ..seed.checkpoint import _sha256 as sha

    return sha(path)


def finish(folder: Path, files: Iterable[str]) -> None:
    """Write the manifest of ``files`` (paths relative to ``folder``, or absolute), last."""
    lines = [f"{_sha256(folder / rel)}  {rel}\n" for rel in sorted(set(files))]
    write_file(folder / MANIFEST, "".join(lines).encode("utf-8"))


def read(folder: Path) -> dict[str, str] | None:
    """``{path: digest}`` of ``folder``'s manifest, None when there is none; a malformed line raises."""
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(path, f"unreadable manifest ({exc})") from None
    out: dict[str, str] = {}
    for k, line in enumerate(text.splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or not rel:
            raise CheckpointError(path, f"line {k} is not 'SHA256  PATH'")
        out[rel] = digest
    return out


def verify(folder: Path, required: Iterable[str], remedy: str) -> dict[str, str]:
    """Raise ``CheckpointError`` (ending with ``remedy``) unless ``folder`` is a whole detector as saved; return
    the manifest ``{path: digest}``."""
    listed = read(folder)
    if listed is None:
        raise CheckpointError(
            folder / MANIFEST,
            f"missing: the detector is incomplete (a save was interrupted) or older than this version; {remedy}",
        )
    for rel in required:
        if rel not in listed:
            raise CheckpointError(folder / rel, f"not covered by {MANIFEST} (altered?); {remedy}")
    for rel, digest in listed.items():
        p = folder / rel
        if not p.is_file():
            raise CheckpointError(p, f"missing file of detector {folder}; {remedy}")
        if _sha256(p) != digest:
            raise CheckpointError(
                p,
                f"checksum mismatch: changed since the detector was saved (altered, damaged or half-written); {remedy}",
            )
    return listed
