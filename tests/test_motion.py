"""The motion cue: hand-worked features, causality, the per-cell model, state, errors (tiny synthetic scenes)."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest

from video_anomaly.cues.grid import _CellReducer, kcenter_coreset
from video_anomaly.cues.motion import MotionConfig
from video_anomaly.cues.motion import MotionCue as _MotionCue
from video_anomaly.errors import ConfigError, DataError


class MotionCue(_MotionCue):
    """The cue at native resolution with 16-pixel cells unless told otherwise (the geometry these tests draw)."""

    def __init__(self, config=None, **settings):
        if config is None:
            config = MotionConfig(cell=16, max_side=None)
        super().__init__(config, **settings)


H, W = 64, 96


def background(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """A static textured background (grey 0..80): texture pins the flow of empty regions at zero."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 80, (h // 4, w // 4)).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def moving_square(n: int, x0: int, y0: int, step: int = 2, side: int = 16, bg: np.ndarray | None = None) -> list:
    """``n`` frames of a uniform bright (220) square moving ``step`` px per frame to the right, wrapping around."""
    bg = background() if bg is None else bg
    frames = []
    for t in range(n):
        f = bg.copy()
        x = (x0 + step * t) % (bg.shape[1] - side)
        f[y0 : y0 + side, x : x + side] = 220
        frames.append(f)
    return frames


def test_features_of_a_moving_square_by_hand():
    # The square covers exactly cell (1, 2) in frame 0 and moves 2 px right: flow is measured on frame 0's grid.
    bg = background()
    frames = moving_square(2, x0=32, y0=16, bg=bg)
    out = list(MotionCue(cell=16, pool=1).features(frames))
    assert out[0] is None
    f = out[1]
    assert f.shape == (4, 6, 4) and f.dtype == np.float32
    mean, p95, moving, diff = (f[..., i] for i in range(4))
    assert 1.0 < mean[1, 2] < 2.5
    assert 1.5 < p95[1, 2] < 2.5
    assert moving[1, 2] > 0.5
    far = np.zeros((4, 6), dtype=bool)
    far[3, :] = far[:, 0] = far[:, 5] = True  # cells at least one cell away from the square
    assert mean[far].max() < 0.05 and moving[far].max() < 0.05
    # Frame difference by hand: only the 2-px strips the square's left edge leaves (cell (1, 2)) and its right
    # edge enters (cell (1, 3)) change, from background to 220; in grey levels / 255, averaged over 256 pixels.
    want = np.zeros((4, 6))
    b = bg.astype(np.float64)
    want[1, 2] = (220 - b[16:32, 32:34]).sum() / 255 / 256
    want[1, 3] = (220 - b[16:32, 48:50]).sum() / 255 / 256
    np.testing.assert_allclose(diff, want, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "cell"), [((37, 50), 16), ((32, 32), 16), ((32, 16), 16), ((5, 7), 16), ((40, 72), 8)]
)
def test_cell_statistics_match_a_plain_loop_with_partial_edge_cells(shape, cell):
    rng = np.random.default_rng(1)
    mag = rng.exponential(1.0, shape).astype(np.float32)
    diff = rng.random(shape).astype(np.float32)
    before = mag.copy()
    got = _CellReducer(shape, cell).features(mag, diff)
    np.testing.assert_array_equal(mag, before)  # the in-place partition works on a copy
    gh, gw = -(-shape[0] // cell), -(-shape[1] // cell)
    assert got.shape == (gh, gw, 4)
    for r in range(gh):
        for c in range(gw):
            m = mag[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
            d = diff[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
            want = [m.mean(), np.percentile(m, 95), (m > 0.5).mean(), d.mean()]
            np.testing.assert_allclose(got[r, c], want, rtol=1e-5, atol=1e-6)


def test_one_item_per_frame_and_none_for_frame_0():
    cue = MotionCue(pool=3).fit([moving_square(8, x0=0, y0=8)])
    maps = list(cue.stream(moving_square(6, x0=10, y0=8)))
    assert len(maps) == 6 and maps[0] is None
    assert all(m.shape == (4, 6) and m.dtype == np.float32 and np.isfinite(m).all() for m in maps[1:])
    assert list(cue.stream(moving_square(1, x0=0, y0=8))) == [None]


def test_pooling_is_causal():
    cue = MotionCue(pool=3).fit([moving_square(10, x0=0, y0=8)])
    frames = moving_square(8, x0=0, y0=40)
    changed = [f.copy() for f in frames]
    changed[5] = np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8)
    a, b = list(cue.stream(frames)), list(cue.stream(changed))
    for t in range(1, 5):
        np.testing.assert_array_equal(a[t], b[t])
    assert not np.array_equal(a[5], b[5])  # the change does reach its own frame


def test_pooling_averages_the_last_frames():
    frames = moving_square(6, x0=0, y0=8)
    raw = list(MotionCue(pool=1).features(frames))
    pooled = list(MotionCue(pool=3).features(frames))
    np.testing.assert_allclose(pooled[1], raw[1], rtol=1e-6)  # at the start: what is available
    np.testing.assert_allclose(pooled[2], (raw[1] + raw[2]) / 2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(pooled[5], (raw[3] + raw[4] + raw[5]) / 3, rtol=1e-5, atol=1e-7)


def test_motion_in_an_unusual_lane_scores_higher_than_normal_motion():
    # Normal: squares walk along the top lane (rows 8..24). Abnormal: the same square in the bottom lane.
    cue = MotionCue(cell=16, pool=3, k=32).fit([moving_square(40, x0=0, y0=8), moving_square(40, x0=30, y0=8, step=3)])
    normal = list(cue.stream(moving_square(20, x0=13, y0=8)))[1:]
    abnormal = list(cue.stream(moving_square(20, x0=13, y0=40)))[1:]
    normal_peak = max(float(m.max()) for m in normal)
    abnormal_peak = np.array([m[2:, :].max() for m in abnormal])  # cells of the bottom lane
    assert np.median(abnormal_peak) > 2 * normal_peak


def test_coreset_is_bounded_by_k_and_keep_all_with_none():
    video = moving_square(12, x0=0, y0=8)
    assert MotionCue(k=4).fit([video]).refs.shape == (4, 6, 4, 4)
    assert MotionCue(k=None).fit([video]).refs.shape == (4, 6, 11, 4)  # every sample: frames 1..11
    assert MotionCue(k=100).fit([video]).refs.shape == (4, 6, 11, 4)


def test_kcenter_covers_every_cluster():
    # Three tight clusters per cell, many points each: 3 centres must land one in each.
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], dtype=np.float32)
    x = np.stack([np.repeat(centres, 20, axis=0) + rng.normal(0, 0.01, (60, 2)).astype(np.float32)] * 5)
    core = kcenter_coreset(x, 3)
    assert core.shape == (5, 3, 2)
    nearest = np.linalg.norm(core[:, :, None, :] - centres[None, None], axis=-1).argmin(axis=-1)
    assert all(sorted(row) == [0, 1, 2] for row in nearest.tolist())


def test_state_round_trip_gives_identical_maps():
    cue = MotionCue(cell=16, pool=2, preset="fast", k=8).fit([moving_square(10, x0=0, y0=8)])
    meta, arrays = cue.state_dict()
    meta = json.loads(json.dumps(meta))
    assert all(a.dtype in (np.float32, np.float16) for a in arrays.values())
    back = MotionCue.from_state(meta, arrays)
    assert back.fitted and back.frame_shape == (H, W) and back.preset == "fast" and back.k == 8
    test = moving_square(6, x0=20, y0=40)
    for a, b in zip(cue.stream(test), back.stream(test)):
        assert (a is None and b is None) or np.array_equal(a, b)


def test_geometry_covers_the_frame():
    cue = MotionCue(cell=16)
    assert cue.grid_shape((240, 360)) == (15, 23)
    assert cue.region_box(14, 22, (240, 360)) == (352, 224, 360, 240)  # a partial edge cell
    boxes = cue.cell_boxes((240, 360))
    assert boxes.shape == (15, 23, 4) and boxes[0, 0].tolist() == [0, 0, 16, 16]
    half = MotionCue(cell=16, max_side=180)  # flow at 180x120, boxes in the 360x240 frame's pixels
    assert half.grid_shape((240, 360)) == (8, 12)
    assert half.region_box(0, 1, (240, 360)) == (32, 0, 64, 32)
    assert half.region_box(7, 11, (240, 360)) == (352, 224, 360, 240)


def test_max_side_downscales_the_flow():
    frames = moving_square(4, x0=0, y0=16)
    cue = MotionCue(cell=8, max_side=48).fit([frames])
    maps = list(cue.stream(frames))
    assert maps[1].shape == (4, 6)  # 96x64 -> 48x32 working pixels, 8-px cells


def test_training_videos_of_different_sizes_are_refused():
    small = moving_square(4, x0=0, y0=8, bg=background(48, 64))
    with pytest.raises(DataError, match=r"training video 1 has 64x48 frames but video 0 has 96x64"):
        MotionCue().fit([moving_square(4, x0=0, y0=8), small])


def test_stream_refuses_another_frame_size_and_an_unfitted_model():
    with pytest.raises(ConfigError, match="not fitted"):
        next(MotionCue().stream(moving_square(2, x0=0, y0=8)))
    cue = MotionCue().fit([moving_square(4, x0=0, y0=8)])
    with pytest.raises(DataError, match=r"frame 0 is 64x48 but the model was fitted on 96x64"):
        list(cue.stream(moving_square(3, x0=0, y0=8, bg=background(48, 64))))


def test_too_little_training_footage_is_refused():
    with pytest.raises(DataError, match="at least 2 frames"):
        MotionCue().fit([moving_square(1, x0=0, y0=8), []])


def test_bad_frames_and_settings_are_refused():
    with pytest.raises(DataError, match="uint8"):
        list(MotionCue().features([np.zeros((H, W), dtype=np.float32)]))
    with pytest.raises(ConfigError, match="preset"):
        MotionCue(preset="slow")
    with pytest.raises(ConfigError, match="cell"):
        MotionCue(cell=0)


def test_static_camera_warns_and_scores_stay_finite():
    still = [background()] * 6
    with pytest.warns(UserWarning, match="almost no motion"):
        cue = MotionCue(pool=2).fit([still])
    assert np.all(cue.scale > 0)
    moving = [m for m in cue.stream(moving_square(6, x0=20, y0=24)) if m is not None]
    quiet = [m for m in cue.stream(still) if m is not None]
    assert all(np.isfinite(m).all() for m in moving + quiet)
    assert max(float(m.max()) for m in quiet) < 1e-3 < min(float(m.max()) for m in moving)


def test_moving_training_footage_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MotionCue().fit([moving_square(8, x0=0, y0=8)])


def test_direction_histogram_of_a_square_moving_right():
    frames = moving_square(2, x0=32, y0=16)
    f = list(MotionCue(cell=16, pool=1, orient_bins=8).features(frames))[1]
    assert f.shape == (4, 6, 12)
    hist = f[1, 2, 4:]
    # magnitude-weighted: the sectors sum to the cell's mean magnitude, and a square moving right puts almost
    # all of it in the sectors next to angle 0 (sector 0, or sector 7 just below it)
    np.testing.assert_allclose(hist.sum(), f[1, 2, 0], rtol=1e-4)
    assert hist[0] + hist[7] > 0.8 * hist.sum()
    # the first four features are the 4-feature cue's, unchanged
    np.testing.assert_allclose(f[..., :4], list(MotionCue(cell=16, pool=1).features(frames))[1], atol=1e-5)
    up = [np.ascontiguousarray(np.rot90(x)) for x in moving_square(2, x0=32, y0=16, bg=background(W, H))]
    g = list(MotionCue(cell=16, pool=1, orient_bins=8).features(up))[1]
    cell = np.unravel_index(np.argmax(g[..., 0]), g.shape[:2])
    assert g[cell][4 + 6] > 0.8 * g[cell][4:].sum()  # rotated by 90 degrees: upwards, angle 3 pi / 2 (sector 6)


def test_orient_bins_state_and_old_states_load():
    cue = MotionCue(cell=16, pool=2, k=8, orient_bins=8).fit([moving_square(10, x0=0, y0=8)])
    meta, arrays = cue.state_dict()
    assert meta["orient_bins"] == 8 and arrays["refs"].shape[-1] == 12
    back = MotionCue.from_state(json.loads(json.dumps(meta)), arrays)
    test = moving_square(6, x0=20, y0=40)
    for a, b in zip(cue.stream(test), back.stream(test)):
        assert (a is None and b is None) or np.array_equal(a, b)
    old_meta, _ = MotionCue(cell=16, k=8).fit([moving_square(10, x0=0, y0=8)]).state_dict()
    assert "orient_bins" not in old_meta and "cell_auto" not in old_meta  # 4-feature states as before
    with pytest.raises(ConfigError, match="orient_bins"):
        MotionCue(orient_bins=1)
    with pytest.raises(ConfigError, match="cell_scale"):
        MotionCue(cell="auto", cell_scale=0)


def test_auto_cell_follows_the_size_of_what_moves():
    bg = background(96, 128)
    small = MotionCue(cell="auto", k=8).fit([moving_square(30, x0=0, y0=40, side=8, bg=bg)])
    large = MotionCue(cell="auto", k=8).fit([moving_square(30, x0=0, y0=30, side=24, bg=bg)])
    assert small.cell < large.cell
    assert 6 <= small.object_size <= 16 and 18 <= large.object_size <= 40
    meta, arrays = large.state_dict()
    back = MotionCue.from_state(json.loads(json.dumps(meta)), arrays)
    assert back.cell == large.cell and back.grid_shape((96, 128)) == large.grid_shape((96, 128))
    with pytest.raises(ConfigError, match="call fit"):
        MotionCue(cell="auto").grid_shape((96, 128))
    with pytest.warns(UserWarning, match="almost no motion"):
        still = MotionCue(cell="auto", k=8).fit([[bg] * 5])  # nothing moves: the fallback cell
    assert still.cell == 16
