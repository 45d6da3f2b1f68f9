"""Class-wise and image-wise diversity of samples of one layout."""
import numpy as np
import pytest
import torch

from vasis.metrics import diversity


def _label():
    lab = torch.zeros(16, 16, dtype=torch.long)
    lab[8:] = 1
    lab[:, :2] = 255
    return lab


def test_identical_samples_have_zero_diversity():
    x = torch.rand(1, 3, 16, 16).repeat(4, 1, 1, 1) * 2 - 1
    r = diversity.sample_diversity(x, _label(), num_classes=3, metric="l1")
    assert r["image"] == 0 and np.allclose(r["class"][:2], 0) and np.isnan(r["class"][2])
    assert r["pairs"] == 6 and r["metric"] == "l1" and r["mean_class"] == 0


def test_class_restricted_l1_hand_computed():
    lab = _label()
    a = torch.zeros(3, 16, 16)
    b = a.clone()
    b[:, 8:] = 0.5  # class 1 differs by 0.5, class 0 identical
    r = diversity.sample_diversity(torch.stack([a, b]), lab, num_classes=2, metric="l1")
    assert r["class"][0] == pytest.approx(0.0) and r["class"][1] == pytest.approx(0.5)
    assert r["image"] == pytest.approx(0.25)  # half of the valid pixels
    assert r["mean_class"] == pytest.approx(0.25)


def test_feature_metric_and_layouts():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    feat = lambda im: conv(im)  # noqa: E731
    lab = _label()
    same = torch.rand(1, 3, 16, 16).repeat(3, 1, 1, 1)
    diff = torch.rand(3, 3, 16, 16)
    r0 = diversity.sample_diversity(same, lab, 2, metric="features", feature_fn=feat)
    r1 = diversity.sample_diversity(diff, lab, 2, metric="features", feature_fn=feat)
    assert r0["image"] == pytest.approx(0, abs=1e-6) and r1["image"] > 0.01
    agg = diversity.layout_diversity([same, diff], torch.stack([lab, lab]), 2, metric="features",
                             feature_fn=feat, class_names=["a", "b"])
    assert agg["image"] == pytest.approx((r0["image"] + r1["image"]) / 2)
    assert agg["layouts"] == 2 and set(agg["class_by_name"]) == {"a", "b"}


def test_auto_metric_falls_back_without_lpips():
    m = diversity.resolve_metric("auto")
    assert m == ("lpips" if diversity.lpips_available() else "l1")
    with pytest.raises(ValueError):
        diversity.resolve_metric("features")
