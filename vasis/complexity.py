"""Model complexity as the SIS papers report it: parameters and multiply-accumulates per image.

Parameters are ``sum(p.numel())`` over the network (spectral norm's ``weight_orig`` counts, its
``u``/``v`` are buffers). MACs are ptflops' count of the registered module types
(``backend='pytorch'`` with ``count_functional=False``, docs/facts.md §1): convs, ReLU /
LeakyReLU modules, nn.Upsample, InstanceNorm, plain BatchNorm; functional calls
(F.interpolate, F.leaky_relu, F.avg_pool2d), table lookups, products and the official
synchronized batch norm are not counted. This is the convention of the SPADE / CLADE / OASIS /
VASIS papers (SPADE's generator on Cityscapes: 281.64 GMac).

The networks are built on the ``meta`` device by default: only shapes are computed, so a full
count at the paper's resolution takes a fraction of a second instead of minutes of CPU forwards.
"""
from __future__ import annotations

import contextlib
import io

import torch
import torch.nn as nn

from .presets import build_discriminator, build_generator

# Options of the generator config that the discriminator shares (its input resolution).
_SHARED_WITH_D = ("height", "width")


def count_params(net: nn.Module) -> int:
    """All parameters of ``net``, as the papers count them."""
    return sum(p.numel() for p in net.parameters())


def count_macs(net: nn.Module, input_shape: tuple[int, ...]) -> int:
    """ptflops MACs of one forward of ``net`` on a (1, *input_shape) input, per image.

    The input is created on the device of ``net``'s parameters (``meta`` for a shape-only
    count). The training/eval mode of ``net`` is restored afterwards (ptflops sets eval).
    """
    # local: ptflops is heavy (it imports torchvision); only complexity() needs it
    from ptflops import get_model_complexity_info

    was_training = net.training
    log = io.StringIO()
    try:
        # ptflops reports a failed forward by printing it and returning None.
        with torch.no_grad(), contextlib.redirect_stdout(log):
            macs, _ = get_model_complexity_info(
                net, tuple(input_shape), as_strings=False, print_per_layer_stat=False,
                backend="pytorch", backend_specific_config={"count_functional": False})
    finally:
        net.train(was_training)
    if macs is None:
        raise RuntimeError(f"ptflops could not count {type(net).__name__} on input "
                           f"{tuple(input_shape)}:\n{log.getvalue().strip()}")
    return int(macs)


def discriminator_input_shape(net: nn.Module) -> tuple[int, int, int]:
    """(C, H, W) of a discriminator's input: label channels + RGB for SPADE's multiscale D,
    the RGB image for OASIS's U-Net."""
    cfg = net.cfg
    channels = net.input_nc if cfg.arch == "multiscale" else 3
    return channels, cfg.height, cfg.width


def generator_input_shape(net: nn.Module) -> tuple[int, int, int]:
    """(C, H, W) of a generator's one-hot label input."""
    return net.label_input_nc, net.cfg.height, net.cfg.width


def build_networks(model: str, dataset: str, device: str | torch.device = "meta", **overrides):
    """(generator, discriminator) of a preset on ``device``; ``overrides`` are generator
    options, and height/width among them also set the discriminator's resolution."""
    d_overrides = {k: overrides[k] for k in _SHARED_WITH_D if k in overrides}
    with torch.device(device):
        return (build_generator(model, dataset, **overrides),
                build_discriminator(model, dataset, **d_overrides))


def complexity(model: str, dataset: str, device: str | torch.device = "meta", **overrides) -> dict:
    """Parameters and per-image MACs of a preset's generator and discriminator.

    >>> r = complexity("spade", "cityscapes")
    >>> round(r["generator_macs"] / 1e9, 2)
    281.64

    ``overrides`` are generator options (e.g. ``padding='zero'``, ``noise='none'``); pass
    ``device='cpu'`` to count with real tensors (slow at full size; the counts are the same).
    """
    gen, disc = build_networks(model, dataset, device=device, **overrides)
    g_in, d_in = generator_input_shape(gen), discriminator_input_shape(disc)
    return {
        "model": model,
        "dataset": dataset,
        "height": gen.cfg.height,
        "width": gen.cfg.width,
        "generator_params": count_params(gen),
        "discriminator_params": count_params(disc),
        "generator_macs": count_macs(gen, g_in),
        "discriminator_macs": count_macs(disc, d_in),
        "generator_input": list(g_in),
        "discriminator_input": list(d_in),
    }
