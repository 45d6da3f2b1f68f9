"""SPADE's label branch per distinct label square (``vasis.models.label_patches``) vs its convs.

For label maps of three kinds - the benchmarks' random block maps (``official_reference.label_maps``,
16-pixel blocks at 128x128: the stress case), the built-in scenes, and the real COCO-Stuff
sample when ``../shared`` is beside the checkout - at each resolution a generator's norms see:

* the share of pixels whose 5x5 label square is distinct (what the per-square path computes);
* one norm's gamma / beta (mlp_shared, then mlp_gamma and mlp_beta) without gradients, in the
  layout a generator runs that size in (channels_last from 64x64), by the per-square path
  (``label_feature``, the windows found once included) with its second step per distinct
  square ('squares') and per pixel ('pixels'), and by the convs (the official operations: three
  convs, the gamma / beta pair stacked), median ms, one thread, and the ratio convs / the
  faster path.

The widths are the scenes preset's (hidden 16, a norm of 16 channels) and the papers' (hidden
128, 64 channels). 'used' says which way a generator's norm takes there without gradients
(the cost rule of ``label_patches``, whose thresholds are set from these rows; with gradients
only 'squares' or the convs).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_label_patches.py [--repeats 20]``.
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
sys.path.insert(0, str(ROOT / "tests"))
import vasis  # noqa: E402
from official_reference import label_maps  # noqa: E402
from vasis.data import build_dataset  # noqa: E402
from vasis.data.scenes import SceneDataset  # noqa: E402
from vasis.models import label_patches  # noqa: E402
from vasis.models.label_patches import LabelCodes  # noqa: E402
from vasis.models.layers import NHWC_MIN_PIXELS  # noqa: E402
from vasis.models.norms import _gamma_beta  # noqa: E402
from timing import median_seconds  # noqa: E402

COCO = ROOT.parent / "shared" / "data" / "coco_stuff_sample"
WIDTHS = {"scenes (hidden 16, C 16)": (16, 16), "papers (hidden 128, C 64)": (128, 64)}


def maps() -> dict:
    """name -> (integer label map (1, H, W), number of classes)."""
    out = {}
    space = vasis.label_space("scenes")
    out["block maps 128x128"] = (label_maps(1, 128, 128, space.label_nc, False, 0)[0],
                                 space.label_nc)
    out["scenes 128x128"] = (SceneDataset(1, size=(128, 128), seed=3)[0]["label"][None],
                             space.label_nc)
    if COCO.is_dir():
        ds = build_dataset("coco-stuff", COCO, "val", size=(256, 256))
        label = ds[0]["label"].long()[None]
        coco = vasis.label_space("coco-stuff")
        label[label == 255] = coco.label_nc      # don't care: its own channel
        out["COCO-Stuff val 256x256"] = (label, coco.semantic_nc)
    return out


def norm_convs(classes, hidden, channels):
    torch.manual_seed(0)
    shared = nn.Sequential(nn.Conv2d(classes, hidden, 3, padding=1), nn.ReLU())
    return shared, nn.Conv2d(hidden, channels, 3, padding=1), nn.Conv2d(hidden, channels, 3, padding=1)


def used(convs, codes, nhwc) -> str:
    """The way a generator's norm takes without gradients (on channels_last features with
    ``nhwc``): 'squares', 'pixels' or 'convs'."""
    taken = []
    real = LabelCodes.pixel_taps

    def spy(self, *args):
        taken.append("pixels")
        return real(self, *args)
    LabelCodes.pixel_taps = spy
    try:
        fresh = LabelCodes(codes.codes, codes.vectors)
        out = label_patches.label_feature(*convs, fresh, nhwc=nhwc)
    finally:
        LabelCodes.pixel_taps = real
    return "convs" if out is None else (taken[0] if taken else "squares")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, one thread, median of {args.repeats}; 'distinct' = share "
          f"of pixels with a distinct 5x5 label square; ms for one norm's gamma and beta; "
          f"ratio = convs / the faster of squares and pixels")
    print(f"{'maps':<24}{'size':>9}{'distinct':>10}  " +
          "".join(f"{w:>42}" for w in WIDTHS))
    print(f"{'':<24}{'':>9}{'':>10}  " + "".join(
        f"{'squares':>9}{'pixels':>8}{'convs':>8}{'ratio':>7}{'used':>10}" for _ in WIDTHS))
    with torch.no_grad():
        for name, (label, classes) in maps().items():
            seg = F.one_hot(label, classes).permute(0, 3, 1, 2).float()
            h, w = label.shape[1:]
            for scale in (1, 2, 4):
                size = (h // scale, w // scale)
                small = seg[..., ::scale, ::scale]
                nhwc = size[0] * size[1] >= NHWC_MIN_PIXELS
                if nhwc:
                    small = small.contiguous(memory_format=torch.channels_last)
                codes = LabelCodes.of(small, classes, label[..., ::scale, ::scale])
                found = codes.branch_windows(3, "zeros", 3, "zeros")
                share = found[1].count / (size[0] * size[1])
                line = f"{name:<24}{f'{size[0]}x{size[1]}':>9}{share:>10.3f}  "
                for hidden, channels in WIDTHS.values():
                    convs = norm_convs(classes, hidden, channels)

                    def way(step2):   # the windows are found anew, as in a forward
                        def run():
                            fresh = LabelCodes(codes.codes, codes.vectors)
                            return label_patches.label_feature(*convs, fresh, cost_rule=False,
                                                               nhwc=nhwc, step2=step2)
                        return run
                    t_sq = median_seconds(way("squares"), args.repeats) * 1e3
                    t_px = median_seconds(way("pixels"), args.repeats) * 1e3
                    t_conv = median_seconds(
                        lambda: _gamma_beta(convs[1], convs[2], convs[0](small)), args.repeats) * 1e3
                    line += (f"{t_sq:>9.2f}{t_px:>8.2f}{t_conv:>8.2f}"
                             f"{t_conv / min(t_sq, t_px):>7.2f}{used(convs, codes, nhwc):>10}")
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
