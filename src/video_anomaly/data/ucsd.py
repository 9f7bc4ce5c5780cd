"""The UCSD Anomaly Detection Dataset layout (Ped1, Ped2, and our synthetic scene written the same way).

::

    UCSDpedN/Train/TrainNNN/001.tif ...         normal training clips
    UCSDpedN/Test/TestNNN/001.tif ...           test clips
    UCSDpedN/Test/TestNNN_gt/001.bmp ...        pixel masks (some clips only)
    UCSDpedN/Test/UCSDpedN.m                    frame labels, one entry per official test clip

Entry k of the ``.m`` file belongs to folder ``Test{k:03d}``, whichever folders are present:
copies of Ped1 often hold only the clips with pixel masks.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import DataError
from .frames import ImageFolderSource, list_images, list_subfolders
from .records import Video, VideoDataset

_ENTRY = re.compile(r"^TestVideoFile\s*\{\s*(end\s*\+\s*1|\d+)\s*\}\s*\.\s*gt_frame\s*=\s*\[(.*)\]\s*;?\s*$")
_RESET = re.compile(r"^TestVideoFile\s*=\s*\{\s*\}\s*;?\s*$")
_RANGE = re.compile(r"^(\d+)\s*(?::\s*(\d+))?$")


def parse_ucsd_m(path: str | Path) -> list[list[tuple[int, int]]]:
    """Frame ranges of a UCSD ``.m`` label file: entry k-1 is a list of 1-based inclusive ``(start, end)``.

    Accepts ``[61:180]``, multi-range ``[5:90, 140:200]``, single frames ``[7]`` and ``[]``.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise DataError(path, f"cannot read label file: {exc}") from None
    entries: list[list[tuple[int, int]]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("%", 1)[0].strip()
        if not line or _RESET.match(line):
            continue
        m = _ENTRY.match(line)
        if m is None:
            raise DataError(path, f"line {lineno}: cannot parse {raw.strip()!r}")
        ranges = []
        body = re.sub(r"\s*:\s*", ":", m.group(2).strip())  # "5 : 90" -> "5:90" before splitting on spaces
        for part in filter(None, (p.strip() for p in re.split(r"[,;]|\s+(?=\d)", body))):
            r = _RANGE.match(part)
            if r is None:
                raise DataError(path, f"line {lineno}: cannot parse range {part!r}")
            a = int(r.group(1))
            b = int(r.group(2)) if r.group(2) else a
            ranges.append((a, b))
        index = m.group(1)
        if index[0].isdigit():
            k = int(index)
            if k < 1:
                raise DataError(path, f"line {lineno}: entry index must be >= 1")
            while len(entries) < k:
                entries.append([])
            entries[k - 1] = ranges
        else:
            entries.append(ranges)
    return entries


def ranges_to_labels(ranges: list[tuple[int, int]], n_frames: int, path: Path, entry: int) -> np.ndarray:
    """1-based inclusive ranges -> ``(n_frames,)`` bool. DataError names file and entry when out of range."""
    labels = np.zeros(n_frames, dtype=bool)
    for a, b in ranges:
        if a < 1 or b < a or b > n_frames:
            raise DataError(path, f"entry {entry}: frame range {a}:{b} is outside the video's 1..{n_frames} frames")
        labels[a - 1 : b] = True
    return labels


def labels_to_ranges(labels: np.ndarray) -> list[tuple[int, int]]:
    """``(N,)`` bool -> 1-based inclusive runs of True (the inverse of ``ranges_to_labels``)."""
    from .records import true_runs

    return [(a + 1, b) for a, b in true_runs(labels)]


def format_ucsd_m(entries: list[list[tuple[int, int]]]) -> str:
    """The text of a UCSD ``.m`` label file for these entries."""
    lines = ["TestVideoFile = {};"]
    for ranges in entries:
        body = ", ".join(f"{a}:{b}" for a, b in ranges)
        lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{body}];")
    return "\n".join(lines) + "\n"


def _number(name: str) -> int | None:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else None


def _resolve_root(root: Path, subset: str | None) -> Path:
    if (root / "Train").is_dir() or (root / "Test").is_dir():
        if subset is not None and subset.lower() not in root.name.lower():
            raise DataError(root, f"is a single subset folder; subset {subset!r} does not apply")
        return root
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    subsets = [p for p in list_subfolders(root) if (p / "Train").is_dir() or (p / "Test").is_dir()]
    if not subsets:
        raise DataError(root, "no Train/ or Test/ folder (not a UCSD-style dataset)")
    if subset is not None:
        wanted = subset.lower().removeprefix("ucsd")
        for p in subsets:
            if p.name.lower().removeprefix("ucsd") == wanted or p.name.lower().endswith(wanted):
                return p
        raise DataError(root, f"no subset {subset!r}; found {', '.join(p.name for p in subsets)}")
    if len(subsets) == 1:
        return subsets[0]
    names = ", ".join(p.name for p in subsets)
    raise DataError(root, f"holds several subsets ({names}): pick one with --subset (subset= in Python)")


def _find_label_file(test_dir: Path, name: str) -> Path | None:
    files = sorted(p for p in test_dir.glob("*.m") if not p.name.startswith("."))
    if not files:
        return None
    for p in files:
        if p.stem.lower() == name.lower():
            return p
    if len(files) == 1:
        return files[0]
    raise DataError(test_dir, f"several .m label files ({', '.join(p.name for p in files)}) and none named {name}.m")


def load_ucsd(root: str | Path, subset: str | None = None) -> VideoDataset:
    """Index a UCSD-style dataset (paths only; frames are read lazily).

    ``root``: a ``UCSDped1``/``UCSDped2`` folder (or any folder with ``Train/`` and ``Test/``), or
    their parent with ``subset="UCSDped1"`` / ``"ped1"``. Test labels come from the ``.m`` file in
    ``Test/`` (the one named like the folder, else the only one); masks from ``TestNNN_gt/``.
    """
    root = _resolve_root(Path(root), subset)
    train: list[Video] = []
    train_dir = root / "Train"
    if train_dir.is_dir():
        for folder in list_subfolders(train_dir):
            train.append(Video(folder.name, ImageFolderSource(folder)))

    test: list[Video] = []
    test_dir = root / "Test"
    if test_dir.is_dir():
        label_file = _find_label_file(test_dir, root.name)
        entries = parse_ucsd_m(label_file) if label_file is not None else None
        for folder in list_subfolders(test_dir):
            if folder.name.lower().endswith("_gt"):
                continue
            source = ImageFolderSource(folder)
            labels = None
            if entries is not None:
                k = _number(folder.name)
                if k is None:
                    raise DataError(folder, f"cannot match this folder to an entry of {label_file.name}: no number")
                if k > len(entries) or k < 1:
                    raise DataError(label_file, f"has {len(entries)} entries but folder {folder.name} needs entry {k}")
                labels = ranges_to_labels(entries[k - 1], len(source), label_file, k)
            mask_paths = None
            gt = folder.with_name(folder.name + "_gt")
            if gt.is_dir():
                mask_paths = list_images(gt)
                if len(mask_paths) != len(source):
                    raise DataError(gt, f"{len(mask_paths)} mask images for {len(source)} frames in {folder.name}")
            test.append(Video(folder.name, source, labels=labels, mask_paths=mask_paths))

    if not train and not test:
        raise DataError(root, "no video folders in Train/ or Test/")
    starts = _manifest_starts(root)
    for split, videos in (("train", train), ("test", test)):
        for v in videos:
            v.start = starts.get((split, v.name))
    return VideoDataset(root.name, root, train=train, test=test)


def _manifest_starts(root: Path) -> dict[tuple[str, str], datetime]:
    """``(split, video) -> start`` from ``root/manifest.json`` (``{"videos": [{"video", "split", "start"}]}``, start
    in ISO 8601, as the synthetic behaviour scene writes it); none without the file or a ``start``."""
    path = root / "manifest.json"
    if not path.is_file():
        return {}
    try:
        rows = json.loads(path.read_text())["videos"]
        return {(str(r["split"]).lower(), str(r["video"])): datetime.fromisoformat(r["start"])
                for r in rows if r.get("start")}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            path,
            f"cannot read the videos' start times ({exc!r}); want {{'videos': [{{'video', "
            "'split', 'start'}]}} with ISO 8601 times",
        ) from None
