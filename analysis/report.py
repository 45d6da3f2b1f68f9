"""Report writing shared by the main job and the experiments: one number formatter
(:func:`fmt`), one Markdown table writer (:func:`md_table`) and links from a report to the
repository's files (:func:`link`). What a report *says* is chosen by its job from the measured
numbers; static explanations live in ``docs/`` and are linked."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["REPO", "fmt", "md_table", "link", "relative"]

REPO = Path(__file__).resolve().parents[1]


def fmt(v, digits: int = 3) -> str:
    """A table cell: ``-`` for missing / NaN, ``yes`` / ``**NO**`` for booleans, integers as
    they are, floats with ``digits`` decimals (scientific below ``10**-digits`` and from 1e4)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "**NO**"
    if isinstance(v, (int, np.integer)):
        return str(v)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(v):
        return "-"
    if v == 0:
        return "0"
    if abs(v) < 10 ** -digits or abs(v) >= 1e4:
        return f"{v:.1e}"
    return f"{v:.{digits}f}"


def md_table(df: pd.DataFrame, digits: int = 3) -> str:
    """``df`` as a Markdown table, every cell through :func:`fmt`."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(v, digits) for v in r) + " |")
    return "\n".join(lines)


def link(path, start) -> str:
    """A relative link when ``start`` is inside the repository, else the absolute path."""
    path, start = Path(path).resolve(), Path(start).resolve()
    if REPO in start.parents or start == REPO:
        return os.path.relpath(path, start)
    return str(path)


def relative(path, start) -> str:
    """``path`` relative to ``start`` (a report's own outputs, wherever it is written)."""
    return os.path.relpath(Path(path).resolve(), Path(start).resolve())
