"""Archive scoring: months of footage from many cameras, cut into segments, scored by workers, resumable.

The unit of work is a **segment of one recording**: frames ``[start, end)`` decoded in order inside one worker
and scored by the same code as ``score`` and ``watch`` (``live.watch``: ``Detector.session`` driven by
``runner.run_source``).
A causal detector needs each frame's past, so a segment starts ``overlap`` frames early (``history_frames``: the
warm-up and pooling window of the score's cues, plus what the score's smoothing still remembers); those frames
are scored but not written, and every written frame gets exactly the score it has in one pass over the whole
recording. Events need the whole recording in order: once every segment of a recording is done, the driver runs
one ``events.EventTracker`` over its per-frame results (the same updates ``run_source`` makes), so an event that
crosses a cut is one event, identical to ``score``'s.

Workers are Ray actors (``engine="ray"``: a local Ray by default, a cluster with ``address``) or, without Ray,
processes of a local pool (``engine="local"``); both run ``SegmentWorker``, which loads the detector once.

Output folder (``OUT``), Parquet through pyarrow, hive-partitioned by camera and day::

    archive.json                                     the settings of the run (a rerun must match them)
    frames/camera=CAM/day=YYYY-MM-DD/REC.sNNNNNN.parquet   per frame: recording, segment, frame, t_s, time,
                                                     score, raw, alarm, x0, y0, x1, y1 (score null in warm-up)
    events/camera=CAM/day=YYYY-MM-DD/REC.parquet     per event (day of its start), merged across cuts
    segments.parquet                                 the manifest: every segment, its status and error
    summary.json, summary.parquet                    per camera: frames, hours, events, alarm rate, failures
    _state/segments/SEG.json, _state/failed/SEG.json, _state/recordings/REC.json   done and failed markers

Every file is written to a temporary name and renamed into place; a segment is done when its marker exists, and
the marker is written after its Parquet parts, so a run killed at any moment leaves nothing half-written marked
done. A rerun with the same arguments skips done segments and recordings and redoes the rest (failed ones too).
Recordings without a start time (no manifest) go to ``day=undated`` with a null ``time``."""

from .backends import ENGINES, LocalBackend, RayBackend, choose_engine, ray_available
from .parquet import MAP_COLUMNS, read_events, read_frames, recording_events
from .recordings import UNDATED, Recording, collect_recordings, read_manifest
from .run import FORMAT, VERSION, ArchiveResult, score_archive
from .segments import Segment, history_frames, plan_segments, probe_length, unbounded_cues
from .summary import report_records
from .worker import SegmentWorker, WorkerConfig

__all__ = [
    "ArchiveResult",
    "ENGINES",
    "FORMAT",
    "LocalBackend",
    "MAP_COLUMNS",
    "RayBackend",
    "Recording",
    "Segment",
    "SegmentWorker",
    "UNDATED",
    "VERSION",
    "WorkerConfig",
    "choose_engine",
    "collect_recordings",
    "history_frames",
    "plan_segments",
    "probe_length",
    "ray_available",
    "read_events",
    "read_frames",
    "read_manifest",
    "recording_events",
    "report_records",
    "score_archive",
    "unbounded_cues",
]
