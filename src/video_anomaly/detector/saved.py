"""A detector folder found and read: a folder, a run folder or a shipped detector's name (``resolve``), its
``detector.json`` and arrays with the manifest checked (``read_detector_doc``)."""

from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError, ConfigError


def resolve(path_or_name: str | Path) -> tuple[Path, str | None]:
    """``(folder, rebuild_hint)``: a detector folder, a run folder, or a shipped detector's name."""
    from .. import weights

    path = Path(path_or_name)
    if path.exists():
        return path, None
    if str(path_or_name) in weights.MODELS:
        return weights.folder(str(path_or_name)), weights.MODELS[str(path_or_name)]["rebuild"]
    if len(path.parts) == 1 and not path.suffix:
        raise ConfigError(
            f"no detector folder or shipped detector named {str(path_or_name)!r}; shipped: "
            f"{', '.join(weights.MODELS) or 'none'} (see `video-anomaly models`)"
        )
    raise CheckpointError(path, "does not exist")


def read_detector_doc(name_or_folder: str | Path) -> tuple[Path, dict, dict]:
    """``(folder, detector.json as a dict, arrays of detector.safetensors)`` of a detector folder or shipped name,
    its manifest ``detector.sha256`` always checked; a ``CheckpointError`` naming the file, the problem and the
    remedy (``remedy_for``: the rebuild command of a shipped detector, else ``calibrate`` or a retrain) otherwise."""
    import json

    from safetensors.numpy import load_file

    from .. import manifest
    from .config import FORMAT

    folder, rebuild = resolve(name_or_folder)
    jf = folder / "detector.json"
    if not jf.is_file():
        if (folder / "checkpoint.json").is_file():
            raise CheckpointError(
                folder, f"an autoencoder checkpoint, not a detector: fit one with `video-anomaly calibrate {folder}`"
            )
        raise CheckpointError(folder, "no detector.json: not a detector folder (train one with `video-anomaly train`)")
    remedy = remedy_for(folder, rebuild)
    hint = f"; {remedy('detector.json')}"
    # One integrity unit (manifest.py): a file changed, missing or not listed, or no manifest (a save interrupted).
    listed = manifest.verify(folder, ("detector.json", "detector.safetensors"), remedy)
    try:
        doc = json.loads(jf.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(jf, f"unreadable detector file ({exc}){hint}") from None
    if doc.get("format") != FORMAT:
        raise CheckpointError(jf, f"not a video-anomaly detector (format {doc.get('format')!r}){hint}")
    for c, meta in (doc.get("cues") or {}).items():  # a cue's checkpoint folder (version 1: named at the top)
        where = (meta or {}).get("checkpoint") or doc.get(f"{c}_checkpoint")
        rel = str(Path(where) / "model.safetensors") if where else None
        if rel is not None and rel not in listed and str((folder / rel).resolve()) not in listed:
            raise CheckpointError(folder / rel, f"not covered by {manifest.MANIFEST} (altered?){hint}")
    try:
        arrays = load_file(str(folder / "detector.safetensors"))
    except Exception as exc:  # noqa: BLE001 - any safetensors failure: a damaged file
        raise CheckpointError(folder / "detector.safetensors", f"unreadable ({exc}){hint}") from None
    return folder, doc, arrays


def remedy_for(folder: Path, rebuild: str | None):
    """How to recover a damaged file of a detector folder, as a function of its path in the folder: a shipped
    detector is rebuilt; a cue's trained file (the autoencoder's checkpoint) is restored or retrained, since
    calibration cannot rebuild trained weights; the rest is refitted by ``calibrate`` (which starts again from
    the training footage: feedback learnt since is lost, and is said so)."""
    from .. import manifest

    def fix(rel: str) -> str:
        if rebuild:
            return f"rebuild it with: {rebuild}"
        if rel not in ("detector.json", "detector.safetensors", manifest.MANIFEST):
            return (
                f"restore {rel} from a backup of the detector, or retrain it: video-anomaly train TRAINING_DATA "
                f"--out {folder} --overwrite (calibrate cannot rebuild trained weights)"
            )
        return (
            f"recover with: video-anomaly calibrate {folder} --dataset TRAINING_DATA (refits it from the training "
            "footage; feedback given since is lost and must be given again)"
        )

    return fix


def previous_doc(run: Path, log=lambda *_: None) -> dict | None:
    """The ``detector.json`` already in ``run`` when its settings can be read, else None (said to ``log``): a
    damaged one is refitted with the default settings, not a traceback."""
    import json

    from .config import DetectorConfig

    path = run / "detector.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        DetectorConfig.from_dict(doc["config"])
        return doc
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        log(f"calibrate: {path} is unreadable ({type(exc).__name__}: {exc}): its settings are lost, the "
            "default ones (and the flags given) are fitted")  # fmt: skip
        return None
