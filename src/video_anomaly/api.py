"""The public API: train, calibrate, score one or many recordings, watch, evaluate, feedback, score an archive.
``Detector``'s methods of the same names run the same code (``detector/runs.py``, ``live/watch.py``); the command
line (which only parses and prints) imports nothing but this module.

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

from pathlib import Path

from . import weights
from .detector import Detector, DetectorConfig, FrameScore, LiveSession, VideoScores
from .detector import runs as _runs
from .detector.runs import evaluate, feedback, score, score_many
from .detector.saved import read_detector_doc, resolve
from .live.watch import watch

__all__ = [
    "Detector", "DetectorConfig", "FrameScore", "LiveSession", "VideoScores", "calibrate", "evaluate", "feedback",
    "read_detector_doc", "resolve", "score", "score_archive", "score_many", "train", "watch", "weights",
]  # fmt: skip


def train(data, out_dir: str | Path, config=None, **kw) -> Detector | None:
    """Train on the normal (training) videos of ``data`` and write the detector into ``out_dir``: the one path of
    ``video-anomaly train``, ``torchrun`` and ``Detector.train``.

    Cues whose class is ``trained_first`` (the autoencoder) are trained first (``config``: their run config, the
    seed recipe by default; ``train_kw``: ``max_steps``, ``resume``, ``progress``, ``use_fast``...; under
    ``torchrun`` every process trains and only rank 0 goes on). Then every cue is fitted and calibrated on the
    held-out frames and the detector is saved. Returns it (None on ranks > 0, or with ``calibrate=False``).
    """
    return _runs.train(Detector, data, out_dir, config, **kw)


def calibrate(run: str | Path, **kw) -> Detector:
    """(Re)fit the cues' calibration of a run folder on its held-out normal frames and save the detector there.

    ``run``: a detector folder, a run folder with ``checkpoint/``, or an autoencoder checkpoint folder; ``data``:
    the training data (default: the dataset recorded at training); ``cues``: default the detector's own (or, for
    a bare run, every cue that has a trained state there plus the default cues)."""
    return _runs.calibrate(Detector, run, **kw)


def score_archive(model, inputs, out: str | Path, **kw):
    """``archive.score_archive`` with ``model`` a loaded ``Detector``, a detector folder or a shipped name: many
    recordings in segments on Ray or a process pool, Parquet out, resumable (``docs/archive.md``)."""
    from .archive import score_archive as run

    return run(model, inputs, out, detector_class=Detector, **kw)


# ---------------------------------------------------------------------------------- for the command line
# The command line (cli.py, commands/) imports nothing but this module and its own helpers (the import-linter
# contract in pyproject.toml): what it needs beyond the runs above is named here, each name read from its module
# on first use so that `video-anomaly --help` imports neither torch nor SQLAlchemy (tests/test_layout.py counts
# these names as imports of api, so that a circle through them is caught too). `attr:name`: attr, named name here.
_FOR_THE_COMMAND_LINE = {
    "video_anomaly._memory": "limit_heap_growth",
    "video_anomaly.bench": "detector_bench format_objects format_table memory_check objects_bench run_bench",
    "video_anomaly.cues": "AECue DEFAULT_CUES MotionCue",
    "video_anomaly.data": "load_dataset",
    "video_anomaly.data.synthetic": "make_synthetic_scene",
    "video_anomaly.data.synthetic_behaviour": "make_behaviour_scene",
    "video_anomaly.detector.saved": "previous_doc",
    "video_anomaly.device": "apply_thread_policy",
    "video_anomaly.errors": "ConfigError DataError VideoAnomalyError describe_os_error plural",
    "video_anomaly.evaluation.evaluate": "scores_table_markdown",
    "video_anomaly.fusion.calibration": "CALIBRATIONS",
    "video_anomaly.fusion.feedback": "find_event",
    "video_anomaly.fusion.scores": "SCORES default_score live_scores parse_cues scores_for",
    "video_anomaly.live.recordings": "labelled_summary output_files score_recording summary_lines",
    "video_anomaly.live.runner": "FAILED INTERRUPTED LOST stop_on_signals",
    "video_anomaly.outputs": "check_no_overwrite check_output_file output_stem",
    "video_anomaly.report": "build_report",
    "video_anomaly.seed.checkpoint": "load_checkpoint read_meta run_config_from_meta",
    "video_anomaly.seed.clips": "ClipDataset split_holdout",
    "video_anomaly.seed.config": "MAX_SIZE RunConfig load_config",
    "video_anomaly.seed.export": "MethodModule example_input export_onnx export_stages have_module verify_onnx",
    "video_anomaly.seed.training": "CHECKPOINT_NAME",
    "video_anomaly.serve.config": "load_config:load_serve_config",
    "video_anomaly.serve.service": "Service check_config listen",
    "video_anomaly.serve.store": "Store",
}
_LAZY = {
    n.partition(":")[2] or n: (m, n.partition(":")[0]) for m, ns in _FOR_THE_COMMAND_LINE.items() for n in ns.split()
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'video_anomaly.api' has no attribute {name!r}")
