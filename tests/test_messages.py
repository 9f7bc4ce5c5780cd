"""What the toolkit says to a user: error lines that name the real problem, help texts and listings that say what
the code does (issue 29's messages)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


class _Undecodable:
    """What PyAV gives for random bytes it opens as a video: packets whose decoding fails with FFmpeg's bare -1,
    which PyAV raises as ``PermissionError`` (EPERM, "Operation not permitted")."""

    def __init__(self, n_packets: int):
        self.n_packets = n_packets
        self.streams = SimpleNamespace(video=[SimpleNamespace(average_rate=25, guessed_rate=25)])
        self.size, self.duration = 10_000, None

    def demux(self, *args, **kwargs):
        import av

        def decode():
            raise av.error.PermissionError(1, "Operation not permitted")

        return iter([SimpleNamespace(decode=decode) for _ in range(self.n_packets)])

    def close(self):
        pass


def test_a_file_whose_packets_never_decode_is_one_error_saying_nothing_decodes(tmp_path, monkeypatch):
    av = pytest.importorskip("av")
    from video_anomaly.errors import DataError
    from video_anomaly.live.sources import open_live_source

    noise = tmp_path / "noise.mp4"
    noise.write_bytes(b"\x00" * 1000)  # readable: a "permission denied" would be a lie
    monkeypatch.setattr(av, "open", lambda *a, **k: _Undecodable(12))
    warnings: list[str] = []
    source = open_live_source(str(noise), warn=warnings.append)
    with pytest.raises(DataError) as exc:
        list(source.timed_frames())
    msg = str(exc.value)
    assert str(noise) in msg and "nothing decodes" in msg and "12 packets" in msg
    assert "permission" not in msg.lower() and warnings == []


def test_ffmpeg_minus_one_is_not_described_as_a_permission():
    av = pytest.importorskip("av")
    from video_anomaly.data.images import describe_av_error

    said = describe_av_error(av.error.PermissionError(1, "Operation not permitted"))
    assert "permission" not in said and "error -1" in said
    assert describe_av_error(av.error.PermissionError(13, "Permission denied")) == "permission denied"


def test_help_texts_name_the_default_detector_the_code_builds(capsys):
    from video_anomaly.cli import build_parser
    from video_anomaly.cues import DEFAULT_CUES
    from video_anomaly.detector import DetectorConfig

    parser = build_parser()
    top = " ".join(parser.format_help().split())
    cues = " and ".join(filter(None, (", ".join(DEFAULT_CUES[:-1]), DEFAULT_CUES[-1])))
    assert f"the {cues} cues" in top and f"the {DetectorConfig().score} score" in top
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    train = " ".join(capsys.readouterr().out.split())
    # It said "default: motion when the motion cue is fitted" while a new detector scores with the fused score.
    assert f"(default: {DetectorConfig().score} for the default cues {','.join(DEFAULT_CUES)};" in train
    assert "(ae,motion: motion)" in train and DetectorConfig(cues=("ae", "motion")).score == "motion"


def test_models_prints_the_measured_auc_recorded_beside_each_detector(tmp_path, monkeypatch, capsys):
    import json
    import shutil

    from video_anomaly import weights
    from video_anomaly.cli import main

    copy = tmp_path / "ucsd-ped2"
    copy.mkdir()
    shutil.copy(weights.folder("ucsd-ped2") / "detector.json", copy)
    record = {"motion": {"protocol": "live", "micro_auc": 0.9123, "macro_auc": 0.8, "false_alarm_rate": 0.0123,
                         "target_far": 0.01, "anomalies_with_alarm": 11, "labelled_anomalies": 12}}  # fmt: skip
    (copy / weights.MEASURED).write_text(
        json.dumps({"date": "d", "data": "Ped2 Test", "command": "c", "scores": record})
    )
    monkeypatch.setattr(weights, "folder", lambda name: copy if name == "ucsd-ped2" else tmp_path / "absent")
    assert main(["models"]) == 0
    ped2 = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ucsd-ped2"))
    threshold = json.loads((copy / "detector.json").read_text())["thresholds"]["motion"]
    assert f"threshold {threshold:.3g}" in ped2 and "micro AUC 0.912" in ped2 and "1.2% of normal frames" in ped2
    assert "11 of 12 anomalies" in ped2 and "see docs/models.md" not in ped2


def test_every_shipped_detector_has_its_measurement_recorded():
    from video_anomaly import weights

    for name in weights.available():
        doc = weights.measured(name)
        assert doc is not None, f"{name}: run scripts/record_measured.py (docs/models.md)"
        import json

        score = json.loads((weights.folder(name) / "detector.json").read_text())["config"]["score"]
        assert 0.5 < doc["scores"][score]["micro_auc"] <= 1


def test_demo_prints_the_achieved_false_alarm_rate_of_its_alarm():
    from video_anomaly.commands.demo import _summary_lines

    summary = {
        "motion": {"protocol": "live", "frame_level": {"micro": {"auc": 0.8}}},
        "fused": {"protocol": "live", "frame_level": {"micro": {"auc": 0.9}},
                  "false_alarm_rate": {"achieved": 0.0036, "target": 0.01, "normal_frames": 276}},
    }  # fmt: skip
    lines = _summary_lines(summary, "fused")
    assert any("fused" in x and "0.36%" in x and "276 labelled-normal" in x and "target 1.0%" in x for x in lines)


def test_demo_fits_what_train_fits_by_default(tmp_path, monkeypatch):
    from video_anomaly import api
    from video_anomaly.cli import main

    seen = {}

    class Stop(Exception):
        pass

    def train(data, out_dir, config=None, **kw):
        seen.update(kw, config=config)
        raise Stop

    monkeypatch.setattr(api.Detector, "train", staticmethod(train))
    with pytest.raises(Stop):
        main(["demo", "--out", str(tmp_path / "demo"), "--quiet"])
    # No cues and no run config: api.train's defaults (cues.DEFAULT_CUES), not the seed autoencoder's recipe; only
    # the demo's target rate differs from a new detector's.
    from video_anomaly.commands.demo import DEMO_TARGET_FAR
    from video_anomaly.cues import DEFAULT_CUES

    assert seen.get("cues") is None and seen["config"] is None
    assert seen["detector_config"].cues == DEFAULT_CUES and seen["detector_config"].target_far == DEMO_TARGET_FAR
