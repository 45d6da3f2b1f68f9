"""``run_analysis.py train``: train a model preset on a dataset (or continue a run with --resume).

Under ``torchrun --nproc_per_node=K run_analysis.py train ...`` it trains with DDP (NCCL on
CUDA, gloo on the CPU); only rank 0 writes. See :mod:`vasis.train`.
"""
from __future__ import annotations

import argparse
import sys

from ..presets import DATASETS, MODELS
from ..errors import UserError


def _size(text: str) -> tuple[int, int]:
    try:
        parts = text.lower().replace("*", "x").split("x")
        if len(parts) == 1:
            parts = parts * 2
        h, w = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW (e.g. 128x128), got {text!r}") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model (SPADE family or OASIS family) with the official recipe",
        description="Train a model preset with its official recipe (Adam/TTUR, schedule, batch "
                    "size, EMA for OASIS). Without --dataroot the built-in procedural 'scenes' "
                    "data is used. The dataset is validated first; nothing is written if it has "
                    "problems. Writes RUN_DIR/run.json, checkpoints/, losses.jsonl and tb/ "
                    "(TensorBoard). Run under torchrun for multi-process (DDP) training.")
    p.add_argument("--model", choices=sorted(MODELS), help="model preset (required for a new run)")
    p.add_argument("--dataset", default=None,
                   help=f"dataset: {', '.join(sorted(DATASETS))} or custom (default: scenes)")
    p.add_argument("--dataroot", default=None, help="dataset folder (omit for built-in scenes)")
    p.add_argument("--size", type=_size, default=None, help="training size HxW (default: preset)")
    p.add_argument("--batch-size", type=int, default=None, help="per-process batch (default: recipe)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--iters", type=int, default=None, help="stop after N iterations")
    length.add_argument("--epochs", type=int, default=None,
                        help="epochs in all (default: the recipe's niter + niter_decay)")
    p.add_argument("--out", required=True, help="run folder (must not exist unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--ckpt-every", type=int, default=None, help="checkpoint every N steps (1000)")
    p.add_argument("--log-every", type=int, default=None, help="log losses every N steps (50)")
    p.add_argument("--sample-every", type=int, default=None,
                   help="sample grid + variation metrics every N steps (500; 0: never)")
    p.add_argument("--vgg-loss", dest="vgg_loss", action=argparse.BooleanOptionalAction, default=None,
                   help="VGG19 perceptual loss (default: on for the SPADE family's paper recipes, "
                        "off for scenes and OASIS); needs local VGG19 weights")
    p.add_argument("--vgg-weights", default=None, help="VGG19 weights file")
    p.add_argument("--no-ttur", action="store_true", help="SPADE's no-TTUR lr 2e-4, betas (0.5, 0.999)")
    p.add_argument("--lr-g", type=float, default=None)
    p.add_argument("--lr-d", type=float, default=None)
    p.add_argument("--ema-refresh", type=int, default=None,
                   help="OASIS: BN-refresh batches of the EMA copy at checkpoints/samples (51)")
    p.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    p.add_argument("--n-train", type=int, default=None, help="built-in scenes: training scenes (1000)")
    p.add_argument("--workers", type=int, default=None, help="data loader workers (default 0)")
    p.add_argument("--amp", action="store_true", help="mixed precision (CUDA only; ignored on CPU)")
    p.add_argument("--device", default=None, help="cuda / cpu (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("architecture overrides (e.g. small widths for quick runs)")
    g.add_argument("--ngf", type=int, default=None, help="generator width")
    g.add_argument("--hidden", type=int, default=None, help="norm hidden channels (SPADE conv)")
    g.add_argument("--ndf", type=int, default=None, help="multiscale D width")
    g.add_argument("--channels-d", type=int, default=None, help="OASIS D width multiplier")
    g.add_argument("--num-d", type=int, default=None, help="multiscale D scales")
    p.set_defaults(func=run)


def _settings(args):
    from ..train import RunSettings

    if args.model is None:
        raise UserError("--model is required for a new run (or pass --resume)")
    gen = {k: v for k, v in (("ngf", args.ngf), ("hidden", args.hidden)) if v is not None}
    disc = {k: v for k, v in (("ndf", args.ndf), ("channels_d", args.channels_d),
                              ("num_d", args.num_d)) if v is not None}
    recipe = {}
    if args.batch_size is not None:
        recipe["batch_size"] = args.batch_size
    if args.vgg_loss is not None:
        recipe["use_vgg"] = bool(args.vgg_loss)
    if args.no_ttur:
        recipe.update(lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999)
    if args.lr_g is not None:
        recipe["lr_g"] = args.lr_g
    if args.lr_d is not None:
        recipe["lr_d"] = args.lr_d
    if args.ema_refresh is not None:
        recipe["ema_refresh_batches"] = args.ema_refresh
    loss = {"vgg_weights": args.vgg_weights} if args.vgg_weights else {}
    kw = dict(model=args.model, dataset=args.dataset or "scenes", dataroot=args.dataroot,
              size=args.size, generator=gen, discriminator=disc, recipe=recipe, loss=loss,
              n_train=args.n_train, amp=args.amp)
    if args.seed is not None:
        kw["seed"] = args.seed
    return RunSettings(**kw)


def _check_resume(args) -> None:
    """--model / --dataset given with --resume must match the run's."""
    import json
    from pathlib import Path

    info = Path(args.out) / "run.json"
    if not info.is_file():
        return  # train() reports the missing run / checkpoint
    saved = json.loads(info.read_text()).get("settings", {})
    for flag, value, key in (("--model", args.model, "model"), ("--dataset", args.dataset, "dataset")):
        if value is not None and saved.get(key) not in (None, value):
            raise UserError(f"--resume: the run in {args.out} trains {key} {saved.get(key)!r}, "
                             f"not {value!r}")


def run(args) -> int:
    import torch

    from ..data import DatasetError
    from ..train import NonFiniteLossError, train

    if args.threads:
        torch.set_num_threads(args.threads)
    updates = {"iters": args.iters, "epochs": args.epochs, "ckpt_every": args.ckpt_every,
               "log_every": args.log_every, "sample_every": args.sample_every,
               "num_workers": args.workers}
    updates = {k: v for k, v in updates.items() if v is not None}
    try:
        if args.resume:
            _check_resume(args)
            settings = None
            fixed = [f for f, v in (("--dataroot", args.dataroot), ("--size", args.size),
                                    ("--batch-size", args.batch_size), ("--ngf", args.ngf),
                                    ("--seed", args.seed)) if v is not None]
            if fixed:
                raise UserError(f"--resume continues with the run's own settings; drop {fixed}")
            result = train(settings, args.out, resume=True, updates=updates, device=args.device,
                           progress=not args.no_progress)
        else:
            result = train(_settings(args), args.out, updates=updates, device=args.device,
                           progress=not args.no_progress)
    except DatasetError as err:
        print(f"error: {err}\nNothing was written.", file=sys.stderr)
        return 2
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    where = f"; checkpoint {result.checkpoint}" if result.checkpoint else ""
    print(f"trained {result.step} steps (epoch {result.epoch}) in {result.run_dir}{where}")
    return 0
