"""The run config: TOML sections, and the [score] section that is no longer read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from video_anomaly.errors import ConfigError
from video_anomaly.seed.config import RunConfig, load_config

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "video_anomaly" / "weights"


def test_a_score_section_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[data]\nsize = 64\n\n[score]\ncost = "l2"\n')
    with pytest.raises(ConfigError, match=r"run\.toml: unknown config sections: \['score'\].*--score"):
        load_config(path)


def test_a_bad_key_names_the_file_and_good_sections_load(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[train]\nepochs = 2\nepoch = 3\n")
    with pytest.raises(ConfigError, match=r"run\.toml: unknown keys in \[train\]: \['epoch'\]"):
        load_config(path)
    path.write_text("[train]\nepochs = 2\n")
    assert load_config(path) == RunConfig().replace(train={"epochs": 2})


def test_checkpoints_written_with_a_score_section_still_load():
    from video_anomaly.seed.checkpoint import run_config_from_meta

    meta = json.loads((SHIPPED / "ucsd-ped2" / "checkpoint" / "checkpoint.json").read_text())
    assert "score" in meta["config"]  # written before the section went
    cfg = run_config_from_meta(meta, "checkpoint.json")
    assert cfg.data.size == 128 and "score" not in cfg.to_dict()
