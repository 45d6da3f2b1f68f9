"""``run_analysis.py probe``: per-block feature statistics of one generator on one layout.

The generator is a model preset (untrained, built with ``--seed``; its BatchNorm statistics are
settled with :func:`analysis.recorder.calibrate` unless ``--bn`` says otherwise) or a checkpoint
(evaluated with its own running statistics): a suite training run (``--checkpoint RUN`` or
``RUN/checkpoints/step_N.pt``, rebuilt from the run's own settings) or an official checkpoint
(``--checkpoint PATH --model M``: :func:`vasis.load_official`), told apart by content
(:func:`vasis.train.load.open_generator`). Checkpoints are read with ``weights_only=True``;
``--trust-checkpoint`` allows full unpickling (which can run code from the file).
``--padding`` / ``--kernel`` / ``--block-kernel`` apply model surgery
(:func:`analysis.surgery.swap_padding`, :func:`analysis.surgery.swap_norm_kernel`,
:func:`analysis.surgery.swap_block_kernel`, all ``mode='sum'``; see docs/switches.md).
Statistics as in :mod:`analysis.recorder` and ``docs/metrics.md``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import torch

import vasis
from vasis.errors import MissingFileError, UserError
from vasis.presets import DATASETS, MODELS
from vasis.train.load import open_generator

from ..cpu import fast_cpu
from ..recorder import calibrate
from ..study import calibration_labels, default_classes, make_layout, parse_size, record
from ..surgery import swap_block_kernel, swap_norm_kernel, swap_padding

LAYOUTS = ("one-class", "two-class")


def _one_line_error(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "probe", help="per-block feature statistics of a model on a one-/two-class layout",
        description="Generate a one- or two-class layout --samples times with a model preset "
                    "(untrained, seeded, BN calibrated on a few label maps) or an official "
                    "checkpoint, and print per-block statistics (spatial_std, sample_std, "
                    "class_spatial_std, class_sample_std, fig2_std, fig2_mean, rms; see "
                    "docs/metrics.md).")
    p.error = _one_line_error  # one line, exit 2, no usage dump
    p.add_argument("--model", help=f"model preset: {', '.join(MODELS)} (with an official "
                                   f"--checkpoint: the preset it is an instance of)")
    p.add_argument("--checkpoint", help="a suite training run (folder or checkpoints/step_N.pt; "
                                        "model, dataset and size come from the run) or an "
                                        "official generator checkpoint (needs --model)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow full unpickling of a --checkpoint that needs it: this can run code "
                        "from the file, use it only for files you trust")
    p.add_argument("--dataset", default=None, help=f"dataset preset: {', '.join(DATASETS)} "
                                                   f"(default scenes, or the run's)")
    p.add_argument("--layout", default="one-class", help="one-class (default) or two-class")
    p.add_argument("--classes", default=None,
                   help="class names or ids, comma-separated (default: sky; two-class: sky,road, "
                        "on scenes sky,ground)")
    p.add_argument("--padding", default=None, help="zero or reflect (default: the model's own)")
    p.add_argument("--kernel", default=None, help="3 or 1: norm-conv kernel size (default: the "
                                                  "model's own, 3)")
    p.add_argument("--block-kernel", default=None,
                   help="3 or 1: kernel of the residual blocks' conv_0/conv_1, the official "
                        "--kernel (default: the model's own, 3); the one kernel swap that "
                        "changes CLADE")
    p.add_argument("--samples", default="4", help="generations of the layout (default 4; >= 2 "
                                                  "for sample_std)")
    p.add_argument("--size", default=None, help="HxW resolution (default: the dataset preset's)")
    p.add_argument("--seed", default="0", help="seed of the weights and the noise (default 0)")
    p.add_argument("--bn", default=None,
                   help="calibrate (default for presets: settle BN statistics on a copy), eval "
                        "(running statistics; default for checkpoints) or batch")
    p.add_argument("--format", default="text", help="text (default) or json")
    # Test speed: narrower networks.
    p.add_argument("--ngf", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--hidden", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _int(text, what, lo=None):
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise UserError(f"--{what} must be an integer, got {text!r}") from None
    if lo is not None and v < lo:
        raise UserError(f"--{what} must be >= {lo}, got {v}")
    return v


def _choice(value, what, choices):
    if value not in choices:
        raise UserError(f"unknown --{what} {value!r}; choose one of {', '.join(map(str, choices))}")
    return value


def build(args):
    """(generator, description, model, dataset) from the parsed args; raises UserError."""
    if args.model is None and not args.checkpoint:
        raise UserError("give --model (a preset name) or --checkpoint (a suite training run)")
    if args.model is not None:
        _choice(args.model, "model", list(MODELS))
    if args.dataset is not None:
        _choice(args.dataset, "dataset", list(DATASETS))
    size = parse_size(args.size)
    overrides = {}
    if size is not None:
        overrides.update(height=size[0], width=size[1])
    if args.ngf is not None:
        overrides["ngf"] = args.ngf
    if args.hidden is not None:
        overrides["hidden"] = args.hidden
    seed = _int(args.seed, "seed", 0)
    if args.checkpoint:
        opened = open_generator(args.checkpoint, args.model, args.dataset,
                                official_dataset="scenes", trust=args.trust_checkpoint,
                                trust_hint="--trust-checkpoint", **overrides)
        gen, source, model = opened.generator, opened.description, opened.model
    else:
        torch.manual_seed(seed)
        gen = vasis.build_generator(args.model, args.dataset or "scenes", **overrides)
        source, model = f"untrained preset (seed {seed})", args.model
    return gen, source, model, gen.cfg.dataset


def run(args) -> int:
    with fast_cpu():
        return _run(args)


def _run(args) -> int:
    fmt = _choice(args.format, "format", ("text", "json"))
    layout = _choice(args.layout, "layout", LAYOUTS)
    padding = None if args.padding is None else _choice(args.padding, "padding", ("zero", "reflect"))
    kernel = None if args.kernel is None else int(_choice(str(args.kernel), "kernel", ("3", "1")))
    block_kernel = (None if args.block_kernel is None
                    else int(_choice(str(args.block_kernel), "block-kernel", ("3", "1"))))
    samples = _int(args.samples, "samples", 1)
    seed = _int(args.seed, "seed", 0)
    bn = args.bn or ("eval" if args.checkpoint else "calibrate")
    _choice(bn, "bn", ("calibrate", "eval", "batch"))
    gen, source, model, dataset = build(args)
    classes = (tuple(c.strip() for c in args.classes.split(",") if c.strip())
               if args.classes else default_classes(dataset, layout))
    classes = tuple(int(c) if c.isdigit() else c for c in classes)
    labels = make_layout(layout, classes, dataset, gen)
    if bn == "calibrate":
        gen = calibrate(gen, calibration_labels(dataset, (gen.cfg.height, gen.cfg.width),
                                                4, seed), steps=2)
    if padding is not None:
        gen = swap_padding(gen, padding)
    if kernel is not None and kernel != gen.cfg.norm.kernel_size:
        gen = swap_norm_kernel(gen, kernel)
    if block_kernel is not None and block_kernel != gen.cfg.block_kernel_size:
        gen = swap_block_kernel(gen, block_kernel)
    rec = record(gen, labels, samples, seed, bn="batch" if bn == "batch" else "eval")
    df = rec.stats
    meta = dict(model=model, dataset=dataset, layout=layout, padding=gen.cfg.padding,
                kernel=gen.cfg.norm.kernel_size, block_kernel=gen.cfg.block_kernel_size,
                samples=samples)
    for col, val in reversed(list(meta.items())):
        df.insert(0, col, val)
    if fmt == "json":
        records = []
        for r in df.to_dict("records"):
            records.append({k: _clean(v) for k, v in r.items()})
        print(json.dumps(records))
        return 0
    names = ", ".join(str(c) for c in classes)
    print(f"# probe {model} ({source}) on {dataset} {gen.cfg.height}x{gen.cfg.width}: "
          f"{layout} [{names}], padding {meta['padding']}, norm kernel {meta['kernel']}, "
          f"block kernel {meta['block_kernel']}, "
          f"{samples} samples, BN {bn}")
    base = df[df["class"].isna()]
    table = base.pivot_table(index="block", columns="statistic", values="value", sort=False)
    cols = [c for c in ("spatial_std", "sample_std", "fig2_std", "rms") if c in table.columns]
    print(f"{'block':14s}" + "".join(f"{c:>13s}" for c in cols) + f"{'spatial/rms':>13s}")
    for block, row in table.iterrows():
        rel = row["spatial_std"] / row["rms"] if row["rms"] > 0 else float("nan")
        print(f"{block:14s}" + "".join(f"{row[c]:13.4g}" for c in cols) + f"{rel:13.4g}")
    return 0


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if hasattr(v, "item"):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v
