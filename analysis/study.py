"""The study's vocabulary and building blocks, shared by the main job, the experiments and
``run_analysis.py probe``.

* which presets are baselines, VA models, CLADE-type (read off the registry,
  :mod:`vasis.presets`, not re-listed), the four surgery settings and the thresholds of the
  claims;
* the tiny widths of quick runs and tests (:data:`TINY`, :data:`TINY_DISCRIMINATOR`);
* the default layouts (:func:`default_classes`, :func:`make_layout`), the BatchNorm
  calibration maps (:func:`calibration_labels`), the surgery copies (:func:`settings_of`) and one
  seeded recording of a generator on a layout (:func:`record`).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn as nn

from vasis.commands.argtypes import size as _size
from vasis.data.scenes import SceneDataset
from vasis.errors import UserError
from vasis.labels import label_space
from vasis.presets import MODELS as _PRESETS, generator_config

from . import layouts
from .recorder import FeatureRecorder
from .surgery import swap_norm_kernel, swap_padding

__all__ = ["MODELS", "BASELINES", "VA_MODELS", "CLADE_TYPE", "SETTINGS", "FLAT", "NONZERO",
           "BORDER_D", "SERIES", "TINY", "TINY_DISCRIMINATOR", "parse_size", "default_classes",
           "make_layout", "calibration_labels", "settings_of", "Recording", "record"]


def _norm(model: str):
    return generator_config(model, "scenes").norm


MODELS = tuple(_PRESETS)
# VA models: semantic noise in the norms (the VASIS addition); baselines: neither noise nor a
# position code (SPADE, CLADE, OASIS; CLADE-ICPE has a relative position code).
VA_MODELS = tuple(m for m in MODELS if _norm(m).noise == "semantic")
BASELINES = tuple(m for m in MODELS if _norm(m).noise == "none" and not _norm(m).position)
CLADE_TYPE = tuple(m for m in MODELS if _norm(m).modulation == "clade")  # norms without convs
SETTINGS = (("zero", 3), ("zero", 1), ("reflect", 3), ("reflect", 1))
FLAT = 1e-5        # spatial std / rms below this counts as zero (float32 round-off is ~1e-7)
NONZERO = 1e-3     # ... above this as clearly non-zero
BORDER_D = 1       # "near the border": within this many feature pixels of the image edge
SERIES = (0.25, 0.5, 0.75)  # boundary positions of the pattern-repetition series

# Tiny widths (quick runs, tests): the architecture is the preset's, only narrower.
TINY = {"ngf": 4, "hidden": 8}
TINY_DISCRIMINATOR = {"ndf": 4, "channels_d": 2, "num_d": 1}


def parse_size(text) -> tuple[int, int] | None:
    """``'HxW'`` (or ``'N'`` for NxN) -> (H, W) as the subcommands' ``--size`` type reads it;
    ``None`` passes through; a bad size raises :class:`UserError`."""
    if text is None:
        return None
    try:
        return _size(str(text).strip())
    except argparse.ArgumentTypeError as err:
        raise UserError(f"bad size {text!r}: {err}") from None


def default_classes(dataset: str, layout: str) -> tuple[str, ...]:
    """One class: sky; two classes: sky above road (scenes: sky above ground)."""
    if layout == "one-class":
        return ("sky",)
    return ("sky", "ground") if dataset == "scenes" else ("sky", "road")


def make_layout(layout: str, classes, dataset, gen) -> torch.Tensor:
    """The (H, W) map of ``layout`` ('one-class' or 'two-class') at ``gen``'s resolution."""
    if layout == "one-class":
        if len(classes) != 1:
            raise UserError(f"--layout one-class takes one class, got {len(classes)}: "
                             f"{','.join(map(str, classes))}")
        return layouts.one_class(classes[0], dataset=gen)
    if layout == "two-class":
        if len(classes) != 2:
            raise UserError(f"--layout two-class takes two classes, got {len(classes)}: "
                             f"{','.join(map(str, classes))}")
        a, b = (layouts.resolve_class(c, gen) for c in classes)
        if a == b:
            raise UserError(f"--classes {','.join(map(str, classes))} names class id {a} twice; "
                            f"a two-class layout needs two different classes (for one class use "
                            f"--layout one-class)")
        if gen.cfg.height < 2:
            raise UserError(f"--layout two-class needs at least 2 pixel rows; the resolution is "
                            f"{gen.cfg.height}x{gen.cfg.width} (use a larger --size)")
        return layouts.two_class(classes[0], classes[1], dataset=gen)
    raise UserError(f"unknown layout {layout!r}; choose one-class or two-class")


def calibration_labels(dataset: str, size: tuple[int, int], n: int = 4,
                       seed: int = 0) -> torch.Tensor:
    """(n, H, W) label maps to settle BatchNorm statistics on.

    ``scenes``: the suite's procedural scenes (``SceneDataset(n, size, seed)``); other datasets:
    seeded random rectangles of random classes on a random background class.
    """
    h, w = size
    if dataset == "scenes" and min(h, w) >= 16:

        ds = SceneDataset(n, size=(h, w), seed=seed)
        return torch.stack([ds[i]["label"] for i in range(n)])

    nc = label_space(dataset).label_nc
    g = torch.Generator().manual_seed(seed)
    out = torch.randint(0, nc, (n, 1, 1), generator=g).expand(n, h, w).clone()
    for i in range(n):
        for _ in range(6):
            t, b = sorted(torch.randint(0, h + 1, (2,), generator=g).tolist())
            l, r = sorted(torch.randint(0, w + 1, (2,), generator=g).tolist())
            out[i, t:b, l:r] = int(torch.randint(0, nc, (1,), generator=g))
    return out


def settings_of(gen: nn.Module, paddings=("zero", "reflect"), kernels=(3, 1)):
    """[((padding, kernel), copy)] made by surgery from ``gen``: the same weights in each copy."""
    out = []
    for pad in paddings:
        gp = swap_padding(gen, pad)
        for k in kernels:
            out.append(((pad, k), gp if k == gen.cfg.norm.kernel_size else swap_norm_kernel(gp, k)))
    return out


@dataclass
class Recording:
    stats: pd.DataFrame                        # the recorder's tidy rows (block, statistic, ...)
    features: dict[str, torch.Tensor]          # block -> (C, h, w) of the first sample
    class_maps: dict[str, torch.Tensor]        # block -> (h, w) class map
    images: torch.Tensor                       # (samples, 3, H, W) generated images


def record(gen: nn.Module, labels: torch.Tensor, samples: int, seed: int,
           bn: str = "eval") -> Recording:
    """Generate ``labels`` ``samples`` times (seeded; ``bn`` as in
    :meth:`analysis.recorder.FeatureRecorder.run`) and record per-block statistics, the first
    sample's block features and all generated images."""
    images = []
    handle = gen.register_forward_hook(lambda m, i, o: images.append(o.detach().cpu()))
    try:
        with FeatureRecorder(gen, keep_features=1, sample_stats=samples >= 2) as rec:
            rec.run(labels, samples, seed=seed, bn=bn)
            stats = rec.statistics()
            feats = {n: f[0] for n, f in rec.features.items()}
            maps = {n: rec.class_map(n) for n in rec.points}
    finally:
        handle.remove()
    return Recording(stats, feats, maps, torch.cat(images))
