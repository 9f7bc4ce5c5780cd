"""The small public API: train or load a detector, score a video, evaluate. The command line calls these.

>>> from video_anomaly import Detector, load_dataset
>>> det = Detector.load("ucsd-ped2")                        # a shipped detector, no training
>>> data = load_dataset("UCSD_Anomaly_Dataset.v1p2/UCSDped2")
>>> s = det.score(data.test[0])                             # VideoScores: the score the alarms use
>>> s.frame_scores, s.alarms, s.maps                        # per frame; per region
>>> det.evaluate(data, "runs/ped2-eval")                    # AUC (micro/macro), pixel-level, RBDC/TBDC
>>> det = Detector.train("my_normal_videos/", "runs/cam1", cues=("motion",))   # minutes, no GPU

Scores are named in ``scores.SCORES`` (``fused``, ``ae``, ``motion``: live, calibrated; ``seed``: the seed's
exact protocol); every call takes ``score=`` and defaults to the detector's own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from . import detector as _det
from .config import RunConfig
from .errors import CheckpointError, ConfigError, DataError
from .scores import default_score, spec


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


def _holdout_from_checkpoint(extras: dict, videos: list) -> list[tuple[int, int]] | None:
    """The ``[start, stop)`` frames per video that training held out (recorded in the checkpoint), or None."""
    holdout = extras.get("holdout_ranges")
    if not holdout:
        return None
    names = [getattr(v, "name", str(i)) for i, v in enumerate(videos)]
    if isinstance(holdout, dict):
        return [tuple(int(x) for x in holdout.get(n, (len(v), len(v)))) for n, v in zip(names, videos)]
    if len(holdout) != len(videos):
        return None
    return [(int(a), int(b)) for a, b in holdout]


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


class Detector(_det.Detector):
    """A fitted detector (see ``video_anomaly.detector``) with the calls a user needs."""

    # ----------------------------------------------------------------------------------- construction
    @classmethod
    def load(cls, path_or_name: str | Path, *, device=None) -> Detector:
        """Load a detector folder (the ``--out`` of ``train``) or a shipped detector by name (``ucsd-ped2``); its
        checksums are always verified (``detector.sha256``)."""
        folder, hint = resolve(path_or_name)
        if not (folder / "detector.json").is_file() and (folder / "checkpoint.json").is_file():
            raise CheckpointError(
                folder, f"an autoencoder checkpoint, not a detector: fit one with `video-anomaly calibrate {folder}`"
            )
        return super().load(folder, device=device, rebuild_hint=hint)

    @classmethod
    def train(
        cls,
        data,
        out_dir: str | Path,
        config: RunConfig | None = None,
        *,
        cues=("motion",),
        detector_config: _det.DetectorConfig | None = None,
        device=None,
        max_steps: int | None = None,
        resume: bool = False,
        progress: bool = True,
        log=lambda *_: None,
        **train_kw,
    ) -> Detector:
        """Train on the normal (training) videos of ``data`` and write the detector into ``out_dir``.

        With the ``ae`` cue the autoencoder is trained first (``config``: the seed recipe by default; its
        checkpoint goes to ``out_dir/checkpoint``); the motion cue needs no training loop. Then both cues are
        calibrated on the held-out frames and the detector is saved (``detector.json``).
        """
        from .training import train

        videos = _videos(data, "train")
        if not videos:
            raise DataError(data if isinstance(data, (str, Path)) else None, "has no training videos")
        cues = tuple(cues)
        root = data if isinstance(data, (str, Path)) else getattr(data, "root", None)
        extras = {"dataset_root": str(Path(root).resolve())} if root is not None else None
        out_dir = Path(out_dir)
        ae, ckpt, holdout = None, None, None
        if "ae" in cues:
            result = train(
                config or RunConfig(),
                videos,
                out_dir,
                device=device,
                max_steps=max_steps,
                progress=progress,
                extras=extras,
                resume=resume,
                **train_kw,
            )
            ckpt = Path(result.checkpoint)
        dcfg = detector_config or _det.DetectorConfig()
        dcfg = dataclasses.replace(dcfg, cues=cues, score=default_score(cues)).check()
        if "ae" in cues:
            ae, holdout = _ae_cue(ckpt, videos, device, dcfg.ae_patch)
        det = cls.fit(videos, dcfg, ae=ae, holdout_ranges=holdout, log=log)
        det.ae_checkpoint = ckpt
        det.meta["dataset_root"] = None if root is None else str(Path(root).resolve())
        det.save(out_dir)
        return det

    @classmethod
    def calibrate_run(
        cls,
        run: str | Path,
        *,
        data=None,
        detector_config: _det.DetectorConfig | None = None,
        cues=None,
        score: str | None = None,
        device=None,
        log=lambda *_: None,
    ) -> Detector:
        """(Re)fit the cues' calibration of a run folder or autoencoder checkpoint on its held-out normal frames
        and save the detector there. ``data``: the training data (default: the dataset recorded at training)."""
        import json

        from .checkpoint import load_checkpoint

        run = Path(run)
        old = None  # the detector already there: only its settings are read (its arrays may be damaged)
        if (run / "detector.json").is_file():
            try:
                old = json.loads((run / "detector.json").read_text())
            except ValueError:
                old = None
        ckpt = None
        if old and old.get("ae_checkpoint"):
            ckpt = (
                Path(old["ae_checkpoint"]) if Path(old["ae_checkpoint"]).is_absolute() else run / old["ae_checkpoint"]
            )
        if ckpt is None and (run / "checkpoint" / "checkpoint.json").is_file():
            ckpt = run / "checkpoint"
        elif ckpt is None and (run / "checkpoint.json").is_file():
            ckpt, run = run, run.parent
        from .outputs import check_writable_folder

        check_writable_folder(run)  # a read-only run is said before the fit, not after it
        old_cfg = _det.DetectorConfig.from_dict(old["config"]) if old else None
        root = data or ((old.get("meta") or {}).get("dataset_root") if old else None)
        if root is None and ckpt is not None:
            root = load_checkpoint(ckpt, device="cpu")[2].get("dataset_root")
        if root is None:
            raise CheckpointError(run, "no training data recorded: pass the dataset (--dataset ROOT)")
        videos = _videos(root, "train")
        if cues is None:
            cues = tuple(old_cfg.cues) if old_cfg else (("ae", "motion") if ckpt is not None else ("motion",))
        base = detector_config or old_cfg or _det.DetectorConfig()
        if score is None and old_cfg is not None and set(spec(old_cfg.score).cues) <= set(cues):
            score = old_cfg.score
        dcfg = dataclasses.replace(base, cues=tuple(cues), score=score or default_score(cues)).check()
        ae, holdout = (None, None)
        if "ae" in cues:
            if ckpt is None:
                raise CheckpointError(run, "the ae cue needs an autoencoder checkpoint (train one first)")
            ae, holdout = _ae_cue(ckpt, videos, device, dcfg.ae_patch)
        det = cls.fit(videos, dcfg, ae=ae, holdout_ranges=holdout, log=log)
        det.ae_checkpoint = ckpt
        root_path = getattr(root, "root", root)
        det.meta["dataset_root"] = str(Path(root_path).resolve()) if isinstance(root_path, (str, Path)) else None
        from .training import footage_fingerprint

        det.meta["footage_fingerprint"] = footage_fingerprint(videos)  # what `train --resume` compares
        det.save(run)
        return det

    # -------------------------------------------------------------------------------------- use
    def score(self, video, score: str | None = None, *, maps: bool = True) -> _det.VideoScores:
        """Score one video (a ``Video``, a video file or a frame folder) with a named score (default: the
        detector's). Live scores as ``watch`` scores them; ``seed``: the seed's exact protocol."""
        (v,) = _videos(video, "test")[:1] or [None]
        if v is None:
            raise DataError(video if isinstance(video, (str, Path)) else None, "nothing to score")
        name = score or self.config.score
        if spec(name).protocol == "exact":
            return self._seed_scores(v)
        try:
            return self.score_video(v.source.iter_frames(None), score=name, name=v.name, maps=maps)
        except DataError as exc:  # a problem of this video: name it
            if exc.path is not None:
                raise
            raise DataError(getattr(v.source, "path", v.name), exc.problem) from None

    def _seed_scores(self, video) -> _det.VideoScores:
        from .scoring import normalize, score_video

        ae = self.cues.get("ae")
        if ae is None:
            raise ConfigError(f"the seed score needs the autoencoder; this detector has only {', '.join(self.cues)}")
        from .config import ScoreConfig

        vs = score_video(
            ae.model, video, ScoreConfig(), ae.size, clip_length=ae.clip_length, device=ae.device, use_masks=False
        )
        raw = np.asarray(vs.frame_scores, np.float64)
        sa = normalize(raw, "seed")
        n = len(raw)
        shape = tuple(np.asarray(next(iter(video.source.iter_frames(None)))).shape[:2])
        return _det.VideoScores(video.name, "seed", float("nan"), sa, raw, np.ones(n, bool), None, [None] * n, shape)

    def evaluate(self, data, out_dir: str | Path, score=None, *, figures: bool = True, progress: bool = True,
                 videos: list[str] | None = None):  # fmt: skip
        """Score the labelled test videos of ``data`` and write ``evaluation.json/.md`` (frame-level micro and
        macro AUC/EER with and without per-video normalisation, pixel-level AUC, RBDC/TBDC) and figures.

        ``score``: a name (default: the detector's) -> its results dict, written into ``out_dir``; or a list of
        names -> ``{name: results}``, each written into ``out_dir/name``, the cues run once for all of them."""
        from .evaluation import evaluate_many

        test = _videos(data, "test")
        if videos:
            known = {v.name: v for v in test}
            missing = [n for n in videos if n not in known]
            if missing:
                raise DataError(None, f"no test videos named {', '.join(missing)}")
            test = [known[n] for n in videos]
        if score is None or isinstance(score, str):
            name = score or self.config.score
            spec(name)
            return evaluate_many(self, test, {name: out_dir}, figures=figures, progress=progress)[name]
        names = [spec(n).name for n in score]
        return evaluate_many(self, test, {n: Path(out_dir) / n for n in names}, figures=figures, progress=progress)


def _ae_cue(ckpt: Path, videos: list, device, patch: int = 8):
    from .checkpoint import load_checkpoint
    from .cues.ae import AECue
    from .device import pick_device

    dev = pick_device(None if device is None else str(device))
    model, run_config, extras = load_checkpoint(ckpt, device=dev)
    return AECue(model, run_config, patch=patch, device=dev), _holdout_from_checkpoint(extras, videos)


def load_detector(path_or_name, **kw) -> Detector:
    """``Detector.load``."""
    return Detector.load(path_or_name, **kw)
