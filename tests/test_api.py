"""The API owns every run: its scores equal the command line's, its threads follow the CLI's policy, and a new
cue is one class plus one entry in ``cues.CUES`` (no edit of the detector, the API or the commands)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live_fixtures import calibrated_checkpoint, install_median
from video_anomaly.cues import CUES
from video_anomaly.cues.base import Cue


@dataclass(frozen=True)
class TinyConfig:
    grid: int = 2


class TinyCue(Cue):
    """A test cue: each region's distance of its mean grey level to the normal mean (no warm-up)."""

    name = "tiny"
    Config = TinyConfig
    summary = "test cue: distance of each region's mean grey to its normal mean"

    def __init__(self, config=None):
        super().__init__(config)
        self.mean: np.ndarray | None = None

    @property
    def warmup(self) -> int:
        return 0

    def grid_shape(self, frame_shape):
        return self.config.grid, self.config.grid

    def _cells(self, frame) -> np.ndarray:
        g = self.config.grid
        f = np.asarray(frame, np.float32)
        h, w = f.shape[0] // g * g, f.shape[1] // g * g
        return f[:h, :w].reshape(g, h // g, g, w // g).mean(axis=(1, 3))

    def fit(self, videos, *, progress=False):
        self.mean = np.mean([self._cells(f) for v in videos for f in v], axis=0).astype(np.float32)
        return self

    def stream(self, frames):
        for f in frames:
            yield np.abs(self._cells(f) - self.mean).astype(np.float32)

    def state_dict(self):
        return {"grid": self.config.grid}, {"mean": self.mean}

    @classmethod
    def from_state(cls, meta, arrays, *, folder, device=None):
        cue = cls(cls.Config(grid=int(meta["grid"])))
        cue.mean = np.asarray(arrays["mean"], np.float32)
        return cue


def _cli_scores(out: Path, name: str) -> np.ndarray:
    """The per-frame scores ``video-anomaly score`` wrote, warm-up frames (empty) given the first score: the one
    warm-up convention."""
    (path,) = out.glob(f"{name}-*.scores.json")  # the output name: the input's file name and 8 hex of its path
    rec = json.loads(path.read_text())
    s = np.asarray([np.nan if v is None else v for v in rec["scores"]], dtype=np.float64)
    first = int(np.argmax(np.isfinite(s)))
    s[:first] = s[first]
    return s, first


def test_tiny_cue_plugs_in_through_the_cli(tmp_path, monkeypatch, synthetic_root, capsys):
    """A cue defined here, registered into CUES, trains, saves, loads and scores through the command line."""
    from video_anomaly import Detector
    from video_anomaly.cli import main
    from video_anomaly.data import load_dataset
    from video_anomaly.fusion.scores import SCORES

    monkeypatch.setitem(CUES, "tiny", TinyCue)
    assert SCORES["tiny"].cues == ("tiny",)  # a live score of its own name, no edit of scores.py
    run = tmp_path / "run"
    assert main(["train", str(synthetic_root), "--out", str(run), "--cues", "tiny,motion", "--quiet"]) == 0
    err = capsys.readouterr().err  # the CLI says a warning in one line
    assert "video-anomaly train: warning: " in err and "calibration rests on only" in err
    doc = json.loads((run / "detector.json").read_text())
    assert doc["config"]["cues"] == ["tiny", "motion"] and set(doc["thresholds"]) == {"tiny", "motion", "fused"}
    det = Detector.load(run)
    assert isinstance(det.cues["tiny"], TinyCue) and det.cues["tiny"].mean.shape == (2, 2)
    out = tmp_path / "scores"
    video = load_dataset(synthetic_root).test[0]
    assert main(["score", "--model", str(run), "--dataset", str(synthetic_root), "--score", "tiny",
                 "--out", str(out)]) == 0  # fmt: skip
    cli, first = _cli_scores(out, video.name)
    api = det.score(video, "tiny")
    assert first == 0 and np.array_equal(api.frame_scores, cli)


def test_api_score_equals_cli_score_for_every_score(tmp_path, monkeypatch):
    """``Detector.score`` and ``video-anomaly score`` give the same per-frame scores, warm-up frames included,
    for every live score of a detector with every cue; ``seed`` is refused by `score` with one line."""
    from video_anomaly import Detector
    from video_anomaly.cli import main
    from video_anomaly.data import load_dataset
    from video_anomaly.fusion.scores import cues_of, scores_for

    run, root = calibrated_checkpoint(tmp_path, monkeypatch, ",".join(CUES))
    install_median(monkeypatch)
    det = Detector.load(run, device="cpu")
    video = load_dataset(root).test[0]
    names = scores_for(det.cues)
    assert set(names) == set(CUES) | {"fused"}
    for name in names:
        out = tmp_path / f"out-{name}"
        assert main(["score", "--model", str(run), "--dataset", str(root), "--score", name, "--out", str(out),
                     "--device", "cpu"]) == 0  # fmt: skip
        cli, first = _cli_scores(out, video.name)
        api = det.score(video, name)
        assert first == int(np.argmax(api.scored))
        assert (first > 0) == any(det.cues[c].warmup > 0 for c in cues_of(name, det.cues))  # the warm-up, if any
        assert np.array_equal(api.frame_scores, cli), name
        sr = api.frame_sr  # the regularity score of a plot: 1 at the video's most regular frame, 0 at its least
        assert sr.max() == 1.0 and sr.min() == 0.0 and np.argmin(sr) == np.argmax(api.frame_scores), name


def test_seed_in_a_live_command_is_one_clear_line(tmp_path, monkeypatch, capsys):
    from video_anomaly.cli import main

    run, root = calibrated_checkpoint(tmp_path, monkeypatch)
    capsys.readouterr()
    rc = main(["score", "--model", str(run), "--dataset", str(root), "--score", "seed", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not a live score" in err[0] and "evaluate" in err[0]


def test_api_threads_follow_the_cli_policy(tmp_path, monkeypatch):
    """An API call with no thread choice made yet applies the CLI's policy (cores other processes leave free)."""
    import torch

    from video_anomaly import Detector, device

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(device, "_cpu_quota", lambda: None)
    monkeypatch.setattr(device, "_running_others", lambda: 0)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.2, 2.0, 2.0))
    monkeypatch.setattr(device, "_chosen", None)
    try:
        torch.set_num_threads(4)
        Detector.load("ucsd-ped2", device="cpu")
        assert torch.get_num_threads() == 2 == device.choose_threads()  # 4 cores, 2 busy: as the CLI chooses
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        Detector.load("ucsd-ped2", device="cpu")  # chosen once per process: a later call keeps it
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(device, "_chosen", None)
        device.apply_thread_policy(3)  # the CLI's --threads 3, then an API call: 3 stays
        Detector.load("ucsd-ped2", device="cpu")
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_every_option_states_its_default():
    import argparse

    from video_anomaly.cli import build_parser

    missing = []

    def walk(parser, where):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, f"{where} {name}")
            elif a.option_strings and not isinstance(a, argparse._HelpAction) and not a.required:
                if "default" not in (a.help or "").lower() and "seed " not in (a.help or ""):
                    missing.append(f"{where} {a.option_strings[0]}")

    walk(build_parser(), "video-anomaly")
    assert not missing
