"""Spatial metrics from score maps: UCSD pixel level, Street Scene RBDC / TBDC; hand-worked and brute-force cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from video_anomaly.evaluation import metrics, regions

EIGHT = np.ones((3, 3), bool)


def rect(shape, y0, x0, y1, x1, value=1.0):
    """A frame of zeros with ``value`` on the inclusive box ``(y0, x0) .. (y1, x1)``."""
    a = np.zeros(shape)
    a[y0 : y1 + 1, x0 : x1 + 1] = value
    return a


# ---------------------------------------------------------------------------------------------
# Nearest-neighbour upsampling
# ---------------------------------------------------------------------------------------------


def test_upsample_nearest_repeats_blocks_and_aligns_centres():
    coarse = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(metrics.upsample_nearest(coarse, (4, 6)), np.repeat(np.repeat(coarse, 2, 0), 2, 1))
    # 2 -> 3: pixel centres 0.5, 1.5, 2.5 land in cells floor(c * 2 / 3) = 0, 1, 1
    np.testing.assert_array_equal(
        metrics.upsample_nearest(np.array([[1.0, 2.0], [3.0, 4.0]]), (3, 3)),
        [[1, 2, 2], [3, 4, 4], [3, 4, 4]],
    )
    np.testing.assert_array_equal(metrics.nearest_index(5, 5), np.arange(5))


def test_coarse_map_gives_the_same_scores_as_its_upsampled_map():
    rng = np.random.default_rng(3)
    labels = np.array([True, True, False, True])
    maps = rng.integers(0, 5, size=(4, 3, 5)).astype(float)
    masks = rng.random((4, 10, 14)) < 0.3
    up = metrics.upsample_nearest(maps, (10, 14))
    np.testing.assert_array_equal(
        metrics.pixel_criterion_scores(labels, maps, masks), metrics.pixel_criterion_scores(labels, up, masks)
    )


# ---------------------------------------------------------------------------------------------
# Pixel level (UCSD)
# ---------------------------------------------------------------------------------------------


def covering(n_pixels: int) -> np.ndarray:
    """A 10x10 score map whose first ``n_pixels`` pixels (raster order) score 1, the rest 0."""
    m = np.zeros(100)
    m[:n_pixels] = 1.0
    return m.reshape(10, 10)


@pytest.mark.parametrize(("n_pixels", "true_positive"), [(39, False), (40, True), (41, True)])
def test_forty_percent_of_the_mask_must_be_covered(n_pixels, true_positive):
    mask = np.ones((1, 10, 10), bool)  # 100 abnormal pixels
    v = metrics.pixel_criterion_scores([True], covering(n_pixels)[None], mask)
    # at threshold 0.5 the frame counts iff its scalar exceeds 0.5
    assert bool(v[0] > 0.5) == true_positive
    # against a normal frame scoring 0.5 everywhere: the abnormal frame ranks above it only if it is a TP
    res = metrics.pixel_level_maps(
        [np.array([True, False])], [np.stack([covering(n_pixels), np.full((10, 10), 0.5)])],
        [np.stack([mask[0], np.zeros((10, 10), bool)])],
    )  # fmt: skip
    assert res["auc"] == (1.0 if true_positive else 0.0)


def test_false_region_on_a_normal_frame_makes_it_a_false_positive():
    labels = [np.array([False, True])]
    masks = [np.stack([np.zeros((8, 8), bool), rect((8, 8), 2, 2, 5, 5).astype(bool)])]
    abnormal = rect((8, 8), 2, 2, 5, 5, 0.8)
    clean = [np.stack([np.full((8, 8), 0.1), abnormal])]
    assert metrics.pixel_level_maps(labels, clean, masks)["auc"] == 1.0
    spot = np.full((8, 8), 0.1)
    spot[7, 0] = 0.9  # one pixel outside any object, above the abnormal frame's score
    res = metrics.pixel_level_maps(labels, [np.stack([spot, abnormal])], masks)
    assert res["auc"] == 0.0
    assert res["eer"] == pytest.approx(1.0)


def brute_force_pixel_roc(labels, maps, masks, cover=0.4):
    """Threshold sweep over every distinct pixel score, straight from the definition."""
    ups = [metrics.upsample_nearest(m, k.shape[1:]) for m, k in zip(maps, masks)]
    thresholds = np.r_[np.unique(np.concatenate([u.ravel() for u in ups]))[::-1], -np.inf]
    tp, fp = [], []
    n_abnormal = sum(int(y.sum()) for y in labels)
    n_normal = sum(int((~y).sum()) for y in labels)
    for t in thresholds:
        hits = falses = 0
        for y, u, k in zip(labels, ups, masks):
            detected = u > t
            for i in range(len(y)):
                if y[i]:
                    hits += (detected[i] & k[i]).sum() / k[i].sum() >= cover
                else:
                    falses += detected[i].any()
        tp.append(hits / n_abnormal)
        fp.append(falses / n_normal)
    fpr, tpr = np.array(fp), np.array(tp)
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    return auc, metrics.eer_from_roc(fpr, tpr)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("grid", [(3, 4), (5, 7), (12, 16)])
def test_pixel_level_agrees_with_a_brute_force_sweep(seed, grid):
    rng = np.random.default_rng(seed)
    labels, maps, masks = [], [], []
    for n in (5, 7):
        y = rng.random(n) < 0.5
        y[:2] = [True, False]
        k = rng.random((n, 12, 16)) < rng.uniform(0.05, 0.5)
        k[:, 6, 8] = True  # no empty mask: brute force and the function would exclude the frame alike
        labels.append(y)
        maps.append(rng.integers(0, 6, size=(n, *grid)).astype(float))  # small integers: many ties
        masks.append(k)
    res = metrics.pixel_level_maps(labels, maps, masks)
    auc, eer = brute_force_pixel_roc(labels, maps, masks)
    assert res["auc"] == pytest.approx(auc)
    assert res["eer"] == pytest.approx(eer)
    assert res["n_frames"] == 12 and res["empty_mask_frames"] == 0


def test_empty_masks_and_missing_masks():
    labels = [np.array([True, True, False]), np.array([True, False])]
    maps = [np.stack([np.full((4, 4), 0.3), np.full((4, 4), 0.9), np.full((4, 4), 0.5)]), np.zeros((2, 4, 4))]
    frame_mask = np.ones((4, 4), bool)
    masks = [np.stack([frame_mask, np.zeros((4, 4), bool), frame_mask]), None]
    v = {rule: metrics.pixel_criterion_scores(labels[0], maps[0], masks[0], empty_mask=rule) for rule in
         metrics.EMPTY_MASK_RULES}  # fmt: skip
    assert math.isnan(v["exclude"][1]) and v["miss"][1] == -np.inf and v["frame"][1] == 0.9
    np.testing.assert_array_equal(v["frame"][[0, 2]], [0.3, 0.5])  # normal frame: its max despite its mask
    res = {rule: metrics.pixel_level_maps(labels, maps, masks, ["a", "b"], empty_mask=rule) for rule in v}
    assert res["exclude"]["n_frames"] == 2 and res["exclude"]["auc"] == 0.0
    assert res["miss"]["n_frames"] == 3 and res["miss"]["auc"] == 0.0
    assert res["frame"]["auc"] == 0.5  # 0.9 above the normal 0.5, 0.3 below
    for r in res.values():
        assert r["skipped"] == ["b"] and r["videos"] == 1
        assert r["empty_mask_frames"] == 1 and r["normal_frames_with_mask"] == 1
    with pytest.raises(ValueError, match="empty_mask"):
        metrics.pixel_level_maps(labels, maps, masks, empty_mask="drop")


# ---------------------------------------------------------------------------------------------
# Region- and track-based detection (Street Scene)
# ---------------------------------------------------------------------------------------------


def rtd(maps, masks, thresholds, **kw):
    return regions.region_track_detection([np.stack(maps)], [np.stack(masks).astype(bool)], thresholds=thresholds,
                                          **kw)  # fmt: skip


def at(res, t, key):
    curve = res["curve"]
    return curve[key][int(np.flatnonzero(curve["thresholds"] == t)[0])]


def test_false_regions_on_normal_frames_count_per_region_per_frame():
    shape = (20, 20)
    gt = rect(shape, 10, 10, 14, 14)
    blob = rect(shape, 0, 0, 2, 2, 0.5)
    two_blobs = blob + rect(shape, 0, 10, 2, 12, 0.5)
    maps = [blob, two_blobs, gt, gt]
    masks = [np.zeros(shape), np.zeros(shape), gt, gt]
    res = rtd(maps, masks, [0.75, 0.25])
    assert at(res, 0.75, "false_positives") == 0 and at(res, 0.75, "rbdr") == 1.0
    assert at(res, 0.25, "false_positives") == 3  # 1 + 2 regions on the two normal frames
    assert at(res, 0.25, "fpr") == 0.75  # per frame: 3 / 4
    assert res["curve"]["thresholds"][0] == np.inf and res["curve"]["fpr"][0] == 0
    assert res["rbdc"] == 1.0 and res["n_frames"] == 4 and res["regions"] == 2 and res["tracks"] == 1


@pytest.mark.parametrize(("rows", "cols", "detected"), [(3, 3, False), (2, 5, True)])
def test_iou_just_below_and_at_beta(rows, cols, detected):
    shape = (20, 20)
    gt = rect(shape, 0, 0, 9, 9)  # 100 pixels
    pred = rect(shape, 0, 0, rows - 1, cols - 1)  # inside it: IoU 9 / 100 = 0.09, or 10 / 100 = 0.1 = beta
    for rule, fp in (("iou", 0 if detected else 1), ("disjoint", 0)):
        res = rtd([pred], [gt], [0.5], false_positive=rule, beta=0.1)
        assert at(res, 0.5, "detected_regions") == int(detected)
        assert at(res, 0.5, "false_positives") == fp  # below beta: an FP by the paper's rule, neither if disjoint


def test_disjoint_rule_counts_only_predictions_touching_no_region():
    shape = (20, 20)
    gt = rect(shape, 0, 0, 9, 9)
    far = rect(shape, 15, 15, 16, 16)
    for rule in metrics.FALSE_POSITIVE_RULES:
        res = rtd([far], [gt], [0.5], false_positive=rule)
        assert at(res, 0.5, "false_positives") == 1 and at(res, 0.5, "detected_regions") == 0


def test_a_region_is_detected_once_when_two_predictions_reach_it():
    shape = (20, 20)
    gt = rect(shape, 0, 0, 9, 9)
    preds = rect(shape, 0, 0, 4, 9) + rect(shape, 6, 0, 9, 9, 0.8)  # IoU 0.5 and 0.4, a gap row between
    for matching in metrics.MATCHINGS:
        res = rtd([preds], [gt], [0.5], matching=matching)
        assert at(res, 0.5, "detected_regions") == 1 and at(res, 0.5, "rbdr") == 1.0
        assert at(res, 0.5, "false_positives") == 0  # the second one is neither TP nor FP


def two_regions_two_predictions(s1: float, s2: float):
    """Regions A, B; prediction p1 (score s1) reaches A (IoU 0.28) and B (0.15), p2 (score s2) only A (0.4)."""
    shape = (40, 40)
    gt = rect(shape, 0, 0, 9, 9) + rect(shape, 0, 20, 9, 29)
    pred = rect(shape, 0, 0, 4, 25, s1) + rect(shape, 6, 0, 9, 9, s2)
    return pred, gt


@pytest.mark.parametrize(
    ("s1", "s2", "matching", "detected"),
    [
        (0.9, 0.6, "many", 2),  # p1 alone detects A and B
        (0.9, 0.6, "one", 1),  # p1 takes A (best IoU); p2 finds A taken: neither
        (0.6, 0.9, "one", 2),  # p2 takes A first; p1 falls back to B
    ],
)
def test_matching_branches(s1, s2, matching, detected):
    pred, gt = two_regions_two_predictions(s1, s2)
    res = rtd([pred], [gt], [0.5], matching=matching)
    assert at(res, 0.5, "detected_regions") == detected
    assert at(res, 0.5, "false_positives") == 0
    assert res["rbdc"] == detected / 2


def moving_object(n=20, size=(30, 40)):
    """An object drifting one pixel right per frame: one track of ``n`` regions."""
    return [rect(size, 10, 2 + i, 15, 8 + i) for i in range(n)]


@pytest.mark.parametrize(("hits", "track_detected"), [(1, False), (2, True)])
def test_track_needs_alpha_of_its_regions(hits, track_detected):
    masks = moving_object()
    maps = [m if i < hits else np.zeros_like(m) for i, m in enumerate(masks)]
    res = rtd(maps, masks, [0.5], alpha=0.1)
    assert res["tracks"] == 1 and res["regions"] == 20
    assert at(res, 0.5, "rbdr") == hits / 20
    assert at(res, 0.5, "tbdr") == float(track_detected)
    assert res["tbdc"] == float(track_detected)


def test_perfect_detector_scores_one_with_default_thresholds():
    rng = np.random.default_rng(0)
    videos = []
    for n in (6, 9):
        masks = np.zeros((n, 24, 32), bool)
        for i in range(2, n - 1):
            masks[i, 4:10, 3 + i : 9 + i] = True
            masks[i, 15:20, 20:26] = i % 2 == 0
        videos.append(masks)
    maps = [np.where(m, 1.0, rng.uniform(0, 0.5, m.shape)) for m in videos]
    res = regions.region_track_detection(maps, videos)
    assert res["rbdc"] == pytest.approx(1.0) and res["tbdc"] == pytest.approx(1.0)
    # a detector whose scores all lie in a strip no object enters scores 0
    noise = [np.zeros(m.shape) for m in videos]
    for z in noise:
        z[:, 21:, :10] = rng.uniform(0, 1, z[:, 21:, :10].shape)
    res0 = regions.region_track_detection(noise, videos)
    assert res0["rbdc"] == 0.0 and res0["tbdc"] == 0.0


def test_coarse_map_boxes_cover_their_pixels():
    mask = rect((16, 16), 4, 4, 7, 8).astype(bool)  # 4x5 pixels
    coarse = np.zeros((4, 4))
    coarse[1, 1] = 1.0  # pixels 4..7 x 4..7: IoU 16 / 20 = 0.8
    for beta, detected in ((0.8, 1), (0.85, 0)):
        res = regions.region_track_detection([coarse[None]], [mask[None]], thresholds=[0.5], beta=beta)
        assert at(res, 0.5, "detected_regions") == detected


def test_videos_without_masks_are_skipped_and_not_counted():
    gt = rect((10, 10), 2, 2, 5, 5)
    res = regions.region_track_detection([gt[None], np.ones((3, 10, 10))], [gt[None].astype(bool), None],
                                         ["a", "b"], thresholds=[0.5])  # fmt: skip
    assert res["skipped"] == ["b"] and res["videos"] == 1 and res["n_frames"] == 1 and res["rbdc"] == 1.0


def test_link_tracks_tie_rules():
    boxes = np.array([[0, 0, 4, 4], [0, 6, 4, 9], [0, 1, 4, 8], [0, 0, 4, 4], [0, 7, 4, 9]])
    frames = np.array([0, 0, 1, 2, 2])
    # frame 1's region overlaps both of frame 0's; the larger IoU continues (region 0: 20/45 > region 1: 15/45)
    track = regions.link_tracks(frames, boxes)
    assert track[2] == track[0] and track[1] != track[0]
    # frame 2: a split; the part with the larger IoU continues (20/45 > 10/45), the other starts a new track
    assert track[3] == track[2] and track[4] not in (track[0], track[1])
    assert sorted(set(track.tolist())) == [0, 1, 2]
    # a gap of one frame breaks a track
    assert regions.link_tracks(np.array([0, 2]), np.zeros((2, 4), int)).tolist() == [0, 1]


def test_curve_area_extension_and_envelope():
    area = regions._curve_area
    # flat extension past the last point
    assert area(np.array([0, 0.5]), np.array([0, 0.5]), 1.0) == pytest.approx(0.125 + 0.25)
    # linear interpolation to max_fpr when a point lies beyond
    assert area(np.array([0, 0.5, 2.0]), np.array([0, 0.5, 1.0]), 1.0) == pytest.approx(0.125 + 0.5 * (0.5 + 2 / 3) / 2)
    # a rate that falls at higher FPR keeps the best rate reached
    assert area(np.array([0, 0.2, 0.5]), np.array([0, 1.0, 0.5]), 1.0) == pytest.approx(0.1 + 0.8)
    # normalised by max_fpr
    assert area(np.array([0, 0.5]), np.array([0, 0.5]), 0.5) == pytest.approx(0.25)


def brute_force_regions(maps, masks, thresholds, beta):
    """Per threshold: false positives and detected regions, frame by frame on the upsampled maps."""
    fps, dets = np.zeros(len(thresholds), int), np.zeros(len(thresholds), int)
    for mp, mk in zip(maps, masks):
        up = metrics.upsample_nearest(mp, mk.shape[1:])
        for f in range(len(mk)):
            lab, _ = ndimage.label(mk[f], structure=EIGHT)
            gts = [(s[0].start, s[1].start, s[0].stop - 1, s[1].stop - 1) for s in ndimage.find_objects(lab)]
            for i, t in enumerate(thresholds):
                lab, _ = ndimage.label(up[f] > t, structure=EIGHT)
                found = set()
                for s in ndimage.find_objects(lab):
                    p = np.array([s[0].start, s[1].start, s[0].stop - 1, s[1].stop - 1])
                    hits = [j for j, g in enumerate(gts) if regions._box_iou(p, np.array(g))[1] >= beta]
                    fps[i] += not hits
                    found.update(hits)
                dets[i] += len(found)
    return fps, dets


@pytest.mark.parametrize("grid", [(6, 8), (24, 32)])
@pytest.mark.parametrize("chunk", [1 << 22, 200])
def test_region_sweep_agrees_with_a_brute_force_loop(grid, chunk, monkeypatch):
    monkeypatch.setattr(metrics, "_CHUNK", chunk)  # 200: one frame and a few thresholds per block
    rng = np.random.default_rng(1)
    maps, masks = [], []
    for n in (4, 3):
        k = np.zeros((n, 24, 32), bool)
        k[1:, 3:11, 4:12] = True
        k[2, 14:20, 20:30] = True
        k[:, 0, 0] = rng.random(n) < 0.5
        masks.append(k)
        maps.append(rng.uniform(0, 1, (n, *grid)))
    thresholds = np.array([0.95, 0.8, 0.6, 0.4])
    res = regions.region_track_detection(
        maps, masks, thresholds=thresholds, beta=0.1, false_positive="iou", matching="many"
    )
    fps, dets = brute_force_regions(maps, masks, thresholds, 0.1)
    np.testing.assert_array_equal(res["curve"]["false_positives"][1:], fps)
    np.testing.assert_array_equal(res["curve"]["detected_regions"][1:], dets)


def test_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="matching"):
        regions.region_track_detection([np.zeros((1, 4, 4))], [np.zeros((1, 4, 4), bool)], matching="best")
    with pytest.raises(ValueError, match="false_positive"):
        regions.region_track_detection([np.zeros((1, 4, 4))], [np.zeros((1, 4, 4), bool)], false_positive="x")
