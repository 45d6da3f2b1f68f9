"""Intra-class relative position code (CLADE's ICPE positional encoding).

Reference: Tan et al., "Efficient Semantic Image Synthesis via Class-Adaptive
Normalization" (CLADE), offline pre-processing step ``util/cal_dist_masks.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from .errors import UserError

__all__ = ["relative_position_code"]


def relative_position_code(label_map):
    """Per-pixel normalized offset from the centroid of its connected component.

    For every class id ``k != 0`` and every 8-connected component ``C`` of the
    pixels equal to ``k`` (OpenCV's default connectivity), with centroid
    ``(cy, cx)`` = mean (row, col) of the pixels of ``C``, each pixel
    ``(r, c)`` in ``C`` gets::

        h = (r - cy) / (max_{(r', c') in C} |r' - cy| + 1e-5)
        w = (c - cx) / (max_{(r', c') in C} |c' - cx| + 1e-5)

    computed in float64 and stored as float32, so values lie in (-1, 1).
    Pixels of class 0 get 0 in both channels (CLADE skips label 0).

    Args:
        label_map: (H, W) integer ``np.ndarray`` or ``torch.Tensor`` of class ids.

    Returns:
        (2, H, W) float32 array (channel 0 = h offsets, channel 1 = w offsets),
        as ``np.ndarray`` for numpy input, or ``torch.Tensor`` on the input's
        device for tensor input.

    Raises:
        ValueError: if the input is not 2-D or its dtype is not an integer type.
    """
    is_tensor = isinstance(label_map, torch.Tensor)
    if is_tensor:
        if label_map.dtype.is_floating_point or label_map.dtype.is_complex or label_map.dtype == torch.bool:
            raise UserError(f"label_map dtype must be integer, received {label_map.dtype}")
        arr = label_map.detach().cpu().numpy()
    else:
        arr = np.asarray(label_map)
        if not np.issubdtype(arr.dtype, np.integer):
            raise UserError(f"label_map dtype must be integer, received {arr.dtype}")
    if arr.ndim != 2:
        raise UserError(f"label_map must have shape (H, W), received shape {tuple(arr.shape)}")

    out = _relative_position_code_np(np.ascontiguousarray(arr))
    if is_tensor:
        return torch.from_numpy(out).to(label_map.device)
    return out


def _relative_position_code_np(m):
    h, w = m.shape
    out = np.empty((2, h, w), dtype=np.float32)
    if m.size == 0:
        return out

    # Work on horizontal runs of equal value instead of pixels: segmentation
    # maps are blobby, so runs are ~10-100x fewer than pixels, and every
    # per-component statistic can be accumulated exactly from runs.
    new_run = np.ones((h, w), dtype=bool)  # column 0 always starts a run
    np.not_equal(m[:, 1:], m[:, :-1], out=new_run[:, 1:])
    start = np.flatnonzero(new_run)  # raster order
    length = np.diff(start, append=h * w)  # every row starts a run: no wrapping
    row = start // w
    c0 = start - row * w
    c1 = c0 + length - 1
    val = m.ravel()[start]

    # --- 8-connected components of equal-valued runs -------------------------
    # Run b (row r) touches run a (row r-1) of the same value iff
    # a.c0 <= b.c1 + 1 and a.c1 >= b.c0 - 1. Sorted by key (row, value, c0),
    # the runs touching b form a contiguous range, found by searchsorted; the
    # key spacing (w + 2) keeps different (row, value) groups from mixing.
    vmin = int(val.min())
    if int(val.max()) - vmin < start.size and val.dtype != np.uint64:
        vid = val.astype(np.int64) - vmin  # small id range: no sort needed
    else:
        vid = np.unique(val, return_inverse=True)[1].ravel()
    n_vid = int(vid.max()) + 1
    base = (row * n_vid + vid) * (w + 2)
    order = np.argsort(base + c0, kind="stable")
    key_c0 = (base + c0)[order]
    key_c1 = (base + c1)[order]  # also sorted: same-group runs are disjoint
    # Queries in sorted order are sorted too, which makes searchsorted fast.
    up = n_vid * (w + 2)  # key shift to the same value one row up
    lo = np.searchsorted(key_c1, key_c0 - up - 1, side="left")
    hi = np.searchsorted(key_c0, key_c1 - up + 1, side="right")
    cnt = np.maximum(hi - lo, 0)
    # Adjacency in CSR form over sorted positions: node i links to lo[i]..hi[i]-1.
    indptr = np.concatenate(([0], np.cumsum(cnt)))
    indices = np.arange(indptr[-1]) - np.repeat(indptr[:-1] - lo, cnt)
    graph = csr_matrix((np.ones(indices.size), indices, indptr), shape=(start.size,) * 2)
    comp = np.empty(start.size, dtype=np.int64)
    comp[order] = connected_components(graph, directed=True, connection="weak")[1]

    # --- per-component centroid and largest |offset|, exact in float64 -------
    # Centroid = integer coordinate sum / area, as OpenCV computes it; integer
    # sums below 2**53 are exact in float64, so we match it bit for bit.
    area = np.bincount(comp, weights=length)
    cy = np.bincount(comp, weights=length * row) / area
    cx = np.bincount(comp, weights=(c0 + c1) * length // 2) / area
    rmin = np.full(area.size, h); np.minimum.at(rmin, comp, row)
    rmax = np.full(area.size, -1); np.maximum.at(rmax, comp, row)
    cmin = np.full(area.size, w); np.minimum.at(cmin, comp, c0)
    cmax = np.full(area.size, -1); np.maximum.at(cmax, comp, c1)
    # Rounding is monotone, so the largest |coord - centroid| of a component
    # is attained at its extreme coordinates: same value as a pixelwise max.
    denom_h = np.maximum(rmax - cy, cy - rmin) + 1e-5
    denom_w = np.maximum(cmax - cx, cx - cmin) + 1e-5

    # --- back to pixels ------------------------------------------------------
    fg = val != 0
    # Height offset is constant along a run.
    h_run = np.where(fg, (row - cy[comp]) / denom_h[comp], 0.0).astype(np.float32)
    out[0] = np.repeat(h_run, length).reshape(h, w)
    # Width offset varies per pixel; background gets (col - 0) / inf = +0.
    # Dividing in float64 and rounding once to float32 matches the reference.
    cx_pix = np.repeat(np.where(fg, cx[comp], 0.0), length).reshape(h, w)
    den_pix = np.repeat(np.where(fg, denom_w[comp], np.inf), length).reshape(h, w)
    np.subtract(np.arange(w, dtype=np.float64), cx_pix, out=cx_pix)
    np.divide(cx_pix, den_pix, out=out[1])
    return out
