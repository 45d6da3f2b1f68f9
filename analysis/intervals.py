"""Means with 95% intervals over seeds, and the comparisons the study's verdicts use.

:func:`interval` is the Student-t interval of the mean, ``mean +- t(0.975, n-1) * sd / sqrt(n)``
(sd with ddof 1): with 3 seeds ``t = 4.30``, so only large differences are "clear". Two
intervals compare as *clearly above* / *clearly below* only when they do not overlap; with one
seed there is no interval and nothing is clear (:func:`compare` says ``'one seed'``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy import stats

from .report import fmt

__all__ = ["Interval", "interval", "compare", "is_number"]


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int

    @property
    def known(self) -> bool:
        return self.n >= 2 and math.isfinite(self.lo) and math.isfinite(self.hi)

    def text(self, digits: int = 3) -> str:
        """``m [lo, hi]`` (``m`` alone with one value; ``-`` with none)."""
        if self.n == 0 or not math.isfinite(self.mean):
            return "-"
        if not self.known:
            return fmt(self.mean, digits)
        return f"{fmt(self.mean, digits)} [{fmt(self.lo, digits)}, {fmt(self.hi, digits)}]"

    def __str__(self) -> str:
        return self.text()


NONE = Interval(float("nan"), float("nan"), float("nan"), 0)


def interval(values: Iterable, level: float = 0.95) -> Interval:
    """The mean of the finite numbers in ``values`` and its t-interval (``n`` of them)."""
    v = np.array([float(x) for x in values if is_number(x)], float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return NONE
    m = float(v.mean())
    if n == 1:
        return Interval(m, float("nan"), float("nan"), 1)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return Interval(m, m - half, m + half, n)


def is_number(x) -> bool:
    """Whether ``float(x)`` works (cells may hold a text such as 'n/a (...)')."""
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return True


def compare(a: Interval, b: Interval | float) -> str:
    """``'above'`` / ``'below'`` when ``a`` lies clearly (no overlap) above / below ``b`` (an
    interval, or a fixed number such as the data's value), ``'overlap'`` otherwise;
    ``'one seed'`` / ``'missing'`` when there is no interval to compare."""
    if a.n == 0 or (isinstance(b, Interval) and b.n == 0):
        return "missing"
    if not a.known or (isinstance(b, Interval) and not b.known):
        return "one seed"
    lo_b, hi_b = (b.lo, b.hi) if isinstance(b, Interval) else (float(b), float(b))
    if a.lo > hi_b:
        return "above"
    if a.hi < lo_b:
        return "below"
    return "overlap"
