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

from pathlib import Path

from .detector import Detector, DetectorConfig, FrameScore, LiveSession, VideoScores
from .detector import runs as _runs
from .detector.runs import evaluate, feedback, score, score_many
from .detector.saved import read_detector_doc, resolve
from .live.watch import watch

__all__ = [
    "Detector", "DetectorConfig", "FrameScore", "LiveSession", "VideoScores", "calibrate", "evaluate", "feedback",
    "read_detector_doc", "resolve", "score", "score_archive", "score_many", "train", "watch",
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
# these names as imports of api, so that a circle through them is caught too).
_LAZY = {
    "AECue": ("video_anomaly.cues", "AECue"),
    "CALIBRATIONS": ("video_anomaly.fusion.calibration", "CALIBRATIONS"),
    "CHECKPOINT_NAME": ("video_anomaly.seed.training", "CHECKPOINT_NAME"),
    "ClipDataset": ("video_anomaly.seed.clips", "ClipDataset"),
    "ConfigError": ("video_anomaly.errors", "ConfigError"),
    "DEFAULT_CUES": ("video_anomaly.cues", "DEFAULT_CUES"),
    "DataError": ("video_anomaly.errors", "DataError"),
    "FAILED": ("video_anomaly.live.runner", "FAILED"),
    "INTERRUPTED": ("video_anomaly.live.runner", "INTERRUPTED"),
    "LOST": ("video_anomaly.live.runner", "LOST"),
    "MAX_SIZE": ("video_anomaly.seed.config", "MAX_SIZE"),
    "MethodModule": ("video_anomaly.seed.export", "MethodModule"),
    "MotionCue": ("video_anomaly.cues", "MotionCue"),
    "RunConfig": ("video_anomaly.seed.config", "RunConfig"),
    "SCORES": ("video_anomaly.fusion.scores", "SCORES"),
    "Service": ("video_anomaly.serve.service", "Service"),
    "Store": ("video_anomaly.serve.store", "Store"),
    "VideoAnomalyError": ("video_anomaly.errors", "VideoAnomalyError"),
    "apply_thread_policy": ("video_anomaly.device", "apply_thread_policy"),
    "build_report": ("video_anomaly.report", "build_report"),
    "check_config": ("video_anomaly.serve.service", "check_config"),
    "check_no_overwrite": ("video_anomaly.outputs", "check_no_overwrite"),
    "check_output_file": ("video_anomaly.outputs", "check_output_file"),
    "describe_os_error": ("video_anomaly.errors", "describe_os_error"),
    "detector_bench": ("video_anomaly.bench", "detector_bench"),
    "example_input": ("video_anomaly.seed.export", "example_input"),
    "export_onnx": ("video_anomaly.seed.export", "export_onnx"),
    "export_stages": ("video_anomaly.seed.export", "export_stages"),
    "find_event": ("video_anomaly.fusion.feedback", "find_event"),
    "format_table": ("video_anomaly.bench", "format_table"),
    "have_module": ("video_anomaly.seed.export", "have_module"),
    "labelled_summary": ("video_anomaly.live.recordings", "labelled_summary"),
    "limit_heap_growth": ("video_anomaly._memory", "limit_heap_growth"),
    "listen": ("video_anomaly.serve.service", "listen"),
    "live_scores": ("video_anomaly.fusion.scores", "live_scores"),
    "load_checkpoint": ("video_anomaly.seed.checkpoint", "load_checkpoint"),
    "load_config": ("video_anomaly.seed.config", "load_config"),
    "load_dataset": ("video_anomaly.data", "load_dataset"),
    "load_serve_config": ("video_anomaly.serve.config", "load_config"),
    "make_synthetic_scene": ("video_anomaly.data.synthetic", "make_synthetic_scene"),
    "memory_check": ("video_anomaly.bench", "memory_check"),
    "output_files": ("video_anomaly.live.recordings", "output_files"),
    "output_stem": ("video_anomaly.outputs", "output_stem"),
    "parse_cues": ("video_anomaly.fusion.scores", "parse_cues"),
    "plural": ("video_anomaly.errors", "plural"),
    "read_meta": ("video_anomaly.seed.checkpoint", "read_meta"),
    "run_bench": ("video_anomaly.bench", "run_bench"),
    "run_config_from_meta": ("video_anomaly.seed.checkpoint", "run_config_from_meta"),
    "score_recording": ("video_anomaly.live.recordings", "score_recording"),
    "scores_table_markdown": ("video_anomaly.evaluation.evaluate", "scores_table_markdown"),
    "split_holdout": ("video_anomaly.seed.clips", "split_holdout"),
    "stop_on_signals": ("video_anomaly.live.runner", "stop_on_signals"),
    "summary_lines": ("video_anomaly.live.recordings", "summary_lines"),
    "verify_onnx": ("video_anomaly.seed.export", "verify_onnx"),
    "weights": ("video_anomaly.weights", None),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        found = importlib.import_module(module)
        return found if attr is None else getattr(found, attr)
    raise AttributeError(f"module 'video_anomaly.api' has no attribute {name!r}")
