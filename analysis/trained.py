"""Statistics of generated images next to the data's, on the same label maps.

For images of a source (the data, or a trained generator's samples of the same maps), per class:

* ``intra``: within-image spatial std of the class's pixels (per RGB channel, averaged; then the
  mean over the images where the class has >= ``MIN_PIXELS`` pixels), in [0, 1] intensity
  units - :func:`vasis.data.within_image_class_std`, the data's own statistic;
* ``sample``: std across the samples of the *same* label map at each pixel (ddof 1), averaged
  over the class's pixels and the maps. For the scenes' data it is the design's conditional std
  given the layout (:func:`data_sample_std`: texture noise, 8-bit rounding, per-image
  illumination and per-instance colour shifts are drawn afresh for a new photo);
* ``near``: the fraction of the class's variation within ``distance`` px of a class boundary
  or the image border (:func:`analysis.metrics.fraction_within`), next to ``area``, the share
  of the class's pixels there (what evenly spread variation gives), and the same for every
  distance of :data:`PROFILE_D` (the variation-vs-distance profile);
* per image: ``inter`` (spread of the class means, :func:`analysis.metrics.inter_class_std`)
  and the class mean colours.

The trained study (:mod:`experiments.study`) measures its generators with these.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from vasis.data.scenes import (_INST, _TEX, ILLUMINATION, QUANT_VAR, SceneDataset,
                               within_image_class_std)
from vasis.labels import label_space

from . import metrics

__all__ = ["MIN_PIXELS", "PROFILE_D", "heldout", "data_sample_std", "source_statistics"]

MIN_PIXELS = 64        # a class enters an image's statistics with at least this many pixels
PROFILE_D = (1, 2, 4, 8, 16, 32)


# ----------------------------------------------------------------------------- statistics
def heldout(n: int, seed: int, size=(128, 128)):
    """(labels (n, H, W), real images (n, 3, H, W) in [-1, 1], scenes) of the ``val`` split."""
    ds = SceneDataset(n, size=size, seed=seed, split="val")
    scenes = [ds.scene(i) for i in range(n)]
    items = [ds[i] for i in range(n)]
    return (torch.stack([it["label"] for it in items]), torch.stack([it["image"] for it in items]),
            scenes)

def _clipped_normal_std(sd: float) -> float:
    """std of N(0, sd^2) clipped to +-2 sd (the scenes' instance shifts)."""
    if sd == 0:
        return 0.0
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(2 / math.sqrt(2))
    var = (1 - 2 * tail) - 2 * 2 * phi2 + 2 * tail * 4
    return sd * math.sqrt(var)


def data_sample_std(scene: dict) -> np.ndarray:
    """Per-pixel std of a new photo of the same layout, under the scenes' design, (H, W) in [0, 1].

    Given the label map, a new draw changes the white-noise texture (``texture_std``), the 8-bit
    rounding, the image's illumination ``U(0.92, 1.08)`` and each instance's colour shift: per
    channel ``var = texture^2 + 1/(12*255^2) + var(illum) * clean^2 + E[illum^2] * shift_var``
    (to first order: the scene's own clean value stands for the expected one), averaged over RGB
    as a std.
    """
    lab = scene["label"].astype(np.int64)
    clean = scene["clean"].astype(np.float64)             # (H, W, 3)
    a, b = ILLUMINATION
    var_i, mean_i2 = (b - a) ** 2 / 12, ((a + b) / 2) ** 2 + (b - a) ** 2 / 12
    shift = np.array([_clipped_normal_std(float(s)) for s in _INST]) ** 2
    var = (_TEX.astype(np.float64)[lab] ** 2 + QUANT_VAR + mean_i2 * shift[lab])[..., None] \
        + var_i * clean ** 2
    return np.sqrt(var).mean(-1)


def _per_class_mean(values: np.ndarray, lab: np.ndarray, nc: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class mean of an (H, W) map over the class's pixels (>= MIN_PIXELS), and the mask."""
    flat, v = lab.reshape(-1), values.reshape(-1)
    n = np.bincount(flat, minlength=nc)[:nc]
    s = np.bincount(flat, v, nc)[:nc]
    ok = n >= MIN_PIXELS
    return np.where(ok, s / np.maximum(n, 1), np.nan), ok


def _class_colours(img: np.ndarray, lab: np.ndarray, nc: int) -> np.ndarray:
    """(nc, 3) mean colour per class ([0, 1] image (3, H, W)); NaN below MIN_PIXELS."""
    return np.stack([_per_class_mean(img[c], lab, nc)[0] for c in range(3)], 1)


def source_statistics(images: np.ndarray, labels: np.ndarray, distance: int,
                      sample_map: np.ndarray | None = None, num_classes: int | None = None) -> dict:
    """Statistics of one source. ``images``: (S, n, 3, H, W) in [0, 1] (S samples of n maps);
    ``labels``: (n, H, W) with ids below ``num_classes`` (default: the scenes' classes; other
    ids, e.g. 255 = don't care, belong to no class); ``sample_map``: (n, H, W) per-pixel sample
    std (else from ``images``, which then needs S >= 2). Returns per-class arrays and
    per-image arrays."""
    nc = num_classes if num_classes is not None else len(label_space("scenes").classes)
    S, n = images.shape[:2]
    flat_imgs = images.reshape(S * n, *images.shape[2:])
    flat_labs = np.concatenate([labels] * S)
    intra, count = within_image_class_std(flat_imgs, flat_labs, nc, MIN_PIXELS, value_range=(0, 1))
    if sample_map is None:
        sample_map = images.std(axis=0, ddof=1).mean(axis=1) if S >= 2 else None
    samp = np.full((n, nc), np.nan)
    near = np.full((S * n, nc), np.nan)
    area = np.full((n, nc), np.nan)
    ds = sorted(set(PROFILE_D) | {distance})
    prof = np.full((S * n, nc, len(ds)), np.nan)
    prof_area = np.full((n, nc, len(ds)), np.nan)
    inter = np.full(S * n, np.nan)
    colours = np.full((S * n, nc, 3), np.nan)
    for i in range(n):
        lab = labels[i]
        if sample_map is not None:
            samp[i] = _per_class_mean(sample_map[i], lab, nc)[0]
        dist = metrics.distance_to_boundary(lab, border=True)
        for c in range(nc):
            m = lab == c
            if m.sum() >= MIN_PIXELS:
                area[i, c] = float((dist[m] <= distance).mean())
                prof_area[i, c] = [(dist[m] <= d).mean() for d in ds]
        # the map's distances for fraction_within (its own ignore ids), once for every sample
        within_dist = metrics.distance_to_boundary(lab, border=True, ignore=metrics.IGNORE)
        for s in range(S):
            j = s * n + i
            img = images[s, i]
            colours[j] = _class_colours(img, lab, nc)
            inter[j] = metrics.inter_class_std(img, lab)
            within = metrics.fraction_within(img, lab, ds, border=True, dist=within_dist)
            for c in range(nc):
                if (lab == c).sum() >= MIN_PIXELS:
                    prof[j, c] = within[c]
                    near[j, c] = prof[j, c, ds.index(distance)]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean over all-NaN columns
        return dict(intra=intra, images=count, sample=np.nanmean(samp, 0),
                    near=np.nanmean(near, 0), area=np.nanmean(area, 0),
                    profile=np.nanmean(prof, 0), profile_area=np.nanmean(prof_area, 0), d=ds,
                    inter=float(np.nanmean(inter)), colours=colours)
