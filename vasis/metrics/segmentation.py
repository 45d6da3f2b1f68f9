"""mIoU and pixel accuracy of generated images, segmented by a pluggable segmenter.

Protocol (docs/facts.md section 5): segment the generated images with a segmentation network
trained on the real data (the paper: DRN-D-105 Cityscapes, UperNet-101 ADE20K, DeepLab-v2
COCO-Stuff) and compare the prediction with the *input* label map.

Definitions, from the confusion matrix ``M[g, p]`` = number of pixels with ground-truth class
``g`` predicted as ``p`` (pixels whose ground truth is ``ignore_index``, 255 = don't care, are
left out; a prediction of ``ignore_index`` counts as wrong):

* ``iou[c] = M[c, c] / (sum_p M[c, p] + sum_g M[g, c] - M[c, c])``; NaN when class ``c`` is
  absent from both ground truth and prediction (its union is 0);
* ``miou`` = mean of ``iou`` over the classes that are *not* NaN, i.e. classes absent from
  both ground truth and prediction are excluded from the mean (a class that is predicted
  but never in the ground truth counts, with IoU 0);
* ``pixel_accuracy = trace(M) / sum(M)`` (overall, "Acc" in the papers);
* ``class_accuracy[c] = M[c, c] / sum_p M[c, p]`` (NaN for classes absent from the ground
  truth) and ``mean_accuracy`` its NaN-mean.

Segmenters: anything :func:`load_segmenter` accepts - a Python callable, a TorchScript file, or
a state-dict file plus a model factory; see docs/evaluation.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from ..loading import load_torch_file
from ..errors import UserError, MissingFileError

IGNORE_INDEX = 255
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def confusion_matrix(gt, pred, num_classes: int, ignore_index: int | None = IGNORE_INDEX) -> np.ndarray:
    """(num_classes, num_classes) int64 matrix, rows = ground truth, columns = prediction.

    ``gt`` and ``pred`` are integer arrays/tensors of the same shape. Pixels with
    ``gt == ignore_index`` are skipped; other ground-truth ids must lie in [0, num_classes).
    Predictions outside [0, num_classes) (e.g. ``ignore_index``) have no column: they are left
    out of this matrix; :class:`ConfusionMatrix` counts them as misses of their ground-truth
    class.
    """
    return _confusion(gt, pred, num_classes, ignore_index)[0]


def _confusion(gt, pred, num_classes, ignore_index):
    gt = gt.detach().cpu().numpy() if isinstance(gt, torch.Tensor) else np.asarray(gt)
    pred = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
    if gt.shape != pred.shape:
        raise UserError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    gt = gt.astype(np.int64, copy=False).ravel()
    pred = pred.astype(np.int64, copy=False).ravel()
    keep = gt != ignore_index if ignore_index is not None else np.ones(gt.shape, bool)
    gt, pred = gt[keep], pred[keep]
    if gt.size and (gt.min() < 0 or gt.max() >= num_classes):
        raise UserError(f"ground-truth ids must be in [0, {num_classes}) or {ignore_index}; "
                         f"got range [{gt.min()}, {gt.max()}]")
    valid = (pred >= 0) & (pred < num_classes)
    m = np.bincount(num_classes * gt[valid] + pred[valid],
                    minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    # invalid predictions: a miss for the ground-truth class (row total), never a hit
    misses = np.bincount(gt[~valid], minlength=num_classes)
    return m.astype(np.int64), misses.astype(np.int64)


class ConfusionMatrix:
    """Accumulates a confusion matrix over batches; :meth:`scores` gives the metrics."""

    def __init__(self, num_classes: int, ignore_index: int | None = IGNORE_INDEX):
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), np.int64)
        self.invalid = np.zeros(self.num_classes, np.int64)  # predictions outside the classes

    def update(self, gt, pred) -> "ConfusionMatrix":
        m, miss = _confusion(gt, pred, self.num_classes, self.ignore_index)
        self.matrix += m
        self.invalid += miss
        return self

    def scores(self, class_names=None) -> dict:
        return segmentation_scores(self.matrix, self.invalid, class_names)


def segmentation_scores(matrix, invalid=None, class_names=None) -> dict:
    """Metrics of a confusion matrix (see the module docstring for the definitions).

    Returns ``{'miou', 'pixel_accuracy', 'mean_accuracy', 'iou' (per class, NaN = absent from
    both), 'class_accuracy', 'support' (ground-truth pixels per class), 'classes_in_mean',
    'pixels'}``; with ``class_names`` also ``'iou_by_name'``.
    """
    m = np.asarray(matrix, dtype=np.float64)
    inv = np.zeros(m.shape[0]) if invalid is None else np.asarray(invalid, dtype=np.float64)
    tp = np.diag(m)
    gt_total = m.sum(1) + inv
    pred_total = m.sum(0)
    union = gt_total + pred_total - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        cls_acc = np.where(gt_total > 0, tp / gt_total, np.nan)
    pixels = gt_total.sum()
    present = ~np.isnan(iou)
    out = {
        "miou": float(iou[present].mean()) if present.any() else float("nan"),
        "pixel_accuracy": float(tp.sum() / pixels) if pixels > 0 else float("nan"),
        "mean_accuracy": float(np.nanmean(cls_acc)) if (gt_total > 0).any() else float("nan"),
        "iou": iou, "class_accuracy": cls_acc, "support": gt_total.astype(np.int64),
        "classes_in_mean": int(present.sum()), "pixels": int(pixels),
    }
    if class_names is not None:
        out["iou_by_name"] = {str(n): float(v) for n, v in zip(class_names, iou)}
    return out


# --------------------------------------------------------------------------------------------
# Pluggable segmenters
# --------------------------------------------------------------------------------------------

def imagenet_normalize(images: torch.Tensor) -> torch.Tensor:
    """Suite images in [-1, 1] -> ImageNet-normalized input (what DRN, UperNet's and DeepLab's
    torchvision-style backbones expect)."""
    x = (images.float() + 1.0) / 2.0
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class Segmenter:
    """Wraps a segmentation model as ``images (N,3,H,W) in [-1,1] -> label maps (N,H,W) int64``.

    ``model``: any callable returning either logits (N, C, h, w) - upsampled bilinearly to
    (H, W) and arg-maxed - or label maps (N, h, w) - resized nearest if needed. Outputs that are
    a dict (``'out'``, torchvision style), a tuple or a list (first element) are unwrapped.
    ``input_transform`` maps suite images to the model's input (default: identity);
    ``label_map`` (optional, a lookup array) maps the model's class ids to the generator's
    label ids, e.g. Cityscapes train ids -> label ids.
    """

    def __init__(self, model: Callable, input_transform: Callable | None = None, device="cpu",
                 label_map=None):
        self.model = model
        self.input_transform = input_transform
        self.device = torch.device(device)
        self.label_map = None if label_map is None else torch.as_tensor(np.asarray(label_map),
                                                                        dtype=torch.long)
        if isinstance(model, nn.Module) or isinstance(model, torch.jit.ScriptModule):
            model.eval().to(self.device)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device)
        if self.input_transform is not None:
            x = self.input_transform(x)
        out = self.model(x)
        if isinstance(out, dict):
            out = out["out"] if "out" in out else next(iter(out.values()))
        if isinstance(out, (tuple, list)):
            out = out[0]
        out = torch.as_tensor(out)
        H, W = images.shape[-2:]
        if out.ndim == 4:
            if out.shape[-2:] != (H, W):
                out = F.interpolate(out.float(), size=(H, W), mode="bilinear", align_corners=False)
            labels = out.argmax(1)
        elif out.ndim == 3:
            labels = out.long()
            if labels.shape[-2:] != (H, W):
                labels = F.interpolate(labels[:, None].float(), size=(H, W), mode="nearest")[:, 0].long()
        else:
            raise UserError(f"segmenter output must be (N,C,H,W) logits or (N,H,W) labels; "
                             f"got shape {tuple(out.shape)}")
        labels = labels.long().cpu()
        if self.label_map is not None:
            labels = self.label_map[labels]
        return labels


def load_segmenter(spec, factory: Callable[[], nn.Module] | None = None,
                   input_transform: Callable | None = None, device="cpu", label_map=None,
                   state_key: str | None = None, trust: bool = False) -> Segmenter:
    """A :class:`Segmenter` from ``spec``:

    * a :class:`Segmenter` (returned as is) or any callable (an ``nn.Module``, a function);
    * a path to a TorchScript file (``torch.jit.save``) with ``trust=True`` only: a TorchScript
      archive is a program that runs when loaded and called, so a file is never run unasked;
    * a path to a state-dict checkpoint together with ``factory`` (a zero-argument callable
      building the network); ``state_key`` picks a sub-dict (e.g. ``'state_dict'``); a
      ``module.`` prefix (DataParallel) is stripped.
    """
    if isinstance(spec, Segmenter):
        return spec
    if callable(spec) and not isinstance(spec, (str, Path)):
        return Segmenter(spec, input_transform, device, label_map)
    path = Path(spec)
    if not path.is_file():
        raise MissingFileError(f"segmenter file not found: {path}")
    if factory is None:
        if not trust:
            raise UserError(f"{path}: a segmenter file without a factory is read as TorchScript, "
                            f"a program that runs code from the file; pass trust=True (on the "
                            f"command line --trust-segmenter) if you trust it, or load a state "
                            f"dict with factory=<callable building the network>")
        try:
            model = torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, ValueError) as e:
            raise UserError(f"{path} is not a TorchScript file; for a state dict pass "
                             f"factory=<callable building the network>") from e
        return Segmenter(model, input_transform, device, label_map)
    state = load_torch_file(path, what="segmenter checkpoint")
    if state_key is not None:
        state = state[state_key]
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    model = factory()
    model.load_state_dict(state, strict=True)
    return Segmenter(model, input_transform, device, label_map)


def evaluate_segmentation(segmenter, images, labels=None, num_classes: int | None = None,
                          ignore_index: int | None = IGNORE_INDEX, batch_size: int = 16,
                          class_names=None) -> dict:
    """mIoU / accuracy of ``segmenter`` on ``images`` against ``labels``.

    ``images`` (N,3,H,W) in [-1, 1] with ``labels`` (N,H,W), or an iterable of
    ``(images, labels)`` pairs or of suite batches (``{'image', 'label'}``, e.g. a DataLoader
    over real data or over generated samples). ``num_classes`` defaults to the label space's
    size when ``class_names`` is given.
    """
    seg = load_segmenter(segmenter)
    if num_classes is None:
        if class_names is None:
            raise UserError("pass num_classes (or class_names)")
        num_classes = len(class_names)
    cm = ConfusionMatrix(num_classes, ignore_index)
    if isinstance(images, torch.Tensor):
        if labels is None:
            raise UserError("labels are required with an image tensor")
        pairs = ((images[i:i + batch_size], labels[i:i + batch_size])
                 for i in range(0, images.shape[0], batch_size))
    else:
        pairs = images
    for item in pairs:
        if isinstance(item, dict):
            x, y = item["image"], item["label"]
        else:
            x, y = item
        if x.ndim == 3:
            x, y = x[None], torch.as_tensor(y)[None]
        cm.update(torch.as_tensor(y), seg(x))
    return cm.scores(class_names)
