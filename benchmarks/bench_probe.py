"""Probe throughput: ``analysis.recorder.probe`` (hooks on every block, statistics) vs a plain
forward loop over the same layouts and samples without hooks, in the same run.

Reports layouts per second of both and the overhead ratio (probe time / plain time). The plain
loop does what the probe's forwards do (eval mode, the same seed per layout, ``samples`` images
per layout in one batch) and nothing else. Untrained scenes-preset generators (128x128), one
thread, denormals flushed.

Run: ``.venv/bin/python benchmarks/bench_probe.py [--layouts 8] [--samples 4]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vasis  # noqa: E402
from analysis.layouts import boundary_series  # noqa: E402
from analysis.recorder import probe  # noqa: E402

MODELS = ("spade", "clade", "oasis", "va-spade")


def layouts(gen, n: int) -> dict:
    pos = [0.2 + 0.6 * i / max(1, n - 1) for i in range(n)]
    series = boundary_series("sky", "ground", pos, orientation="horizontal", dataset=gen)
    return {f"boundary-{p:.2f}": m for p, m in zip(pos, series)}


def plain(gen, lays: dict, samples: int) -> None:
    with torch.no_grad():
        for lay in lays.values():
            torch.manual_seed(0)
            gen(lay.expand(samples, *lay.shape))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layouts", type=int, default=4)
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--norms", action="store_true", help="also hook the norms (probe norms=True)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    print(f"torch {torch.__version__}, 1 thread, scenes 128x128, {args.layouts} layouts x "
          f"{args.samples} samples, median of {args.repeats}")
    print(f"{'model':<10}{'probe lay/s':>12}{'plain lay/s':>12}{'overhead':>10}")
    for m in args.models:
        gen = vasis.build_generator(m, "scenes").eval()
        lays = layouts(gen, args.layouts)
        tp, tf = [], []
        probe(gen, lays, args.samples, norms=args.norms)  # warm-up
        plain(gen, lays, args.samples)
        for _ in range(args.repeats):
            t = time.perf_counter()
            probe(gen, lays, args.samples, norms=args.norms)
            tp.append(time.perf_counter() - t)
            t = time.perf_counter()
            plain(gen, lays, args.samples)
            tf.append(time.perf_counter() - t)
        a, b = statistics.median(tp), statistics.median(tf)
        print(f"{m:<10}{len(lays) / a:>12.2f}{len(lays) / b:>12.2f}{a / b:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
