"""The runs a ``Detector`` makes (its methods and the public API's functions of the same names call these):
``train`` and ``calibrate`` fit a detector of the class they are given and save it; ``score`` / ``score_many``
score recordings; ``evaluate`` writes every metric of one or more scores; ``feedback`` teaches a detector an
event marked normal. They never import the ``Detector`` class: the class or the detector is an argument."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, ConfigError, DataError, plural
from ..fusion.scores import spec
from ..fusion.session import VideoScores
from ..outputs import check_writable_folder, folder_removed_on_failure
from .config import DetectorConfig


def _videos(data, part: str) -> list:
    """A list of ``Video`` records from a dataset, a dataset path, a list of videos or one video/path."""
    from ..data import load_dataset
    from ..data.records import Video, VideoDataset

    if isinstance(data, VideoDataset):
        return list(getattr(data, part))
    if isinstance(data, Video):
        return [data]
    if isinstance(data, (str, Path)):
        path = Path(data)
        if part == "test" and (path.is_file() or _is_frame_folder(path)):
            from ..data.frames import open_source

            return [Video(path.stem if path.is_file() else path.name, open_source(path))]
        return list(getattr(load_dataset(path), part))
    return list(data)


def _is_frame_folder(path: Path) -> bool:
    from ..data.frames import list_images

    return path.is_dir() and bool(list_images(path, required=False))


def train(
    cls,
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
):
    """``api.train`` for a detector of class ``cls`` (see its docstring): the cues trained first, then fitted,
    calibrated and saved into ``out_dir``."""
    from ..cues import CUES, DEFAULT_CUES
    from ..device import apply_thread_policy
    from ..seed.run_state import footage_fingerprint

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
        det = cls.fit(videos, dcfg, log=log, **trained)
        det.meta["dataset_root"] = extras.get("dataset_root")
        det.meta["footage_fingerprint"] = footage_fingerprint(videos)  # what `train --resume` compares
        det.save(out_dir)
        return det


def _same_footage(detector_json: Path, videos) -> None:
    """Refuse (``ConfigError``) to resume a run without an autoencoder on other footage than it was fitted on, as
    the autoencoder's own resume refuses other data: ``--resume`` continues a run, it does not retarget it."""
    import json

    from ..seed.run_state import footage_fingerprint

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
    from ..seed.run_state import dist_info, init_distributed

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
    cls,
    run: str | Path,
    *,
    data=None,
    detector_config: DetectorConfig | None = None,
    cues=None,
    score: str | None = None,
    device=None,
    log=lambda *_: None,
):
    """``api.calibrate`` for a detector of class ``cls`` (see its docstring): the calibration of a run folder
    refitted on its held-out normal frames, saved there."""
    from ..cues import CUES, DEFAULT_CUES
    from ..device import apply_thread_policy
    from ..seed.run_state import footage_fingerprint
    from .saved import previous_doc

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
    trained = {c: _with_settings(found[c], run, old, dcfg.settings(c), device) for c in found if c in dcfg.cues}
    videos = _videos(root, "train")
    det = cls.fit(videos, dcfg, log=log, **trained)
    root_path = getattr(root, "root", root)
    det.meta["dataset_root"] = str(Path(root_path).resolve()) if isinstance(root_path, (str, Path)) else None
    det.meta["footage_fingerprint"] = footage_fingerprint(videos)  # what `train --resume` compares
    det.save(run)
    return det


def _with_settings(cue, run: Path, old, settings: dict, device):
    """``cue`` (found in ``run``) with ``settings``: itself when it has them already, else loaded again with them
    (a checkpoint is read, checked and built once when the settings stay)."""
    if cue.settings() == dataclasses.asdict(type(cue).config_from(settings)):
        return cue
    return type(cue).find_trained(run, old, settings=settings, device=device)


def _scores_for(cues):
    from ..fusion.scores import scores_for

    return scores_for(cues)


def score(det, video, name: str | None = None, *, maps: bool = True) -> VideoScores:
    """Score one recording (a ``Video``, a video file or a frame folder) with a named score (default: the
    detector's). Live scores as ``watch`` scores them; ``seed``: the seed's exact protocol. A dataset (or a
    path to one) holding several test videos is refused: ``score_many`` scores them all."""
    from ..device import apply_thread_policy

    apply_thread_policy()
    videos = _videos(video, "test")
    if len(videos) != 1:
        raise DataError(
            video if isinstance(video, (str, Path)) else None,
            f"{len(videos)} recordings: score takes one (score_many scores several)",
        )
    return _score_one(det, videos[0], det.score_name(name), maps)


def score_many(det, videos, name: str | None = None, *, maps: bool = False) -> list[VideoScores]:
    """Score every recording of ``videos`` (a dataset or its path: its test videos; a list of videos/paths)."""
    from ..device import apply_thread_policy

    apply_thread_policy()
    items = [v for x in ([videos] if isinstance(videos, (str, Path)) else videos) for v in _videos(x, "test")]
    return [_score_one(det, v, det.score_name(name), maps) for v in items]


def _score_one(det, v, name: str, maps: bool) -> VideoScores:
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


def _seed_scores(det, video) -> VideoScores:
    """The seed's exact protocol (every 10-frame window, whole video) on the detector's autoencoder."""
    from ..seed.scoring import seed_score_video

    need = spec("seed").cues
    ae = next((det.cues[c] for c in need if c in det.cues), None)
    if ae is None:
        raise ConfigError(f"the seed score needs the autoencoder; this detector has only {', '.join(det.cues)}")
    vs = seed_score_video(ae.model, video, ae.size, clip_length=ae.clip_length, device=ae.device)
    raw, sa = vs.frame_scores, vs.frame_sa
    n = len(raw)
    shape = tuple(np.asarray(next(iter(video.source.iter_frames(None)))).shape[:2])
    return VideoScores(video.name, "seed", float("nan"), sa, raw, np.ones(n, bool), None, [None] * n, shape)


def evaluate(det, data, out_dir: str | Path, score=None, *, figures: bool = True, progress: bool = True,
             videos: list[str] | None = None):  # fmt: skip
    """Score the labelled test videos of ``data`` and write ``evaluation.json/.md`` (frame-level micro and macro
    AUC/EER with and without per-video normalisation, pixel-level AUC, RBDC/TBDC) and figures.

    ``score``: a name (default: the detector's) -> its results dict, written into ``out_dir``; a list of names,
    or ``"all"`` (every score the detector has, and ``seed`` where it has the autoencoder) -> ``{name: results}``,
    each written into ``out_dir/name``, the cues run once for all of them."""
    from ..device import apply_thread_policy
    from ..evaluation.evaluate import evaluate_many

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


def feedback(det, run, event_id: str, *, normal: bool = True, out: str | Path | None = None) -> dict:
    """Mark event ``event_id`` (``STEM:ID``, or ``ID`` when ``run`` holds one recording) of a ``score --out``
    folder ``run`` as normal footage: the cues that can learn take its object's regions, the thresholds are
    refitted, and the detector is saved (into its own folder, or ``out``; a shipped detector is never changed in
    place). Returns what was added (also recorded in ``meta["feedback"]``); an event learnt already is not learnt
    again (the record returned is the earlier one, with ``"skipped"`` saying so). See
    ``video_anomaly.fusion.feedback``.

    Feedback on one detector folder is serialised (``manifest.locked``) and applied to the detector as saved
    there when the lock is taken (``out`` holding one: that one), so two at once both count."""
    from .. import weights
    from ..fusion.feedback import check_recording, find_event, regions_of

    if not normal:
        raise ConfigError("feedback: only --normal is supported (an event the detector should not raise)")
    rec, ev, rec_file = find_event(run, event_id)
    if ev.get("kind", "anomaly") != "anomaly":  # a tampered camera's frames are not this camera's normal view
        raise ConfigError(f"event {event_id} is a {ev['kind']} event, not an anomaly: feedback learns anomaly "
                          f"events only ({ev.get('message') or 'fix the camera'})")  # fmt: skip
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
    return learn_normal(det, target, recording, start, end, event=name, regions=regions)


def learn_normal(det, target, recording, start: int, end: int, *, event: str, regions: list | None) -> dict:
    """Frames ``start .. end`` of ``recording`` (the object's ``regions`` track, ``[frame, x0, y0, x1, y1]``;
    None: every region) learnt as normal by the detector saved in ``target`` and saved there: the one path of
    every feedback (``feedback`` above, serve's "mark normal"). Under the folder's lock (``manifest.locked``) the
    detector is read again as saved (``det`` itself when ``target`` holds none yet; ``det`` may be the class), so
    feedbacks at once, from threads or processes, all count; an event learnt already is not learnt again (the
    earlier record returned, with ``"skipped"`` saying so)."""
    from .. import manifest
    from ..fusion.feedback import learnt_before, mark_normal

    target = Path(target)
    with manifest.locked(target):
        cls = det if isinstance(det, type) else type(det)
        base = cls.load(target) if (target / "detector.json").is_file() or det is cls else det
        key = {"event": event, "recording": str(Path(recording).resolve()), "frames": [int(start), int(end)]}
        earlier = learnt_before(base, key)
        if earlier is not None:
            return {**earlier, "skipped": f"{event} was learnt already (at {earlier.get('at')}): detector unchanged"}
        record = mark_normal(base, recording, start, end, event=event, regions=regions)
        base.save(target)
    return record
