"""The runs of the public API: train, calibrate, score one or many recordings, watch, evaluate. ``Detector``'s
methods of the same names call these, and so does the command line (which only parses and prints).

>>> from video_anomaly import Detector, load_dataset
>>> det = Detector.load("ucsd-ped2")                        # a shipped detector, no training
>>> data = load_dataset("UCSD_Anomaly_Dataset.v1p2/UCSDped2")
>>> s = det.score(data.test[0])                             # VideoScores: the score the alarms use
>>> s.frame_scores, s.alarms, s.maps                        # per frame; per region
>>> det.evaluate(data, "runs/ped2-eval")                    # AUC (micro/macro), pixel-level, RBDC/TBDC
>>> det = Detector.train("my_normal_videos/", "runs/cam1")  # the default cues (cues.DEFAULT_CUES): minutes, no GPU

Scores are named in ``scores.SCORES`` (``fused``, ``ae``, ``motion``: live, calibrated; ``seed``: the seed's
exact protocol); every call takes ``score=`` and defaults to the detector's own.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from .detector import Detector, DetectorConfig, VideoScores
from .errors import CheckpointError, ConfigError, DataError, plural
from .outputs import check_writable_folder, folder_removed_on_failure
from .scores import spec


def _videos(data, part: str) -> list:
    """A list of ``Video`` records from a dataset, a dataset path, a list of videos or one video/path."""
    from .data import load_dataset
    from .data.records import Video, VideoDataset

    if isinstance(data, VideoDataset):
        return list(getattr(data, part))
    if isinstance(data, Video):
        return [data]
    if isinstance(data, (str, Path)):
        path = Path(data)
        if part == "test" and (path.is_file() or _is_frame_folder(path)):
            from .data.frames import open_source

            return [Video(path.stem if path.is_file() else path.name, open_source(path))]
        return list(getattr(load_dataset(path), part))
    return list(data)


def _is_frame_folder(path: Path) -> bool:
    from .data.frames import list_images

    return path.is_dir() and bool(list_images(path, required=False))


def resolve(path_or_name: str | Path) -> tuple[Path, str | None]:
    """``(folder, rebuild_hint)``: a detector folder, a run folder, or a shipped detector's name."""
    from . import weights

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
    from .detector import FORMAT

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
    from . import manifest

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


# ------------------------------------------------------------------------------------------------ train


def train(
    data,
    out_dir: str | Path,
    config=None,
    *,
    cues=None,
    detector_config: DetectorConfig | None = None,
    score: str | None = None,
    device=None,
    calibrate: bool = True,
    log=lambda *_: None,
    **train_kw,
) -> Detector | None:
    """Train on the normal (training) videos of ``data`` and write the detector into ``out_dir``: the one path of
    ``video-anomaly train``, ``torchrun`` and ``Detector.train``.

    Cues whose class is ``trained_first`` (the autoencoder) are trained first (``config``: their run config, the
    seed recipe by default; ``train_kw``: ``max_steps``, ``resume``, ``progress``, ``use_fast``...; under
    ``torchrun`` every process trains and only rank 0 goes on). Then every cue is fitted and calibrated on the
    held-out frames and the detector is saved. Returns it (None on ranks > 0, or with ``calibrate=False``).
    """
    from .cues import CUES, DEFAULT_CUES
    from .device import apply_thread_policy
    from .training import footage_fingerprint

    apply_thread_policy()
    # A failed run removes the --out folder it created (a trained checkpoint in it stays, for --resume).
    with folder_removed_on_failure(out_dir, keep="checkpoint"):
        videos = _videos(data, "train")
        if not videos:
            raise DataError(data if isinstance(data, (str, Path)) else None, "has no training videos")
        cues = tuple(cues or DEFAULT_CUES)
        if train_kw.get("resume") and not (Path(out_dir) / "checkpoint").exists():
            _same_footage(Path(out_dir) / "detector.json", videos)  # a run of no trained-first cue: its fit's footage
        check_writable_folder(out_dir)  # a read-only or wrong out_dir is said now, not after the fit
        root = data if isinstance(data, (str, Path)) else getattr(data, "root", None)
        extras = {"dataset_root": str(Path(root).resolve())} if root is not None else {}
        base = detector_config or DetectorConfig()
        dcfg = dataclasses.replace(base, cues=cues, score=score).check()  # None: default_score(cues)
        trained, rank = {}, 0
        for c in cues:
            if CUES[c].trained_first:
                trained[c], rank = _train_first(CUES[c], videos, Path(out_dir), config, dcfg.settings(c), device,
                                                {**extras, **train_kw.pop("extras", {})}, log, train_kw)  # fmt: skip
        if rank != 0 or not calibrate:
            return None
        det = Detector.fit(videos, dcfg, log=log, **trained)
        det.meta["dataset_root"] = extras.get("dataset_root")
        det.meta["footage_fingerprint"] = footage_fingerprint(videos)  # what `train --resume` compares
        det.save(out_dir)
        return det


def _same_footage(detector_json: Path, videos) -> None:
    """Refuse (``ConfigError``) to resume a run without an autoencoder on other footage than it was fitted on, as
    the autoencoder's own resume refuses other data: ``--resume`` continues a run, it does not retarget it."""
    import json

    from .training import footage_fingerprint

    if not detector_json.is_file():
        return
    try:
        meta = json.loads(detector_json.read_text()).get("meta") or {}
    except ValueError:
        meta = {}
    if meta.get("footage_fingerprint") != footage_fingerprint(videos):
        raise ConfigError(
            f"{detector_json}: the training data differ from those this detector was fitted on (or were not "
            "recorded): --resume continues a run on its own data; pass --overwrite to fit it anew"
        )


def _train_first(cls, videos, out_dir: Path, config, settings, device, extras, log, train_kw):
    """``(cue, rank)``: a cue trained before the detector's fit, in the process group ``torchrun`` set up."""
    from .training import dist_info, init_distributed

    dev = init_distributed(None if device is None else str(device))
    try:
        cue = cls.train(videos, out_dir, config, settings=settings, device=dev, extras=extras, log=log, **train_kw)
        rank, _ = dist_info()
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return cue, rank


def calibrate(
    run: str | Path,
    *,
    data=None,
    detector_config: DetectorConfig | None = None,
    cues=None,
    score: str | None = None,
    device=None,
    log=lambda *_: None,
) -> Detector:
    """(Re)fit the cues' calibration of a run folder on its held-out normal frames and save the detector there.

    ``run``: a detector folder, a run folder with ``checkpoint/``, or an autoencoder checkpoint folder; ``data``:
    the training data (default: the dataset recorded at training); ``cues``: default the detector's own (or, for
    a bare run, every cue that has a trained state there plus the default cues)."""
    from .cues import CUES, DEFAULT_CUES
    from .device import apply_thread_policy
    from .training import footage_fingerprint

    apply_thread_policy()
    run = Path(run)
    old = previous_doc(run, log)  # the detector already there: only its settings are read (arrays may be damaged)
    given = len(((old or {}).get("meta") or {}).get("feedback") or [])
    if given:  # refitted from the training footage alone: say what goes, never silently
        log(f"calibrate: feedback on {plural(given, 'event')} marked normal is not kept (refitted from the "
            "training footage): give it again with `video-anomaly feedback`")  # fmt: skip
    if old is None and (run / "checkpoint.json").is_file():
        run = run.parent
    check_writable_folder(run)  # a read-only run is said before the fit, not after it
    old_cfg = DetectorConfig.from_dict(old["config"]) if old else None
    found = {c: cls.find_trained(run, old, device=device) for c, cls in CUES.items() if cls.trained_first}
    found = {c: cue for c, cue in found.items() if cue is not None}
    if cues is None:
        cues = tuple(old_cfg.cues) if old_cfg else (*found, *(c for c in DEFAULT_CUES if c not in found))
    base = detector_config or old_cfg or DetectorConfig()
    if score is None and old_cfg is not None and old_cfg.score in _scores_for(cues):
        score = old_cfg.score
    dcfg = dataclasses.replace(base, cues=tuple(cues), score=score).check()  # None: default_score(cues)
    missing = [c for c in dcfg.cues if CUES[c].trained_first and c not in found]
    if missing:
        raise CheckpointError(run, f"the {', '.join(missing)} cue needs its training run first (video-anomaly train)")
    root = data or ((old.get("meta") or {}).get("dataset_root") if old else None)
    root = root or next((cue.dataset_root for cue in found.values() if getattr(cue, "dataset_root", None)), None)
    if root is None:
        raise CheckpointError(run, "no training data recorded: pass the dataset (--dataset ROOT)")
    trained = {
        c: CUES[c].find_trained(run, old, settings=dcfg.settings(c), device=device) for c in found if c in dcfg.cues
    }
    videos = _videos(root, "train")
    det = Detector.fit(videos, dcfg, log=log, **trained)
    root_path = getattr(root, "root", root)
    det.meta["dataset_root"] = str(Path(root_path).resolve()) if isinstance(root_path, (str, Path)) else None
    det.meta["footage_fingerprint"] = footage_fingerprint(videos)  # what `train --resume` compares
    det.save(run)
    return det


def _scores_for(cues):
    from .scores import scores_for

    return scores_for(cues)


# ------------------------------------------------------------------------------------------------ score


def score(det: Detector, video, name: str | None = None, *, maps: bool = True) -> VideoScores:
    """Score one recording (a ``Video``, a video file or a frame folder) with a named score (default: the
    detector's). Live scores as ``watch`` scores them; ``seed``: the seed's exact protocol. A dataset (or a
    path to one) holding several test videos is refused: ``score_many`` scores them all."""
    from .device import apply_thread_policy

    apply_thread_policy()
    videos = _videos(video, "test")
    if len(videos) != 1:
        raise DataError(
            video if isinstance(video, (str, Path)) else None,
            f"{len(videos)} recordings: score takes one (score_many scores several)",
        )
    return _score_one(det, videos[0], det.score_name(name), maps)


def score_many(det: Detector, videos, name: str | None = None, *, maps: bool = False) -> list[VideoScores]:
    """Score every recording of ``videos`` (a dataset or its path: its test videos; a list of videos/paths)."""
    from .device import apply_thread_policy

    apply_thread_policy()
    items = [v for x in ([videos] if isinstance(videos, (str, Path)) else videos) for v in _videos(x, "test")]
    return [_score_one(det, v, det.score_name(name), maps) for v in items]


def _score_one(det: Detector, v, name: str, maps: bool) -> VideoScores:
    if spec(name).protocol == "exact":
        return _seed_scores(det, v)
    try:
        vs = det.score_video(v.source.iter_frames(None), score=name, name=v.name, maps=maps)
    except DataError as exc:  # a problem of this video: name it
        if exc.path is not None:
            raise
        raise DataError(getattr(v.source, "path", v.name), exc.problem) from None
    for msg in vs.warnings:  # the guard: footage that does not fit this detector
        warnings.warn(f"{v.name}: {msg}", UserWarning, stacklevel=3)
    return vs


def _seed_scores(det: Detector, video) -> VideoScores:
    """The seed's exact protocol (every 10-frame window, whole video) on the detector's autoencoder."""
    from .scoring import seed_score_video

    need = spec("seed").cues
    ae = next((det.cues[c] for c in need if c in det.cues), None)
    if ae is None:
        raise ConfigError(f"the seed score needs the autoencoder; this detector has only {', '.join(det.cues)}")
    vs = seed_score_video(ae.model, video, ae.size, clip_length=ae.clip_length, device=ae.device)
    raw, sa = vs.frame_scores, vs.frame_sa
    n = len(raw)
    shape = tuple(np.asarray(next(iter(video.source.iter_frames(None)))).shape[:2])
    return VideoScores(video.name, "seed", float("nan"), sa, raw, np.ones(n, bool), None, [None] * n, shape)


# ------------------------------------------------------------------------------------------------ evaluate


def evaluate(det: Detector, data, out_dir: str | Path, score=None, *, figures: bool = True, progress: bool = True,
             videos: list[str] | None = None):  # fmt: skip
    """Score the labelled test videos of ``data`` and write ``evaluation.json/.md`` (frame-level micro and macro
    AUC/EER with and without per-video normalisation, pixel-level AUC, RBDC/TBDC) and figures.

    ``score``: a name (default: the detector's) -> its results dict, written into ``out_dir``; a list of names,
    or ``"all"`` (every score the detector has, and ``seed`` where it has the autoencoder) -> ``{name: results}``,
    each written into ``out_dir/name``, the cues run once for all of them."""
    from .device import apply_thread_policy
    from .evaluation import evaluate_many

    apply_thread_policy()
    test = _videos(data, "test")
    if videos:
        known = {v.name: v for v in test}
        missing = [n for n in videos if n not in known]
        if missing:
            raise DataError(None, f"no test videos named {', '.join(missing)}")
        test = [known[n] for n in videos]
    if score is None or (isinstance(score, str) and score != "all"):
        name = det.score_name(score)
        spec(name)
        return evaluate_many(det, test, {name: out_dir}, figures=figures, progress=progress)[name]
    if score == "all":
        seed = spec("seed").cues
        score = [n for n in _scores_for(det.cues) if n in det.thresholds] + (
            ["seed"] if set(seed) <= set(det.cues) else []
        )
    names = [spec(n).name for n in score]
    return evaluate_many(det, test, {n: Path(out_dir) / n for n in names}, figures=figures, progress=progress)


# ------------------------------------------------------------------------------------------------ watch


def watch(det: Detector, source, *, score: str | None = None, threshold: float | None = None, emit=None,
          overlay=None, overwrite: bool = False, end_after: int = 5, min_length: int = 3, source_kw=None,
          on_warning=None, **run_kw):  # fmt: skip
    """Score a live source (``sources.open_live_source``: a camera index, a stream URL, a file; or a source
    already open) until it ends, as ``video-anomaly watch`` does. ``emit(msg)`` receives every event message
    (dict); ``overlay``: an MP4 path for the annotated video, written under a temporary name and renamed into place
    when the run ends (an existing file is replaced only with ``overwrite``; a write failure of the overlay lets
    the run go on and is said in ``stats.overlay_error``); ``run_kw``: ``runner.run_source``'s options.
    ``on_warning(line)`` hears the guard (footage that does not fit the detector); events are per object (the
    session keeps its region maps for the tracker). Returns ``(session, source, tracker, stats)``."""
    import os

    from .device import apply_thread_policy
    from .errors import os_reason
    from .events import EventTracker
    from .outputs import check_output_file
    from .overlay import OverlayWriter
    from .runner import run_source
    from .sources import open_live_source

    apply_thread_policy()
    final = None if not overlay else check_output_file(overlay, overwrite, "--overlay")
    session = det.session(score, threshold=threshold, keep_maps=True, on_warning=on_warning)
    if isinstance(source, (str, int, Path)):
        source = open_live_source(str(source), **(source_kw or {}))
    session.fps = source.fps if source.timed else None  # the guard compares the source's own rate only
    tracker = EventTracker(
        session.threshold, fps=source.fps, end_after=end_after, min_length=min_length, source=source.name
    )
    # A kill leaves no unplayable file under the overlay's name, and an earlier file is replaced only at the end.
    tmp = None if final is None else final.with_name(f".{final.name}.partial.mp4")
    writer = None
    if tmp is not None:
        writer = OverlayWriter(tmp, source.fps, session.threshold, scale=2.0 * max(session.threshold, 1e-6))
    stats = None
    try:
        stats = run_source(session, source, tracker=tracker, emit=emit or (lambda _m: None), overlay=writer, **run_kw)
    finally:
        if writer is not None:
            try:
                writer.close()
                if stats is not None and not stats.overlay_error and tmp.exists():
                    os.replace(tmp, final)
            except OSError as exc:
                if stats is None:
                    raise
                stats.overlay_error = os_reason(exc)
            finally:
                tmp.unlink(missing_ok=True)
    return session, source, tracker, stats


# ------------------------------------------------------------------------------------------------ feedback


def feedback(det: Detector, run, event_id: str, *, normal: bool = True, out: str | Path | None = None) -> dict:
    """Mark event ``event_id`` (``STEM:ID``, or ``ID`` when ``run`` holds one recording) of a ``score --out``
    folder ``run`` as normal footage: the cues that can learn take its object's regions, the thresholds are
    refitted, and the detector is saved (into its own folder, or ``out``; a shipped detector is never changed in
    place). Returns what was added (also recorded in ``meta["feedback"]``); an event learnt already is not learnt
    again (the record returned is the earlier one, with ``"skipped"`` saying so). See ``video_anomaly.feedback``.

    Feedback on one detector folder is serialised (``manifest.locked``) and applied to the detector as saved
    there when the lock is taken (``out`` holding one: that one), so two at once both count."""
    from . import manifest, weights
    from .feedback import check_recording, find_event, learnt_before, mark_normal, regions_of

    if not normal:
        raise ConfigError("feedback: only --normal is supported (an event the detector should not raise)")
    rec, ev, rec_file = find_event(run, event_id)
    recording = check_recording(rec, rec_file)
    target = Path(out) if out is not None else det.path
    shipped = {weights.folder(n).resolve() for n in weights.MODELS}
    if target is None or Path(target).resolve() in shipped:
        raise ConfigError(
            "feedback changes the detector: a shipped detector is not changed in place; give --out FOLDER "
            "for the corrected copy"
        )
    stem = rec_file.name[: -len(".scores.json")]
    start, end = int(ev["start_frame"]), int(ev["end_frame"])
    name, regions = f"{stem}:{ev['id']}", regions_of(ev, rec_file)
    with manifest.locked(Path(target)):
        base = Detector.load(target) if (Path(target) / "detector.json").is_file() else det
        earlier = learnt_before(base, {"event": name, "recording": str(recording.resolve()), "frames": [start, end]})
        if earlier is not None:
            return {**earlier, "skipped": f"{name} was learnt already (at {earlier.get('at')}): detector unchanged"}
        record = mark_normal(base, recording, start, end, event=name, regions=regions)
        base.save(target)
    return record
