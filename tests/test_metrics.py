import math

import numpy as np
import pytest
import torch

from analysis import metrics
from vasis.metrics.intra_class import intra_class_variation

SQ2 = math.sqrt(2)


def test_intra_inter_ratio_by_hand():
    values = np.array([[0.0, 2.0], [5.0, 5.0]])
    labels = np.array([[0, 0], [1, 1]])
    assert metrics.within_map_class_std(values, labels) == {0: 1.0, 1: 0.0}
    assert metrics.within_map_class_std(values, labels, ddof=1)[0] == pytest.approx(SQ2)
    assert metrics.inter_class_std(values, labels) == pytest.approx(2.0)  # means 1 and 5
    assert metrics.variation_ratio(values, labels) == pytest.approx(0.25)
    # two channels: averaged over channels; 255 is ignored
    v2 = np.stack([values, 2 * values])
    lab2 = np.array([[0, 0], [1, 255]])
    assert metrics.within_map_class_std(v2, lab2) == {0: pytest.approx(1.5)}  # class 1 has one pixel
    assert np.isnan(metrics.inter_class_std(values, np.zeros((2, 2), int)))
    df = metrics.class_variation(values, labels, names=["a", "b"])
    assert list(df["name"]) == ["a", "b"] and list(df["pixels"]) == [2, 2]


def test_sample_std_by_hand():
    s = np.zeros((2, 1, 1, 2))
    s[1, 0, 0, 0] = 2.0  # pixel 0: samples 0, 2 -> std sqrt(2); pixel 1 constant
    assert metrics.sample_std(s) == pytest.approx(SQ2 / 2)
    assert metrics.sample_std(s, np.array([[0, 1]])) == {0: pytest.approx(SQ2), 1: 0.0}
    with pytest.raises(ValueError):
        metrics.sample_std(s[:1])


def test_distance_to_boundary():
    d = metrics.distance_to_boundary(np.zeros((3, 3), int))
    assert d[1, 1] == 2 and d[0, 0] == 1 and d[0, 1] == 1
    assert np.isinf(metrics.distance_to_boundary(np.zeros((3, 3), int), border=False)).all()
    row = np.array([[0, 0, 1, 1]])
    assert metrics.distance_to_boundary(row, border=False).tolist() == [[2, 1, 1, 2]]
    assert metrics.distance_to_boundary(row).tolist() == [[1, 1, 1, 1]]


def test_profile_and_fraction_within():
    v = np.ones((4, 4))
    v[1:3, 1:3] = 0  # border ring 1, flat interior 0
    lab = np.zeros((4, 4), int)
    assert metrics.fraction_within(v, lab, 1) == {0: pytest.approx(1.0)}
    p = metrics.variation_profile(v, lab, bins=[1, 2, 3])
    assert p["pixels"].tolist() == [12, 4]
    assert p["cum_area_fraction"].tolist() == [0.75, 1.0]
    assert p["cum_variance_fraction"].tolist() == [pytest.approx(1.0), pytest.approx(1.0)]
    assert p["beyond_std"].iloc[0] == 0 and p["std"].tolist() == [0, 0]
    assert p["shift"].tolist() == [pytest.approx(0.25), pytest.approx(0.75)]  # mean is 0.75
    # i.i.d. noise: the fraction follows the area
    rng = np.random.default_rng(0)
    big = rng.normal(size=(64, 64))
    f = metrics.fraction_within(big, np.zeros((64, 64), int), 8)[0]
    area = float((metrics.distance_to_boundary(np.zeros((64, 64), int)) <= 8).mean())
    assert abs(f - area) < 0.05
    assert np.isnan(metrics.fraction_within(np.zeros((4, 4)), lab, 1)[0])


def test_ncc_and_pattern_repetition():
    a = np.arange(12.0).reshape(3, 4)
    assert metrics.ncc(a, a + 5) == pytest.approx(1.0)
    assert metrics.ncc(a, -a) == pytest.approx(-1.0)
    assert np.isnan(metrics.ncc(a, np.ones_like(a)))
    rng = np.random.default_rng(1)
    tex = rng.normal(size=(2, 8, 3))
    labels = np.stack([np.where(np.arange(12) < k, 4, 1)[None].repeat(8, 0) for k in (4, 6, 9)])
    imgs = []
    for lab in labels:
        im = rng.normal(size=(2, 8, 12)) * 0.01
        k = int((lab[0] == 4).sum())
        im[:, :, k - 3:k] += tex  # the same texture glued to the boundary
        imgs.append(im)
    anchors, size = metrics.boundary_anchors(labels, depth=3, side="first")
    assert anchors == [(0, 1), (0, 3), (0, 6)] and size == (8, 3)
    assert metrics.pattern_repetition(imgs, anchors, size, labels=labels, cls=4) > 0.99
    fresh = [rng.normal(size=(2, 8, 12)) for _ in labels]
    assert abs(metrics.pattern_repetition(fresh, anchors, size)) < 0.3
    with pytest.raises(ValueError, match="not entirely"):
        metrics.pattern_repetition(imgs, [(0, 4)] * 3, size, labels=labels, cls=4)
    with pytest.raises(ValueError, match="does not fit"):
        metrics.boundary_anchors(labels, depth=5)


def test_resize_labels_nearest():
    lab = torch.tensor([[0, 0, 1, 1]] * 4)
    assert metrics.resize_labels(lab, (2, 2)).tolist() == [[0, 1], [0, 1]]


def _pairs():
    img1 = np.zeros((2, 2, 3), np.float32)
    img1[0, 1] = 2.0  # class 0 = row 0: values 0, 2 in every channel
    img1[1] = 5.0  # class 1 = row 1: constant
    lab1 = np.array([[0, 0], [1, 1]])
    img2 = np.full((2, 2, 3), 7.0, np.float32)
    img2[1, 1] = 9.0
    lab2 = np.array([[1, 1], [1, 2]])  # class 2 has one pixel: skipped
    return [img1, img2], [lab1, lab2]


def test_official_intra_class_by_hand():
    imgs, labs = _pairs()
    r = intra_class_variation(imgs, labs, label_nc=3, official=True)
    # one_color[0] = (sqrt2 + 0) / 2 images; class 1: 0 and 0; class 2 skipped -> 0.
    assert r.one_color == pytest.approx(SQ2 / 2 / 3, rel=1e-6)
    assert r.one_light == pytest.approx(SQ2 / 2 / 3, rel=1e-5)  # luma weights sum to 1
    # all_*: numpy biased std; class 1 pools 5, 5, 7, 7, 7 -> std 0.9798
    pooled = np.std([5, 5, 7, 7, 7])
    assert r.all_color == pytest.approx((1.0 + pooled) / 3, rel=1e-5)
    assert r.all_light == pytest.approx((1.0 + pooled) / 3, rel=1e-5)
    assert r.per_class["images"].tolist() == [1, 2, 0]
    with pytest.raises(ValueError, match="255"):
        intra_class_variation(imgs, [labs[0], np.array([[1, 255], [1, 1]])], label_nc=3,
                                official=True)


def test_corrected_intra_class_by_hand():
    imgs, labs = _pairs()
    r = intra_class_variation(imgs, labs)
    # present classes only: class 0 (one image, std 1), class 1 (0 and 0); class 2 has 1 pixel
    assert r.one_color == pytest.approx(0.5)
    assert r.all_color == pytest.approx((1.0 + np.std([5, 5, 7, 7, 7])) / 2)
    assert r.per_class["class"].tolist() == [0, 1]
    # don't-care ignored rather than crashing
    r2 = intra_class_variation(imgs, [labs[0], np.array([[1, 255], [1, 1]])])
    assert np.isfinite(r2.one_color)
    assert r.as_dict().keys() == {"one_color", "one_light", "all_color", "all_light"}


def test_pattern_repetition_highpass_ignores_shared_gradients():
    from analysis.metrics import pattern_repetition
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, 32)[:, None] * np.ones((1, 8))       # the same gradient everywhere
    imgs = [ramp + 0.02 * rng.standard_normal((32, 8)) for _ in range(4)]   # fresh textures
    anchors = [(0, 0)] * 4
    assert pattern_repetition(imgs, anchors, (32, 8)) > 0.9          # the gradient repeats
    assert abs(pattern_repetition(imgs, anchors, (32, 8), highpass=5)) < 0.15
    stamped = [ramp + 0.02 * rng.standard_normal((32, 8))] * 4       # one texture stamped
    assert pattern_repetition(stamped, anchors, (32, 8), highpass=5) == pytest.approx(1.0)
