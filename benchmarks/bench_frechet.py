"""vasis.frechet_distance vs pytorch-fid's calculate_frechet_distance on 2048-d statistics.

Covariances come from ~5000 random 2048-d features (non-negative, correlated, like pool3
activations), plus a rank-deficient case (1000 features < 2048 dimensions). pytorch-fid 0.3.0
calls scipy's ``sqrtm(..., disp=False)``, which scipy >= 1.18 rejects; there the reference is
the same sqrtm path without ``disp``. Run: ``.venv/bin/python benchmarks/bench_frechet.py``.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import scipy  # noqa: E402
from pytorch_fid.fid_score import calculate_frechet_distance  # noqa: E402
from scipy import linalg  # noqa: E402

import vasis  # noqa: E402


def reference(mu1, s1, mu2, s2):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(calculate_frechet_distance(mu1, s1, mu2, s2)), "pytorch-fid"
    except TypeError:  # scipy >= 1.18: no disp argument
        covmean = linalg.sqrtm(s1.dot(s2))
        if not np.isfinite(covmean).all():
            off = np.eye(s1.shape[0]) * 1e-6
            covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
        d = mu1 - mu2
        return (float(d.dot(d) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real)),
                "sqrtm path of pytorch-fid (re-implemented: scipy >= 1.18)")


def stats(rng, n, d, shift=0.0):
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    x = np.abs(rng.standard_normal((n, d)) @ mix) + shift
    return x.mean(0), np.cov(x, rowvar=False)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", type=int, default=2048)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--n-deficient", type=int, default=1000)
    a = p.parse_args()
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, dims {a.dims}")
    rng = np.random.default_rng(0)
    cases = {
        f"full rank ({a.n} vs {a.n} features)": (stats(rng, a.n, a.dims), stats(rng, a.n, a.dims, 0.05)),
        f"rank-deficient ({a.n_deficient} vs {a.n} features)": (
            stats(rng, a.n_deficient, a.dims), stats(rng, a.n, a.dims, 0.05)),
    }
    for name, ((m1, s1), (m2, s2)) in cases.items():
        t = time.perf_counter()
        ref, how = reference(m1, s1, m2, s2)
        t_ref = time.perf_counter() - t
        t = time.perf_counter()
        ours = vasis.frechet_distance(m1, s1, m2, s2)
        t_ours = time.perf_counter() - t
        print(f"{name}: reference ({how}) {t_ref:.2f} s = {ref:.10g}; vasis {t_ours:.2f} s = "
              f"{ours:.10g}; speed-up {t_ref / t_ours:.1f}x; relative difference "
              f"{abs(ours - ref) / abs(ref):.2e}")


if __name__ == "__main__":
    main()
