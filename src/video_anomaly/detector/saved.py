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
    remedy (the rebuild command of a shipped detector, else ``video-anomaly calibrate FOLDER``) otherwise."""
    import json

    from safetensors.numpy import load_file

    from . import manifest
    from .config import FORMAT

    folder, rebuild = resolve(name_or_folder)
    jf = folder / "detector.json"
    if not jf.is_file():
        if (folder / "checkpoint.json").is_file():
            raise CheckpointError(
                folder, f"an autoencoder checkpoint, not a detector: fit one with `video-anomaly calibrate {folder}`"
            )
        raise CheckpointError(folder, "no detector.json: not a detector folder (train one with `video-anomaly train`)")
    remedy = f"rebuild it with: {rebuild}" if rebuild else f"recover with: video-anomaly calibrate {folder}"
    hint = f"; {remedy}"
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
