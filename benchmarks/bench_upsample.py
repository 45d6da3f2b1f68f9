"""The generators' nearest 2x upsampling without gradients: torch's kernel vs a broadcast copy.

For the NCHW maps the SPADE and OASIS generators upsample (their batch-1 maps below 64x64 run
NCHW on the CPU), at the scenes preset (ngf 8, batch 1 and the main job's batch 4) and at the
issue setting of ``bench_train_step.py`` (Cityscapes 64x128, ngf 64; its 32x64 map, which the
generators upsample channels_last, stands for a wider NCHW map), one thread, no gradients:
``F.interpolate(x, scale_factor=2, mode='nearest')`` against the copy through a broadcast view
that ``vasis.models.layers.upsample_2x`` uses for maps ``COPY_UPSAMPLE_WIDTHS`` pixels wide
(the same values: checked here). Median microseconds and the ratio torch / copy; 'used' is
what ``upsample_2x`` takes for that map.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_upsample.py [--repeats 200]``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from vasis.models import layers  # noqa: E402
from timing import median_seconds  # noqa: E402

# (setting, N, C, H, W) of the maps before each upsampling
SHAPES = [("scenes", 1, 128, 4, 4), ("scenes", 1, 128, 8, 8), ("scenes", 1, 64, 16, 16),
          ("main job", 4, 128, 8, 8), ("main job", 4, 64, 16, 16),
          ("issue", 1, 1024, 4, 8), ("issue", 1, 1024, 8, 16), ("issue", 1, 512, 16, 32),
          ("issue", 1, 256, 32, 64)]


def copy_everywhere(up: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``upsample_2x``'s broadcast copy, taken whatever the map's width (the bounds lifted)."""
    saved = layers.COPY_UPSAMPLE_WIDTHS
    layers.COPY_UPSAMPLE_WIDTHS = (1, 2 ** 31)
    try:
        return layers.upsample_2x(up, x)
    finally:
        layers.COPY_UPSAMPLE_WIDTHS = saved


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    up = nn.Upsample(scale_factor=2)
    print(f"torch {torch.__version__}, one thread, no gradients, median of {args.repeats}, "
          f"microseconds; ratio = torch / copy")
    print(f"{'setting':<10}{'map (N, C, H, W)':>22}{'torch':>9}{'copy':>9}{'ratio':>7}{'used':>7}")
    with torch.no_grad():
        for setting, n, c, h, w in SHAPES:
            x = torch.randn(n, c, h, w)
            if not torch.equal(copy_everywhere(up, x), F.interpolate(x, scale_factor=2)):
                raise AssertionError(f"the copy differs from nearest at {(n, c, h, w)}")
            t_torch = median_seconds(lambda: F.interpolate(x, scale_factor=2, mode="nearest"),
                                     args.repeats, warmup=5) * 1e6
            t_copy = median_seconds(lambda: copy_everywhere(up, x), args.repeats, warmup=5) * 1e6
            low, high = layers.COPY_UPSAMPLE_WIDTHS
            used = "copy" if low <= w <= high else "torch"
            print(f"{setting:<10}{str((n, c, h, w)):>22}{t_torch:>9.0f}{t_copy:>9.0f}"
                  f"{t_torch / t_copy:>7.2f}{used:>7}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
