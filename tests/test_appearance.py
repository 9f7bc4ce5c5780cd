"""The appearance cue on a hand-made scene: upright walkers are normal; a wide low object at walking speed is not."""

from __future__ import annotations

import numpy as np
import pytest

from video_anomaly.cues.appearance import AppearanceConfig, AppearanceCue
from video_anomaly.errors import CheckpointError, ConfigError, DataError

H, W = 96, 128


def scene(n: int, objects, seed: int = 0) -> np.ndarray:
    """``(n, H, W)`` uint8: a textured ground with noise and ``objects`` (x0, y0, vx, width, height, grey) moving
    horizontally (wrapping around) at constant speed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    ground = 100 + 20 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    out = np.empty((n, H, W), np.uint8)
    for t in range(n):
        f = ground + rng.normal(0, 2, (H, W))
        for x0, y0, vx, w, h, grey in objects:
            x = int(round(x0 + vx * t)) % (W - w)
            f[y0 : y0 + h, x : x + w] = grey + 10 * np.sin(np.arange(w) / 2.0)[None, :]
        out[t] = np.clip(f, 0, 255)
    return out


def walkers(seed: int) -> list:
    """Three upright walkers (6 x 16 px) at 1-2 px/frame on the walkway rows 30-80."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0, W), int(rng.integers(30, 64)), rng.uniform(1.0, 2.0), 6, 16, 180) for _ in range(3)]


CART = (0.0, 50, 1.5, 28, 10, 180)  # wide and low, at walking speed (1.5 px/frame), the walkers' grey and texture


@pytest.fixture(scope="module")
def train() -> list[np.ndarray]:
    return [scene(100, walkers(s), seed=s) for s in range(6)]


@pytest.fixture(scope="module")
def fitted(train) -> AppearanceCue:
    return AppearanceCue(cell=8, k=32).fit(train)


def frame_maxima(cue, frames) -> np.ndarray:
    return np.array([m.max() for m in cue.stream(frames)])


@pytest.mark.parametrize("settings", [{"cell": 8}, {}], ids=["cell8", "defaults"])
def test_new_shape_at_normal_speed_scores_above_normal(train, fitted, settings):
    cue = fitted if settings else AppearanceCue(k=32).fit(train)
    normal = np.concatenate([frame_maxima(cue, scene(60, walkers(s), seed=s)) for s in (10, 12, 13)])
    cart = frame_maxima(cue, scene(60, [*walkers(11), CART], seed=11))
    assert np.median(cart) > normal.max(), (np.median(cart), normal.max())
    if settings:
        assert cart.min() > np.quantile(normal, 0.9), (cart.min(), np.quantile(normal, 0.9))


def test_the_highest_region_sits_on_the_new_shape(fitted):
    maps = list(fitted.stream(scene(60, [*walkers(11), CART], seed=11)))
    r, c = np.unravel_index(np.argmax(maps[30]), maps[30].shape)
    x0, y0, x1, y1 = fitted.region_box(r, c, (H, W))
    cart_x = int(round(1.5 * 30)) % (W - 28)
    assert y0 < 60 and y1 > 50 and x0 < cart_x + 28 + 8 and x1 > cart_x - 8, ((x0, y0, x1, y1), cart_x)


def test_still_scene_scores_zero_and_stream_is_causal(fitted):
    still = np.repeat(scene(1, [], seed=3), 5, axis=0)
    maps = list(fitted.stream(still))
    assert len(maps) == 5 and maps[0] is not None and maps[0].shape == fitted.grid_shape((H, W))
    assert max(float(m.max()) for m in maps) < 1.0
    frames = scene(20, walkers(4), seed=4)
    full = list(fitted.stream(frames))
    part = list(fitted.stream(frames[:10]))
    np.testing.assert_array_equal(np.stack(full[:10]), np.stack(part))


def test_state_round_trip_and_bad_state(fitted):
    meta, arrays = fitted.state_dict()
    back = AppearanceCue.from_state(meta, arrays, folder=None)
    frames = scene(10, walkers(5), seed=5)
    np.testing.assert_array_equal(np.stack(list(fitted.stream(frames))), np.stack(list(back.stream(frames))))
    with pytest.raises(CheckpointError, match="missing arrays"):
        AppearanceCue.from_state(meta, {k: v for k, v in arrays.items() if k != "refs"}, folder=None)
    with pytest.raises(CheckpointError, match="do not fit"):
        AppearanceCue.from_state(meta, arrays | {"background": arrays["background"][:-8]}, folder=None)


def test_auto_cell_follows_object_size():
    small = [scene(60, [(x, 40, 1.5, 4, 8, 180) for x in (0, 40, 80)], seed=s) for s in range(2)]
    large = [scene(60, [(x, 30, 1.5, 12, 24, 180) for x in (0, 50)], seed=s) for s in range(2)]
    c_small = AppearanceCue(k=8).fit(small).cell
    c_large = AppearanceCue(k=8).fit(large).cell
    assert c_small < c_large


def test_bad_settings_and_frames(fitted):
    with pytest.raises(ConfigError, match="window must be odd"):
        AppearanceCue(window=2)
    with pytest.raises(ConfigError, match="fg_threshold"):
        AppearanceCue(fg_threshold=-1)
    with pytest.raises(ConfigError, match="config or keyword"):
        AppearanceCue(AppearanceConfig(), cell=8)
    with pytest.raises(ConfigError, match="not fitted"):
        next(AppearanceCue().stream(scene(2, [])))
    with pytest.raises(DataError, match="fitted on 128x96"):
        next(fitted.stream(np.zeros((2, 50, 60), np.uint8)))
    with pytest.raises(DataError, match="training video 1"):
        AppearanceCue(cell=8).fit([scene(5, []), np.zeros((5, 50, 60), np.uint8)])


def test_default_detector_fuses_its_cues_through_the_cli(tmp_path, synthetic_root, capsys):
    """`train` with no --cues fits the default cues (motion, appearance, ...) and scores with them fused; the saved
    detector loads and gives the same scores; `evaluate --score appearance,fused` works (no edit of the detector
    for the new cue)."""
    from video_anomaly import Detector
    from video_anomaly.cli import main
    from video_anomaly.data import load_dataset
    from video_anomaly.fusion.scores import default_score

    assert default_score(("motion", "appearance")) == "fused" and default_score(("ae", "motion")) == "motion"
    assert default_score(("appearance",)) == "appearance"
    run = tmp_path / "run"
    assert main(["train", str(synthetic_root), "--out", str(run), "--quiet"]) == 0
    err = capsys.readouterr().err  # the CLI says a warning in one line
    assert "video-anomaly train: warning: " in err and "calibration rests on only" in err
    det = Detector.load(run)
    from video_anomaly.cues import DEFAULT_CUES

    # The default cues, less any that said it does not work on this footage (objects on a tiny drawn scene).
    kept = tuple(c for c in DEFAULT_CUES if c not in (det.meta.get("dropped_cues") or ()))
    assert tuple(det.cues) == kept and {"motion", "appearance"} <= set(kept)
    assert det.config.score == "fused" and det.config.topk == 3
    assert set(det.thresholds) == {*kept, "fused"}
    video = load_dataset(synthetic_root).test[0]
    s = det.score(video)
    assert s.score == "fused" and np.isfinite(s.frame_scores).all()
    assert main(["evaluate", "--model", str(run), str(synthetic_root), "--score", "appearance,fused",
                 "--out", str(tmp_path / "eval")]) == 0  # fmt: skip
    assert (tmp_path / "eval").is_dir()
