"""SPADE's label branch evaluated once per distinct label neighbourhood.

The gamma and beta of a SPADE norm at a pixel depend only on the conditioning map around it:
``mlp_shared`` (a k1 x k1 conv, then a ReLU) and ``mlp_gamma`` / ``mlp_beta`` (k2 x k2 convs)
see a square of k1 + k2 - 1 pixels (5 x 5 for the official 3 x 3 convs), the image border
included through the convs' padding. Label maps are piecewise constant, so most pixels share
their square with many others (at 128 x 128, 7% of the squares of the benchmarks' block maps
are distinct; see docs/speed.md for the scenes and COCO-Stuff maps). Here the branch runs once
per distinct square and every pixel looks its result up:

1. the conditioning map as codes (:class:`LabelCodes`): one integer per pixel and the table of
   the distinct pixel vectors (one-hot class, instance-edge bit, OASIS's 3D noise);
2. the distinct k1 x k1 windows of codes, padded as ``mlp_shared`` pads (the zero vector, or
   the reflected pixels), and ``mlp_shared``'s output for each: the sum over the kernel's taps
   of the weight times the window's vector at that tap (each vector's products with each tap
   are computed once, for the table's few rows);
3. the distinct k2 x k2 windows of those windows' ids, padded as ``mlp_gamma`` pads (a zero
   row, or the reflected ids), and gamma and beta of each the same way: each step-2 window's
   products with each tap of both convs' weights, computed once, summed over the taps;
4. a table lookup per pixel (:func:`vasis.models.layers.lookup`; rows gathered into
   channels_last maps for channels_last features), or no maps at all: without gradients an
   eval-mode norm modulates from the rows (:class:`LabelRows`) in one compiled pass
   (:func:`vasis.models.cpu_kernels.modulate`).

Steps 3 and 4 have a second form, for maps where many squares differ (small maps) and no
gradients are wanted: each pixel sums, over the k2 x k2 taps, the row of the products of the
step-1 window under that tap (one ``embedding_bag`` over the whole map; the rows of every pixel
are built once per map and shared by its norms). It skips finding the distinct squares and
costs k2 * k2 additions per output value, where the convs cost k2 * k2 * hidden multiply-adds.

The same maths as the convs (a conv output is a sum over taps and channels): the sums run in
another order, so results differ from the convs' at float rounding (tests/test_label_patches.py
bounds it). Gradients flow through every step (the lookups' backward sums the gradient of each
distinct square). Where the convs are cheaper - narrow norms on small maps, or maps where most
squares differ (the thresholds below) - or where the convs must run as modules (hooks:
complexity counters, probes on the convs; autocast; torch.compile, which cannot trace
data-dependent sizes) the norm runs its convs.
:func:`using` chooses the devices; by default the CPU only (on CUDA not measured yet: see
``benchmarks/bench_train_step.py --device cuda``).
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import cpu_kernels
from .layers import conv_relu, has_foreign_hooks, lookup, onehot_ids, resize_ids

# When the per-square path runs and how (benchmarks/bench_label_patches.py times the three
# ways on scenes, block and COCO-Stuff maps at the scenes' and the papers' widths;
# bench_train_step.py --per-square-too the generators with and without the per-pixel form).
# Costs are in multiply-adds' worth. Per distinct square: the convs must cost at least
# MIN_CONV_MACS (below, finding the windows costs more than the convs save), and the products
# plus the lookups (LOOKUP_MACS per gathered value) at most half of that. Per pixel, only for
# channels_last features (the CPU's maps of 64x64 and more without gradients; the sums come out
# NHWC, and for NCHW ones the transpose costs more than it saves) and where
# * many step-1 windows differ (at least PIXEL_MIN_SHARE of the pixels: then the squares are
#   many too, and finding them costs more than summing every pixel's taps),
# * the norm is narrow (at most PIXEL_MAX_OUTS gamma and beta channels: each value costs k2 * k2
#   summed rows, PIXEL_ROW_MACS each, against one lookup), and
# * the table of tap products fits in PIXEL_TABLE_BYTES (rows read at random from a larger one
#   miss the caches);
# there the convs need only cost PIXEL_MIN_CONV_MACS, and the path (PIXEL_TAPS_MACS per pixel
# for its rows) at most half of that. With gradients never per pixel: the backward of the sums
# scatters k2 * k2 rows per pixel, slower than the convs'.
MIN_CONV_MACS = 5e7
LOOKUP_MACS = 20
PIXEL_MIN_SHARE = 0.05
PIXEL_MAX_OUTS = 64
PIXEL_MIN_CONV_MACS = 2e7
PIXEL_ROW_MACS = 3
PIXEL_TAPS_MACS = 600
PIXEL_TABLE_BYTES = 8 * 2 ** 20
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

_DEVICES = [frozenset({"cpu"})]


@contextlib.contextmanager
def using(devices=("cpu",)):
    """Inside, the label branch runs per distinct square on these device types ('cpu',
    'cuda', ...; ``()`` = nowhere: every norm runs its convs, as the official code)."""
    _DEVICES.append(frozenset(devices))
    try:
        yield
    finally:
        _DEVICES.pop()


def active(seg: torch.Tensor) -> bool:
    """Whether a forward on ``seg`` may take the per-square path."""
    return (seg.device.type in _DEVICES[-1] and not seg.requires_grad
            and not torch.is_autocast_enabled(seg.device.type)
            and not torch.compiler.is_compiling())


@dataclass
class Windows:
    """The distinct k x k windows of a padded integer map.

    ``inverse`` (N, H, W): the window's row at each pixel; ``values`` (U, k * k): each
    distinct window's entries, row-major (the order of a conv weight's taps)."""

    inverse: torch.Tensor
    values: torch.Tensor

    @property
    def count(self) -> int:
        return self.values.shape[0]

    @functools.cached_property
    def tap_rows(self) -> torch.Tensor:
        """(U, k * k): row ``value * k * k + tap`` of each window's entry at each tap (of a
        table with one row per value and tap)."""
        taps = self.values.shape[1]
        return self.values * taps + torch.arange(taps, device=self.values.device)


_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_index(n: int, p: int, mode: str, device) -> torch.Tensor:
    i = torch.arange(-p, n + p, device=device)
    if mode == "reflect":
        i = i.abs()
        return torch.where(i >= n, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return i.clamp(0, n - 1)
    return i % n   # circular


def padded(ids, p: int, mode: str, sentinel: int):
    """``ids`` (N, H, W; a tensor, or a numpy array on the CPU path) padded by ``p`` as a conv
    with ``padding_mode=mode`` pads its input: the outside is ``sentinel`` (the zero row) for
    'zeros', else the reflected / replicated / wrapped ids."""
    if p == 0:
        return ids
    if isinstance(ids, np.ndarray):
        if mode != "zeros":
            return np.pad(ids, ((0, 0), (p, p), (p, p)), mode=_NUMPY_MODES[mode])
        n, h, w = ids.shape
        out = np.full((n, h + 2 * p, w + 2 * p), sentinel, dtype=ids.dtype)
        out[:, p:-p, p:-p] = ids
        return out
    if mode == "zeros":
        return F.pad(ids, (p, p, p, p), value=sentinel)
    _, h, w = ids.shape
    rows = _pad_index(h, p, mode, ids.device)
    cols = _pad_index(w, p, mode, ids.device)
    return ids[:, rows[:, None], cols[None, :]]


def _unique_inverse(key: torch.Tensor):
    """(the index of each entry of an integer tensor among its sorted distinct values - the
    inverse of ``torch.unique`` -, their count, the flat position of one entry of each)."""
    inverse = torch.unique(key, return_inverse=True)[1]
    flat = inverse.reshape(-1)
    count = int(flat.max()) + 1
    first = torch.empty(count, dtype=torch.long, device=flat.device)
    first[flat] = torch.arange(flat.numel(), device=flat.device)
    return inverse, count, first


def _row_keys(grid, k: int, w: int, radix: int):
    """Each k-wide horizontal piece of ``grid`` as one integer (its entries as digits)."""
    key = grid[:, :, 0:w]
    for d in range(1, k):
        key = key * radix + grid[:, :, d:d + w]
    return key


def _column_keys(pieces, k: int, h: int, radix: int):
    """Each k-high stack of pieces as one integer."""
    key = pieces[:, 0:h]
    for d in range(1, k):
        key = key * radix + pieces[:, d:d + h]
    return key


def distinct_windows(grid, k: int) -> Windows | None:
    """The distinct k x k windows of ``grid`` (N, H + k - 1, W + k - 1): non-negative ints, a
    tensor or (CPU path) a numpy array, whose windows the compiled loop of
    :func:`vasis.models.cpu_kernels.distinct_windows` finds. Windows are numbered in the order
    of their keys (``torch.unique``'s), on the CPU without gradients as they first appear.

    A window is one int64 key (its entries as digits, row-major); when k * k digits do not
    fit, the k-wide row pieces are numbered first and the key is k of those numbers. Each
    distinct window's entries are read off ``grid`` at one of its pixels. None if even the
    pieces do not fit (ids beyond a million): the caller runs its convs."""
    if isinstance(grid, np.ndarray):
        # numbered in key order only where gradients will flow: a weight's gradient sums over
        # the windows' rows in their order, while without gradients every row is computed on
        # its own and any order gives the same floats
        found = cpu_kernels.distinct_windows(grid, k, in_key_order=torch.is_grad_enabled())
        return None if found is None else Windows(*map(torch.from_numpy, found))
    n, hp, wp = grid.shape
    h, w = hp - k + 1, wp - k + 1
    radix = int(grid.max()) + 1
    if radix ** (k * k) < cpu_kernels.KEY_LIMIT:
        key = _column_keys(_row_keys(grid, k, w, radix), k, h, radix ** k)
    elif radix ** k < cpu_kernels.KEY_LIMIT:
        piece_ids, pieces, _ = _unique_inverse(_row_keys(grid, k, w, radix))
        if pieces ** k >= cpu_kernels.KEY_LIMIT:
            return None
        key = _column_keys(piece_ids, k, h, pieces)
    else:
        return None
    inverse, count, first = _unique_inverse(key)
    # each window's entries at the k * k taps, read at one of its pixels (any: all are equal)
    corner = first // (h * w) * (hp * wp) + first % (h * w) // w * wp + first % w
    taps = torch.arange(k, device=grid.device)
    offsets = (taps[:, None] * wp + taps[None, :]).reshape(-1)
    return Windows(inverse, grid.reshape(-1)[corner[:, None] + offsets])


def _tap_rows_per_pixel(ids, k: int, count: int) -> torch.Tensor:
    """(N * H * W, k * k) from ``ids`` (N, H + k - 1, W + k - 1; ``count`` values; a tensor or,
    on the CPU path, a numpy array): at each pixel and tap of a k x k kernel the row
    ``id * k * k + tap``, ``id`` being the entry under that tap: :attr:`Windows.tap_rows` of
    every pixel's window, not only the distinct ones. Written tap by tap (a strided copy
    each, int32 where the rows fit: several times faster than unfolding the windows)."""
    n, hp, wp = ids.shape
    h, w = hp - k + 1, wp - k + 1
    numpy = isinstance(ids, np.ndarray)
    small = count * k * k < 2 ** 31
    if numpy:
        scaled = ids.astype(np.int32 if small else np.int64) * (k * k)
        out = np.empty((n, h, w, k * k), dtype=scaled.dtype)
    else:
        scaled = ids.to(torch.int32 if small else torch.int64) * (k * k)
        out = torch.empty(n, h, w, k * k, dtype=scaled.dtype, device=ids.device)
    add = np.add if numpy else torch.add
    for dy in range(k):
        for dx in range(k):
            add(scaled[:, dy:dy + h, dx:dx + w], dy * k + dx, out=out[..., dy * k + dx])
    out = out.reshape(n * h * w, k * k)
    return torch.from_numpy(out) if numpy else out


@functools.lru_cache(maxsize=64)
def _code_vectors(n_classes: int, n_bits: int, dtype, device) -> torch.Tensor:
    """(n_classes * 2 ** n_bits, n_classes + n_bits): every class's one-hot vector with every
    combination of the bits, in code order (the same table for every map of a label space:
    built once; read only)."""
    eye = torch.eye(n_classes, dtype=dtype, device=device)
    bits = (torch.arange(2 ** n_bits, device=device)[:, None]
            >> torch.arange(n_bits, device=device)) & 1
    return torch.cat([eye.repeat(2 ** n_bits, 1), bits.to(dtype).repeat_interleave(n_classes, 0)], 1)


class LabelCodes:
    """A conditioning map as codes: pixel (n, :, y, x) of the map is ``vectors[codes[n, y, x]]``.

    ``codes`` (N, H, W) long; ``vectors`` (R, C): the map's distinct pixel vectors. The norms at
    one resolution share one object and the windows found on it (:meth:`branch_windows`)."""

    def __init__(self, codes: torch.Tensor, vectors: torch.Tensor,
                 classes: torch.Tensor | None = None):
        self.codes = codes
        self.vectors = vectors
        self.classes = classes   # the class ids, where known (at the codes' size)
        self._windows: dict = {}

    @classmethod
    def of(cls, seg: torch.Tensor, n_classes: int,
           classes: torch.Tensor | None = None) -> "LabelCodes | None":
        """The codes of a label input laid out as the generators take it: ``n_classes``
        one-hot channels first, then binary channels (SPADE's instance edges). ``classes``:
        the class ids ``seg`` was encoded from, if the caller encoded it (nothing to check
        then); else the map is checked, and None returned when it is not so laid out (soft
        labels, any other float input): the norms then run their convs. The codes keep the
        class ids (``classes``)."""
        checked = classes is None
        if checked:
            classes = onehot_ids(seg[:, :n_classes])
        n_bits = seg.shape[1] - n_classes
        if classes is None or n_bits > 4:
            return None
        codes = classes
        for i in range(n_bits):
            bit = seg[:, n_classes + i]
            if checked and not bool(((bit == 0) | (bit == 1)).all()):
                return None
            codes = codes + (bit.long() << i) * n_classes
        return cls(codes, _code_vectors(n_classes, n_bits, seg.dtype, seg.device), classes)

    def with_prefix(self, prefix: torch.Tensor) -> "LabelCodes":
        """The codes of ``cat([prefix expanded over the map, this map], 1)``: ``prefix`` (N, Z)
        per image (OASIS's 3D noise), so codes are per image too."""
        n, rows = prefix.shape[0], self.vectors.shape[0]
        image = torch.arange(n, device=self.codes.device)[:, None, None]
        vectors = torch.cat([prefix.repeat_interleave(rows, 0), self.vectors.repeat(n, 1)], 1)
        return LabelCodes(self.codes + image * rows, vectors)

    def resized(self, size) -> "LabelCodes":
        """The codes of the map resized (nearest) to ``size``."""
        if tuple(self.codes.shape[1:]) == tuple(size):
            return self
        return LabelCodes(resize_ids(self.codes, size), self.vectors)

    def _as_array(self, t: torch.Tensor):
        # the CPU path finds windows on numpy arrays (distinct_windows takes either)
        return t.numpy() if t.device.type == "cpu" else t

    def first_windows(self, k1: int, mode1: str) -> Windows | None:
        """The distinct k1 x k1 windows of codes (``mlp_shared``'s inputs), padded as a conv
        with ``padding_mode=mode1`` pads; None where the keys do not fit. Found once per map."""
        key = (k1, mode1)
        if key not in self._windows:
            self._windows[key] = distinct_windows(
                padded(self._as_array(self.codes), k1 // 2, mode1, self.vectors.shape[0]), k1)
        return self._windows[key]

    def branch_windows(self, k1: int, mode1: str, k2: int, mode2: str):
        """(windows of codes for ``mlp_shared``, windows of their ids for ``mlp_gamma``), or
        None where the keys do not fit; found once per map and geometry."""
        key = (k1, mode1, k2, mode2)
        if key not in self._windows:
            first = self.first_windows(k1, mode1)
            second = None
            if first is not None:
                second = distinct_windows(
                    padded(self._as_array(first.inverse), k2 // 2, mode2, first.count), k2)
            self._windows[key] = None if second is None else (first, second)
        return self._windows[key]

    def pixel_taps(self, k1: int, mode1: str, k2: int, mode2: str) -> torch.Tensor | None:
        """(N * H * W, k2 * k2): at each pixel, for each tap of ``mlp_gamma``, the row
        ``id * k2 * k2 + tap`` of the first-step window ``id`` under that tap (the padding's
        zero row is id ``count``; reflected ids for a reflect pad); None where the windows'
        keys do not fit. Built once per map and geometry."""
        key = ("taps", k1, mode1, k2, mode2)
        if key not in self._windows:
            first = self.first_windows(k1, mode1)
            taps = None if first is None else _tap_rows_per_pixel(
                padded(self._as_array(first.inverse), k2 // 2, mode2, first.count), k2,
                first.count + 1)
            self._windows[key] = taps
        return self._windows[key]


def _same_conv(conv: nn.Module) -> bool:
    """A plain 'same' conv (odd square kernel, stride 1, its padding mode one of ours)."""
    if type(conv) is not nn.Conv2d or has_foreign_hooks(conv):
        return False
    k = conv.kernel_size[0]
    return (k % 2 == 1 and conv.kernel_size == (k, k) and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1
            and conv.padding == (k // 2, k // 2) and conv.padding_mode in PADDING_MODES)


def _tap_products(conv_g: nn.Conv2d, conv_b: nn.Conv2d, actv: torch.Tensor):
    """Each row of ``actv`` (hidden,) times each tap of both convs' weights: a
    ((rows * k2 * k2), Cg + Cb) table whose row ``row * k2 * k2 + tap`` is that product."""
    stacked = torch.cat([conv_g.weight, conv_b.weight])     # (Cg + Cb, hidden, k2, k2)
    outs = stacked.shape[0]
    per_tap = actv @ stacked.permute(1, 2, 3, 0).reshape(actv.shape[1], -1)
    return per_tap.view(-1, outs)


def _stacked_bias(conv_g: nn.Conv2d, conv_b: nn.Conv2d, one_plus_gamma: bool):
    """Both convs' biases as one (Cg + Cb,) vector, + 1 on gamma's with ``one_plus_gamma``
    (None: neither conv has a bias and nothing is added)."""
    if conv_g.bias is None:
        if not one_plus_gamma:
            return None
        return torch.cat([torch.ones_like(conv_g.weight[:, 0, 0, 0]),
                          torch.zeros_like(conv_b.weight[:, 0, 0, 0])])
    return torch.cat([conv_g.bias + 1 if one_plus_gamma else conv_g.bias, conv_b.bias])


def per_square_macs(found, per_square: int, outs: int) -> int:
    """Multiply-adds of the second step: every first-step window's products with the taps
    of both convs (``per_square`` weights), and each distinct square's sum of k2 * k2 rows of
    ``outs``."""
    first, second = found
    taps = second.values.shape[1]
    return (first.count + 1) * per_square + second.count * taps * outs


def _plain_branch(shared: nn.Module, relu: nn.Module, conv_s: nn.Module, conv_g: nn.Module,
                  conv_b: nn.Module, dtype) -> bool:
    """Whether the branch is the one the path computes: plain 'same' convs of one geometry for
    gamma and beta, of ``dtype``, and no hook that must see the modules run."""
    if has_foreign_hooks(shared) or has_foreign_hooks(relu):
        return False
    if not (_same_conv(conv_s) and _same_conv(conv_g) and _same_conv(conv_b)):
        return False
    if conv_g.kernel_size != conv_b.kernel_size or conv_g.padding_mode != conv_b.padding_mode \
            or (conv_g.bias is None) != (conv_b.bias is None):
        return False
    return conv_s.weight.dtype == dtype


@dataclass
class _Costs:
    """The cost rule's figures for one norm on one map (multiply-adds' worth; see the
    constants at the top)."""

    pixels: int
    per_square: int   # the gamma and beta convs' weights: multiply-adds per window
    conv_macs: int    # the three convs over the map
    outs: int         # gamma and beta channels
    taps: int         # k2 * k2

    @classmethod
    def of(cls, conv_s: nn.Conv2d, conv_g: nn.Conv2d, conv_b: nn.Conv2d, pixels: int):
        per_square = conv_g.weight.numel() + conv_b.weight.numel()
        return cls(pixels, per_square, pixels * (conv_s.weight.numel() + per_square),
                   conv_g.out_channels + conv_b.out_channels, conv_g.kernel_size[0] ** 2)

    def convs_cost_enough(self, step2: str | None) -> bool:
        """Whether the convs cost enough for the path to pay for its fixed costs (``step2``
        None: either form may still be taken)."""
        least = MIN_CONV_MACS if step2 == "squares" else \
            PIXEL_MIN_CONV_MACS if step2 == "pixels" else min(MIN_CONV_MACS, PIXEL_MIN_CONV_MACS)
        return self.conv_macs >= least

    def step2(self, first: Windows, element_size: int) -> str:
        """The second step's form for channels_last features without gradients."""
        table_bytes = (first.count + 1) * self.taps * self.outs * element_size
        many = first.count >= PIXEL_MIN_SHARE * self.pixels
        return "pixels" if many and self.outs <= PIXEL_MAX_OUTS and \
            table_bytes <= PIXEL_TABLE_BYTES else "squares"

    def pixels_pay(self, first: Windows) -> bool:
        return (first.count + 1) * self.per_square + self.pixels * (
            PIXEL_TAPS_MACS + self.taps * self.outs * PIXEL_ROW_MACS) <= self.conv_macs / 2

    def squares_pay(self, found) -> bool:
        return per_square_macs(found, self.per_square, self.outs) + \
            self.pixels * self.outs * LOOKUP_MACS <= self.conv_macs / 2


@dataclass
class LabelRows:
    """A norm's gamma and beta (``sizes`` channels each, side by side) as rows of ``table``
    (rows, Cg + Cb): per square, each pixel's row is ``table[index]`` (``index`` (N, H, W));
    per pixel, the sum of the rows that ``index`` (N * H * W, k2 * k2) lists for it, in order.
    ``shape``: (N, H, W) of the maps."""

    table: torch.Tensor
    index: torch.Tensor
    sizes: list
    shape: tuple

    @property
    def per_pixel(self) -> bool:
        return self.index.dim() == 2

    def _sums(self) -> torch.Tensor:
        """Per pixel: (N * H * W, Cg + Cb), each pixel's rows summed."""
        return F.embedding_bag(self.index, self.table, mode="sum")

    def row_per_pixel(self):
        """(table, index (N, H, W)): each pixel's gamma and beta are the row ``table[index]``
        (per pixel: the sums, a row each)."""
        if not self.per_pixel:
            return self.table, self.index
        sums = self._sums()
        return sums, torch.arange(sums.shape[0], device=sums.device).view(self.shape)

    def maps(self, nhwc: bool = False):
        """(gamma, beta) maps: NCHW, or channels_last with ``nhwc`` (per square a map each,
        per pixel views of one NHWC map of both)."""
        if self.per_pixel:
            maps = self._sums().view(*self.shape, -1).permute(0, 3, 1, 2)
            return maps.split(self.sizes, 1) if nhwc else maps.contiguous().split(self.sizes, 1)
        if nhwc:   # NHWC maps: row gathers, a table each
            return tuple(lookup(t.contiguous(), self.index, nhwc=True)
                         for t in self.table.split(self.sizes, 1))
        return lookup(self.table, self.index).split(self.sizes, 1)


def label_feature(shared: nn.Module, conv_g: nn.Module, conv_b: nn.Module,
                  codes: LabelCodes, one_plus_gamma: bool = False, cost_rule: bool = True,
                  nhwc: bool = False, step2: str | None = None):
    """``conv_g(shared(seg)), conv_b(shared(seg))`` per distinct square of ``codes`` (the codes
    of ``seg``); None when the convs should run instead (see the module's docstring). With
    ``nhwc`` the maps come with the channels innermost, for the channels_last features they
    modulate (per square: each a channels_last map; per pixel: views of one NHWC map of both).
    The arguments are :func:`label_rows`'."""
    rows = label_rows(shared, conv_g, conv_b, codes, one_plus_gamma, cost_rule, nhwc, step2)
    return None if rows is None else rows.maps(nhwc)


def label_rows(shared: nn.Module, conv_g: nn.Module, conv_b: nn.Module,
               codes: LabelCodes, one_plus_gamma: bool = False, cost_rule: bool = True,
               nhwc: bool = False, step2: str | None = None) -> "LabelRows | None":
    """:func:`label_feature`'s gamma and beta as table rows (:class:`LabelRows`), or None
    when the convs should run instead.
    ``one_plus_gamma``: the first map is 1 + gamma (SPADE's scale), added to the table's
    entries before the lookup: the same floats as adding it to the map, one pass less.
    ``nhwc``: the maps are for channels_last features (the per-pixel form may be taken).
    ``step2``: the second step 'squares' (per distinct k2 x k2 square of step-1 windows,
    looked up per pixel) or 'pixels' (each pixel sums its taps' rows); None: the cost rule
    chooses ('squares' with gradients or without ``nhwc``). ``cost_rule=False`` skips the
    cost thresholds (benchmarks compare the paths with it)."""
    parts = conv_relu(shared)
    if parts is None or type(conv_g) is not nn.Conv2d or type(conv_b) is not nn.Conv2d:
        return None
    conv_s, relu = parts
    if step2 is None and (torch.is_grad_enabled() or not nhwc):
        step2 = "squares"
    costs = _Costs.of(conv_s, conv_g, conv_b, codes.codes.numel())
    # the cost rule first: most norms stop here, before the checks below
    if cost_rule and not costs.convs_cost_enough(step2):
        return None
    if not _plain_branch(shared, relu, conv_s, conv_g, conv_b, codes.vectors.dtype):
        return None
    k1, k2 = conv_s.kernel_size[0], conv_g.kernel_size[0]
    geometry = (k1, conv_s.padding_mode, k2, conv_g.padding_mode)
    first = codes.first_windows(k1, conv_s.padding_mode)
    if first is None:
        return None
    step2 = step2 or costs.step2(first, conv_g.weight.element_size())
    if cost_rule and not costs.convs_cost_enough(step2):   # that form's lower bound
        return None
    if step2 == "pixels":
        if cost_rule and not costs.pixels_pay(first):
            return None
    else:
        found = codes.branch_windows(*geometry)
        if found is None or cost_rule and not costs.squares_pay(found):
            return None
        second = found[1]

    # mlp_shared per distinct k1 x k1 window: the sum over taps of the weight's products with
    # the vector at that tap (each vector's products with each tap computed once, a row each)
    weight = conv_s.weight                                   # (hidden, C, k1, k1)
    hidden, channels = weight.shape[:2]
    vectors = F.pad(codes.vectors, (0, 0, 0, 1))             # + the zero vector of the padding
    per_tap = vectors @ weight.permute(1, 2, 3, 0).reshape(channels, -1)
    pre = F.embedding_bag(first.tap_rows, per_tap.view(-1, hidden), mode="sum")
    if conv_s.bias is not None:
        pre = pre + conv_s.bias
    actv = F.pad(F.relu(pre), (0, 0, 0, 1))                  # + the zero row of mlp_gamma's pad

    # gamma and beta: each step-1 window's products with each tap of both convs (a row each),
    # summed over the taps of each distinct k2 x k2 window of windows (squares) or of each
    # pixel (pixels)
    products = _tap_products(conv_g, conv_b, actv)
    bias = _stacked_bias(conv_g, conv_b, one_plus_gamma)
    sizes = [conv_g.out_channels, conv_b.out_channels]
    outs = costs.outs
    if step2 == "pixels":
        if bias is not None:   # once per pixel: on its first tap's row
            by_tap = products.view(-1, costs.taps, outs)
            if torch.is_grad_enabled():
                products = torch.cat([by_tap[:, :1] + bias, by_tap[:, 1:]], 1).view(-1, outs)
            else:   # into the new table itself (nothing else holds it): no copy of it
                by_tap[:, 0] += bias
        return LabelRows(products, codes.pixel_taps(*geometry), sizes,
                         tuple(first.inverse.shape))
    rows = F.embedding_bag(second.tap_rows, products, mode="sum")
    if bias is not None:
        rows = rows + bias
    return LabelRows(rows, second.inverse, sizes, tuple(second.inverse.shape))
