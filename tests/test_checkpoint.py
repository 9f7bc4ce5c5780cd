"""Checkpoints: round trip, atomic writes, clear errors on damaged or foreign files, no pickle."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

from video_anomaly.errors import CheckpointError
from video_anomaly.manifest import sha256
from video_anomaly.seed import checkpoint as ckpt
from video_anomaly.seed.config import RunConfig
from video_anomaly.seed.models import build_model

CFG = RunConfig().replace(data={"size": 32, "clip_length": 4})


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(CFG.model)


def _trained_optimizer(model):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-6)
    x = torch.rand(1, 4, 1, 32, 32)
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), x).backward()
        opt.step()
    return opt


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_rebuilds_model_config_and_extras(tmp_path):
    model = _model()
    opt = _trained_optimizer(model)
    d = ckpt.save_checkpoint(tmp_path / "ck", model, CFG, {"epoch": 2, "step": 7, "data_fingerprint": "abc"}, opt)
    assert sorted(p.name for p in d.iterdir()) == ["checkpoint.json", "model.safetensors", "optimizer.safetensors"]
    for where in (d, d / "checkpoint.json", d / "model.safetensors"):
        loaded, cfg, extras = ckpt.load_checkpoint(where)
        assert cfg == CFG
        assert _same_weights(loaded, model)
        assert not loaded.training
        assert extras["epoch"] == 2 and extras["step"] == 7 and extras["data_fingerprint"] == "abc"
        assert set(extras) == {"epoch", "step", "data_fingerprint"}
    with pytest.raises(ValueError, match="reserved"):
        ckpt.save_checkpoint(tmp_path / "bad", model, CFG, {"files": {}})


def test_optimizer_state_round_trip(tmp_path):
    model = _model()
    opt = _trained_optimizer(model)
    ckpt.save_checkpoint(tmp_path / "ck", model, CFG, {}, opt)
    fresh = torch.optim.Adam(_model(1).parameters(), lr=1e-3, eps=1e-6)
    ckpt.load_optimizer_state(tmp_path / "ck", fresh)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        for name, value in a["state"][i].items():
            assert torch.equal(value, b["state"][i][name]), (i, name)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    model = _model()
    ckpt.save_checkpoint(tmp_path / "ck", model, CFG, {}, _trained_optimizer(model))

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling during checkpoint load")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    ckpt.load_checkpoint(tmp_path / "ck")
    ckpt.load_optimizer_state(tmp_path / "ck", torch.optim.Adam(model.parameters()))


def test_truncated_weights_give_clear_error(tmp_path):
    d = ckpt.save_checkpoint(tmp_path / "ck", _model(), CFG, {})
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        ckpt.load_checkpoint(d)


def test_flipped_byte_gives_clear_error(tmp_path):
    d = ckpt.save_checkpoint(tmp_path / "ck", _model(), CFG, {})
    w = d / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-10] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        ckpt.load_checkpoint(d)


def test_unparsable_json_and_missing_folder(tmp_path):
    d = ckpt.save_checkpoint(tmp_path / "ck", _model(), CFG, {})
    (d / "checkpoint.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        ckpt.load_checkpoint(d)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        ckpt.load_checkpoint(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="checkpoint.json is missing"):
        ckpt.load_checkpoint(tmp_path / "empty")


def test_weights_of_another_model_name_the_keys(tmp_path):
    d = ckpt.save_checkpoint(tmp_path / "ck", _model(), CFG, {})
    w = d / "model.safetensors"
    state = load_file(str(w))
    state["extra.weight"] = torch.zeros(3)
    del state["conv1.weight"]
    state["conv2.bias"] = torch.zeros(5)
    save_file(state, str(w))
    # Re-record the checksum, as a foreign but undamaged checkpoint would have.
    meta = json.loads((d / "checkpoint.json").read_text())
    meta["files"]["model.safetensors"] = {"sha256": sha256(w), "bytes": w.stat().st_size}
    (d / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(d)
    message = str(info.value)
    assert "missing 1 keys (conv1.weight)" in message
    assert "unexpected 1 keys (extra.weight)" in message
    assert "conv2.bias (5,) vs (64,)" in message


def test_not_a_checkpoint_json(tmp_path):
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "checkpoint.json").write_text(json.dumps({"weights": "x"}))
    with pytest.raises(CheckpointError, match="not a video-anomaly checkpoint"):
        ckpt.load_checkpoint(tmp_path / "ck")


def test_crash_while_saving_keeps_previous_checkpoint(tmp_path, monkeypatch):
    first = _model(0)
    d = ckpt.save_checkpoint(tmp_path / "ck", first, CFG, {"epoch": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "_write_meta", crash)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(d, _model(1), CFG, {"epoch": 2})
    monkeypatch.undo()
    loaded, _, extras = ckpt.load_checkpoint(d)
    assert extras["epoch"] == 1 and _same_weights(loaded, first)
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # the temporary folder was cleaned up


def test_crash_between_renames_falls_back_to_old_copy(tmp_path):
    d = ckpt.save_checkpoint(tmp_path / "ck", _model(), CFG, {"epoch": 1})
    d.rename(tmp_path / ".ck.old")  # the state after the first rename of a swap
    _, _, extras = ckpt.load_checkpoint(tmp_path / "ck")
    assert extras["epoch"] == 1
    ckpt.save_checkpoint(tmp_path / "ck", _model(), CFG, {"epoch": 2})  # the next epoch's checkpoint
    assert (tmp_path / "ck" / "checkpoint.json").is_file() and not (tmp_path / ".ck.old").exists()
    assert ckpt.load_checkpoint(tmp_path / "ck")[2]["epoch"] == 2
