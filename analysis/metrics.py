"""Map-level variation metrics: intra-/inter-class variation, boundary profiles, pattern
repetition (the VASIS intra-class statistic of image folders, an evaluation metric, is
:mod:`vasis.metrics.intra_class`).

Conventions used throughout (see ``docs/metrics.md`` for the full definitions):

* ``values`` is one map: (H, W) or (C, H, W) (RGB image, feature map); ``labels`` is the (H, W)
  integer class map of the same size (use :func:`resize_labels` for feature maps: nearest, as the
  generators resize their input). Numpy arrays and torch tensors are both accepted; results are
  Python floats / numpy arrays / pandas DataFrames computed in float64.
* Ids in ``ignore`` (default ``(255,)``, the don't-care id) are not classes: their pixels are
  left out everywhere.
* "Spatial" std = population std (ddof 0) over a class's pixels: the pixels of a region are the
  whole population, not a sample of it. "Sample" std = std across repeated generations of the
  same layout, unbiased (ddof 1): the samples are draws from the generator's distribution.
* Multi-channel statistics are computed per channel and then averaged over channels.
"""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage

from vasis.errors import UserError
from vasis.labels import DONTCARE_ID

__all__ = [
    "resize_labels", "within_map_class_std", "class_means", "inter_class_std", "variation_ratio",
    "sample_std", "class_variation", "distance_to_boundary", "variation_profile",
    "fraction_within", "ncc", "pattern_repetition", "boundary_anchors",
]

IGNORE = (DONTCARE_ID,)


# ----------------------------------------------------------------------------- helpers
def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _chw(values) -> np.ndarray:
    v = _np(values).astype(np.float64)
    if v.ndim == 2:
        v = v[None]
    if v.ndim != 3:
        raise UserError(f"values must be (H, W) or (C, H, W), got shape {v.shape}")
    return v


def _labels(labels, shape=None) -> np.ndarray:
    lab = _np(labels)
    if lab.ndim != 2:
        raise UserError(f"labels must be an (H, W) class map, got shape {lab.shape}")
    if np.issubdtype(lab.dtype, np.floating):
        if not np.all(lab == np.round(lab)):
            raise UserError("labels must hold integer class ids")
    lab = lab.astype(np.int64)
    if shape is not None and lab.shape != tuple(shape):
        raise UserError(f"labels of shape {lab.shape} do not match values of spatial shape "
                         f"{tuple(shape)}; resize them with resize_labels (nearest)")
    return lab


def _classes(lab: np.ndarray, ignore) -> list[int]:
    ignore = set(ignore or ())
    return [int(c) for c in np.unique(lab) if int(c) not in ignore]


def resize_labels(labels, size) -> torch.Tensor:
    """Nearest-resize an (H, W) or (N, H, W) class map to ``size`` (h, w), as the generators do."""
    lab = torch.as_tensor(_np(labels) if not isinstance(labels, torch.Tensor) else labels)
    squeeze = lab.dim() == 2
    if squeeze:
        lab = lab[None]
    out = F.interpolate(lab[:, None].float(), size=tuple(size), mode="nearest")[:, 0].long()
    return out[0] if squeeze else out


# ----------------------------------------------------------------------------- intra / inter
def within_map_class_std(values, labels, *, ignore=IGNORE, min_pixels: int = 2,
                    ddof: int = 0) -> dict[int, float]:
    """Within-map spatial variation of every class.

    For class c with pixel set P_c (|P_c| >= ``min_pixels``) and channel k:
    ``s_k(c) = std_{p in P_c} values[k, p]`` (ddof ``ddof``, default 0); the result is
    ``mean_k s_k(c)``. Classes with fewer pixels are left out (not counted as 0).
    """
    v = _chw(values)
    lab = _labels(labels, v.shape[1:])
    out = {}
    for c in _classes(lab, ignore):
        mask = lab == c
        if mask.sum() < max(min_pixels, ddof + 1):
            continue
        out[c] = float(v[:, mask].std(axis=1, ddof=ddof).mean())
    return out


def class_means(values, labels, *, ignore=IGNORE) -> dict[int, np.ndarray]:
    """Per-class mean over the class's pixels, per channel: {class: (C,) array}."""
    v = _chw(values)
    lab = _labels(labels, v.shape[1:])
    return {c: v[:, lab == c].mean(axis=1) for c in _classes(lab, ignore)}


def inter_class_std(values, labels, *, ignore=IGNORE, ddof: int = 0) -> float:
    """Spread of the class means: ``mean_k std_c mu_k(c)`` (population std over the classes
    present, per channel k, then averaged over channels). NaN with fewer than two classes."""
    means = class_means(values, labels, ignore=ignore)
    if len(means) < 2:
        return float("nan")
    m = np.stack(list(means.values()))  # (classes, C)
    return float(m.std(axis=0, ddof=ddof).mean())


def variation_ratio(values, labels, *, ignore=IGNORE, min_pixels: int = 2) -> float:
    """Mean intra-class std over the classes (:func:`within_map_class_std`) divided by the
    inter-class std (:func:`inter_class_std`). Large: classes vary inside as much as they differ
    from each other; ~0: every class is a flat colour (class-level mode collapse). NaN if
    undefined."""
    intra = within_map_class_std(values, labels, ignore=ignore, min_pixels=min_pixels)
    inter = inter_class_std(values, labels, ignore=ignore)
    if not intra or not np.isfinite(inter) or inter == 0:
        return float("nan")
    return float(np.mean(list(intra.values())) / inter)


def sample_std(samples, labels=None, *, ignore=IGNORE, ddof: int = 1):
    """Variation across samples of one layout.

    ``samples``: (S, C, H, W) or (S, H, W), S >= 2 generations of the same label map. Per pixel p
    and channel k: ``std_s samples[s, k, p]`` (ddof 1); averaged over channels and over all pixels
    (``labels=None``: returns a float) or over each class's pixels (returns {class: float}).
    """
    x = _np(samples).astype(np.float64)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[0] < 2:
        raise UserError(f"samples must be (S, C, H, W) or (S, H, W) with S >= 2, got {x.shape}")
    per_pixel = x.std(axis=0, ddof=ddof).mean(axis=0)  # (H, W)
    if labels is None:
        return float(per_pixel.mean())
    lab = _labels(labels, per_pixel.shape)
    return {c: float(per_pixel[lab == c].mean()) for c in _classes(lab, ignore)}


def class_variation(values, labels, *, samples=None, ignore=IGNORE, min_pixels: int = 2,
                    names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per class: ``class``, ``name``, ``pixels``, ``intra_std``, ``sample_std`` (if
    ``samples`` (S, C, H, W) is given), plus ``inter_std`` and ``ratio`` (same for every row)."""
    v = _chw(values)
    lab = _labels(labels, v.shape[1:])
    intra = within_map_class_std(v, lab, ignore=ignore, min_pixels=min_pixels)
    inter = inter_class_std(v, lab, ignore=ignore)
    samp = sample_std(samples, lab, ignore=ignore) if samples is not None else {}
    rows = []
    for c in _classes(lab, ignore):
        rows.append({"class": c, "name": names[c] if names is not None and c < len(names) else None,
                     "pixels": int((lab == c).sum()), "intra_std": intra.get(c, np.nan),
                     "sample_std": samp.get(c, np.nan), "inter_std": inter,
                     "ratio": intra.get(c, np.nan) / inter if inter else np.nan})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- boundaries
def distance_to_boundary(labels, *, border: bool = True, ignore=()) -> np.ndarray:
    """Euclidean distance (pixels) of every pixel to the nearest pixel of *another* class.

    With ``border=True`` the image border counts as a boundary: the map is padded by one pixel of
    "another class" all round, so a pixel on the edge has distance 1, like a pixel next to a class
    boundary. With ``border=False`` only class boundaries count (pixels of a class that touches
    no other class get ``inf``). Ids in ``ignore`` count as another class. Computed per class with
    ``scipy.ndimage.distance_transform_edt``.
    """
    lab = _labels(labels)
    out = np.full(lab.shape, np.inf)
    for c in np.unique(lab):
        mask = lab == c
        padded = np.pad(mask, 1, constant_values=not border)
        if padded.all():
            continue
        dist = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
        out[mask] = dist[mask]
    return out


def _sum_sq(pix: np.ndarray) -> float:
    """Sum over pixels of the squared deviation from their own mean, averaged over channels."""
    if pix.shape[1] == 0:
        return 0.0
    return float(((pix - pix.mean(axis=1, keepdims=True)) ** 2).sum(axis=1).mean())


def _default_edges(top: float) -> list[float]:
    edges = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0]
    while edges[-1] < top:
        edges.append(edges[-1] * 2)
    return edges


def variation_profile(values, labels, *, bins=None, border: bool = True, ignore=IGNORE,
                      names: Sequence[str] | None = None) -> pd.DataFrame:
    """How a class's spatial variation depends on the distance to a boundary/border.

    ``d(p)`` is :func:`distance_to_boundary` (pixels of ``values``: for a feature map, feature
    pixels). For class c let ``SS(S) = mean_k sum_{p in S} (values[k, p] - mean_{S} values[k])^2``
    be the sum of squares of a pixel set S about its own mean, and A the class's pixels. Pixels
    are binned by ``d`` into ``bins`` (edges; default 1, 2, 3, 4, 6, 8, 16, 32, ... ;
    bin i holds ``edges[i] <= d < edges[i+1]``). One row per class and bin with

    * ``std``: spatial std (ddof 0, channel mean) of the pixels in the bin;
    * ``shift``: channel-rms of (bin mean - class mean): how far the bin sits from the class;
    * ``beyond_std``: spatial std of the class's pixels with ``d >= d_high`` (what is left of
      the variation once the pixels nearer than ``d_high`` are ignored);
    * ``cum_variance_fraction``: ``1 - SS({d >= d_high}) / SS(A)``, the fraction of the class's
      variation within ``d_high`` of a boundary/border: 1 when the pixels beyond ``d_high`` are
      flat, about ``cum_area_fraction`` when the variation is spread evenly (i.i.d. noise); NaN
      for a flat class. (By the law of total variance this counts the near pixels' own spread
      and their offset from the interior.)
    * ``cum_area_fraction``: the fraction of the class's pixels with ``d < d_high``.

    Variation "lives near the border" when ``cum_variance_fraction`` >> ``cum_area_fraction``.
    """
    v = _chw(values)
    lab = _labels(labels, v.shape[1:])
    dist = distance_to_boundary(lab, border=border, ignore=ignore)
    finite = dist[np.isfinite(dist)]
    top = float(finite.max()) + 1 if finite.size else 2.0
    edges = np.asarray(_default_edges(top) if bins is None else [float(b) for b in bins])
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise UserError(f"bins must be at least two increasing edges, got {list(edges)}")
    rows = []
    for c in _classes(lab, ignore):
        mask = lab == c
        pix = v[:, mask]
        d = dist[mask]
        total = _sum_sq(pix)
        mu = pix.mean(axis=1)
        for lo, hi in zip(edges[:-1], edges[1:]):
            inbin = (d >= lo) & (d < hi)
            beyond = d >= hi
            b = pix[:, inbin]
            rows.append({
                "class": c, "name": names[c] if names is not None and c < len(names) else None,
                "d_low": float(lo), "d_high": float(hi), "pixels": int(inbin.sum()),
                "std": float(b.std(axis=1).mean()) if inbin.any() else np.nan,
                "shift": float(np.sqrt(((b.mean(axis=1) - mu) ** 2).mean())) if inbin.any() else np.nan,
                "beyond_std": float(pix[:, beyond].std(axis=1).mean()) if beyond.any() else np.nan,
                "cum_variance_fraction": 1 - _sum_sq(pix[:, beyond]) / total if total > 0 else np.nan,
                "cum_area_fraction": float((~beyond).mean()),
            })
    return pd.DataFrame(rows)


def fraction_within(values, labels, distance, *, border: bool = True,
                    ignore=IGNORE, dist: np.ndarray | None = None
                    ) -> dict[int, float] | dict[int, np.ndarray]:
    """{class: fraction of the class's variation within ``distance`` pixels of a boundary/border}:
    ``1 - SS({d(p) > distance}) / SS(class)`` (see :func:`variation_profile`); NaN if flat.
    A sequence of distances gives {class: array of fractions, one per distance}. ``dist``:
    :func:`distance_to_boundary` of ``labels`` with the same ``border`` and ``ignore``, where the
    caller has it (many images of one map)."""
    v = _chw(values)
    lab = _labels(labels, v.shape[1:])
    if dist is None:
        dist = distance_to_boundary(lab, border=border, ignore=ignore)
    many = np.ndim(distance) > 0
    ds = np.atleast_1d(np.asarray(distance, dtype=np.float64))
    out = {}
    for c in _classes(lab, ignore):
        mask = lab == c
        pix = v[:, mask]
        total = _sum_sq(pix)
        d = dist[mask]
        f = np.array([1 - _sum_sq(pix[:, d > dk]) / total if total > 0 else np.nan for dk in ds])
        out[c] = f if many else float(f[0])
    return out


# ----------------------------------------------------------------------------- repetition
def ncc(a, b) -> float:
    """Normalized cross-correlation of two equally shaped patches, (h, w) or (C, h, w).

    Each channel of each patch has its own mean removed; then
    ``sum(a' * b') / sqrt(sum(a'^2) * sum(b'^2))`` over all channels and pixels. 1: the same
    texture (up to per-channel offset and a common scale), 0: uncorrelated. NaN if a patch is
    flat (no texture to compare).
    """
    a, b = _chw(a), _chw(b)
    if a.shape != b.shape:
        raise UserError(f"patches differ in shape: {a.shape} vs {b.shape}")
    a = a - a.mean(axis=(1, 2), keepdims=True)
    b = b - b.mean(axis=(1, 2), keepdims=True)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def pattern_repetition(images, anchors, patch_size, *, labels=None, cls=None,
                       highpass: int = 0) -> float:
    """Class-level pattern-repetition score: mean pairwise NCC of aligned patches.

    ``images``: K >= 2 maps, (C, H, W) or (H, W) (list or (K, ...) array), each generated with the
    same boundary shape of class ``cls`` at a different place (or in different layouts).
    ``anchors[i] = (top, left)`` of the patch of image i, ``patch_size = (h, w)``: the patches are
    aligned on the boundary shape (same offset from it in every image; see
    :func:`boundary_anchors`). The score is ``mean_{i<j} ncc(patch_i, patch_j)`` over the pairs
    where both patches have texture (flat patches give NaN pairs, left out; NaN if none remain).
    ~1: the class's texture is stamped identically wherever the shape appears (pattern
    repetition, a symptom of class-level mode collapse); ~0: independent textures.
    With ``labels`` (K maps) and ``cls``, every patch is checked to lie inside class ``cls``.
    ``highpass = k > 1`` compares textures only: each patch minus its k x k local mean (per
    channel, edges repeated), so shared smooth gradients (a sky brightening downwards in every
    image) do not count as a repeated pattern.
    """
    imgs = [_chw(im) for im in images]
    anchors = list(anchors)
    if len(imgs) < 2:
        raise UserError("pattern_repetition needs at least two images")
    if len(anchors) != len(imgs):
        raise UserError(f"{len(imgs)} images but {len(anchors)} anchors")
    h, w = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
    patches = []
    for i, (im, (t, l)) in enumerate(zip(imgs, anchors)):
        if t < 0 or l < 0 or t + h > im.shape[1] or l + w > im.shape[2]:
            raise UserError(f"patch {i} at {(t, l)} of size {(h, w)} leaves the "
                             f"{im.shape[1]}x{im.shape[2]} map")
        if labels is not None:
            lab = _labels(labels[i], im.shape[1:])
            if cls is None or not np.all(lab[t:t + h, l:l + w] == cls):
                raise UserError(f"patch {i} at {(t, l)} is not entirely of class {cls}")
        patch = im[:, t:t + h, l:l + w]
        if highpass > 1:
            patch = patch - ndimage.uniform_filter(patch, size=(1, highpass, highpass), mode="nearest")
        patches.append(patch)
    scores = [ncc(a, b) for a, b in combinations(patches, 2)]
    scores = [s for s in scores if np.isfinite(s)]
    return float(np.mean(scores)) if scores else float("nan")


def boundary_anchors(labels, *, orientation: str = "vertical", depth: int = 8,
                     side: str = "first") -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Anchors and patch size aligning a class on a straight boundary across maps.

    ``labels``: (K, H, W) two-class maps with one straight boundary each (as from
    :func:`analysis.layouts.boundary_series`, possibly resized to a feature map's size). For a
    vertical boundary at column k_i the patch of the ``first`` (left) class is columns
    ``[k_i - depth, k_i)`` and of the ``second`` class ``[k_i, k_i + depth)``, all rows; for a
    horizontal boundary the same with rows. Returns (anchors, (h, w)) for
    :func:`pattern_repetition`.
    """
    lab = _np(labels).astype(np.int64)
    if lab.ndim != 3:
        raise UserError(f"labels must be (K, H, W), got shape {lab.shape}")
    if orientation not in ("vertical", "horizontal"):
        raise UserError(f"orientation must be 'horizontal' or 'vertical', got {orientation!r}")
    if side not in ("first", "second"):
        raise UserError(f"side must be 'first' or 'second', got {side!r}")
    anchors = []
    for i, m in enumerate(lab):
        line = m[0] if orientation == "vertical" else m[:, 0]
        change = np.nonzero(line != line[0])[0]
        if len(change) == 0:
            raise UserError(f"map {i} has no boundary")
        k = int(change[0])
        length = line.shape[0]
        start = k - depth if side == "first" else k
        if start < 0 or start + depth > length:
            raise UserError(f"depth {depth} does not fit on the {side} side of the boundary at "
                             f"{k} in map {i} ({length} pixels)")
        anchors.append((0, start) if orientation == "vertical" else (start, 0))
    h, w = lab.shape[1:]
    return anchors, ((h, depth) if orientation == "vertical" else (depth, w))
