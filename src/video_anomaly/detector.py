"""The detector: cues fitted on normal footage, calibrated per region, fused, one score per frame, one threshold.

The contract is scikit-learn's / pyod's: fit on normal footage only; a per-frame (and per-region) score whose
higher values mean more abnormal; a threshold fitted on normal frames alone; the same numbers from the API and
the command line. The flow for one frame (live: each frame once, from the past only)::

    frame (H, W) uint8 --cue.stream--> raw region map (per cue, its own grid)
        --calibrate--> (raw - loc) / scale per region (statistics of held-out normal frames)
        --resample--> the common grid (the motion cue's cells when it is used, else the ae patches)
        --fuse--> one map (max or sum over cues)  --top-k mean--> frame value  --EMA--> score
        score > threshold -> alarm; the highest region -> the event's box

Fitting (``fit``): the last ``holdout`` of each training video is held out (the autoencoder's own hold-out when
it was trained by ``train``); the motion cue fits on the rest; both cues score the held-out frames; their
per-region statistics come from those frames, and the threshold of each live score is the ``1 - target_far``
quantile of its frame scores on the same frames, cross-fitted (each half of every held-out range is scored with
statistics of the other half, so the threshold is not set on frames that shaped their own statistics).

A detector on disk is a folder: ``detector.json`` (settings, calibration meta, thresholds, checksums),
``detector.safetensors`` (motion references, calibration arrays) and, with the ae cue, the autoencoder
checkpoint folder it names (``checkpoint/``).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CheckpointError, ConfigError, DataError
from .scores import EMA, SCORES, spec

FORMAT = "video-anomaly-detector"
VERSION = 1
# Fewer held-out frames than this and a threshold at a 1% false-alarm rate rests on a handful of values.
MIN_CALIBRATION_FRAMES = 100


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of a detector (chosen by ``scripts/cue_study.py`` on the synthetic scene and UCSD Ped2; see the
    README for each choice: the motion cue alone ranked first on both, with one divisor for all regions, the
    highest region as the frame value and no smoothing beyond the motion cue's own 5-frame pooling; fusing the
    autoencoder, or calibrating each region on its own, lowered the AUC on both).

    ``cues``: the cues fitted; ``score``: the default live score; ``calibration``: how raw region values become
    "unusual for this place" (``region_q99_floor``: divided by the region's 99th percentile on normal frames,
    floored at the 99th percentile over all regions, so that a region where nothing ever happens does not turn
    noise into alarms; ``global_q99``: one divisor for all regions; ``region_z``: per-region z-score);
    ``fusion``: ``max`` or ``sum`` of the calibrated cue maps; ``topk``: the frame value is the mean of the
    ``topk`` highest regions; ``ema_alpha``: causal smoothing of the frame value; ``target_far``: the share of
    normal frames allowed above the threshold; ``holdout``: share of each training video held out for
    calibration; ``motion``: the motion cue's settings; ``ae_patch``: region side of the ae cue at the model's
    input size.
    """

    cues: tuple[str, ...] = ("motion",)
    score: str = "motion"
    calibration: str = "global_q99"
    fusion: str = "max"
    topk: int = 1
    ema_alpha: float = 1.0
    target_far: float = 0.01
    holdout: float = 0.1
    motion: dict[str, Any] = field(default_factory=lambda: {"cell": 21, "max_side": 240, "preset": "medium"})
    ae_patch: int = 8

    def check(self) -> DetectorConfig:
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {self.calibration!r}")
        if self.fusion not in ("max", "sum"):
            raise ConfigError(f"fusion must be max or sum, got {self.fusion!r}")
        if not 0 < self.target_far < 1:
            raise ConfigError(f"target false-alarm rate must be in (0, 1), got {self.target_far}")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout must be in (0, 1), got {self.holdout}")
        if not 0 < self.ema_alpha <= 1:
            raise ConfigError(f"ema_alpha must be in (0, 1], got {self.ema_alpha}")
        if int(self.topk) < 1:
            raise ConfigError(f"topk must be >= 1, got {self.topk}")
        if set(spec(self.score).cues) - set(self.cues):
            raise ConfigError(f"score {self.score!r} needs the cues {', '.join(spec(self.score).cues)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cues"] = list(self.cues)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectorConfig:
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        if "cues" in d:
            d["cues"] = tuple(d["cues"])
        return cls(**d).check()


# ------------------------------------------------------------------------------------------ calibration

CALIBRATIONS = ("region_q99_floor", "global_q99", "region_z")


def fit_region_stats(maps: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """``(loc, scale)``, each ``(gh, gw)`` float32, from held-out raw maps ``(n, gh, gw)``.

    Calibrated value = ``(raw - loc) / scale``."""
    maps = np.asarray(maps, np.float64)
    if len(maps) == 0:
        raise ConfigError("calibration needs at least one held-out frame")
    g = float(np.quantile(maps, 0.99))
    floor = max(g, 1e-6) if method != "region_z" else 0.0
    if method == "global_q99":
        loc, scale = np.zeros(maps.shape[1:]), np.full(maps.shape[1:], max(g, 1e-6))
    elif method == "region_q99_floor":
        loc, scale = np.zeros(maps.shape[1:]), np.maximum(np.quantile(maps, 0.99, axis=0), floor)
    elif method == "region_z":
        sd = maps.std(axis=0)
        loc, scale = maps.mean(axis=0), np.maximum(sd, max(float(np.median(sd)), 1e-6))
    else:
        raise ConfigError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {method!r}")
    return loc.astype(np.float32), scale.astype(np.float32)


def far_quantile(scores, target_far: float) -> float:
    """Threshold with at most ``target_far`` of ``scores`` strictly above it (the ``1 - far`` quantile); with fewer
    than ``1 / target_far`` scores it is the largest score (the estimate cannot resolve so rare a rate)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if s.size == 0:
        raise ConfigError("no calibration scores")
    k = math.ceil((1.0 - target_far) * s.size) - 1
    return float(s[min(max(k, 0), s.size - 1)])


def to_grid(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample a region map to ``shape`` by area averaging (each target region the mean of what it covers)."""
    if m.shape == tuple(shape):
        return m
    import cv2

    return cv2.resize(np.ascontiguousarray(m, np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------------------------------------- scores


@dataclass
class FrameScore:
    """The verdict on one frame: ``index`` (source frame index), ``raw`` (frame value before smoothing),
    ``score`` (smoothed, the alarm's units), ``alarm`` (``score > threshold``), ``bbox`` ``(x0, y0, x1, y1)`` of the
    highest region in frame pixels, ``map`` ``(gh, gw)`` calibrated fused region scores, ``frame`` the grayscale
    frame (a reference)."""

    index: int
    raw: float
    score: float
    alarm: bool
    bbox: tuple[int, int, int, int]
    map: np.ndarray | None = None
    frame: np.ndarray | None = None


@dataclass
class VideoScores:
    """A whole video scored by a live score. Arrays are aligned to frame index.

    ``frame_scores`` (N,): the smoothed score (the alarm's units); frames of the warm-up (before every cue has a
    map: the autoencoder needs ``T - 1`` frames, the motion cue one) take the first real score, and ``scored``
    says which frames were scored; ``raw``: before smoothing; ``alarms``: ``frame_scores > threshold`` on scored
    frames; ``maps`` (N, gh, gw) float32 calibrated fused region scores (warm-up frames copy the first map);
    ``frame_sr``: ``1 - minmax(frame_scores)`` over the video, for regularity plots only.
    """

    name: str
    score: str
    threshold: float
    frame_scores: np.ndarray
    raw: np.ndarray
    scored: np.ndarray
    maps: np.ndarray | None
    boxes: list
    frame_shape: tuple[int, int]

    @property
    def n_frames(self) -> int:
        return len(self.frame_scores)

    @property
    def alarms(self) -> np.ndarray:
        return self.scored & (self.frame_scores > self.threshold)

    @property
    def frame_sr(self) -> np.ndarray:
        s = self.frame_scores
        lo, hi = float(np.min(s)), float(np.max(s))
        return 1.0 - (s - lo) / ((hi - lo) or 1.0)


class _Slot:
    """A one-frame feed: each cue stream reads exactly one frame per map it yields."""

    def __init__(self):
        self.item = None

    def __iter__(self):
        return self

    def __next__(self):
        if self.item is None:
            raise StopIteration
        x, self.item = self.item, None
        return x


class _CueFeed:
    """Runs the streams of ``cues`` of a detector side by side, one frame at a time."""

    def __init__(self, detector: Detector, cues: Sequence[str]):
        self._slots = {c: _Slot() for c in cues}
        self._streams = {c: iter(detector.cues[c].stream(self._slots[c])) for c in cues}

    def step(self, gray: np.ndarray) -> dict[str, np.ndarray | None]:
        """Each cue's raw map of the next frame (None while the cue warms up)."""
        out = {}
        for c, slot in self._slots.items():
            slot.item = gray
            out[c] = next(self._streams[c])
        return out


class LiveSession:
    """Frames in one at a time, a ``FrameScore`` out once every cue of the score has a map (else None).

    ``push(frame, index)``: a gap in ``index`` (dropped frames) restarts the cues' streams, never a window across
    it; the smoothed score survives the gap. A repeat of the previous frame (``sources.is_repeat``: 10 fps content
    delivered at 30 fps) is skipped here, once for every cue, and keeps the previous verdict, so such a delivery
    scores like the original. ``clip_length``: frames needed before the first score.
    """

    def __init__(self, detector: Detector, score: str, *, threshold: float | None = None, keep_maps: bool = False):
        self.det = detector
        self.frame_shape = detector.frame_shape  # the fitted (H, W): runner.FrameFitter brings frames to it
        self.score_name = score
        self.cues = spec(score).cues
        self.threshold = detector.threshold(score) if threshold is None else float(threshold)
        self.keep_maps = keep_maps
        self.ema = EMA(detector.config.ema_alpha)
        self.clip_length = 1 + max(detector.cues[c].warmup for c in self.cues)
        self._next_index: int | None = None
        self._start()

    def _start(self) -> None:
        self._feed = _CueFeed(self.det, self.cues)
        self._previous: np.ndarray | None = None  # the last frame the cues saw
        self._last: FrameScore | None = None

    def reset(self, keep_score: bool = True) -> None:
        self._start()
        if not keep_score:
            self.ema.reset()

    def push(self, frame: np.ndarray, index: int | None = None) -> FrameScore | None:
        from .sources import is_repeat, to_gray

        gray = to_gray(frame)
        if index is None:
            index = 0 if self._next_index is None else self._next_index
        elif self._next_index is not None and index != self._next_index:
            self.reset()
        self._next_index = index + 1
        if is_repeat(self._previous, gray):
            return None if self._last is None else replace(self._last, index=index)
        self._previous = gray
        self._last = self.from_maps(self._feed.step(gray), gray, index)
        return self._last

    def from_maps(self, maps: dict[str, np.ndarray | None], gray: np.ndarray, index: int) -> FrameScore | None:
        """The verdict on one frame from its raw cue maps (None while a cue warms up)."""
        maps = {c: maps[c] for c in self.cues}
        if any(m is None for m in maps.values()):
            return None
        fused = self.det.fuse(maps, gray.shape)
        raw = self.det.frame_value(fused)
        score = self.ema.update(raw)
        if not math.isfinite(score):
            raise DataError(None, f"non-finite score at frame {index} (check the input for NaN/inf)")
        bbox = self.det.region_box(fused, gray.shape)
        return FrameScore(index, raw, score, score > self.threshold, bbox, fused if self.keep_maps else None, gray)


# -------------------------------------------------------------------------------------------- detector


class Detector:
    """Cues, their per-region calibration and the thresholds of the live scores (see the module docstring).

    Build one with ``Detector.fit`` (or ``api.Detector.train``), load one with ``Detector.load`` (a folder or a
    shipped name), score with ``score_video`` / ``stream`` / ``session``.
    """

    def __init__(
        self,
        config: DetectorConfig,
        cues: dict[str, Any],
        stats: dict[str, tuple[np.ndarray, np.ndarray]],
        thresholds: dict[str, float],
        *,
        grid: tuple[int, int],
        frame_shape: tuple[int, int] | None,
        meta: dict[str, Any] | None = None,
        ae_checkpoint: Path | None = None,
        path: Path | None = None,
    ):
        self.config = config
        self.cues = cues
        self.stats = stats
        self.thresholds = thresholds
        self.grid = tuple(grid)
        self.frame_shape = None if frame_shape is None else tuple(frame_shape)
        self.meta = meta or {}
        self.ae_checkpoint = ae_checkpoint
        self.path = path

    # -------------------------------------------------------------- geometry and arithmetic (one frame)
    def threshold(self, score: str | None = None) -> float:
        name = score or self.config.score
        if name not in self.thresholds:
            raise ConfigError(f"score {name!r} is not calibrated in this detector; it has {', '.join(self.thresholds)}")
        return float(self.thresholds[name])

    def fuse(self, maps: dict[str, np.ndarray], frame_shape) -> np.ndarray:
        """Raw per-cue maps -> one calibrated map on the common grid."""
        out = None
        for c, m in maps.items():
            loc, scale = self.stats[c]
            z = to_grid((np.asarray(m, np.float32) - loc) / scale, self.grid)
            if out is None:
                out = z
            elif self.config.fusion == "max":
                out = np.maximum(out, z)
            else:
                out = out + z
        return out

    def frame_value(self, fused: np.ndarray) -> float:
        flat = fused.ravel()
        k = min(int(self.config.topk), flat.size)
        if k == 1:
            return float(flat.max())
        return float(np.partition(flat, flat.size - k)[-k:].mean())

    def region_box(self, fused: np.ndarray, frame_shape) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` in frame pixels of the highest region of ``fused``."""
        r, c = np.unravel_index(int(np.argmax(fused)), fused.shape)
        h, w = frame_shape[:2]
        gh, gw = fused.shape
        return (int(c * w / gw), int(r * h / gh), int(round((c + 1) * w / gw)), int(round((r + 1) * h / gh)))

    # ------------------------------------------------------------------------------------- scoring
    def session(self, score: str | None = None, **kw) -> LiveSession:
        name = score or self.config.score
        s = spec(name)
        if s.protocol != "live":
            raise ConfigError(
                f"score {name!r} is not a live score; live scores: "
                f"{', '.join(n for n in SCORES if SCORES[n].protocol == 'live')}"
            )
        missing = [c for c in s.cues if c not in self.cues]
        if missing:
            raise ConfigError(
                f"score {name!r} needs the cue(s) {', '.join(missing)}, which this detector lacks "
                f"(it has {', '.join(self.cues)})"
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
        name_s = score or self.config.score
        return self.score_video_multi(frames, [name_s], name=name, maps=maps)[name_s]

    def score_video_multi(
        self, frames: Iterable[np.ndarray], scores: Sequence[str], *, name: str = "video", maps: bool = True
    ) -> dict[str, VideoScores]:
        """Several live scores of one video in one pass: each cue runs once, every score reads its maps."""
        from .sources import to_gray

        sessions = {n: self.session(n, keep_maps=maps) for n in scores}
        feed = _CueFeed(self, list(dict.fromkeys(c for sess in sessions.values() for c in sess.cues)))
        rec = {n: ([], [], [], [], []) for n in scores}
        shape = None
        for i, f in enumerate(frames):
            gray = to_gray(f)
            shape = shape or gray.shape[:2]
            cue_maps = feed.step(gray)
            for n, sess in sessions.items():
                fs = sess.from_maps(cue_maps, gray, i)
                got, sc, rw, bx, mp = rec[n]
                got.append(fs is not None)
                sc.append(np.nan if fs is None else fs.score)
                rw.append(np.nan if fs is None else fs.raw)
                bx.append(None if fs is None else fs.bbox)
                if maps:
                    mp.append(None if fs is None else fs.map)
        out = {}
        for n, sess in sessions.items():
            got, sc, rw, bx, mp = rec[n]
            scored = np.asarray(got, bool)
            if not scored.any():
                raise DataError(
                    name, f"{len(scored)} frames: too short to score; {n!r} needs at least {sess.clip_length} frames"
                )
            first = int(np.argmax(scored))
            s_, r_ = np.asarray(sc), np.asarray(rw)
            s_[:first], r_[:first] = s_[first], r_[first]
            m = None
            if maps:
                mp[:first] = [mp[first]] * first
                m = np.stack(mp).astype(np.float32)
            out[n] = VideoScores(name, n, sess.threshold, s_, r_, scored, m, bx, tuple(shape))
        return out

    # -------------------------------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls,
        videos: Sequence[Any],
        config: DetectorConfig | None = None,
        *,
        ae=None,
        holdout_ranges: Sequence[tuple[int, int]] | None = None,
        progress: bool = False,
        log=lambda *_: None,
    ) -> Detector:
        """Fit the cues of ``config`` on normal ``videos`` (``Video`` records or ``FrameSource``s) and calibrate.

        ``ae``: an ``AECue`` (a trained autoencoder), needed when ``"ae"`` is among the cues; ``holdout_ranges``:
        per video the ``[start, stop)`` frames held out from fitting (default: the last ``config.holdout``).
        """
        from .cues.motion import MotionCue
        from .sources import skip_repeats

        cfg = (config or DetectorConfig()).check()
        sources = [getattr(v, "source", v) for v in videos]
        if not sources:
            raise DataError(None, "no training videos to fit the detector on")
        lengths = [len(s) for s in sources]
        if holdout_ranges is None:
            holdout_ranges = [(n - max(int(round(cfg.holdout * n)), 2), n) for n in lengths]
        ranges = [(max(0, int(a)), min(int(b), n)) for (a, b), n in zip(holdout_ranges, lengths)]
        cues: dict[str, Any] = {}
        if "ae" in cfg.cues:
            if ae is None:
                raise ConfigError("the ae cue needs a trained autoencoder (train one, or use --cues motion)")
            cues["ae"] = ae
        if "motion" in cfg.cues:
            motion = MotionCue(**cfg.motion)
            log(f"fit: motion cue on {sum(a for a, _ in ranges)} frames of {len(sources)} videos")
            # Repeated frames are skipped in fitting as in the live session (a 30 fps delivery of 10 fps content).
            fit_frames = [skip_repeats(islice(s.iter_frames(None), 0, a)) for s, (a, _) in zip(sources, ranges)]
            motion.fit(fit_frames, progress=progress)
            cues["motion"] = motion
        if "motion" in cues:
            frame_shape = tuple(cues["motion"].frame_shape)
        else:
            frame_shape = tuple(np.asarray(next(iter(sources[0].iter_frames(None)))).shape[:2])
        # Held-out maps, each range streamed from early enough that its first frame already has a map.
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
        n_held = {c: int(sum(len(m) for m in v)) for c, v in held.items()}
        log(f"calibrate: held-out frames per cue {n_held}")
        if min(n_held.values(), default=0) < 2:
            raise DataError(
                None,
                f"calibration needs held-out frames: got {n_held} (videos too short for the "
                f"hold-out of {cfg.holdout:.0%}?)",
            )
        if min(n_held.values()) < MIN_CALIBRATION_FRAMES:
            warnings.warn(
                f"calibration rests on only {min(n_held.values())} held-out frames (fewer than "
                f"{MIN_CALIBRATION_FRAMES}): the threshold at a {cfg.target_far:.0%} false-alarm rate is rough; "
                "give more normal footage",
                stacklevel=2,
            )
        stats = {c: fit_region_stats(np.concatenate(v), cfg.calibration) for c, v in held.items()}
        grid = cues["motion"].grid_shape(frame_shape) if "motion" in cues else cues["ae"].grid_shape()
        det = cls(cfg, cues, stats, {}, grid=grid, frame_shape=frame_shape)
        det.thresholds = det._cross_fitted_thresholds(held)
        det.meta = {"calibration_frames": n_held, "holdout_ranges": [list(r) for r in ranges]}
        return det

    def _cross_fitted_thresholds(self, held: dict[str, list[np.ndarray]]) -> dict[str, float]:
        """Per live score the ``1 - target_far`` quantile of its frame scores on held-out frames, each half of a
        range scored with region statistics fitted on the other halves."""
        cues = list(held)
        n_ranges = len(held[cues[0]])
        halves = {c: [(m[: len(m) // 2], m[len(m) // 2 :]) for m in held[c]] for c in cues}
        fold_stats = []
        for k in (0, 1):
            st = {}
            for c in cues:
                other = np.concatenate([h[1 - k] for h in halves[c]])
                st[c] = fit_region_stats(other, self.config.calibration) if len(other) >= 2 else self.stats[c]
            fold_stats.append(st)
        fold_dets = [replace_stats(self, st) for st in fold_stats]
        out = {}
        for name in SCORES:
            s = SCORES[name]
            if s.protocol != "live" or set(s.cues) - set(cues):
                continue
            values = []
            for i in range(n_ranges):
                n = min(len(held[c][i]) for c in s.cues)
                seq = []
                for t in range(n):
                    det = fold_dets[0 if t < n // 2 else 1]
                    maps = {c: held[c][i][len(held[c][i]) - n + t] for c in s.cues}
                    seq.append(det.frame_value(det.fuse(maps, None)))
                values.append(EMA(self.config.ema_alpha).series(seq))
            out[name] = far_quantile(np.concatenate(values), self.config.target_far)
        return out

    # ---------------------------------------------------------------------------------- storage
    def save(self, folder: str | Path) -> Path:
        """Write ``detector.json``, ``detector.safetensors`` and, last, the manifest ``detector.sha256`` of every
        file of the detector (the autoencoder checkpoint's included) into ``folder``."""

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        cue_meta: dict[str, Any] = {}
        for c, cue in self.cues.items():
            if c == "motion":
                meta, arr = cue.to_state()
                cue_meta[c] = meta
                arrays |= {f"motion.{k}": np.ascontiguousarray(v) for k, v in arr.items()}
            else:
                cue_meta[c] = {"patch": cue.patch, "size": cue.size, "clip_length": cue.clip_length}
        for c, (loc, scale) in self.stats.items():
            arrays[f"calibration.{c}.loc"] = np.ascontiguousarray(loc, np.float32)
            arrays[f"calibration.{c}.scale"] = np.ascontiguousarray(scale, np.float32)
        from safetensors.numpy import save

        from . import manifest

        # One integrity unit: the manifest goes first and comes back last, over every file (the JSON included), so a
        # save killed half-way leaves a folder that `load` refuses as incomplete, never a mix taken for a whole.
        manifest.begin(folder)
        manifest.write_file(folder / "detector.safetensors", save(arrays))
        files = ["detector.json", "detector.safetensors"]
        ae_rel = None
        if self.ae_checkpoint is not None:
            ae_path = Path(self.ae_checkpoint)
            try:
                ae_rel = str(ae_path.resolve().relative_to(folder.resolve()))
            except ValueError:
                ae_rel = str(ae_path.resolve())
            files += [str(Path(ae_rel) / f) for f in ("checkpoint.json", "model.safetensors") if (ae_path / f).exists()]
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config.to_dict(),
            "grid": list(self.grid),
            "frame_shape": None if self.frame_shape is None else list(self.frame_shape),
            "thresholds": self.thresholds,
            "cues": cue_meta,
            "ae_checkpoint": ae_rel,
            "meta": self.meta,
        }
        manifest.write_file(folder / "detector.json", (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
        manifest.finish(folder, files)
        self.path = folder
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, device=None, rebuild_hint: str | None = None) -> Detector:
        """Load a detector folder written by ``save``. Its manifest is always checked first: a file that changed,
        is missing or is not covered, or no manifest at all (a save interrupted), is a ``CheckpointError`` that
        names the remedy (``rebuild_hint`` for a shipped detector, else ``video-anomaly calibrate FOLDER``)."""
        from safetensors.numpy import load_file

        from . import manifest
        from .cues.ae import AECue
        from .cues.motion import MotionCue

        folder = Path(folder)
        jf = folder / "detector.json"
        if not jf.is_file():
            raise CheckpointError(
                folder, "no detector.json: not a detector folder (train one with `video-anomaly train`)"
            )
        remedy = (
            f"rebuild it with: {rebuild_hint}" if rebuild_hint else f"recover with: video-anomaly calibrate {folder}"
        )
        hint = f"; {remedy}"
        listed = manifest.verify(folder, ("detector.json", "detector.safetensors"), remedy)
        try:
            doc = json.loads(jf.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(jf, f"unreadable detector file ({exc}){hint}") from None
        if doc.get("format") != FORMAT:
            raise CheckpointError(jf, f"not a video-anomaly detector (format {doc.get('format')!r}){hint}")
        if doc.get("ae_checkpoint"):
            rel = str(Path(doc["ae_checkpoint"]) / "model.safetensors")
            if rel not in listed:
                raise CheckpointError(folder / rel, f"not covered by {manifest.MANIFEST} (altered?){hint}")
        try:
            arrays = load_file(str(folder / "detector.safetensors"))
        except Exception as exc:  # noqa: BLE001 - any safetensors failure: a damaged file
            raise CheckpointError(folder / "detector.safetensors", f"unreadable ({exc}){hint}") from None
        cfg = DetectorConfig.from_dict(doc["config"])
        cues: dict[str, Any] = {}
        ae_path = None
        for c, meta in doc["cues"].items():
            if c == "motion":
                cues[c] = MotionCue.from_state(meta, {k[7:]: v for k, v in arrays.items() if k.startswith("motion.")})
            elif c == "ae":
                from .checkpoint import load_checkpoint
                from .device import pick_device

                ae_path = Path(doc["ae_checkpoint"])
                ae_path = ae_path if ae_path.is_absolute() else folder / ae_path
                dev = pick_device(None if device is None else str(device))
                model, run_config, _ = load_checkpoint(ae_path, device=dev)
                cues[c] = AECue(model, run_config, patch=int(meta["patch"]), device=dev)
        stats = {c: (arrays[f"calibration.{c}.loc"], arrays[f"calibration.{c}.scale"]) for c in cues}
        return cls(
            cfg,
            cues,
            stats,
            {k: float(v) for k, v in doc["thresholds"].items()},
            grid=tuple(doc["grid"]),
            frame_shape=None if doc.get("frame_shape") is None else tuple(doc["frame_shape"]),
            meta=doc.get("meta") or {},
            ae_checkpoint=ae_path,
            path=folder,
        )

    def describe(self) -> dict[str, Any]:
        """What a user needs to know about this detector, as printed by ``video-anomaly models``."""
        ae = self.cues.get("ae")
        return {
            "cues": list(self.cues),
            "default_score": self.config.score,
            "thresholds": self.thresholds,
            "ae_input_size": None if ae is None else ae.size,
            "frame_shape": self.frame_shape,
            "grid": list(self.grid),
            **{k: v for k, v in self.meta.items() if k != "holdout_ranges"},
        }


def replace_stats(det: Detector, stats) -> Detector:
    """A shallow copy of ``det`` with other region statistics (for cross-fitting)."""
    d = Detector.__new__(Detector)
    d.__dict__.update(det.__dict__)
    d.stats = stats
    return d


__all__ = ["Detector", "DetectorConfig", "FrameScore", "LiveSession", "VideoScores", "far_quantile"]
