"""Frame reading: images, video files, masks, error messages that name the path."""

from __future__ import annotations

import numpy as np
import pytest

from video_anomaly.data import frames as frames_mod
from video_anomaly.data.frames import (
    ImageFolderSource,
    VideoFileSource,
    list_images,
    natural_key,
    open_source,
    read_masks,
    resize_stack,
)
from video_anomaly.errors import DataError


def test_natural_sort_orders_numbers_by_value():
    names = ["10.tif", "2.tif", "1.tif", "frame_100.png", "frame_9.png"]
    assert sorted(names, key=natural_key) == ["1.tif", "2.tif", "10.tif", "frame_9.png", "frame_100.png"]


def test_list_images_skips_hidden_and_non_images_and_accepts_any_case(tmp_path, write_images, frames_like):
    f = frames_like(3, 8, 8)
    write_images(tmp_path, f[:1], ext=".TIF", start=1, digits=1)
    write_images(tmp_path, f[1:2], ext=".png", start=2, digits=1)
    write_images(tmp_path, f[2:], ext=".JPeG", start=10, digits=1)
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01junk")
    (tmp_path / "._1.tif").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (tmp_path / "notes.txt").write_text("x")
    names = [p.name for p in list_images(tmp_path)]
    assert names == ["1.TIF", "2.png", "10.JPeG"]


def test_image_folder_is_lazy_and_reads_gray_uint8(tmp_path, write_images, frames_like, monkeypatch):
    f = frames_like(5, 12, 16)
    write_images(tmp_path, f, ext=".bmp")
    calls = []
    real = frames_mod.read_image
    monkeypatch.setattr(frames_mod, "read_image", lambda p: calls.append(p) or real(p))
    src = ImageFolderSource(tmp_path)
    assert len(src) == 5 and src.native_size == (12, 16)
    assert calls == []  # nothing decoded yet
    native = src.frames()
    assert native.dtype == np.uint8 and native.shape == (5, 12, 16)
    np.testing.assert_array_equal(native, f)  # bmp is lossless
    small = src.frames(8)
    assert small.shape == (5, 8, 8) and small.dtype == np.uint8
    assert len(calls) == 5  # decoded once, resized from the cache


def test_iter_frames_streams_one_at_a_time(tmp_path, write_images, frames_like, monkeypatch):
    write_images(tmp_path, frames_like(4, 10, 10), ext=".png")
    src = ImageFolderSource(tmp_path)
    calls = []
    real = frames_mod.read_image
    monkeypatch.setattr(frames_mod, "read_image", lambda p: calls.append(p) or real(p))
    it = src.iter_frames(8)
    first = next(it)
    assert first.shape == (8, 8) and len(calls) == 1
    assert len(list(it)) == 3


def test_rgb_images_become_grayscale(tmp_path):
    from PIL import Image

    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[..., 1] = 200
    tmp_path.mkdir(exist_ok=True)
    Image.fromarray(rgb).save(tmp_path / "1.png")
    frame = ImageFolderSource(tmp_path).frames()[0]
    assert frame.shape == (6, 6)
    assert abs(int(frame[0, 0]) - round(200 * 0.587)) <= 1  # ITU-R 601 luma


def test_resize_stack_shape_and_passthrough():
    x = np.random.default_rng(0).integers(0, 256, (3, 20, 30), dtype=np.uint8)
    y = resize_stack(x, 16)
    assert y.shape == (3, 16, 16) and y.dtype == np.uint8
    assert resize_stack(y, 16) is y
    flat = np.full((1, 20, 30), 77, np.uint8)
    assert np.all(resize_stack(flat, 8) == 77)
    with pytest.raises(DataError):
        resize_stack(x.astype(np.float32), 16)


def test_missing_and_empty_folders_name_the_path(tmp_path):
    with pytest.raises(DataError, match="folder not found") as e:
        ImageFolderSource(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(e.value)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"x")
    with pytest.raises(DataError, match="no image files") as e:
        ImageFolderSource(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(e.value)


def test_corrupt_image_names_the_file(tmp_path, write_images, frames_like):
    write_images(tmp_path, frames_like(3, 8, 8), ext=".png")
    bad = tmp_path / "004.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    src = ImageFolderSource(tmp_path)
    with pytest.raises(DataError, match="cannot read image") as e:
        src.frames()
    assert str(bad) in str(e.value)


def test_truncated_jpeg_names_the_file(tmp_path, write_images, frames_like):
    (p,) = write_images(tmp_path, frames_like(1, 64, 64), ext=".jpg")
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DataError) as e:
        ImageFolderSource(tmp_path).frames()
    assert str(p) in str(e.value)


def test_frames_of_different_sizes_name_file_and_sizes(tmp_path, write_images, frames_like):
    write_images(tmp_path, frames_like(2, 8, 10), ext=".png", start=1)
    write_images(tmp_path, frames_like(1, 9, 10), ext=".png", start=3)
    with pytest.raises(DataError) as e:
        ImageFolderSource(tmp_path).frames()
    msg = str(e.value)
    assert "003.png" in msg and "10x9" in msg and "10x8" in msg
    with pytest.raises(DataError, match="003.png"):
        list(ImageFolderSource(tmp_path).iter_frames(8))


def test_video_file_source_decodes_pyav_avi(tmp_path, write_video, frames_like):
    f = frames_like(12, 48, 64)
    path = write_video(tmp_path / "01.avi", f)
    src = VideoFileSource(path)
    assert len(src) == 12 and src.native_size == (48, 64)
    got = src.frames()
    assert got.shape == (12, 48, 64) and got.dtype == np.uint8
    # Lossy codec and limited-range YUV: means follow the written ones within a few grey levels.
    np.testing.assert_allclose(got.mean(axis=(1, 2)), f.mean(axis=(1, 2)), atol=6)
    streamed = list(VideoFileSource(path).iter_frames(16))
    assert len(streamed) == 12 and streamed[0].shape == (16, 16)
    assert isinstance(open_source(path), VideoFileSource)


def test_corrupt_video_names_the_file(tmp_path):
    pytest.importorskip("av")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(DataError) as e:
        src = VideoFileSource(bad)
        len(src)
        src.frames()
    assert str(bad) in str(e.value)


def test_read_masks_threshold_resize_and_none(tmp_path, write_images):
    m = np.zeros((2, 8, 8), np.uint8)
    m[0, :4, :4] = 255
    m[1, 0, 0] = 100  # below the 127 threshold
    paths = write_images(tmp_path, m, ext=".bmp")
    native = read_masks(paths)
    assert native.dtype == bool and native.shape == (2, 8, 8)
    assert native[0].sum() == 16 and native[1].sum() == 0
    small = read_masks([paths[0], None], 4)
    assert small.shape == (2, 4, 4) and small[0].sum() == 4 and not small[1].any()


def test_open_source_rejects_other_files(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="not a video file"):
        open_source(tmp_path / "a.txt")
    with pytest.raises(DataError, match="not found"):
        open_source(tmp_path / "missing.avi")


def test_pyav_errors_in_plain_words():
    ave = pytest.importorskip("av.error", reason="PyAV is not installed")
    from video_anomaly.data.images import describe_av_error

    def err(name):
        return getattr(ave, name)(5, "boom", "cam.mp4")

    assert describe_av_error(err("HTTPNotFoundError")) == "not found on the server (HTTP 404)"
    # A subclass of HTTPClientError takes its own words, not its base's.
    assert describe_av_error(err("HTTPForbiddenError")) == "access denied by the server (HTTP 401/403)"
    assert describe_av_error(err("HTTPBadRequestError")) == "the server refused the request (HTTP 4xx)"
    assert describe_av_error(err("DecoderNotFoundError")).endswith("no reader for that format or codec")
    assert describe_av_error(err("ExitError"), 2.5) == "timed out: no data for 2.5 s"
    assert describe_av_error(OSError(5, "Input/output error")) == "the connection broke (input/output error)"
    assert describe_av_error(ValueError("Odd frame")) == "odd frame"
