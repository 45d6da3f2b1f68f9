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

A network the suite did not build comes in with ``--factory MODULE:FUNCTION``
(:func:`load_factory`): the module is imported (the current folder first, then PYTHONPATH) and
the function is called with no arguments; it must return the ``nn.Module`` (with its weights:
the factory loads them). **This runs that Python code, by design**, unlike ``--checkpoint``,
which never runs code from a file without ``--trust-checkpoint``. ``--encode`` picks its input
convention (:mod:`analysis.encoders`, default ``spade``), ``--dataset`` the label space (default
scenes) and ``--size`` the layout size (default the dataset preset's); ``--points`` the modules
to probe (default: its top-level children; for the suite's models ``blocks()``). Its BN runs on
its running statistics (``--bn eval``) unless ``--bn`` says otherwise; ``--padding`` works on it
(any ``nn.Module``), the kernel swaps need conv names and are Python-only
(``analysis.swap_norm_kernel(model, 1, convs=...)``).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import sys
import types

import torch
import torch.nn as nn

import vasis
from vasis.errors import MissingFileError, UserError
from vasis.presets import DATASETS, MODELS
from vasis.train.load import open_generator

from ..cpu import fast_cpu
from ..encoders import encoder
from ..recorder import calibrate, probe, probe_points
from ..study import calibration_labels, default_classes, make_layout, parse_size
from ..surgery import swap_block_kernel, swap_norm_kernel, swap_padding

LAYOUTS = ("one-class", "two-class")


def _one_line_error(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "probe", help="per-block feature statistics of a model on a one-/two-class layout",
        description="Generate a one- or two-class layout --samples times with a model preset "
                    "(untrained, seeded, BN calibrated on a few label maps), a checkpoint, or "
                    "your own network (--factory), and print per-block statistics (spatial_std, sample_std, "
                    "class_spatial_std, class_sample_std, fig2_std, fig2_mean, rms; see "
                    "docs/metrics.md).")
    p.error = _one_line_error  # one line, exit 2, no usage dump
    p.add_argument("--model", help=f"model preset: {', '.join(MODELS)} (with an official "
                                   f"--checkpoint: the preset it is an instance of)")
    p.add_argument("--factory", metavar="MODULE:FUNCTION",
                   help="probe your own network: import MODULE (the current folder first, then "
                        "PYTHONPATH) and call FUNCTION() with no arguments, which returns the "
                        "torch.nn.Module; THIS RUNS THAT CODE (unlike --checkpoint). With "
                        "--encode, --points, --dataset, --size")
    p.add_argument("--encode", default=None,
                   help="input convention of a --factory model: spade (default; one-hot, "
                        "don't-care, instance edges), clade (the same), oasis (one-hot, "
                        "don't-care first, no edges) or ids (the integer label map)")
    p.add_argument("--points", default=None,
                   help="modules to probe, comma-separated names as in model.named_modules() "
                        "(default: the suite's blocks(), or a --factory model's top-level "
                        "children)")
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
        raise UserError("give --model (a preset name), --checkpoint (a suite training run) or "
                        "--factory MODULE:FUNCTION (your own network)")
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
    factory = args.factory
    bn = args.bn or ("eval" if args.checkpoint or factory else "calibrate")
    _choice(bn, "bn", ("calibrate", "eval", "batch"))
    points = None if args.points is None else [p.strip() for p in args.points.split(",") if p.strip()]
    if points is not None and not points:
        raise UserError(f"--points {args.points!r} names no module; give comma-separated "
                        f"module names, e.g. head_0,up_0")
    encode = None
    if factory:
        if args.model is not None or args.checkpoint:
            raise UserError("--factory builds the network itself: drop --model / --checkpoint")
        if kernel is not None or block_kernel is not None:
            raise UserError("--kernel / --block-kernel need to know which convs are the norm or "
                            "block convs, which a --factory model does not say; swap them in "
                            "Python: analysis.swap_norm_kernel(model, 1, convs=[...])")
        if args.dataset is not None:
            _choice(args.dataset, "dataset", list(_datasets()))
        dataset = args.dataset or "scenes"
        encode = encoder(args.encode or "spade", dataset)
        preset = _datasets()[dataset]
        size = parse_size(args.size) or (preset.height, preset.width)
        torch.manual_seed(seed)
        gen = load_factory(factory)
        source, model = f"--factory {factory}", type(gen).__name__
        target = _LayoutTarget(encode.space, size)
    else:
        if args.encode is not None:
            raise UserError("--encode is the input convention of a --factory model; the suite's "
                            "models encode their own input (drop --encode)")
        gen, source, model, dataset = build(args)
        target = gen
    probe_points(gen, points)  # a bad --points name fails before any work
    classes = (tuple(c.strip() for c in args.classes.split(",") if c.strip())
               if args.classes else default_classes(dataset, layout))
    classes = tuple(int(c) if c.isdigit() else c for c in classes)
    labels = make_layout(layout, classes, dataset, target)
    if bn == "calibrate":
        gen = calibrate(gen, calibration_labels(dataset, tuple(labels.shape), 4, seed), steps=2,
                        encode=encode)
    if padding is not None:
        gen = swap_padding(gen, padding)
    if kernel is not None and kernel != gen.cfg.norm.kernel_size:
        gen = swap_norm_kernel(gen, kernel)
    if block_kernel is not None and block_kernel != gen.cfg.block_kernel_size:
        gen = swap_block_kernel(gen, block_kernel)
    df = probe(gen, {layout: labels}, samples, model=model, points=points, encode=encode,
               seed=seed, bn="batch" if bn == "batch" else "eval")
    if fmt == "json":
        records = []
        for r in df.to_dict("records"):
            records.append({k: _clean(v) for k, v in r.items()})
        print(json.dumps(records))
        return 0
    names = ", ".join(str(c) for c in classes)
    first = df.iloc[0]
    kernels = ("" if factory else f", norm kernel {first['kernel']}, block kernel "
                                  f"{first['block_kernel']}")
    print(f"# probe {model} ({source}) on {dataset} {labels.shape[0]}x{labels.shape[1]}: "
          f"{layout} [{names}], padding {first['padding']}{kernels}, "
          f"{'input ' + encode.name + ', ' if encode is not None else ''}"
          f"{samples} samples, BN {bn}")
    base = df[df["class"].isna()]
    table = base.pivot_table(index="block", columns="statistic", values="value", sort=False)
    cols = [c for c in ("spatial_std", "sample_std", "fig2_std", "rms") if c in table.columns]
    width = max([14] + [len(str(b)) + 1 for b in table.index])
    print(f"{'block':{width}s}" + "".join(f"{c:>13s}" for c in cols) + f"{'spatial/rms':>13s}")
    for block, row in table.iterrows():
        rel = row["spatial_std"] / row["rms"] if row["rms"] > 0 else float("nan")
        print(f"{block:{width}s}" + "".join(f"{row[c]:13.4g}" for c in cols) + f"{rel:13.4g}")
    return 0


def _datasets():
    return DATASETS


class _LayoutTarget:
    """What :func:`make_layout` reads from a generator, for a network without a suite config:
    its label space and its (H, W)."""

    def __init__(self, space, size):
        self.space = space
        self.cfg = types.SimpleNamespace(height=int(size[0]), width=int(size[1]))


def load_factory(spec: str) -> nn.Module:
    """The network ``MODULE:FUNCTION`` builds: ``FUNCTION()`` of the imported ``MODULE``.

    Importing and calling run the user's code, by design (``--factory`` is how a network the
    suite did not build gets in). The current folder is searched first (then ``sys.path``, i.e.
    PYTHONPATH), as ``python -m`` would. ``FUNCTION`` may be dotted (``Class.build``); it is
    called with no arguments (give its parameters defaults, or wrap it), and must return an
    ``nn.Module``. Raises a one-line :class:`UserError` for a malformed spec, a module that
    is not found, a missing attribute, a non-callable, a function that needs arguments, or a
    result that is no ``nn.Module``; errors raised inside the user's code keep their traceback.
    """
    mod_name, sep, attr = str(spec).partition(":")
    if not sep or not mod_name.strip() or not attr.strip() or mod_name.startswith("."):
        raise UserError(f"--factory {spec!r} must be MODULE:FUNCTION with an absolute module "
                        f"path, e.g. mypkg.models:build")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(mod_name)
    except ModuleNotFoundError as err:
        if err.name and (mod_name == err.name or mod_name.startswith(err.name + ".")):
            raise UserError(
                f"--factory {spec!r}: no module named {err.name!r} in the current folder or on "
                f"PYTHONPATH; run from the folder that holds it or add that folder to "
                f"PYTHONPATH") from None
        raise  # a module the user's module imports is missing: their code, their traceback
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    fn = module
    for part in attr.split("."):
        if not hasattr(fn, part):
            public = sorted(n for n in dir(module) if not n.startswith("_")
                            and callable(getattr(module, n, None)))[:12]
            raise UserError(f"--factory {spec!r}: {mod_name!r} has no attribute {attr!r}; its "
                            f"callables: {', '.join(public) or 'none'}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise UserError(f"--factory {spec!r}: {attr!r} is a {type(fn).__name__}, not a function; "
                        f"name a function that returns the network")
    try:
        inspect.signature(fn).bind()
    except TypeError:
        raise UserError(f"--factory {spec!r}: {attr}{inspect.signature(fn)} needs arguments, "
                        f"and --factory calls it with none; give its parameters defaults or "
                        f"wrap it in a function without parameters") from None
    except ValueError:  # no signature to read (some builtins): just call it
        pass
    model = fn()
    if not isinstance(model, nn.Module):
        raise UserError(f"--factory {spec!r} returned a {type(model).__name__}, not a "
                        f"torch.nn.Module; the function must return the network")
    return model


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if hasattr(v, "item"):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v
