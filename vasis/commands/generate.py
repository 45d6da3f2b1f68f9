"""``run_analysis.py generate``: images from a training checkpoint for label maps.

Writes ``OUT/images/<name>_s<k>.png`` and the matching ``OUT/labels/<name>_s<k>.png`` so that
``run_analysis.py variation --images OUT/images --labels OUT/labels --dataset D`` works.
Every argument is checked before anything is written, and the images go to a temporary folder
that becomes OUT only when all are written: a failed or interrupted command leaves no OUT.
"""
from __future__ import annotations

import torch

from ..train.generate import generate
from .argtypes import count


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate", help="generate images for label maps from a training checkpoint",
        description="Generate N samples per label map from a run folder (its newest good "
                    "checkpoint) or a checkpoint file. Labels come from a folder of label PNGs "
                    "(--labels, the dataset's stored ids) or a dataset split (--dataset/--dataroot/"
                    "--split; default: the run's dataset, val split; built-in scenes need no "
                    "dataroot). OASIS-family runs use the EMA generator.")
    p.add_argument("--checkpoint", required=True, help="run folder or checkpoint .pt file")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--labels", default=None, help="folder of label PNGs")
    src.add_argument("--dataset", default=None, help="dataset of the label maps (default: the run's)")
    p.add_argument("--dataroot", default=None, help="dataset folder (default: the run's)")
    p.add_argument("--split", default="val", choices=("train", "val"))
    p.add_argument("--out", required=True, help="output folder (must be empty or new)")
    p.add_argument("--samples", type=count(1), default=1, help="samples per label map")
    p.add_argument("--limit", type=count(1), default=None, help="at most N label maps")
    p.add_argument("--batch-size", type=count(1), default=4)
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not the EMA")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=count(1), default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    written = generate(args.checkpoint, args.out, labels=args.labels, dataset=args.dataset,
                       dataroot=args.dataroot, split=args.split, samples=args.samples,
                       batch_size=args.batch_size, seed=args.seed, limit=args.limit,
                       device=args.device, use_ema=not args.no_ema, progress=not args.no_progress)
    print(f"wrote {len(written)} images to {args.out}/images (labels in {args.out}/labels)")
    return 0
