"""Diversity of several samples generated from the *same* layout: per image and per class.

Definitions. For one label map ``L`` (H, W) and ``K >= 2`` samples ``x_1..x_K`` generated from
it (different noise), a per-pixel distance map ``D_ij(p)`` between samples ``i`` and ``j`` gives

* **image-wise diversity** = mean over the K(K-1)/2 pairs of the mean of ``D_ij`` over all
  pixels (don't-care pixels, ``ignore_index``, excluded);
* **class-wise diversity** of class ``c`` = mean over pairs of the mean of ``D_ij`` over the
  pixels of class ``c`` only (classes absent from ``L`` have none: NaN), and ``mean_class``
  = the mean over the classes present in ``L``.

Over several layouts (:func:`layout_diversity`) image-wise values are averaged over layouts
and each class's value over the layouts that contain it. Higher = more diverse; identical
samples give 0. A model with class-level mode collapse shows near-zero class-wise diversity
for the collapsed classes even when its image-wise diversity looks fine.

Distances (``metric``):

* ``'lpips'``: the LPIPS spatial map (``lpips`` package, AlexNet), upsampled to (H, W); used
  only where the package *and* its backbone weights are available locally (no download);
* ``'features'``: LPIPS-style distance in a feature space given by ``feature_fn`` (images in
  [-1, 1] -> (N, C, h, w) feature maps, e.g. the FID Inception's ``features(x, 'Mixed_5d')``):
  channels unit-normalised per pixel, squared difference summed over channels, upsampled
  bilinearly to (H, W);
* ``'l1'``: mean absolute difference over RGB channels, on images in [-1, 1] (so in [0, 2]);
* ``'auto'`` (default): ``'lpips'`` if available, else ``'features'`` if ``feature_fn`` is
  given, else ``'l1'``. The result records which metric was used: values of different
  metrics are not comparable.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .segmentation import IGNORE_INDEX
from ..errors import UserError

_LPIPS_CACHE: dict = {}


def lpips_available(net: str = "alex") -> bool:
    """True when the ``lpips`` package is installed and its backbone's ImageNet weights are
    already in the torch hub cache (so nothing would be downloaded)."""
    try:
        # local: lpips is optional (not a dependency); torchvision is heavy
        import lpips  # noqa: F401
        import torchvision
    except ImportError:
        return False
    weights = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights", "squeeze": "SqueezeNet1_1_Weights"}
    try:
        url = getattr(torchvision.models, weights[net]).IMAGENET1K_V1.url
    except (KeyError, AttributeError):
        return False
    return (Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]).is_file()


def _lpips_model(net: str = "alex"):
    if net not in _LPIPS_CACHE:
        # local: lpips is optional (not a dependency)
        import lpips
        _LPIPS_CACHE[net] = lpips.LPIPS(net=net, spatial=True, verbose=False).eval()
    return _LPIPS_CACHE[net]


def resolve_metric(metric: str = "auto", feature_fn: Callable | None = None) -> str:
    if metric == "auto":
        if lpips_available():
            return "lpips"
        return "features" if feature_fn is not None else "l1"
    if metric not in ("lpips", "features", "l1"):
        raise UserError(f"unknown metric {metric!r}; use 'auto', 'lpips', 'features' or 'l1'")
    if metric == "lpips" and not lpips_available():
        raise RuntimeError("LPIPS needs the `lpips` package and its AlexNet weights in "
                           f"{Path(torch.hub.get_dir()) / 'checkpoints'}; use metric='l1' or "
                           "'features' instead")
    if metric == "features" and feature_fn is None:
        raise UserError("metric='features' needs feature_fn")
    return metric


@torch.no_grad()
def pairwise_distance_maps(a: torch.Tensor, b: torch.Tensor, metric: str = "l1",
                           feature_fn: Callable | None = None) -> torch.Tensor:
    """(P, H, W) per-pixel distances between image batches ``a`` and ``b`` (P, 3, H, W) in [-1, 1]."""
    H, W = a.shape[-2:]
    if metric == "l1":
        return (a.float() - b.float()).abs().mean(1)
    if metric == "lpips":
        d = _lpips_model()(a.float(), b.float())[:, 0:1]
    elif metric == "features":
        fa, fb = feature_fn(a), feature_fn(b)
        fa = fa / (fa.norm(dim=1, keepdim=True) + 1e-10)
        fb = fb / (fb.norm(dim=1, keepdim=True) + 1e-10)
        d = ((fa - fb) ** 2).sum(1, keepdim=True)
    else:
        raise UserError(f"unknown metric {metric!r}")
    if d.shape[-2:] != (H, W):
        d = F.interpolate(d.float(), size=(H, W), mode="bilinear", align_corners=False)
    return d[:, 0].float()


def sample_diversity(samples: torch.Tensor, label, num_classes: int, metric: str = "auto",
              feature_fn: Callable | None = None, ignore_index: int | None = IGNORE_INDEX,
              pair_batch: int = 16) -> dict:
    """Image-wise and class-wise diversity of ``samples`` (K, 3, H, W) in [-1, 1], all generated
    from the label map ``label`` (H, W) (definitions in the module docstring).

    Returns ``{'image': float, 'class': (num_classes,) array (NaN = class absent),
    'mean_class': float, 'pixels': (num_classes,) int array, 'pairs': int, 'metric': str}``.
    """
    if samples.ndim != 4 or samples.shape[0] < 2:
        raise UserError(f"need (K >= 2, 3, H, W) samples; got shape {tuple(samples.shape)}")
    label = torch.as_tensor(label).long().cpu()
    if label.shape != samples.shape[-2:]:
        raise UserError(f"label map {tuple(label.shape)} does not match samples {tuple(samples.shape[-2:])}")
    metric = resolve_metric(metric, feature_fn)
    K = samples.shape[0]
    ii, jj = torch.triu_indices(K, K, 1)
    valid = label != ignore_index if ignore_index is not None else torch.ones_like(label, dtype=torch.bool)
    lab = torch.where(valid, label, torch.zeros_like(label))
    if ((lab < 0) | (lab >= num_classes))[valid].any():
        raise UserError(f"label ids must be in [0, {num_classes}) or {ignore_index}")
    onehot = F.one_hot(lab, num_classes).float() * valid[..., None].float()  # (H, W, C)
    pixels = onehot.sum((0, 1))
    class_sum = torch.zeros(num_classes, dtype=torch.float64)
    image_sum = 0.0
    for s in range(0, len(ii), pair_batch):
        a, b = samples[ii[s:s + pair_batch]], samples[jj[s:s + pair_batch]]
        d = pairwise_distance_maps(a, b, metric, feature_fn).cpu()  # (P, H, W)
        class_sum += torch.einsum("phw,hwc->c", d, onehot).double()
        image_sum += float((d * valid).sum() / valid.sum().clamp(min=1))
    n_pairs = len(ii)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(pixels.numpy() > 0,
                             class_sum.numpy() / n_pairs / pixels.double().numpy(), np.nan)
    present = ~np.isnan(per_class)
    return {"image": image_sum / n_pairs, "class": per_class,
            "mean_class": float(per_class[present].mean()) if present.any() else float("nan"),
            "pixels": pixels.long().numpy(), "pairs": int(n_pairs), "metric": metric}


def layout_diversity(sample_sets, labels, num_classes: int, metric: str = "auto",
                     feature_fn: Callable | None = None, ignore_index: int | None = IGNORE_INDEX,
                     class_names=None) -> dict:
    """Diversity over several layouts: ``sample_sets`` yields (K, 3, H, W) samples for each of
    ``labels`` (N, H, W) (or a callable ``f(label) -> samples``). Image-wise: mean over layouts;
    class-wise: each class's mean over the layouts containing it."""
    metric = resolve_metric(metric, feature_fn)
    img, cls_sum, cls_n = [], np.zeros(num_classes), np.zeros(num_classes)
    for n, label in enumerate(labels):
        samples = sample_sets(label) if callable(sample_sets) else sample_sets[n]
        r = sample_diversity(samples, label, num_classes, metric, feature_fn, ignore_index)
        img.append(r["image"])
        ok = ~np.isnan(r["class"])
        cls_sum[ok] += r["class"][ok]
        cls_n[ok] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(cls_n > 0, cls_sum / np.maximum(cls_n, 1), np.nan)
    present = ~np.isnan(per_class)
    out = {"image": float(np.mean(img)) if img else float("nan"), "class": per_class,
           "mean_class": float(per_class[present].mean()) if present.any() else float("nan"),
           "layouts": len(img), "metric": metric}
    if class_names is not None:
        out["class_by_name"] = {str(c): float(v) for c, v in zip(class_names, per_class)}
    return out
