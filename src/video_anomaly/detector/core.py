"""The detector: cues fitted on normal footage, calibrated per region, fused, one score per frame, one threshold.

The contract is scikit-learn's / pyod's: fit on normal footage only; a per-frame (and per-region) score whose
higher values mean more abnormal; a threshold fitted on normal frames alone; the same numbers from the API and
the command line. The flow for one frame (live: each frame once, from the past only)::

    frame (H, W) uint8 --cue.stream--> raw region map (per cue, its own grid)
        --calibrate--> (raw - loc) / scale per region (statistics of held-out normal frames)
        --resample--> the common grid (the motion cue's cells when it is used, else the ae patches)
        --fuse--> one map (max or sum over cues)  --top-k mean--> frame value  --EMA--> score
        score > threshold -> alarm; the highest region -> the event's box

Fitting (``fit``): calibration rests on maps the cues give footage they were not fitted on, across videos. The
cues fitted here (motion) are cross-fitted by whole training videos (``folds`` folds; a single video: blocks of
time): each fold is scored by a cue fitted on the other folds, then the shipped cue is fitted on all the footage.
A cue trained first (the autoencoder), too slow to retrain per fold, is scored on the frames its training held
out (the last ``holdout`` of each video). Per cue the region statistics come from those maps; the threshold of
each live score is the conformal quantile of its frame scores on them at ``target_far``
(``calibration.out_of_fold_thresholds``, ``thresholds.py``; chosen over the earlier last-10% hold-out by
``scripts/calibration_study.py``), recorded with what it rests on (``meta["thresholds"]``).

A detector on disk is a folder: ``detector.json`` (settings, calibration meta, thresholds, checksums),
``detector.safetensors`` (each cue's arrays under ``<cue>.``, calibration arrays under ``calibration.<cue>.``)
and any folder a cue's state names (the autoencoder's ``checkpoint/``). The detector never names a cue: it loops
over ``cues.CUES``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ..cues import CUES
from ..cues.base import Cue, uniform_box
from ..errors import CheckpointError, ConfigError, DataError
from ..fusion import calibration as cal
from ..fusion.calibration import far_quantile, fit_region_stats, to_grid
from ..fusion.scores import cues_of, scores_for, spec
from ..fusion.session import CueFeed, FrameScore, LiveSession, VideoScores, fill_warmup, skip_repeats
from ..fusion.thresholds import out_of_fold_maps, video_folds
from .config import FORMAT, MIN_CALIBRATION_FRAMES, VERSION, DetectorConfig

# -------------------------------------------------------------------------------------------- detector


class Detector:
    """Cues, their per-region calibration and the thresholds of the live scores (see the module docstring).

    Build one with ``Detector.train`` (or ``Detector.fit`` on cues already trained), load one with
    ``Detector.load`` (a folder or a shipped name), score with ``score`` / ``score_many`` / ``session`` /
    ``watch``, measure with ``evaluate``; the runs themselves live in ``runs.py``.
    """

    def __init__(
        self,
        config: DetectorConfig,
        cues: dict[str, Cue],
        stats: dict[str, tuple[np.ndarray, np.ndarray]],
        thresholds: dict[str, float],
        *,
        grid: tuple[int, int],
        frame_shape: tuple[int, int] | None,
        meta: dict[str, Any] | None = None,
        path: Path | None = None,
        behaviour: dict | None = None,
    ):
        self.config = config
        self.cues = cues
        self.stats = stats
        self.thresholds = thresholds
        self.grid = tuple(grid)
        self.frame_shape = None if frame_shape is None else tuple(frame_shape)
        self.meta = meta or {}
        self.path = path
        # ``live.behaviour`` models by kind, fitted on the objects cue's tracks (None: no objects cue, or older).
        self.behaviour = behaviour
        # Per live score, the frame scores its threshold was fitted on (feedback refits from them).
        self.calibration_scores: dict[str, np.ndarray] = {}

    # -------------------------------------------------------------- geometry and arithmetic (one frame)
    def score_name(self, score: str | None = None) -> str:
        """``score``, or the detector's default live score when None (written once)."""
        return score or self.config.score

    def threshold(self, score: str | None = None) -> float:
        name = self.score_name(score)
        if name not in self.thresholds:
            raise ConfigError(f"score {name!r} is not calibrated in this detector; it has {', '.join(self.thresholds)}")
        return float(self.thresholds[name])

    def fuse(self, maps: dict[str, np.ndarray], frame_shape=None) -> np.ndarray:
        """Raw per-cue maps -> one calibrated map on the common grid (``calibration.fuse``)."""
        return cal.fuse(maps, self.stats, self.grid, self.config.fusion)

    def frame_value(self, fused: np.ndarray) -> float:
        return cal.frame_value(fused, self.config.topk)

    def region_box(self, fused: np.ndarray, frame_shape) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` in frame pixels of the highest region of ``fused``."""
        r, c = np.unravel_index(int(np.argmax(fused)), fused.shape)
        return uniform_box(int(r), int(c), fused.shape, frame_shape)

    # ------------------------------------------------------------------------------------- scoring
    def session(self, score: str | None = None, **kw) -> LiveSession:
        """A ``LiveSession`` of live score ``score`` (default: the detector's); ``threshold``, ``keep_maps``."""
        name = self.score_name(score)
        if spec(name).protocol != "live":
            from ..fusion.scores import live_scores

            raise ConfigError(
                f"score {name!r} is not a live score (it needs the whole video: use `evaluate` or "
                f"Detector.score); live scores: {', '.join(live_scores())}"
            )
        if name not in scores_for(self.cues):
            raise ConfigError(
                f"score {name!r} needs cues this detector lacks (it has {', '.join(self.cues)}; "
                f"its scores: {', '.join(scores_for(self.cues))})"
            )
        return LiveSession(self, name, **kw)

    def stream(self, frames: Iterable[np.ndarray], score: str | None = None, **kw) -> Iterator[FrameScore | None]:
        """One item per frame: a ``FrameScore`` or None during the warm-up."""
        sess = self.session(score, **kw)
        for i, f in enumerate(frames):
            yield sess.push(f, i)

    def score_video(
        self, frames: Iterable[np.ndarray], *, score: str | None = None, name: str = "video", maps: bool = True
    ) -> VideoScores:
        """Score every frame of a video as ``watch`` would (live); see ``VideoScores``."""
        name_s = self.score_name(score)
        return self.score_video_multi(frames, [name_s], name=name, maps=maps)[name_s]

    def score_video_multi(
        self, frames: Iterable[np.ndarray], scores: Sequence[str], *, name: str = "video", maps: bool = True
    ) -> dict[str, VideoScores]:
        """Several live scores of one video in one pass: each cue runs once, every score reads its maps."""
        from ..data.images import to_gray

        sessions = {n: self.session(n, keep_maps=maps) for n in scores}
        feed = CueFeed({c: self.cues[c] for c in dict.fromkeys(c for s in sessions.values() for c in s.cues)})
        rec: dict[str, list[FrameScore | None]] = {n: [] for n in scores}
        shape = None
        for i, f in enumerate(frames):
            gray = to_gray(f)
            shape = shape or gray.shape[:2]
            cue_maps = feed.step(gray)
            for n, sess in sessions.items():
                sess.see(gray)
                rec[n].append(sess.from_maps(cue_maps, gray, i))
        return {n: self._video_scores(name, sess, rec[n], shape, maps) for n, sess in sessions.items()}

    def _video_scores(self, name: str, sess: LiveSession, got: list, shape, maps: bool) -> VideoScores:
        scored = np.asarray([fs is not None for fs in got], bool)
        if not scored.any():
            raise DataError(
                name,
                f"{len(scored)} frames: too short to score; {sess.score_name!r} needs at least "
                f"{sess.clip_length} frames",
            )
        filled = fill_warmup(got, scored)
        m = np.stack([fs.map for fs in filled]).astype(np.float32) if maps else None
        return VideoScores(
            name,
            sess.score_name,
            sess.threshold,
            np.asarray([fs.score for fs in filled]),
            np.asarray([fs.raw for fs in filled]),
            scored,
            m,
            [None if fs is None else fs.bbox for fs in got],
            tuple(shape),
            list(sess.guard.messages),
        )

    # -------------------------------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls,
        videos: Sequence[Any],
        config: DetectorConfig | None = None,
        *,
        holdout_ranges: Sequence[tuple[int, int]] | None = None,
        progress: bool = False,
        log=lambda *_: None,
        **trained: Cue,
    ) -> Detector:
        """Fit the cues of ``config`` on normal ``videos`` (``Video`` records or ``FrameSource``s) and calibrate.

        ``trained``: cues already trained, by name (a cue whose class is ``trained_first``, e.g. ``ae=AECue(...)``);
        ``holdout_ranges``: per video the ``[start, stop)`` frames held out from fitting (default: those a trained
        cue held out, else the last ``config.holdout`` of each).
        """
        cfg = (config or DetectorConfig()).check()
        sources = [getattr(v, "source", v) for v in videos]
        if not sources:
            raise DataError(None, "no training videos to fit the detector on")
        for c in cfg.cues:
            if c not in trained and CUES[c].trained_first:
                raise ConfigError(f"the {c} cue must be trained first (Detector.train trains it), or leave it out")
        ranges = holdout_ranges_of(videos, cfg, trained, holdout_ranges)
        lengths = [len(src) for src in sources]
        refit = [c for c in cfg.cues if c not in trained]
        parts = video_folds(lengths, cfg.folds) if refit else []
        cues: dict[str, Cue] = {}
        # Per cue its calibration maps as (video, first frame, (n, gh, gw) maps) blocks.
        blocks: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        dropped: dict[str, str] = {}  # cues that said after fitting that they do not work on this footage
        for c in cfg.cues:
            if c in trained:
                cues[c] = trained[c]
                blocks[c] = _held_blocks(trained[c], sources, ranges)
                continue
            cue, maps = _cross_fit_cue(c, cfg, sources, parts, log, progress)
            reason = cue.unusable()
            if reason and len(cfg.cues) > 1:
                log(f"train: the {c} cue is left out: {reason}; the others are kept")
                dropped[c] = reason
                continue
            cues[c] = cue
            blocks[c] = [(p.video, p.start + cue.warmup, m) for p, m in zip(parts, maps)]
        cfg = _without(cfg, dropped)
        frame_shape = tuple(np.asarray(next(iter(sources[0].iter_frames(None)))).shape[:2])
        n_held = {c: int(sum(len(m) for _, _, m in v)) for c, v in blocks.items()}
        log(f"calibrate: calibration frames per cue {n_held}")
        _check_held(n_held, cfg)
        stats = {c: fit_region_stats(np.concatenate([m for _, _, m in v]), cfg.calibration) for c, v in blocks.items()}
        grid = cal.common_grid([cue.grid_shape(frame_shape) for cue in cues.values()])
        infos = cal.out_of_fold_thresholds(
            blocks,
            {n: cues_of(n, cues) for n in scores_for(cues)},
            parts,
            refit,
            n_videos=len(sources),
            stats=stats,
            grid=grid,
            fusion=cfg.fusion,
            topk=cfg.topk,
            ema_alpha=cfg.ema_alpha,
            target_far=cfg.target_far,
        )
        meta = _fit_meta(sources, lengths, ranges, n_held, infos)
        if dropped:
            meta["dropped_cues"] = dropped
        for n, (info, _) in infos.items():
            log(f"calibrate: {n}: {info.line()}")
        thresholds = {n: info.threshold for n, (info, _) in infos.items()}
        det = cls(cfg, cues, stats, thresholds, grid=grid, frame_shape=frame_shape, meta=meta)
        det.behaviour = _fit_behaviour(cues, videos, parts, frame_shape, log)
        det.calibration_scores = {n: sc for n, (_, sc) in infos.items()}
        return det

    # ---------------------------------------------------------------------------------- storage
    def save(self, folder: str | Path) -> Path:
        """Write ``detector.json``, ``detector.safetensors`` and the manifest ``detector.sha256`` of every file of
        the detector (the autoencoder checkpoint's included) into ``folder``, as one atomic step."""

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        cue_meta: dict[str, Any] = {}
        extra_files: list[Path] = []
        for c, cue in self.cues.items():
            meta, arr = cue.state_dict()
            cue_meta[c] = {k: _relative(v, folder) if isinstance(v, Path) else v for k, v in meta.items()}
            arrays |= {f"{c}.{k}": np.ascontiguousarray(v) for k, v in arr.items()}
            extra_files += cue.files()
        for c, (loc, scale) in self.stats.items():
            arrays[f"calibration.{c}.loc"] = np.ascontiguousarray(loc, np.float32)
            arrays[f"calibration.{c}.scale"] = np.ascontiguousarray(scale, np.float32)
        for n, sc in self.calibration_scores.items():
            arrays[f"calibration_scores.{n}"] = np.ascontiguousarray(sc, np.float32)
        from safetensors.numpy import save

        from .. import manifest

        doc = {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config.to_dict(),
            "grid": list(self.grid),
            "frame_shape": None if self.frame_shape is None else list(self.frame_shape),
            "thresholds": self.thresholds,
            "cues": cue_meta,
            "meta": self.meta,
        }
        if self.behaviour:
            from .behaviour import state_dict

            doc["behaviour"], arr = state_dict(self.behaviour)
            arrays |= {f"behaviour.{k}": np.ascontiguousarray(v) for k, v in arr.items()}
        # One integrity unit, saved atomically (manifest.commit): a save killed at any point leaves the old
        # detector or the new one, never a mix or a folder without its manifest.
        files = {
            "detector.safetensors": save(arrays),
            "detector.json": (json.dumps(doc, indent=1) + "\n").encode("utf-8"),
        }
        with manifest.locked(folder):
            manifest.commit(folder, files, [_relative(p, folder) for p in extra_files])
        self.path = folder
        return folder

    @classmethod
    def load(cls, name_or_folder: str | Path, *, device=None) -> Detector:
        """Load a detector folder written by ``save`` (the ``--out`` of ``train``) or a shipped detector by name
        (``ucsd-ped2``); version-1 files load unchanged. Its manifest ``detector.sha256`` is always checked first
        (``saved.read_detector_doc``)."""
        from ..device import apply_thread_policy
        from .saved import read_detector_doc

        apply_thread_policy()
        folder, doc, arrays = read_detector_doc(name_or_folder)
        cfg = DetectorConfig.from_dict(doc["config"])
        cues: dict[str, Cue] = {}
        for c, meta in doc["cues"].items():
            if c not in CUES:
                raise CheckpointError(
                    folder / "detector.json", f"cue {c!r} unknown to this version ({', '.join(CUES)})"
                )
            if doc.get("version", 1) == 1 and doc.get(f"{c}_checkpoint"):  # version 1 kept the folder at the top
                meta = {**meta, "checkpoint": doc[f"{c}_checkpoint"]}
            own = {k[len(c) + 1 :]: v for k, v in arrays.items() if k.startswith(f"{c}.")}
            cues[c] = CUES[c].from_state(meta, own, folder=folder, device=device)
        stats = {c: (arrays[f"calibration.{c}.loc"], arrays[f"calibration.{c}.scale"]) for c in cues}
        det = cls(
            cfg,
            cues,
            stats,
            {k: float(v) for k, v in doc["thresholds"].items()},
            grid=tuple(doc["grid"]),
            frame_shape=None if doc.get("frame_shape") is None else tuple(doc["frame_shape"]),
            meta=doc.get("meta") or {},
            path=folder,
        )
        det.calibration_scores = {k[19:]: v for k, v in arrays.items() if k.startswith("calibration_scores.")}
        if doc.get("behaviour"):  # detectors fitted before the behaviour models have none
            from .behaviour import from_state

            own = {k[10:]: v for k, v in arrays.items() if k.startswith("behaviour.")}
            det.behaviour = from_state(doc["behaviour"], own, folder / "detector.json")
        return det

    def describe(self) -> dict[str, Any]:
        """What a user needs to know about this detector, as printed by ``video-anomaly models``."""
        return {
            "cues": list(self.cues),
            "default_score": self.config.score,
            "thresholds": self.thresholds,
            "cue_settings": {c: cue.settings() for c, cue in self.cues.items()},
            "frame_shape": self.frame_shape,
            "grid": list(self.grid),
            **{k: v for k, v in self.meta.items() if k not in ("holdout_ranges", "tamper")},
        }

    # ------------------------------------------------------------------------ runs (see runs.py)
    @classmethod
    def train(cls, data, out_dir: str | Path, config=None, **kw) -> Detector:
        """``api.train``: train the cues on the normal videos of ``data``, calibrate, save into ``out_dir``."""
        from .runs import train

        return train(cls, data, out_dir, config, **kw)

    @classmethod
    def calibrate_run(cls, run: str | Path, **kw) -> Detector:
        """``api.calibrate``: (re)fit the calibration of a run folder on its held-out normal frames."""
        from .runs import calibrate

        return calibrate(cls, run, **kw)

    def score(self, video, score: str | None = None, *, maps: bool = True) -> VideoScores:
        """``api.score``: one recording (a ``Video``, a video file or a frame folder) with a named score."""
        from .runs import score as run

        return run(self, video, score, maps=maps)

    def score_many(self, videos, score: str | None = None, *, maps: bool = False) -> list[VideoScores]:
        """``api.score_many``: every recording of ``videos`` (a dataset's test videos, a list of files...)."""
        from .runs import score_many

        return score_many(self, videos, score, maps=maps)

    def evaluate(self, data, out_dir: str | Path, score=None, **kw):
        """``api.evaluate``: every metric of one score (or a list of scores) on the labelled test videos."""
        from .runs import evaluate

        return evaluate(self, data, out_dir, score, **kw)

    def feedback(self, run, event_id: str, *, normal: bool = True, out: str | Path | None = None) -> dict:
        """``api.feedback``: event ``event_id`` (``STEM:ID``) of a ``score`` run marked normal; the detector learns
        it, refits its thresholds and is saved (its own folder, or ``out``; never a shipped one in place)."""
        from .runs import feedback

        return feedback(self, run, event_id, normal=normal, out=out)

    def watch(self, source, **kw):
        """``api.watch``: score a live source (a camera, a stream URL, a file) until it ends; events out."""
        from ..live.watch import watch

        return watch(self, source, **kw)

    def score_archive(self, inputs, out: str | Path, **kw):
        """``archive.score_archive``: many recordings in segments on Ray or a process pool, Parquet out, resumable."""
        from ..archive import score_archive

        return score_archive(self, inputs, out, **kw)  # the archive loads its workers' copies with type(self)


def holdout_ranges_of(videos: Sequence[Any], cfg: DetectorConfig, trained: dict[str, Cue], given=None) -> list:
    """Per video the ``[start, stop)`` frames held out for calibration: ``given``, else those a trained cue held
    out from its own training, else the last ``cfg.holdout`` of each video (at least 2 frames)."""
    lengths = [len(getattr(v, "source", v)) for v in videos]
    if given is None:
        given = next((r for r in (trained[c].held_out(videos) for c in cfg.cues if c in trained) if r), None)
    if given is None:
        given = [(n - max(int(round(cfg.holdout * n)), 2), n) for n in lengths]
    return [(max(0, int(a)), min(int(b), n)) for (a, b), n in zip(given, lengths)]


def _fit_meta(sources: list, lengths: list[int], ranges: list, n_held: dict, infos: dict) -> dict[str, Any]:
    """What ``fit`` records beside the arrays: calibration counts, hold-out ranges, thresholds, the footage's frame
    rate and the tamper statistics."""
    from ..fusion.guard import fit_tamper

    fps = [float(getattr(src, "fps", 0) or 0) for src in sources]
    return {
        "calibration_frames": n_held,
        "holdout_ranges": [list(r) for r in ranges],
        "thresholds": {n: info.to_dict() for n, (info, _) in infos.items()},
        # The guard compares a stream's rate with this one (None: the footage had no rate, e.g. frame folders).
        "fps": fps[0] if fps and fps[0] > 0 and all(abs(f - fps[0]) < 1e-3 for f in fps) else None,
        # What the guard's tamper check compares a stream with (contrast, sharpness, background).
        "tamper": fit_tamper([src.iter_frames(None) for src in sources], lengths),
    }


def _fit_behaviour(cues: dict[str, Cue], videos, parts: list, frame_shape, log) -> dict | None:
    """The behaviour models on the tracks an objects cue collected while it was fitted (None without one)."""
    from .behaviour import fit_from_cue

    for cue in cues.values():
        if getattr(cue, "collected", None):
            models = fit_from_cue(cue, list(videos), parts, frame_shape)
            if models is not None:
                n = sum(len(v) for v in models["lingering"].stays.values())
                clock = "with" if models["time_of_day"].exposure else "without"
                log(
                    f"behaviour: dwell, direction and time of day fitted on {n} stays of tracked objects, {clock} "
                    "the footage's times"
                )
                return models
    return None


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when it lies inside it (so the folder can be moved), else absolute."""
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(Path(path).resolve())


def held_out_maps(cues: dict[str, Cue], sources: list, ranges: list[tuple[int, int]]) -> dict[str, list]:
    """Per cue, per held-out range, its raw maps ``(n, gh, gw)``: each range streamed from early enough that its
    first frame already has a map."""
    held: dict[str, list[np.ndarray]] = {c: [] for c in cues}
    for s, (a, b) in zip(sources, ranges):
        if b <= a:
            continue
        for c, cue in cues.items():
            start = max(0, a - cue.warmup)
            ms = list(cue.stream(skip_repeats(islice(s.iter_frames(None), start, b))))[a - start :]
            ms = [m for m in ms if m is not None]
            if ms:
                held[c].append(np.stack(ms).astype(np.float32))
    return held


def _alike(name: str, cue: Cue) -> Cue:
    """A fresh cue of ``cue``'s settings, with a cell size it measured on the footage (``cell="auto"``) fixed, so
    that every fold's maps share its grid."""
    from dataclasses import fields

    config = cue.config
    if (
        "cell" in {f.name for f in fields(config)}
        and config.cell == "auto"
        and isinstance(getattr(cue, "cell", None), int)
    ):
        config = replace(config, cell=cue.cell)
    return CUES[name](config)


def _held_blocks(cue: Cue, sources: list, ranges: list[tuple[int, int]]) -> list[tuple[int, int, np.ndarray]]:
    """A trained cue's maps of the frames its training held out: ``(video, first frame, (n, gh, gw))`` per range,
    each streamed from early enough that its first frame already has a map."""
    out = []
    for vi, (s, (a, b)) in enumerate(zip(sources, ranges)):
        if b <= a:
            continue
        start = max(0, a - cue.warmup)
        ms = list(cue.stream(islice(s.iter_frames(None), start, b)))[a - start :]
        first = a + next((i for i, m in enumerate(ms) if m is not None), len(ms))
        ms = [m for m in ms if m is not None]
        if ms:
            out.append((vi, first, np.stack(ms).astype(np.float32)))
    return out


def _cross_fit_cue(c: str, cfg, sources: list, parts: list, log, progress: bool) -> tuple[Cue, list[np.ndarray]]:
    """Cue ``c`` (fitted here, not trained first) cross-fitted by whole videos in the folds of ``parts``, then
    fitted on all the footage; returns it and its out-of-fold maps, one ``(n, gh, gw)`` per part."""
    log(f"calibrate: {c} cue cross-fitted on {len(parts)} parts of {len(sources)} videos in "
        f"{len({p.fold for p in parts})} folds, then fitted on all {sum(len(s) for s in sources)} frames")  # fmt: skip
    cue = CUES[c](CUES[c].config_from(cfg.settings(c)))
    if hasattr(cue, "cross_fit"):  # one pass over the footage gives the same maps and fit
        frames = [islice(sources[p.video].iter_frames(None), p.start, p.stop) for p in parts]
        return cue, cue.cross_fit(frames, [p.fold for p in parts])
    cue.fit([src.iter_frames(None) for src in sources], progress=progress)
    return cue, out_of_fold_maps(lambda: _alike(c, cue), sources, parts, progress=log)


def _without(cfg: DetectorConfig, dropped: dict[str, str]) -> DetectorConfig:
    """``cfg`` without the ``dropped`` cues; its score the default of the cues kept when it was the default of all
    (or reads a cue dropped)."""
    if not dropped:
        return cfg
    from ..fusion.scores import default_score

    kept = tuple(c for c in cfg.cues if c not in dropped)
    score = cfg.score
    if score == default_score(cfg.cues) or score in dropped or score not in scores_for(kept):
        score = default_score(kept)
    settings = {c: v for c, v in cfg.cue_settings.items() if c not in dropped}
    return replace(cfg, cues=kept, score=score, cue_settings=settings).check()


def _check_held(n_held: dict[str, int], cfg: DetectorConfig) -> None:
    if min(n_held.values(), default=0) < 2:
        raise DataError(
            None,
            f"calibration needs frames the cues were not fitted on: got {n_held} (videos too short for the "
            f"hold-out of {cfg.holdout:.0%} or for {cfg.folds} folds?)",
        )
    if min(n_held.values()) < MIN_CALIBRATION_FRAMES:
        warnings.warn(
            f"calibration rests on only {min(n_held.values())} frames (fewer than "
            f"{MIN_CALIBRATION_FRAMES}): the threshold at a {cfg.target_far:.0%} false-alarm rate is rough; "
            "give more normal footage",
            stacklevel=3,
        )


__all__ = ["Detector", "DetectorConfig", "FrameScore", "LiveSession", "VideoScores", "far_quantile", "to_grid"]
