"""Benchmark ``relative_position_code`` against a per-component reference.

The reference follows CLADE's ``util/cal_dist_masks.py`` algorithm literally:
loop over classes, label each class mask with
``cv2.connectedComponentsWithStats``, loop over components and normalize each
component's full-image offset map by ``max(|offset| + 1e-5)``.

    python benchmarks/bench_relative_position.py --sizes 256x512 480x640 --maps 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vasis.relative_position import relative_position_code  # noqa: E402


def reference_relative_position_code(label_map: np.ndarray) -> np.ndarray:
    """Straightforward per-component implementation (slow, for checking)."""
    h, w = label_map.shape
    out_h = np.zeros((h, w), dtype=np.float32)
    out_w = np.zeros((h, w), dtype=np.float32)
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    for class_id in np.unique(label_map):
        if class_id == 0:
            continue
        binary = (label_map == class_id).astype(np.uint8) * 255
        n, labels, _, centroids = cv2.connectedComponentsWithStats(binary)  # 8-connected
        for k in range(1, n):  # component 0 is the background of the binary mask
            inside = (labels == k).astype(np.float32)
            cx, cy = centroids[k]
            dh = (rows - cy) * inside
            dw = (cols - cx) * inside
            out_h += dh / np.max(np.abs(dh) + 1e-5)
            out_w += dw / np.max(np.abs(dw) + 1e-5)
    return np.stack([out_h, out_w])


def blob_label_map(rng: np.random.Generator, h: int, w: int, scale: int = 16, sigma: float = 1.5) -> np.ndarray:
    """Segmentation-like map: argmax of smooth random per-class fields.

    20-35 classes drawn from 0..149 (so label 0 sometimes appears), giving
    about 100-120 connected components at 256x512, with curved boundaries.
    """
    n_classes = int(rng.integers(20, 36))
    low = rng.normal(size=(-(-h // scale), -(-w // scale), n_classes)).astype(np.float32)
    field = ndimage.gaussian_filter(low, (sigma, sigma, 0))
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    ids = rng.choice(150, n_classes, replace=False)
    return ids[field.argmax(-1)].astype(np.uint8)


def time_call(fn, x, repeats: int) -> float:
    """Best-of-`repeats` wall time in seconds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["256x512", "480x640"], help="HxW map sizes")
    parser.add_argument("--maps", type=int, default=5, help="random maps per size")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats for the reference (best of)")
    parser.add_argument("--fast-repeats", type=int, default=50, help="timing repeats for the vectorized code (best of)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    for size in args.sizes:
        h, w = (int(v) for v in size.lower().split("x"))
        t_ref, t_fast, n_comp, exact = [], [], [], True
        for _ in range(args.maps):
            m = blob_label_map(rng, h, w)
            expected = reference_relative_position_code(m)
            got = relative_position_code(m)
            if not np.allclose(got, expected, rtol=0, atol=1e-6):
                raise SystemExit(f"MISMATCH at {size}: max abs diff {np.abs(got - expected).max():.3g}")
            exact &= bool(np.array_equal(got, expected))
            n_comp.append(sum(cv2.connectedComponents((m == c).astype(np.uint8))[0] - 1 for c in np.unique(m) if c))
            relative_position_code(m)  # warm-up
            t_ref.append(time_call(reference_relative_position_code, m, args.repeats))
            t_fast.append(time_call(relative_position_code, m, args.fast_repeats))
        ref_ms, fast_ms = 1e3 * np.mean(t_ref), 1e3 * np.mean(t_fast)
        print(
            f"{h}x{w}: {args.maps} maps, ~{np.mean(n_comp):.0f} components/map, outputs "
            f"{'bit-identical' if exact else 'allclose(atol=1e-6)'}\n"
            f"  reference  {ref_ms:9.2f} ms/map\n"
            f"  vectorized {fast_ms:9.3f} ms/map\n"
            f"  speedup    {ref_ms / fast_ms:9.1f}x"
        )


if __name__ == "__main__":
    main()
