"""Precision, recall, density and coverage (Naeem et al., "Reliable Fidelity and Diversity
Metrics for Generative Models", ICML 2020) of two feature sets, computed by the authors' ``prdc``
package (``prdc.compute_prdc``; an optional extra of the suite), not re-implemented here.

k-nearest-neighbour balls around the real features (radius: distance to the k-th neighbour)
give precision (share of fakes inside any real ball) and density (mean number of real balls
holding a fake, over k); recall uses balls around the fakes; coverage is the share of real
balls that hold at least one fake. Default k = 5, the paper's recommendation.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

from ..errors import UserError

PRDC_FIELDS = ("precision", "recall", "density", "coverage")
PRDC_NEAREST_K = 5
PRDC_EXTRA = ("the `prdc` package is not installed: install the optional extra "
              "(pip install -e '.[metrics]'; `make setup` does) or `pip install prdc`")


def min_images(nearest_k: int) -> int:
    """Fewest features per side ``prdc`` takes for ``nearest_k`` (the k-th neighbour besides the
    point itself must exist)."""
    return int(nearest_k) + 2


def check_nearest_k(nearest_k, n_real: int, n_fake: int, names=("real", "generated")) -> int:
    """``nearest_k`` as an int, or a :class:`UserError` when it does not fit the set sizes."""
    try:
        k = int(nearest_k)
    except (TypeError, ValueError):
        raise UserError(f"nearest_k must be an integer >= 1; got {nearest_k!r}") from None
    if k < 1:
        raise UserError(f"nearest_k must be >= 1; got {k}")
    for n, name in zip((n_real, n_fake), names):
        if n < min_images(k):
            raise UserError(f"precision / recall / density / coverage with k = {k} need at least "
                            f"{min_images(k)} images per side; {name} has {n}: add images or "
                            f"lower the k (--nearest-k)")
    return k


def prdc_scores(real_features, fake_features, nearest_k: int = PRDC_NEAREST_K) -> dict[str, float]:
    """{precision, recall, density, coverage} of (N, D) ``fake_features`` against
    ``real_features`` with ``prdc.compute_prdc`` (its progress print is silenced)."""
    try:
        # local: prdc is an optional extra (.[metrics])
        from prdc import compute_prdc
    except ImportError:
        raise UserError(PRDC_EXTRA) from None
    real = np.asarray(real_features, dtype=np.float32)
    fake = np.asarray(fake_features, dtype=np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise UserError(f"need (N, D) features of one D; got {real.shape} and {fake.shape}")
    k = check_nearest_k(nearest_k, real.shape[0], fake.shape[0])
    with contextlib.redirect_stdout(io.StringIO()):   # compute_prdc prints the set sizes
        out = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    return {f: float(out[f]) for f in PRDC_FIELDS}
