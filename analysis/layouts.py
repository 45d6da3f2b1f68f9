"""Synthetic label maps for probing generators: one class, two classes, boxes, moving boundaries.

Every function returns an integer (``torch.long``) label map of shape (H, W), or a batch
(N, H, W) for the ``*_series`` functions, ready for ``gen(labels[None])`` or
:func:`analysis.recorder.probe`.

Classes are given by name (case-insensitive, as in ``run_analysis.py classes --dataset D``) or
by id; names are resolved with :meth:`vasis.labels.LabelSpace.class_id`, so an unknown name
raises a ``ValueError`` with suggestions and an out-of-range id a ``ValueError`` naming the
valid range. ``dataset`` may be a dataset name (``'cityscapes'``, ``'ade20k'``,
``'coco-stuff'``, ``'scenes'``), a :class:`~vasis.labels.LabelSpace`, or a generator (then
``size`` defaults to the generator's resolution). Without ``size`` a dataset's preset
resolution is used (e.g. 256x512 for Cityscapes, 128x128 for scenes).

Geometry conventions (used by :mod:`analysis.metrics` to align patches):

* a *horizontal* boundary runs across the width: ``first`` occupies rows ``[0, k)`` and
  ``second`` rows ``[k, H)``, with ``k = boundary_index(position, H)``;
* a *vertical* boundary runs down the height: ``first`` occupies columns ``[0, k)``;
* a box of ``inner`` inside ``outer`` occupies rows ``[top, top + h)``, columns
  ``[left, left + w)``, with the box centred at the fractional ``center`` (row, col).
"""
from __future__ import annotations

from typing import Iterable, Sequence, Union

import torch

from vasis.labels import LabelSpace, label_space
from vasis.presets import DATASETS
from vasis.errors import UserError

__all__ = [
    "resolve_class", "resolve_size", "boundary_index", "box_bounds", "one_class", "two_class",
    "box", "boundary_series", "box_series", "stack",
]

ClassRef = Union[str, int]


def _space(dataset) -> LabelSpace | None:
    if dataset is None:
        return None
    if isinstance(dataset, LabelSpace):
        return dataset
    if isinstance(dataset, str):
        return label_space(dataset)
    space = getattr(dataset, "space", None)
    if isinstance(space, LabelSpace):
        return space
    raise UserError(f"dataset must be a dataset name, a LabelSpace or a generator; got {dataset!r}")


def resolve_class(cls: ClassRef, dataset=None) -> int:
    """Class id of ``cls`` (name or id) in ``dataset``'s label space.

    Without a dataset only non-negative integer ids are accepted.
    """
    if isinstance(cls, bool):
        raise UserError(f"class must be a name or an integer id, got {cls!r}")
    space = _space(dataset)
    if space is None:
        if isinstance(cls, int) or (isinstance(cls, str) and cls.isdigit()):
            if int(cls) < 0:
                raise UserError(f"class id must be non-negative, got {cls}")
            return int(cls)
        raise UserError(f"class {cls!r} is a name: pass dataset=... to resolve class names")
    if isinstance(cls, int) and cls < 0:
        raise UserError(f"class id {cls} is out of range for {space.name}: "
                         f"valid ids are 0..{space.label_nc - 1}")
    if not isinstance(cls, (int, str)):
        raise UserError(f"class must be a name or an integer id, got {cls!r}")
    return space.class_id(cls)


def resolve_size(size=None, dataset=None) -> tuple[int, int]:
    """(H, W) from ``size`` (int or pair), else the generator's or the dataset preset's size."""
    if size is None:
        cfg = getattr(dataset, "cfg", None)
        if cfg is not None:
            return int(cfg.height), int(cfg.width)
        space = _space(dataset)
        if space is None or space.name not in DATASETS:
            raise UserError("give size=(H, W) (or a dataset/generator whose size is known)")
        preset = DATASETS[space.name]
        return preset.height, preset.width
    if isinstance(size, int):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise UserError(f"size must be an int or an (H, W) pair, got {size!r}") from None
    if h <= 0 or w <= 0:
        raise UserError(f"size must be positive, got {(h, w)}")
    return h, w


def boundary_index(position: float, length: int, what: str = "boundary") -> int:
    """Pixel index ``k = round(position * length)`` of a boundary at fraction ``position``.

    Raises ``ValueError`` unless ``0 < position < 1`` and both sides get at least one pixel.
    """
    position = float(position)
    if not 0.0 < position < 1.0:
        raise UserError(f"{what} position must lie strictly inside (0, 1), got {position}")
    k = int(round(position * length))
    if k <= 0 or k >= length:
        raise UserError(
            f"{what} position {position} on {length} pixels puts the boundary at pixel {k}, "
            f"leaving one class empty; move it towards 0.5 or use a larger map")
    return k


def _check_two(first: ClassRef, second: ClassRef, a: int, b: int) -> None:
    if a == b:
        given = repr(first) if str(first) == str(second) else f"{first!r} and {second!r}"
        raise UserError(f"a two-class layout needs two different classes, got {given}, both "
                        f"class id {a} (for a map of one class use one_class(), on the command "
                        f"line --layout one-class)")


def one_class(cls: ClassRef, *, dataset=None, size=None) -> torch.Tensor:
    """(H, W) map filled with one class."""
    c = resolve_class(cls, dataset)
    h, w = resolve_size(size, dataset)
    return torch.full((h, w), c, dtype=torch.long)


def two_class(first: ClassRef, second: ClassRef, *, orientation: str = "horizontal",
              position: float = 0.5, dataset=None, size=None) -> torch.Tensor:
    """(H, W) map split by one straight boundary.

    ``orientation='horizontal'``: ``first`` above (rows ``[0, k)``), ``second`` below;
    ``'vertical'``: ``first`` left (columns ``[0, k)``), ``second`` right; ``k`` is
    :func:`boundary_index` of ``position`` (fraction of the height resp. width).
    The Figure-2 two-class map is ``two_class('sky', 'road', dataset='cityscapes')``.
    """
    a, b = resolve_class(first, dataset), resolve_class(second, dataset)
    _check_two(first, second, a, b)
    h, w = resolve_size(size, dataset)
    out = torch.full((h, w), b, dtype=torch.long)
    if orientation == "horizontal":
        out[:boundary_index(position, h)] = a
    elif orientation == "vertical":
        out[:, :boundary_index(position, w)] = a
    else:
        raise UserError(f"orientation must be 'horizontal' or 'vertical', got {orientation!r}")
    return out


def box_bounds(box_size, center=(0.5, 0.5), size=(1, 1)) -> tuple[int, int, int, int]:
    """(top, left, height, width) in pixels of a box, with the checks of :func:`box`.

    ``box_size``: an int or (h, w) in pixels, or floats in (0, 1) as fractions of the map.
    ``center``: (row, col) fractions of the map. The box must lie strictly inside the map
    (at least one pixel of the outer class remains).
    """
    H, W = size
    if isinstance(box_size, (int, float)):
        box_size = (box_size, box_size)
    dims = []
    for s, L, name in zip(box_size, (H, W), ("height", "width")):
        if isinstance(s, float):
            if not 0.0 < s < 1.0:
                raise UserError(f"box {name} fraction must lie in (0, 1), got {s}")
            s = int(round(s * L))
        s = int(s)
        if s <= 0:
            raise UserError(f"box {name} must be at least one pixel, got {s}")
        if s >= L:
            raise UserError(f"box {name} {s} does not fit inside a map of {name} {L} "
                             f"(the outer class would be empty or the box cut off)")
        dims.append(s)
    bh, bw = dims
    cy, cx = center
    for c, name in ((cy, "row"), (cx, "column")):
        if not 0.0 <= float(c) <= 1.0:
            raise UserError(f"box centre {name} fraction must lie in [0, 1], got {c}")
    top = int(round(cy * H - bh / 2))
    left = int(round(cx * W - bw / 2))
    if top < 0 or left < 0 or top + bh > H or left + bw > W:
        raise UserError(
            f"a {bh}x{bw} box centred at {tuple(center)} reaches outside the {H}x{W} map "
            f"(rows {top}..{top + bh - 1}, columns {left}..{left + bw - 1}); move it inwards")
    return top, left, bh, bw


def box(inner: ClassRef, outer: ClassRef, *, box_size=0.5, center=(0.5, 0.5), dataset=None,
        size=None) -> torch.Tensor:
    """(H, W) map of class ``outer`` with a rectangle of class ``inner`` (see :func:`box_bounds`)."""
    a, b = resolve_class(inner, dataset), resolve_class(outer, dataset)
    _check_two(inner, outer, a, b)
    h, w = resolve_size(size, dataset)
    top, left, bh, bw = box_bounds(box_size, center, (h, w))
    out = torch.full((h, w), b, dtype=torch.long)
    out[top:top + bh, left:left + bw] = a
    return out


def boundary_series(first: ClassRef, second: ClassRef, positions: Iterable[float], *,
                    orientation: str = "vertical", dataset=None, size=None) -> torch.Tensor:
    """(N, H, W): the same straight boundary placed at each of ``positions`` (fractions)."""
    positions = list(positions)
    if not positions:
        raise UserError("positions is empty")
    return torch.stack([two_class(first, second, orientation=orientation, position=p,
                                  dataset=dataset, size=size) for p in positions])


def box_series(inner: ClassRef, outer: ClassRef, centers: Sequence[tuple[float, float]], *,
               box_size=0.25, dataset=None, size=None) -> torch.Tensor:
    """(N, H, W): the same box placed at each of ``centers`` ((row, col) fractions)."""
    centers = list(centers)
    if not centers:
        raise UserError("centers is empty")
    return torch.stack([box(inner, outer, box_size=box_size, center=c, dataset=dataset,
                            size=size) for c in centers])


def stack(*layouts: torch.Tensor) -> torch.Tensor:
    """Stack (H, W) maps and (N, H, W) batches of equal size into one (N, H, W) batch."""
    parts = []
    for lay in layouts:
        if lay.dim() == 2:
            lay = lay[None]
        if lay.dim() != 3:
            raise UserError(f"layouts must be (H, W) or (N, H, W), got shape {tuple(lay.shape)}")
        parts.append(lay.long())
    shapes = {tuple(p.shape[1:]) for p in parts}
    if len(shapes) > 1:
        raise UserError(f"layouts have different sizes: {sorted(shapes)}")
    return torch.cat(parts)
