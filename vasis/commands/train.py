"""``run_analysis.py train``: train a model preset on a dataset (or continue a run with --resume).

Under ``torchrun --nproc_per_node=K run_analysis.py train ...`` it trains with DDP (NCCL on
CUDA, gloo on the CPU); only rank 0 writes. See :mod:`vasis.train`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..data import DatasetError
from ..data.folders import known_dataset
from ..errors import UserError
from ..presets import DATASETS, MODELS
from ..train import NonFiniteLossError, RunSettings, TrainingStopped, train
from ..train.checkpoint import checkpoint_dir
from .argtypes import count, size


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model (SPADE family or OASIS family) with the official recipe",
        description="Train a model preset with its official recipe (Adam/TTUR, schedule, batch "
                    "size, EMA for OASIS). Without --dataroot the built-in procedural 'scenes' "
                    "data is used. The dataset is validated first; nothing is written if it has "
                    "problems. Writes RUN_DIR/run.json, checkpoints/, losses.jsonl and tb/ "
                    "(TensorBoard). Run under torchrun for multi-process (DDP) training. "
                    "With --resume, options that set the run (model, dataset, size, batch size, "
                    "widths, ...) may be repeated but must equal the run's values. SIGINT "
                    "(Ctrl-C), SIGTERM and SIGUSR1 stop at the next step with a checkpoint "
                    "(exit codes 130, 143, 138).")
    p.add_argument("--model", choices=sorted(MODELS), help="model preset (required for a new run)")
    p.add_argument("--dataset", default=None,
                   help=f"dataset: {', '.join(sorted(DATASETS))} or custom (default: scenes)")
    p.add_argument("--dataroot", default=None, help="dataset folder (omit for built-in scenes)")
    p.add_argument("--size", type=size, default=None, help="training size HxW (default: preset)")
    p.add_argument("--batch-size", type=count(1), default=None, help="per-process batch (default: recipe)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--iters", type=count(1), default=None, help="stop after N iterations")
    length.add_argument("--epochs", type=count(1), default=None,
                        help="epochs in all (default: the recipe's niter + niter_decay)")
    p.add_argument("--out", required=True, help="run folder (must not exist unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--ckpt-every", type=count(1), default=None, help="checkpoint every N steps (1000)")
    p.add_argument("--log-every", type=count(1), default=None, help="log losses every N steps (50)")
    p.add_argument("--sample-every", type=count(0), default=None,
                   help="sample grid + variation metrics every N steps (500; 0: never)")
    p.add_argument("--vgg-loss", dest="vgg_loss", action=argparse.BooleanOptionalAction, default=None,
                   help="VGG19 perceptual loss (default: on for the SPADE family's paper recipes, "
                        "off for scenes and OASIS); needs local VGG19 weights")
    p.add_argument("--vgg-weights", default=None, help="VGG19 weights file")
    p.add_argument("--no-ttur", action="store_true", help="SPADE's no-TTUR lr 2e-4, betas (0.5, 0.999)")
    p.add_argument("--lr-g", type=float, default=None)
    p.add_argument("--lr-d", type=float, default=None)
    p.add_argument("--ema-refresh", type=count(1), default=None,
                   help="OASIS: BN-refresh batches of the EMA copy at checkpoints/samples (51)")
    p.add_argument("--seed", type=count(0), default=None, help="seed (default 0)")
    p.add_argument("--n-train", type=count(1), default=None, help="built-in scenes: training scenes (1000)")
    p.add_argument("--workers", type=count(0), default=None, help="data loader workers (default 0)")
    fast = p.add_argument_group("opt-in fast paths (each changes results at rounding level; "
                                "without them a CPU run and its resume are bit-exact)")
    fast.add_argument("--amp", action="store_true",
                      help="mixed precision: fp16 autocast + GradScaler on CUDA, bf16 autocast "
                           "on the CPU (pays off with AVX512-BF16/AMX, may be slower without)")
    fast.add_argument("--channels-last", action="store_true", default=None,
                      help="NHWC memory format for the networks and batches (other conv kernels)")
    fast.add_argument("--compile", action="store_true", default=None,
                      help="torch.compile G and D (first iterations pay the compile time; on "
                           "the CPU it needs a C++ compiler)")
    p.add_argument("--device", default=None, help="cuda / cpu (default: cuda if available)")
    p.add_argument("--threads", type=count(1), default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--check-images", choices=("tail", "full"), default="tail",
                   help="up-front image check: 'tail' reads each file's header and end (catches "
                        "truncated JPEG/PNG files quickly), 'full' decodes every image (slower)")
    g = p.add_argument_group("architecture overrides (e.g. small widths for quick runs)")
    g.add_argument("--ngf", type=count(1), default=None, help="generator width")
    g.add_argument("--hidden", type=count(1), default=None, help="norm hidden channels (SPADE conv)")
    g.add_argument("--ndf", type=count(1), default=None, help="multiscale D width")
    g.add_argument("--channels-d", type=count(1), default=None, help="OASIS D width multiplier")
    g.add_argument("--num-d", type=count(1), default=None, help="multiscale D scales")
    p.set_defaults(func=run)


def _settings(args):
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


def _given(args) -> list[tuple[str, str, object]]:
    """The run settings given on the command line, as (option, settings key, value).

    Every such option defaults to None (or False for a switch), so "given" never confuses a
    value typed by the user with a default; with --resume each is compared with the run's."""
    given = [("--model", "model", args.model), ("--dataset", "dataset", args.dataset),
             ("--dataroot", "dataroot", args.dataroot), ("--size", "size", args.size),
             ("--seed", "seed", args.seed), ("--n-train", "n_train", args.n_train),
             ("--batch-size", "recipe.batch_size", args.batch_size),
             ("--vgg-loss" if args.vgg_loss else "--no-vgg-loss", "recipe.use_vgg", args.vgg_loss),
             ("--vgg-weights", "loss.vgg_weights", args.vgg_weights),
             ("--ema-refresh", "recipe.ema_refresh_batches", args.ema_refresh),
             ("--ngf", "generator.ngf", args.ngf), ("--hidden", "generator.hidden", args.hidden),
             ("--ndf", "discriminator.ndf", args.ndf),
             ("--channels-d", "discriminator.channels_d", args.channels_d),
             ("--num-d", "discriminator.num_d", args.num_d),
             ("--amp", "amp", True if args.amp else None)]
    if args.no_ttur:
        given += [("--no-ttur", f"recipe.{k}", v) for k, v in
                  (("lr_g", 2e-4), ("lr_d", 2e-4), ("beta1", 0.5), ("beta2", 0.999))]
    given += [("--lr-g", "recipe.lr_g", args.lr_g), ("--lr-d", "recipe.lr_d", args.lr_d)]
    return [g for g in given if g[2] is not None]


def _where(run_dir, tensorboard: bool = True) -> str:
    run_dir = Path(run_dir)
    tb = f"; TensorBoard: tensorboard --logdir {run_dir / 'tb'}" if tensorboard else ""
    return (f"run folder {run_dir}: checkpoints in {checkpoint_dir(run_dir)}, losses in "
            f"{run_dir / 'losses.jsonl'}{tb}")


def run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    # Untrained nets produce denormal floats (~1e-40), which x86 CPUs compute with up to ~50x
    # slower; flushed to zero they change nothing a loss can see (as analysis.main_job does).
    torch.set_flush_denormal(True)
    if args.dataset is not None:
        known_dataset(args.dataset)
    updates = {"iters": args.iters, "epochs": args.epochs, "ckpt_every": args.ckpt_every,
               "log_every": args.log_every, "sample_every": args.sample_every,
               "num_workers": args.workers, "channels_last": args.channels_last,
               "compile": args.compile}
    updates = {k: v for k, v in updates.items() if v is not None}

    def started(run_dir, settings, is_main):
        if is_main:  # before the progress bar, so the user knows where to look
            print(_where(run_dir, settings.tensorboard), flush=True)

    common = dict(updates=updates, device=args.device, progress=not args.no_progress,
                  on_start=started, check_images=args.check_images)
    try:
        if args.resume:
            result = train(None, args.out, resume=True, given=_given(args), **common)
        else:
            result = train(_settings(args), args.out, **common)
    except DatasetError as err:  # the up-front check, listing every problem
        print(f"error: {err}\nNothing was written.", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except TrainingStopped as stop:
        if stop.is_main:
            print(f"train: {stop}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:  # before the first step (the signal handlers are not set yet)
        print("error: interrupted before the first training step; no checkpoint was written",
              file=sys.stderr)
        return 130
    if not result.is_main:  # under torchrun rank 0 reports for all
        return 0
    if result.nothing_to_do:
        # Exit 0: the state asked for (trained to that step) already holds, so rerunning a
        # finished job's command is not a failure; nothing on disk is touched.
        print(f"nothing to do: the run in {result.run_dir} is at step {result.step} and would "
              f"stop at step {result.total_steps}; pass --iters (or --epochs) beyond step "
              f"{result.step} to train further. Nothing was changed.")
        return 0
    where = f"; checkpoint {result.checkpoint}" if result.checkpoint else ""
    print(f"trained {result.step} steps (epoch {result.epoch}) in {result.run_dir}{where}")
    return 0
