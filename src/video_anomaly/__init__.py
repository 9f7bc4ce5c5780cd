"""video-anomaly: find abnormal events in surveillance video without labelled anomalies.

Public API (imported lazily so that ``import video_anomaly`` stays fast):

* ``Detector``: ``Detector.train(data, out_dir)``, ``Detector.load(name_or_folder)``, ``.score(video)``,
  ``.score_many(videos)``, ``.session()``, ``.watch(source)``, ``.evaluate(data, out_dir)``,
  ``Detector.calibrate_run(run)`` (the runs live in ``detector/runs.py``);
* ``Cue``, ``CUES``: the cue contract and the table of cues (``cues/``);
* ``load_dataset(path)``: UCSD, Avenue, ShanghaiTech, frames-layout or custom footage;
* ``RunConfig``, ``load_config(toml)``: the seed recipe and its settings;
* ``make_synthetic_scene(root)``: the built-in synthetic walkway with planted anomalies;
* ``score_archive(detector, inputs, out)``: many recordings in segments on Ray or a process pool (``archive``).
"""

__version__ = "0.1.0"

_LAZY = {
    "Detector": ("video_anomaly.detector", "Detector"),
    "Cue": ("video_anomaly.cues.base", "Cue"),
    "CUES": ("video_anomaly.cues", "CUES"),
    "load_dataset": ("video_anomaly.data", "load_dataset"),
    "RunConfig": ("video_anomaly.seed.config", "RunConfig"),
    "load_config": ("video_anomaly.seed.config", "load_config"),
    "make_synthetic_scene": ("video_anomaly.data.synthetic", "make_synthetic_scene"),
    "score_archive": ("video_anomaly.api", "score_archive"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'video_anomaly' has no attribute {name!r}")
