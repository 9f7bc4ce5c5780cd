"""The "frames" layout, Avenue, ShanghaiTech, custom folders, and layout detection."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from video_anomaly.data import detect_kind, load_custom, load_dataset
from video_anomaly.data.avenue import load_avenue
from video_anomaly.data.folders import load_frames_layout
from video_anomaly.data.frames import ImageFolderSource, VideoFileSource
from video_anomaly.data.shanghaitech import load_shanghaitech
from video_anomaly.errors import DataError


@pytest.fixture
def frames_root(tmp_path, write_images, frames_like):
    root = tmp_path / "ped2"
    write_images(root / "training" / "frames" / "01", frames_like(6, 8, 8), ext=".jpg", start=0, digits=1)
    write_images(root / "testing" / "frames" / "01", frames_like(5, 8, 8), ext=".jpg", start=0, digits=1)
    write_images(root / "testing" / "frames" / "02", frames_like(12, 8, 8), ext=".jpg", start=0, digits=1)
    return root


def test_frames_layout_npy_labels(frames_root):
    labels = np.zeros(17, np.int64)
    labels[[1, 2, 10]] = 1
    np.save(frames_root / "frame_labels_ped2.npy", labels[None])
    ds = load_frames_layout(frames_root)
    assert detect_kind(frames_root) == "frames"
    assert [len(v) for v in ds.test] == [5, 12]
    assert [p.name for p in ds.test[1].source.files[:3]] == ["0.jpg", "1.jpg", "2.jpg"]
    assert ds.test[1].source.files[-1].name == "11.jpg"  # natural order, not 0, 1, 10, 11, 2
    np.testing.assert_array_equal(np.flatnonzero(ds.test[0].labels), [1, 2])
    np.testing.assert_array_equal(np.flatnonzero(ds.test[1].labels), [5])


def test_frames_layout_npy_length_mismatch(frames_root):
    np.save(frames_root / "labels.npy", np.zeros(16))
    with pytest.raises(DataError, match="16 frame labels for 17 test frames") as e:
        load_frames_layout(frames_root)
    assert "labels.npy" in str(e.value)


def test_frames_layout_mat_cell(frames_root):
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = np.array([[2], [3]])
    cell[0, 1] = np.array([[1, 10], [2, 12]])  # two ranges: 1-2 and 10-12
    scipy.io.savemat(frames_root / "ped2.mat", {"gt": cell})
    ds = load_dataset(frames_root)
    np.testing.assert_array_equal(np.flatnonzero(ds.test[0].labels), [1, 2])
    np.testing.assert_array_equal(np.flatnonzero(ds.test[1].labels), [0, 1, 9, 10, 11])


def test_frames_layout_mat_struct(frames_root):
    struct = np.zeros((1, 2), dtype=[("gt_frame", object)])
    struct[0, 0]["gt_frame"] = np.array([[5], [5]])
    struct[0, 1]["gt_frame"] = np.array([[3], [4]])
    scipy.io.savemat(frames_root / "ped2.mat", {"TestVideoFile": struct})
    ds = load_frames_layout(frames_root)
    np.testing.assert_array_equal(np.flatnonzero(ds.test[0].labels), [4])
    np.testing.assert_array_equal(np.flatnonzero(ds.test[1].labels), [2, 3])


def test_frames_layout_mat_out_of_range(frames_root):
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = np.array([[2], [6]])  # video has 5 frames
    cell[0, 1] = np.array([[1], [1]])
    scipy.io.savemat(frames_root / "ped2.mat", {"gt": cell})
    with pytest.raises(DataError, match="entry 1: frame range 2:6") as e:
        load_frames_layout(frames_root)
    assert "ped2.mat" in str(e.value)


def test_avenue_pyav_videos_and_vollabel(tmp_path, write_video, frames_like):
    root = tmp_path / "Avenue Dataset"
    write_video(root / "training_videos" / "01.avi", frames_like(6, 32, 48))
    write_video(root / "testing_videos" / "02.avi", frames_like(5, 32, 48))
    write_video(root / "testing_videos" / "03.avi", frames_like(4, 32, 48))
    vol = np.empty((1, 5), dtype=object)
    for i in range(5):
        m = np.zeros((32, 48), np.uint8)
        if i in (2, 3):
            m[4:8, 10:20] = 1
        vol[0, i] = m
    (root / "testing_label_mask").mkdir()
    scipy.io.savemat(root / "testing_label_mask" / "2_label.mat", {"volLabel": vol})
    assert detect_kind(root) == "avenue"
    ds = load_avenue(root)
    assert [v.name for v in ds.train] == ["01"] and [v.name for v in ds.test] == ["02", "03"]
    assert isinstance(ds.test[0].source, VideoFileSource)
    np.testing.assert_array_equal(np.flatnonzero(ds.test[0].labels), [2, 3])
    assert ds.test[1].labels is None and not ds.test[1].has_masks
    masks = ds.test[0].read_masks(16)
    assert masks.shape == (5, 16, 16) and masks[2].any() and not masks[0].any()
    assert ds.summary()["test_abnormal_frames"] == 2


def test_avenue_label_count_mismatch(tmp_path, write_video, frames_like):
    root = tmp_path / "avenue"
    write_video(root / "testing_videos" / "01.avi", frames_like(5, 32, 48))
    vol = np.empty((1, 4), dtype=object)
    for i in range(4):
        vol[0, i] = np.zeros((32, 48), np.uint8)
    (root / "testing_label_mask").mkdir(parents=True)
    scipy.io.savemat(root / "testing_label_mask" / "1_label.mat", {"volLabel": vol})
    with pytest.raises(DataError, match="4 label masks for 5 frames") as e:
        load_avenue(root)
    assert "1_label.mat" in str(e.value)


def test_shanghaitech(tmp_path, write_video, write_images, frames_like):
    root = tmp_path / "shanghaitech"
    write_video(root / "training" / "videos" / "01_001.avi", frames_like(6, 32, 48))
    write_images(root / "testing" / "frames" / "01_0014", frames_like(4, 32, 48), ext=".jpg", start=0)
    (root / "testing" / "test_frame_mask").mkdir(parents=True)
    np.save(root / "testing" / "test_frame_mask" / "01_0014.npy", np.array([0, 1, 1, 0]))
    (root / "testing" / "test_pixel_mask").mkdir(parents=True)
    pix = np.zeros((4, 32, 48), np.uint8)
    pix[1, :2, :2] = 1
    np.save(root / "testing" / "test_pixel_mask" / "01_0014.npy", pix)
    assert detect_kind(root) == "shanghaitech"
    ds = load_dataset(root)
    assert isinstance(ds.train[0].source, VideoFileSource) and len(ds.train[0]) == 6
    assert isinstance(ds.test[0].source, ImageFolderSource)
    np.testing.assert_array_equal(ds.test[0].labels, [False, True, True, False])
    assert ds.test[0].read_masks()[1].sum() == 4
    np.save(root / "testing" / "test_frame_mask" / "01_0014.npy", np.array([0, 1, 1]))
    with pytest.raises(DataError, match="3 frame labels for 4 frames"):
        load_shanghaitech(root)


def test_custom_videos_and_frame_folders(tmp_path, write_video, write_images, frames_like):
    root = tmp_path / "mine"
    write_video(root / "train" / "cam_a.mp4", frames_like(5, 32, 32))
    write_images(root / "train" / "cam_b", frames_like(3, 32, 32), ext=".png")
    write_video(root / "test" / "later.mkv", frames_like(4, 32, 32))
    (root / "train" / ".DS_Store").write_bytes(b"x")
    assert detect_kind(root) == "custom"
    ds = load_dataset(root)
    assert [v.name for v in ds.train] == ["cam_a", "cam_b"] and [v.name for v in ds.test] == ["later"]
    assert ds.summary()["train_frames"] == 8 and ds.test[0].labels is None
    only = load_custom(test=root / "test" / "later.mkv")
    assert len(only.test) == 1 and not only.train
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no video files") as e:
        load_custom(train=tmp_path / "empty")
    assert str(tmp_path / "empty") in str(e.value)


def test_unknown_kind_and_missing_path(tmp_path):
    with pytest.raises(DataError, match="unknown dataset kind"):
        load_dataset(tmp_path, kind="kinetics")
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nothing")
