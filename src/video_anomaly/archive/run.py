"""The driver: plans segments, resumes from the markers, runs them on a back end, finishes each recording as its last
segment comes in."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .backends import LocalBackend, RayBackend, choose_engine
from .markers import _read_markers, _write_json
from .parquet import _finish_recording
from .recordings import Recording, collect_recordings
from .segments import Segment, history_frames, plan_segments, probe_length, unbounded_cues
from .summary import _write_manifest_and_summary
from .worker import WorkerConfig

FORMAT = "video-anomaly-archive"


# 2: frames carry the region maps of alarmed frames (events per object); 3: alarmed frames carry their tracked
# objects and events their kind, label and track id (the objects cue); older versions are refused.
VERSION = 3


@dataclass
class ArchiveResult:
    """What a run did: the engine used, segment counts (``skipped``: done by an earlier run), failures (each
    ``{"segment"|"recording", "error"}``) and the per-camera summary (see ``summary.json``)."""

    out: Path
    engine: str
    segments: int = 0
    done: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    recordings_failed: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    frames: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.recordings_failed


def _settings(det, rec_model: str, score, threshold, segment_frames, overlap, fps, end_after, min_length,
              cooldown=0) -> dict:  # fmt: skip
    from ..manifest import sha256

    session = det.session(score, threshold=threshold)
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": str(rec_model),
        "detector_sha256": sha256(Path(det.path) / "detector.json") if det.path else None,
        "score": session.score_name,
        "threshold": session.threshold,
        "target_far": det.config.target_far,
        "segment_frames": int(segment_frames),
        "overlap": int(overlap),
        "fps": fps,
        "end_after": int(end_after),
        "min_length": int(min_length),
        # Only when set: a run started before cool-downs existed (with none) resumes under the same settings.
        **({"cooldown": int(cooldown)} if cooldown else {}),
    }


def _check_settings(out: Path, settings: dict) -> None:
    path = out / "archive.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            raise DataError(path, "unreadable: not an archive output folder? choose another --out") from None
        diff = [k for k in settings if k != "model" and old.get(k) != settings[k]]
        if diff:
            k = diff[0]
            raise DataError(
                out,
                f"written by an archive run with other settings ({k}: {old.get(k)!r} there, {settings[k]!r} now): "
                "rerun with the same arguments to resume, or choose another --out",
            )
        return
    if out.exists() and any(p.name != ".gitkeep" for p in out.iterdir()):
        raise DataError(out, "exists and is not an archive output folder: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    _write_json(path, settings)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class _Run:
    """The driver's state in one run: the plan (segments per recording, in input order), what is done (segment
    and recording markers, this run's and earlier runs'), the recordings with a failed segment, and the result."""

    out: Path
    recordings: list[Recording]
    result: ArchiveResult
    opts: dict[str, Any]  # end_after, min_length, clip_length: what finishing a recording needs
    log: Callable[[str], None]
    segments: list[Segment] = field(default_factory=list)
    by_rec: dict[str, list[Segment]] = field(default_factory=dict)
    done: dict[str, dict] = field(default_factory=dict)
    rec_done: dict[str, dict] = field(default_factory=dict)
    failed_recs: set[str] = field(default_factory=set)

    def __post_init__(self):
        self.rec_by_id = {r.rec_id: r for r in self.recordings}

    def plan(self, fps: float | None, segment_frames: int) -> None:
        """Cut every recording into segments; a recording whose length cannot be read fails here."""
        plan_failed: dict[str, str] = {}
        for rec in self.recordings:
            try:
                n = probe_length(rec, fps)
            except DataError as exc:
                plan_failed[rec.rec_id] = str(exc)
                continue
            segs = plan_segments(rec, n, segment_frames)
            self.by_rec[rec.rec_id] = segs
            self.segments += segs
        for rec_id, error in plan_failed.items():
            path = self.rec_by_id[rec_id].path
            self.result.recordings_failed.append({"recording": rec_id, "path": path, "error": error})
            self.log(f"archive: error: {error}")

    def resume(self) -> list[Segment]:
        """Read the markers of earlier runs; returns the segments still to score (their old failures cleared)."""
        state = self.out / "_state"
        self.done = _read_markers(state / "segments")
        self.rec_done = _read_markers(state / "recordings")
        todo = [s for s in self.segments if s.seg_id not in self.done]
        self.result.segments, self.result.skipped = len(self.segments), len(self.segments) - len(todo)
        if self.result.skipped:
            self.log(
                f"archive: resuming in {self.out}: {self.result.skipped} of {len(self.segments)} segments already done"
            )
        for s in todo:  # a segment retried: its old failure no longer stands
            (state / "failed" / f"{s.seg_id}.json").unlink(missing_ok=True)
        return todo

    def finish(self, rec_id: str) -> None:
        """Write the events of a recording once all its segments are done (once per recording)."""
        if rec_id in self.rec_done or rec_id in self.failed_recs:
            return
        segs = self.by_rec[rec_id]
        if all(s.seg_id in self.done for s in segs):
            rec = self.rec_by_id[rec_id]
            self.rec_done[rec_id] = _finish_recording(rec, [self.done[s.seg_id] for s in segs], self.out, self.opts)

    def take(self, marker: dict[str, Any]) -> None:
        """Count a segment's marker from a worker: done, or failed (its recording then gets no events)."""
        seg_id = marker["segment"]
        if marker["status"] == "done":
            self.done[seg_id] = marker
            self.result.done += 1
            self.result.frames += marker["frames"]
        else:
            self.result.failed.append({"segment": seg_id, "error": marker["error"]})
            self.failed_recs.add(marker["recording"])
            self.log(f"archive: error: segment {seg_id}: {marker['error']}")

    def score(self, backend, todo: list[Segment], bar, on_segment) -> None:
        """Score ``todo`` on ``backend``, finishing each recording as its last segment comes in."""
        try:
            for marker in backend.run(todo):
                self.take(marker)
                if on_segment is not None:
                    on_segment(marker)
                if bar is not None:
                    bar.update(marker.get("frames", 0))
                    bar.set_postfix_str(f"segments {self.result.done}/{len(todo)}, failed {len(self.result.failed)}")
                if marker["status"] == "done":
                    self.finish(marker["recording"])
        finally:
            if bar is not None:
                bar.close()
            if isinstance(backend, RayBackend):
                backend.close()

    def report_recordings(self) -> None:
        """Recordings whose segments are all done but which could not be scored (too short) count as failed."""
        for rec_id, doc in self.rec_done.items():
            if rec_id in self.by_rec and doc.get("error"):
                self.result.recordings_failed.append({"recording": rec_id, "path": doc["path"], "error": doc["error"]})
                self.log(f"archive: error: {doc['error']}")


def _load_detector(model, detector_class):
    """``(Detector, the model as the workers load it, its class)``; the workers need a detector saved in a folder.
    ``model``: a loaded detector, or a folder or shipped name that ``detector_class.load`` reads."""
    loaded = not isinstance(model, (str, Path))
    cls = type(model) if loaded else detector_class
    if cls is None:
        raise ConfigError(f"archive: {model} is not a loaded detector: load it first (or use api.score_archive)")
    det = model if loaded else cls.load(model)
    if det.path is None:
        raise ConfigError("archive workers load the detector from its folder: save it first (Detector.save)")
    return det, str(det.path) if loaded else str(model), cls


def _prepare_out(out: Path, settings: dict) -> None:
    """Check (or write) the run's settings, then clear temporary files of writers killed mid-write (one driver per
    ``out``, so none is being written now)."""
    _check_settings(out, settings)
    for sub in ("frames", "events", "_state"):
        for tmp in (out / sub).rglob(".*.tmp*") if (out / sub).is_dir() else ():
            tmp.unlink(missing_ok=True)


def score_archive(
    model,
    inputs: Iterable[str | Path],
    out: str | Path,
    *,
    score: str | None = None,
    threshold: float | None = None,
    segment_frames: int = 3000,
    fps: float | None = None,
    camera: str | None = None,
    end_after: int | None = None,
    min_length: int | None = None,
    cooldown: int | None = None,
    engine: str = "auto",
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    address: str | None = None,
    progress: bool = True,
    on_segment: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] = _stderr,
    detector_class=None,
) -> ArchiveResult:
    """Score every recording of ``inputs`` into ``out`` (see the module docstring); resumes a killed run.

    ``model``: a loaded ``Detector`` with a ``path``, or a detector folder or shipped name with ``detector_class``
    (``api.score_archive`` gives it);
    ``segment_frames``: frames per segment (each is decoded in order by one worker); ``workers``: Ray actors or
    pool processes (default: the available cores / ``cpus_per_worker``); ``engine``: ``auto`` (Ray when
    installed), ``ray`` or ``local``; ``address``: a Ray cluster to join (``ray://...``, ``auto``; default
    ``RAY_ADDRESS``, else a local Ray); ``end_after``, ``min_length``, ``cooldown``: the event rules in frames
    (None: the detector's, ``DetectorConfig``); ``on_segment``: called on the driver with each finished segment's
    marker.
    """
    from ..device import available_cores

    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError('archive writes Parquet: pip install "video-anomaly[archive]" (pyarrow)') from None
    if int(segment_frames) < 1:
        raise ConfigError(f"segment_frames must be >= 1, got {segment_frames}")
    t_run = time.monotonic()
    det, model_spec, detector_class = _load_detector(model, detector_class)
    overlap = history_frames(det, score)
    out = Path(out)
    rules = {k: getattr(det.config, k) if v is None else v
             for k, v in (("end_after", end_after), ("min_length", min_length), ("cooldown", cooldown))}  # fmt: skip
    settings = _settings(det, model_spec, score, threshold, segment_frames, overlap, fps, **rules)
    recordings = collect_recordings(inputs, camera)
    for c in unbounded_cues(det, score):
        log(f"archive: warning: the {c} cue keeps a running background with no bounded history: near each cut "
            "its scores can differ from `score`'s until the background has adapted (longer --segment-frames, "
            "fewer cuts; the motion cue alone is exact)")  # fmt: skip
    _prepare_out(out, settings)
    engine = choose_engine(engine, log)
    cpus_per_worker = float(cpus_per_worker)
    workers = int(workers or max(1, int(available_cores() // max(cpus_per_worker, 1.0))))
    result = ArchiveResult(out, engine)
    opts = {**rules, "clip_length": det.session(score).clip_length}
    run = _Run(out, recordings, result, opts, log)
    run.plan(fps, int(segment_frames))
    todo = run.resume()
    for rec_id in run.by_rec:  # recordings whose segments an earlier run finished but not their events
        run.finish(rec_id)
    if todo:
        est = sum((s.end if s.end is not None else s.start + segment_frames) - s.start for s in todo)
        bar = _progress(progress, est, len(todo))
        threads = max(1, int(cpus_per_worker))
        wcfg = WorkerConfig(model_spec, score, threshold, overlap, fps, str(out), threads, detector_class)
        backend = (RayBackend(wcfg, workers, cpus_per_worker, address) if engine == "ray"
                   else LocalBackend(wcfg, workers))  # fmt: skip
        log(f"archive: {len(todo)} segments of up to {segment_frames} frames (+{overlap} of overlap) from "
            f"{len(run.by_rec)} recordings on {workers} {engine} worker(s)")  # fmt: skip
        run.score(backend, todo, bar, on_segment)
    run.report_recordings()
    result.summary = _write_manifest_and_summary(out, recordings, run.segments, run.done, run.rec_done, result)
    result.wall_s = time.monotonic() - t_run
    return result


def _progress(enabled: bool, frames: int, n_segments: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=frames, unit="frame", desc="archive", smoothing=0.1, postfix=f"segments 0/{n_segments}")
