"""The heatmap overlay video: H.264, one output frame per input frame, heat where the error is."""

from __future__ import annotations

import numpy as np
import pytest

from video_anomaly.live.overlay import STRIP, OverlayWriter, blend_heatmap

av = pytest.importorskip("av")


def test_blend_puts_heat_where_the_error_is():
    frame = np.full((40, 60), 100, np.uint8)
    err = np.zeros((8, 8), np.float32)
    err[:4, :4] = 1.0
    rgb = blend_heatmap(frame, err, scale=0.5)
    assert rgb.shape == (40, 60, 3)
    assert rgb[2, 2, 0] > 180 and rgb[2, 2, 2] < 60 and tuple(rgb[35, 55]) == (100, 100, 100)


def test_overlay_video_is_h264_with_all_frames(tmp_path):
    path = tmp_path / "o.mp4"
    rng = np.random.default_rng(0)
    with OverlayWriter(path, 10, threshold=1.0, scale=0.2) as w:
        for i in range(12):
            frame = rng.integers(0, 255, (45, 61), dtype=np.uint8)  # odd sizes get padded
            err = None if i < 9 else rng.random((8, 8)).astype(np.float32)
            w.write(frame, err, None if i < 9 else float(i - 9), in_event=i == 11)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 12 and frames[0].shape == (46 + STRIP, 62, 3)
    last = frames[-1].astype(int)
    assert last[0, 30, 0] > 180 and last[0, 30, 1] < 80  # red event border
