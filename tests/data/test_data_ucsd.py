"""UCSD layout: .tif frames, _gt/*.bmp masks, .m labels matched to folders by number."""

from __future__ import annotations

import numpy as np
import pytest

from video_anomaly.data.ucsd import labels_to_ranges, load_ucsd, parse_ucsd_m, ranges_to_labels
from video_anomaly.errors import DataError

M_TEXT = """TestVideoFile = {};
TestVideoFile{end+1}.gt_frame = [3:6];
TestVideoFile{end+1}.gt_frame = [1:2, 7:8];
TestVideoFile{end+1}.gt_frame = [2:4];
TestVideoFile{end+1}.gt_frame = [5 : 8];
"""


@pytest.fixture
def ucsd(tmp_path, write_images, frames_like):
    """UCSDped9 with 2 train videos and test folders 002 and 004 only (entries 1-4 in the .m)."""
    root = tmp_path / "UCSDped9"
    for i in (1, 2):
        write_images(root / "Train" / f"Train{i:03d}", frames_like(8, 12, 16, seed=i), ext=".tif")
    for i in (2, 4):
        write_images(root / "Test" / f"Test{i:03d}", frames_like(8, 12, 16, seed=10 + i), ext=".tif")
    masks = np.zeros((8, 12, 16), np.uint8)
    masks[0, 2:5, 3:7] = 255
    write_images(root / "Test" / "Test002_gt", masks, ext=".bmp")
    (root / "Test" / "UCSDped9.m").write_text(M_TEXT)
    for d in (root / "Train", root / "Train" / "Train001", root / "Test" / "Test002_gt"):
        (d / ".DS_Store").write_bytes(b"\x00junk")
        (d / "._001.tif").write_bytes(b"\x00\x05\x16\x07")
    return root


def test_parse_multi_range_and_spaces(tmp_path):
    p = tmp_path / "x.m"
    p.write_text(M_TEXT + "% a comment\n\nTestVideoFile{7}.gt_frame = [9];\nTestVideoFile{end+1}.gt_frame = [];\n")
    entries = parse_ucsd_m(p)
    assert entries[:4] == [[(3, 6)], [(1, 2), (7, 8)], [(2, 4)], [(5, 8)]]
    assert entries[4] == [] and entries[6] == [(9, 9)] and entries[7] == []


def test_unparsable_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.m"
    p.write_text("TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [1:5];\nsomething else\n")
    with pytest.raises(DataError, match="line 3") as e:
        parse_ucsd_m(p)
    assert str(p) in str(e.value)
    p.write_text("TestVideoFile{end+1}.gt_frame = [1-5];\n")
    with pytest.raises(DataError, match="cannot parse range"):
        parse_ucsd_m(p)


def test_ranges_roundtrip():
    labels = np.zeros(10, bool)
    labels[[0, 1, 5, 6, 7, 9]] = True
    ranges = labels_to_ranges(labels)
    assert ranges == [(1, 2), (6, 8), (10, 10)]
    np.testing.assert_array_equal(ranges_to_labels(ranges, 10, None, 1), labels)


def test_load_ucsd_matches_entries_by_folder_number(ucsd):
    ds = load_ucsd(ucsd)
    assert [v.name for v in ds.train] == ["Train001", "Train002"]
    assert [v.name for v in ds.test] == ["Test002", "Test004"]
    t2, t4 = ds.test
    np.testing.assert_array_equal(np.flatnonzero(t2.labels) + 1, [1, 2, 7, 8])  # entry 2, not entry 1
    np.testing.assert_array_equal(np.flatnonzero(t4.labels) + 1, [5, 6, 7, 8])  # entry 4
    assert t2.has_masks and not t4.has_masks
    assert [p.name for p in t2.mask_paths] == [f"{i:03d}.bmp" for i in range(1, 9)]
    masks = t2.read_masks()
    assert masks.shape == (8, 12, 16) and masks[0].sum() == 12 and not masks[1:].any()
    assert t2.read_masks(8).shape == (8, 8, 8)
    s = ds.summary()
    assert (s["train_frames"], s["test_frames"], s["test_abnormal_frames"], s["test_videos_with_masks"]) == (
        16,
        16,
        8,
        1,
    )
    assert ds.train[0].source.frames().shape == (8, 12, 16)  # hidden ._001.tif skipped


def test_parent_folder_with_subset(ucsd, tmp_path, write_images, frames_like):
    other = tmp_path / "UCSDped8"
    write_images(other / "Train" / "Train001", frames_like(4, 8, 8), ext=".tif")
    with pytest.raises(DataError, match="several subsets"):
        load_ucsd(tmp_path)
    assert load_ucsd(tmp_path, subset="ped9").name == "UCSDped9"
    assert load_ucsd(tmp_path, subset="UCSDped8").name == "UCSDped8"


def test_any_m_file_name_is_accepted(ucsd):
    (ucsd / "Test" / "UCSDped9.m").rename(ucsd / "Test" / "labels.m")
    assert load_ucsd(ucsd).test[0].labels.sum() == 4


def test_too_few_entries_names_m_file_and_folder(ucsd):
    (ucsd / "Test" / "UCSDped9.m").write_text("TestVideoFile = {};\n" + "TestVideoFile{end+1}.gt_frame = [1:2];\n" * 3)
    with pytest.raises(DataError, match="3 entries but folder Test004 needs entry 4") as e:
        load_ucsd(ucsd)
    assert "UCSDped9.m" in str(e.value)


def test_range_outside_video_names_file_and_entry(ucsd):
    (ucsd / "Test" / "UCSDped9.m").write_text(M_TEXT.replace("[2:4]", "[2:4]").replace("[5 : 8]", "[5:9]"))
    with pytest.raises(DataError, match="entry 4: frame range 5:9") as e:
        load_ucsd(ucsd)
    assert "UCSDped9.m" in str(e.value)


def test_mask_count_mismatch_names_gt_folder(ucsd):
    (ucsd / "Test" / "Test002_gt" / "008.bmp").unlink()
    with pytest.raises(DataError, match="7 mask images for 8 frames") as e:
        load_ucsd(ucsd)
    assert "Test002_gt" in str(e.value)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_ucsd(tmp_path / "absent")


def test_shared_ucsd_ped1_entries_by_number(shared_datasets):
    root = shared_datasets / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped1"
    if not root.is_dir():
        pytest.skip("UCSDped1 not in ../shared/datasets")
    ds = load_ucsd(root)
    by_name = {v.name: v for v in ds.test}
    assert len(ds.train) == 34 and sum(len(v) for v in ds.train) == 6800 and len(ds.test) == 11
    # Test005 is entry 5, the multi-range [5:90, 140:200].
    np.testing.assert_array_equal(np.flatnonzero(by_name["Test005"].labels)[[0, -1]] + 1, [5, 200])
    assert by_name["Test005"].labels.sum() == 86 + 61
    assert not by_name["Test005"].has_masks and by_name["Test003"].has_masks
