"""Compiled loops (numba) for the CPU path of SPADE's label branch per distinct square.

The per-square path (:mod:`vasis.models.label_patches`) needs the distinct k x k windows of
small integer maps (label codes, then the ids of those windows) in every forward. Whole-array
numpy passes (digit keys, a sort, a search, a repeat) each walk the map again, and inside a
generator's forward, between convs that evict it from the caches, each pass is several times
slower than alone. Here one loop computes each pixel's key and numbers it in a hash table
(label maps repeat a key along runs of pixels, so a run costs one probe), and the distinct
keys, a few hundred or thousand, are sorted to number them in key order as the tensor path
does where gradients will flow (their sums over the rows follow the order). docs/speed.md has what it saved SPADE's scenes forward.

The same path's modulation without gradients, ``BN(x) * (1 + gamma) + beta`` with gamma and
beta given as rows of a table (one per distinct square, or each pixel's sums), is one loop
over the channels_last feature here (:func:`modulate`): no normalized map and no gamma and
beta maps; one read of the feature and one write of the output where torch takes a pass each
for the norm, the two gathers and the multiply-add.

Compiled by numba on the first call and cached on disk (``cache=True``, next to this file or
in numba's user cache), so later processes start with it. Keys are int64 digit numbers as in
the tensor path (``label_patches.distinct_windows``): a window's k * k entries in one key where
they fit below 2 ** 62, else its k row pieces numbered first.
"""
from __future__ import annotations

import numba
import numpy as np
import torch

KEY_LIMIT = 2 ** 62   # keys are int64 numbers of window digits, kept below this
# Fibonacci hashing's multiplier 0x9E3779B97F4A7C15 as a signed int64 (numba's integers are
# signed; the product wraps, its high bits index the table)
_HASH = np.int64(-7046029254386353131)


@numba.njit(cache=True)
def _fits(radix, digits):
    """Whether ``radix ** digits`` stays below KEY_LIMIT."""
    bound = 1
    for _ in range(digits):
        if bound > KEY_LIMIT // radix:
            return False
        bound *= radix
    return True


@numba.njit(cache=True)
def _number(keys, in_key_order):
    """(ids, count, first): each key's number among the distinct keys, in the order they first
    appear, or with ``in_key_order`` in increasing order of key (as ``torch.unique`` numbers
    them: both paths then give the same tables in the same row order, and gradients summed
    over the rows the same floats); their count; the position of one appearance of each. A
    hash table numbers them as they first appear; for key order the few distinct keys are
    sorted and the numbers mapped to their ranks."""
    m = keys.shape[0]
    runs = 1
    for i in range(1, m):
        if keys[i] != keys[i - 1]:
            runs += 1
    bits = 4
    while (1 << bits) < 2 * runs:   # at most half full
        bits += 1
    mask = (1 << bits) - 1
    table = np.full(1 << bits, -1, np.int64)   # keys are >= 0
    numbers = np.empty(1 << bits, np.int64)
    ids = np.empty(m, np.int64)
    first = np.empty(runs, np.int64)
    count = 0
    previous = -1
    current = -1
    for i in range(m):
        key = keys[i]
        if key != previous:
            slot = ((key * _HASH) >> (64 - bits)) & mask
            while table[slot] != key and table[slot] != -1:
                slot = (slot + 1) & mask
            if table[slot] == -1:
                table[slot] = key
                numbers[slot] = count
                first[count] = i
                count += 1
            current = numbers[slot]
            previous = key
        ids[i] = current
    if not in_key_order:
        return ids, count, first[:count]
    order = np.argsort(keys[first[:count]])
    rank = np.empty(count, np.int64)
    rank[order] = np.arange(count)
    for i in range(m):
        ids[i] = rank[ids[i]]
    return ids, count, first[:count][order]


@numba.njit(cache=True)
def _digit_keys(grid, kh, kw, radix):
    """(N, Hp - kh + 1, Wp - kw + 1): each kh x kw window of ``grid`` (N, Hp, Wp) as one
    integer, its entries the digits (row-major) in base ``radix``."""
    n, hp, wp = grid.shape
    h, w = hp - kh + 1, wp - kw + 1
    keys = np.empty((n, h, w), np.int64)
    for b in range(n):
        for y in range(h):
            for x in range(w):
                key = 0
                for dy in range(kh):
                    for dx in range(kw):
                        key = key * radix + grid[b, y + dy, x + dx]
                keys[b, y, x] = key
    return keys


@numba.njit(cache=True)
def _windows(grid, k, in_key_order):
    """(inverse (N, H, W), values (U, k * k), found): see :func:`distinct_windows`."""
    n, hp, wp = grid.shape
    h, w = hp - k + 1, wp - k + 1
    radix = grid.max() + 1
    if _fits(radix, k * k):
        keys = _digit_keys(grid, k, k, radix)
    elif _fits(radix, k):   # the k-wide row pieces numbered, then k of them stacked
        pieces, count, _ = _number(_digit_keys(grid, 1, k, radix).reshape(-1), in_key_order)
        if not _fits(count, k):
            return np.empty((0, 0, 0), np.int64), np.empty((0, 0), np.int64), False
        keys = _digit_keys(pieces.reshape(n, hp, w), k, 1, count)
    else:
        return np.empty((0, 0, 0), np.int64), np.empty((0, 0), np.int64), False
    inverse, count, first = _number(keys.reshape(-1), in_key_order)
    values = np.empty((count, k * k), np.int64)
    for u in range(count):   # each window's entries, read at its first pixel
        b, rest = divmod(first[u], h * w)
        y, x = divmod(rest, w)
        for dy in range(k):
            for dx in range(k):
                values[u, dy * k + dx] = grid[b, y + dy, x + dx]
    return inverse.reshape(n, h, w), values, True


def distinct_windows(grid: np.ndarray, k: int, in_key_order: bool = True):
    """The distinct k x k windows of ``grid`` (N, H + k - 1, W + k - 1; non-negative ints):
    (inverse (N, H, W) int64: each pixel's window, values (U, k * k) int64: each window's
    entries, row-major), or None where even the row pieces' keys do not fit (ids beyond a
    million). Numbered in the order of their keys, or without ``in_key_order`` as they first
    appear (no sort)."""
    inverse, values, found = _windows(np.ascontiguousarray(grid, dtype=np.int64), k, in_key_order)
    return (inverse, values) if found else None


@numba.njit(cache=True, fastmath={"contract"})
def _modulate_rows(x, scale, shift, index, table, out):
    """out[p] = (x[p] * scale + shift) * table[index[p], :C] + table[index[p], C:] (unsigned
    indices: no negative-index wraparound in the loop, which then vectorizes; fused
    multiply-adds allowed)."""
    pixels, c = x.shape
    c = numba.uint64(c)
    for p in range(pixels):
        r = numba.uint64(index[p])
        for j in range(c):
            out[p, j] = (x[p, j] * scale[j] + shift[j]) * table[r, j] + table[r, c + j]


def modulate(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, table: torch.Tensor,
             index: torch.Tensor) -> torch.Tensor:
    """``(x * scale + shift) * gamma + beta`` for a channels_last float32 CPU feature ``x``
    (N, C, H, W), per-channel ``scale`` and ``shift`` (C,) (an eval-mode BatchNorm), and gamma
    and beta the two halves of the row ``table[index]`` (``table`` (rows, 2C), ``index``
    (N, H, W)) at each pixel. Without gradients (the arrays are written in place); a
    channels_last output. The maths of the separate passes; float rounding differs (fused
    multiply-adds)."""
    n, c, h, w = x.shape

    def rows(t):   # (N * H * W, C): a channels_last map's pixels (a view)
        return t.permute(0, 2, 3, 1).reshape(n * h * w, c).numpy()
    out = torch.empty_like(x)
    _modulate_rows(rows(x), scale.contiguous().numpy(), shift.contiguous().numpy(),
                   index.reshape(-1).numpy(), table.contiguous().numpy(), rows(out))
    return out
