"""Metrics against scikit-learn and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from video_anomaly.evaluation import metrics


def test_auc_matches_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    s = rng.normal(size=200) + y
    assert metrics.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert math.isnan(metrics.roc_auc(np.zeros(5, bool), np.arange(5.0)))


def test_eer_exact_crossing_by_hand():
    # thresholds inf, .8, .4, .35, .1 -> fpr 0 0 .5 .5 1, tpr 0 .5 .5 1 1: FPR = FNR = 0.5 at threshold .4
    assert metrics.eer([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5)
    assert metrics.eer([0, 1], [0.0, 1.0]) == pytest.approx(0.0)
    assert metrics.eer([0, 1], [1.0, 0.0]) == pytest.approx(1.0)


def test_eer_interpolated_by_hand():
    # fpr 0 1/3 1/3 2/3 1 and fnr 1 1 0 0 0: the crossing between points 1 and 2 lies at FPR = FNR = 1/3.
    assert metrics.eer([0, 0, 0, 1], [0.1, 0.2, 0.9, 0.5]) == pytest.approx(1 / 3)
    # Two-point interpolation: from (fpr, fnr) = (0, 0.6) to (0.4, 0): d goes -0.6 -> 0.4, a = 0.6, FPR = 0.24.
    assert metrics.eer_from_roc(np.array([0.0, 0.4]), np.array([0.4, 1.0])) == pytest.approx(0.24)


def test_micro_pools_and_normalisation_changes_only_micro():
    y1, s1 = np.array([0, 0, 1, 1], bool), np.array([1.0, 2.0, 3.0, 4.0])
    y2, s2 = np.array([0, 1, 0, 1], bool), np.array([10.0, 30.0, 35.0, 40.0])
    m = metrics.micro([y1, y2], [s1, s2])
    assert m["auc"] == pytest.approx(roc_auc_score(np.r_[y1, y2], np.r_[s1, s2]))
    assert m["frames"] == 8 and m["abnormal_frames"] == 4 and "micro" in m["protocol"]
    mn = metrics.micro([y1, y2], [s1, s2], normalization="seed")
    n1, n2 = (s1 - 1) / 4, (s2 - 10) / 40
    assert mn["auc"] == pytest.approx(roc_auc_score(np.r_[y1, y2], np.r_[n1, n2]))
    assert mn["auc"] != pytest.approx(m["auc"])
    assert "seed per video" in mn["protocol"]
    a = metrics.macro([y1, y2], [s1, s2], ["a", "b"])
    b = metrics.macro([y1, y2], [s1, s2], ["a", "b"], normalization="seed")
    assert a["auc"] == pytest.approx((1.0 + 0.75) / 2) and a["auc"] == pytest.approx(b["auc"])
    assert a["per_video"]["b"]["auc"] == pytest.approx(0.75)


def test_macro_lists_and_skips_one_label_videos():
    res = metrics.macro([np.array([0, 1], bool), np.ones(3, bool)], [np.array([0.0, 1.0]), np.zeros(3)], ["ok", "all"])
    assert res["skipped"] == ["all"] and res["videos"] == 1 and res["auc"] == pytest.approx(1.0)
    assert "all" in res["protocol"]
