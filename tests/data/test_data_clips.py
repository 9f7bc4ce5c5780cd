"""Clip indexing (the seed's scheme), the uint8 ClipDataset, and the calibration hold-out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from video_anomaly.data.records import ArraySource, Video
from video_anomaly.errors import DataError
from video_anomaly.seed.clips import ClipDataset, batch_to_float, clip_starts, clip_table, count_clips, split_holdout
from video_anomaly.seed.config import DataConfig


def test_seed_scheme_counts_and_content():
    assert len(clip_starts(200, 10, 1)) == 20
    assert len(clip_starts(200, 10, 2)) == 20  # two offsets x 10 non-overlapping clips
    assert clip_starts(200, 10, 2)[0] == list(range(0, 20, 2))
    assert clip_starts(200, 10, 2)[10] == list(range(1, 20, 2))  # offset 1 starts after offset 0's clips
    assert clip_starts(25, 10, 1) == [list(range(10)), list(range(10, 20))]  # remainder dropped
    assert clip_starts(9, 10, 1) == []
    assert clip_table(200, 10, (1, 2)).shape == (40, 10)
    for n in (0, 9, 10, 19, 20, 37, 200):
        for step in (None, 1, 3):
            assert count_clips(n, 10, (1, 2, 3), step) == len(clip_table(n, 10, (1, 2, 3), step))


def test_overlapping_step():
    clips = clip_starts(14, 10, 1, step=2)
    assert [c[0] for c in clips] == [0, 2, 4]
    clips = clip_starts(30, 10, 2, step=5)  # each 15-frame sub-sequence: starts 0, 5 -> 2 per offset
    assert len(clips) == 4 and clips[1] == list(range(10, 30, 2))


def _videos(lengths, h=12, w=20):
    rng = np.random.default_rng(0)
    return [Video(f"v{i}", ArraySource(rng.integers(0, 256, (n, h, w), dtype=np.uint8))) for i, n in enumerate(lengths)]


def test_clip_dataset_dtype_shape_and_frames():
    videos = _videos([30, 25])
    cfg = DataConfig(size=16, clip_length=5, strides=(1, 2))
    ds = ClipDataset(videos, cfg)
    assert len(ds) == count_clips(30, 5, (1, 2)) + count_clips(25, 5, (1, 2))
    clip = ds[len(ds) - 1]
    assert clip.dtype == torch.uint8 and clip.shape == (5, 1, 16, 16)
    idx = ds.clip_frames(len(ds) - 1)
    expect = videos[ds.clip_video(len(ds) - 1)].source.frames(16)[idx]
    np.testing.assert_array_equal(clip[:, 0].numpy(), expect)
    batch = batch_to_float(torch.stack([ds[0], ds[1]]))
    assert batch.dtype == torch.float32 and batch.shape == (2, 5, 1, 16, 16)
    assert 0.0 <= float(batch.min()) and float(batch.max()) < 1.0


def test_clip_dataset_decodes_each_video_once_and_lazily():
    calls = []

    class Counting(ArraySource):
        def _read_all(self):
            calls.append(self.path)
            return super()._read_all()

    src = Counting(np.zeros((20, 8, 8), np.uint8), path="counting")
    ds = ClipDataset([src], DataConfig(size=8, clip_length=4, strides=(1,)))
    assert calls == []
    for i in range(len(ds)):
        ds[i]
    assert len(calls) == 1
    ds.preload()
    assert len(calls) == 1


def test_ranges_restrict_frames_and_empty_range_skips():
    videos = _videos([40, 40])
    cfg = DataConfig(size=8, clip_length=10, strides=(1,))
    ds = ClipDataset(videos, cfg, ranges=[(5, 25), (40, 40)])
    assert len(ds) == 2
    assert ds.clip_frames(0).tolist() == list(range(5, 15)) and ds.clip_frames(1).tolist() == list(range(15, 25))
    assert {ds.clip_video(i) for i in range(len(ds))} == {0}


def test_short_video_error_names_it():
    videos = _videos([30, 7])
    with pytest.raises(DataError, match="7 frames .* no clip of 10 frames") as e:
        ClipDataset(videos, DataConfig(size=8, clip_length=10, strides=(1, 2)))
    assert "<array>" in str(e.value)


def test_split_holdout():
    videos = _videos([100, 30, 15])
    train, hold = split_holdout(videos, 0.1, clip_length=10)
    assert train == [(0, 90), (0, 20), (0, 15)]
    assert hold == [(90, 100), (20, 30), (15, 15)]  # at least one clip held out; 15 frames too short for both
    train, hold = split_holdout(videos, 0.5, clip_length=10)
    assert train[0] == (0, 50) and train[1] == (0, 15) and hold[1] == (15, 30)
    train, hold = split_holdout(videos, 0.0, clip_length=10)
    assert train == [(0, 100), (0, 30), (0, 15)] and all(a == b for a, b in hold)
    cfg = DataConfig(size=8, clip_length=10, strides=(1,))
    train, hold = split_holdout(videos, 0.1, clip_length=10)
    assert len(ClipDataset(videos, cfg, ranges=hold)) == 2
    assert len(ClipDataset(videos, cfg, ranges=train)) == 9 + 2 + 1


def test_ucsd_ped1_train_gives_1360_clips(shared_datasets):
    from video_anomaly.data.ucsd import load_ucsd

    root = shared_datasets / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped1"
    if not root.is_dir():
        pytest.skip("UCSDped1 not in ../shared/datasets")
    ds = ClipDataset(load_ucsd(root).train, DataConfig())  # indexing only: nothing is decoded
    assert len(ds) == 1360
