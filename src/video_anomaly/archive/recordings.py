"""The recordings of an archive: a manifest (CSV or JSON lines: path, camera, start) or folders walked for video files
and frame folders."""

from __future__ import annotations

import csv
import glob
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DataError
from ..outputs import safe_name

UNDATED = "undated"


MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


@dataclass(frozen=True)
class Recording:
    """One recording to score: ``path`` (video file or frame folder), ``camera`` id, ``start`` (its first frame's
    wall-clock time, or None), ``rec_id`` (stable across runs: name plus a hash of path, camera and start)."""

    path: str
    camera: str
    start: str | None = None

    @property
    def name(self) -> str:
        """The name ``score`` gives the recording (its events' ``source``)."""
        return Path(self.path).name or self.path

    @property
    def rec_id(self) -> str:
        key = json.dumps([str(Path(self.path).resolve()), self.camera, self.start])
        return f"{safe_name(self.name)}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"

    def start_time(self) -> datetime | None:
        if self.start is None:
            return None
        t = datetime.fromisoformat(self.start)
        return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _parse_start(value, where: Path) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise DataError(where, f"start time {value!r} is not ISO 8601 (e.g. 2026-11-03T08:00:00+01:00)") from None
    return str(value).strip()


def read_manifest(path: str | Path) -> list[Recording]:
    """Recordings listed in a CSV (header ``path,camera,start``) or JSON-lines file (``{"path", "camera",
    "start"}``); ``camera`` defaults to the recording's folder name, ``start`` (ISO 8601) may be empty. Relative
    paths are relative to the manifest's folder."""
    path = Path(path)
    rows: list[dict] = []
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or "path" not in reader.fieldnames:
                    raise DataError(path, "a manifest CSV needs a header with a 'path' column (path,camera,start)")
                rows = list(reader)
        else:
            for k, line in enumerate(path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(path, f"line {k}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict) or not isinstance(row.get("path"), str):
                    raise DataError(path, f'line {k}: want an object with a "path" string')
                rows.append(row)
    except UnicodeDecodeError:
        raise DataError(path, "not a text manifest (CSV or JSON lines)") from None
    out = []
    for row in rows:
        p = Path(str(row["path"]).strip())
        p = p if p.is_absolute() else path.parent / p
        camera = str(row.get("camera") or "").strip() or p.parent.name or "camera"
        out.append(Recording(str(p), camera, _parse_start(row.get("start"), path)))
    if not out:
        raise DataError(path, "the manifest lists no recordings")
    return out


def _walk(path: Path) -> Iterator[Path]:
    """Video files and frame folders under ``path`` (itself when it is one), in natural order."""
    from ..data.custom import _is_mask_folder
    from ..data.frames import is_hidden, is_video_file, list_images, natural_key

    if path.is_file():
        yield path
        return
    if list_images(path, required=False):
        yield path
        return
    for p in sorted(path.iterdir(), key=natural_key):
        if is_hidden(p) or (p.is_dir() and _is_mask_folder(p)):
            continue
        if p.is_dir():
            yield from _walk(p)
        elif is_video_file(p):
            yield p


def collect_recordings(inputs: Iterable[str | Path], camera: str | None = None) -> list[Recording]:
    """Recordings from ``inputs``: manifests (``.csv``, ``.jsonl``), video files, frame folders, folders of those
    (searched recursively) and globs. Without a manifest the camera is the recording's parent folder name
    (``camera`` overrides it for every input) and the start time is unknown."""
    recs: list[Recording] = []
    for item in inputs:
        item = str(item)
        p = Path(item)
        if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES:
            recs += [Recording(r.path, camera or r.camera, r.start) for r in read_manifest(p)]
            continue
        if p.exists():
            paths = [p]
        elif glob.has_magic(item):
            paths = [Path(g) for g in sorted(glob.glob(item, recursive=True))]
            if not paths:
                raise DataError(item, "the pattern matches nothing")
        else:
            raise DataError(p, "not found")
        for q in paths:
            found = list(_walk(q))
            if not found and q.is_dir():
                raise DataError(q, "no video files or frame folders here")
            recs += [Recording(str(r), camera or r.parent.name or "camera") for r in found]
    if not recs:
        raise DataError(None, "nothing to score: give recordings, folders, globs or a manifest")
    seen: dict[str, Recording] = {}
    for r in recs:
        seen.setdefault(r.rec_id, r)  # the same recording named twice is scored once
    return list(seen.values())
