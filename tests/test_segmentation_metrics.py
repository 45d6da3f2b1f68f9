"""mIoU / pixel accuracy from the confusion matrix, pluggable segmenters, the scenes segmenter."""

import numpy as np
import pytest
import torch

from vasis.data import SceneDataset
from vasis.labels import SCENES_CLASSES
from vasis.metrics import segmentation
from vasis.metrics.scene_segmenter import TinySceneSegmenter, train_scene_segmenter


def test_hand_computed():
    gt = np.array([[0, 0, 1, 1],
                   [0, 2, 1, 255]])
    pred = np.array([[0, 1, 1, 1],
                     [0, 2, 2, 0]])
    m = segmentation.confusion_matrix(gt, pred, num_classes=4)
    assert m.tolist() == [[2, 1, 0, 0], [0, 2, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    s = segmentation.segmentation_scores(m)
    # IoU: class0 2/(3+2-2)=2/3, class1 2/(3+3-2)=1/2, class2 1/(1+2-1)=1/2, class3 absent -> NaN
    assert np.allclose(s["iou"][:3], [2 / 3, 1 / 2, 1 / 2]) and np.isnan(s["iou"][3])
    assert s["miou"] == pytest.approx((2 / 3 + 0.5 + 0.5) / 3) and s["classes_in_mean"] == 3
    assert s["pixel_accuracy"] == pytest.approx(5 / 7)
    assert np.allclose(s["class_accuracy"][:3], [2 / 3, 2 / 3, 1.0])


def test_against_independent_computation():
    rng = np.random.default_rng(0)
    C = 6
    gt = rng.integers(0, C - 1, (3, 20, 30))  # class 5 never in the GT
    gt[:, :2] = 255
    pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, C, gt.shape))
    pred[pred == 255] = 0
    pred[0, 5, 5] = 5  # a false positive of a class absent from the GT: counts with IoU 0
    cm = segmentation.ConfusionMatrix(C)
    for g, p in zip(gt, pred):
        cm.update(torch.from_numpy(g), torch.from_numpy(p))
    s = cm.scores(class_names=[f"c{i}" for i in range(C)])
    keep = gt != 255
    ious = []
    for c in range(C):
        inter = np.sum((gt == c) & (pred == c) & keep)
        union = np.sum(((gt == c) | (pred == c)) & keep)
        if union:
            ious.append(inter / union)
            assert s["iou"][c] == pytest.approx(inter / union)
    assert s["miou"] == pytest.approx(np.mean(ious))
    assert s["iou"][5] == 0.0
    assert s["pixel_accuracy"] == pytest.approx(np.sum((gt == pred) & keep) / keep.sum())


def test_invalid_prediction_counts_as_miss_and_bad_gt_raises():
    cm = segmentation.ConfusionMatrix(2).update(np.array([0, 0, 1]), np.array([0, 255, 1]))
    s = cm.scores()
    assert s["pixel_accuracy"] == pytest.approx(2 / 3) and s["iou"][0] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        segmentation.confusion_matrix(np.array([3]), np.array([0]), 2)


def test_pluggable_segmenters(tmp_path):
    torch.manual_seed(0)
    net = TinySceneSegmenter(width=4).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    want = net(x).argmax(1)
    assert torch.equal(segmentation.load_segmenter(net)(x), want)                      # module
    assert torch.equal(segmentation.load_segmenter(lambda im: want.clone())(x), want)   # label-map callable
    # logits at a lower resolution are upsampled; dict outputs (torchvision style) unwrapped
    small = segmentation.load_segmenter(lambda im: {"out": torch.nn.functional.avg_pool2d(net(im), 2)})(x)
    assert small.shape == (2, 32, 32)
    ts = tmp_path / "seg.pt"
    torch.jit.save(torch.jit.trace(net, x), str(ts))
    assert torch.equal(segmentation.load_segmenter(ts, trust=True)(x), want)           # TorchScript
    with pytest.raises(ValueError, match="--trust-segmenter"):   # never run unasked
        segmentation.load_segmenter(ts)
    sd = tmp_path / "seg.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, sd)
    seg = segmentation.load_segmenter(sd, factory=lambda: TinySceneSegmenter(width=4), state_key="state_dict")
    assert torch.equal(seg(x), want)                                        # state dict + factory
    with pytest.raises(ValueError, match="factory"):
        segmentation.load_segmenter(sd)


def test_scene_segmenter_trains_to_high_accuracy():
    model = train_scene_segmenter(n_images=120, size=(64, 64), steps=150, batch_size=8, width=16,
                                  time_limit=20.0)
    ds = SceneDataset(30, size=(64, 64), split="val")
    s = segmentation.evaluate_segmentation(model, torch.stack([ds[i]["image"] for i in range(30)]),
                                torch.stack([ds[i]["label"] for i in range(30)]),
                                class_names=SCENES_CLASSES)
    assert s["pixel_accuracy"] > 0.85, s
    assert np.isnan(s["iou"][0])  # 'unlabeled' never drawn nor predicted: out of the mean
