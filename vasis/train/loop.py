"""One training iteration: the generator step, then the discriminator step, as the official code.

SPADE family (SPADE ``pix2pix_trainer``): G step - ``fake = G(label)``; one D pass over the
batch of (label, fake) and (label, real) pairs stacked along the batch; hinge + feature matching
(+ VGG) -> G update. D step - ``fake = G(label)`` again under ``no_grad``; one D pass over the
stacked pairs; hinge ``D_Fake + D_real`` -> D update.

OASIS family (OASIS ``train.py``): G step - ``D(G(label))`` scored with the class-balanced N+1
loss as real (+ VGG if on) -> G update. D step - ``fake = G(label)`` under ``no_grad``;
``D_fake + D_real + lambda * LabelMix`` -> D update; then the EMA update.

Every loss term is checked before its backward pass: a NaN/inf raises
:class:`NonFiniteLossError` naming the step and the term, so no update with it is applied.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..data import batch_input
from ..losses import (LossConfig, oasis_discriminator_losses, oasis_generator_losses,
                      spade_discriminator_losses, spade_generator_losses)
from .distributed import DistEnv, all_finite
from .ema import update_ema


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; training stops before applying it."""

    def __init__(self, step: int, term: str, value: float | None, phase: str):
        self.step, self.term, self.value, self.phase = step, term, value, phase
        what = f"{term} = {value}" if value is not None else "a loss term on another process"
        super().__init__(f"non-finite loss at step {step} ({phase} step): {what}")


@dataclass
class StepContext:
    """The networks and optimisation state one iteration needs."""

    family: str                     # 'spade' or 'oasis'
    space: object                   # LabelSpace of the dataset
    g: nn.Module                    # possibly DDP-wrapped
    d: nn.Module
    g_raw: nn.Module                # unwrapped (EMA source)
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    scaler_g: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    loss_cfg: LossConfig
    env: DistEnv
    vgg: nn.Module | None = None
    ema: nn.Module | None = None
    ema_decay: float | None = None
    dontcare_channel: int | None = None
    amp_dtype: torch.dtype | None = None   # autocast dtype (fp16 CUDA, bf16 CPU), None: fp32
    channels_last: bool = False            # move input batches to NHWC (see vasis.train.speed)
    extra: dict = field(default_factory=dict)

    def autocast(self):
        if self.amp_dtype is not None:
            return torch.autocast(self.env.device.type, dtype=self.amp_dtype)
        return contextlib.nullcontext()


def _check(losses: dict[str, torch.Tensor], step: int, phase: str, env: DistEnv) -> None:
    bad = None
    for name, value in losses.items():
        v = float(value.detach())
        if not math.isfinite(v):
            bad = (name, v)
            break
    if not all_finite(bad is None, env):
        raise NonFiniteLossError(step, *(bad if bad else ("?", None)), phase)


def _backward_step(total: torch.Tensor, opt, scaler) -> None:
    scaler.scale(total).backward()
    scaler.step(opt)
    scaler.update()


def model_inputs(ctx: StepContext, batch: dict):
    dev = ctx.env.device
    real = batch["image"].to(dev, non_blocking=True)
    if ctx.family == "oasis":
        label = batch_input({"label": batch["label"]}, ctx.space, with_instance=False)
    else:
        label = batch_input(batch, ctx.space)
    label = label.to(dev, non_blocking=True)
    if ctx.channels_last:
        return label.to(memory_format=torch.channels_last), real.to(memory_format=torch.channels_last)
    return label, real


def _split_pred(pred, n: int):
    """Multiscale D output on [fake; real] -> (pred_fake, pred_real), per scale and feature."""
    fake = [[f[:n] for f in scale] for scale in pred]
    real = [[f[n:] for f in scale] for scale in pred]
    return fake, real


def _update(ctx: StepContext, net: str, losses: dict, step: int) -> None:
    """Stop on a non-finite loss term, else backward and step the optimizer of ``net``."""
    _check(losses, step, net, ctx.env)
    if net == "generator":
        _backward_step(sum(losses.values()), ctx.opt_g, ctx.scaler_g)
    else:
        _backward_step(sum(losses.values()), ctx.opt_d, ctx.scaler_d)


@contextlib.contextmanager
def _frozen(ctx: StepContext, net: nn.Module):
    """``net``'s parameters do not require grad inside (the G step's D): its weight gradients
    would be set to None before D's own step anyway, so the G gradients are the same numbers
    and the backward skips D's weight-gradient convs. Not under DDP, whose reducer expects a
    gradient for every parameter in every backward."""
    params = [] if ctx.env.enabled else [p for p in net.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _fresh_fake(ctx: StepContext, label):
    """A new fake batch for the D step, without a graph (as the official code regenerates it)."""
    with torch.no_grad(), ctx.autocast():
        return ctx.g(label).detach()


def spade_iteration(ctx: StepContext, batch: dict, step: int) -> dict[str, float]:
    label, real = model_inputs(ctx, batch)
    n = real.shape[0]
    # -- generator step
    ctx.opt_g.zero_grad(set_to_none=True)
    with ctx.autocast(), _frozen(ctx, ctx.d):
        fake = ctx.g(label)
        pred_fake, pred_real = _discriminate_pair(ctx, label, fake, real, n)
        g_losses = spade_generator_losses(pred_fake, pred_real, ctx.loss_cfg, fake=fake, real=real,
                                          vgg=ctx.vgg)
    _update(ctx, "generator", g_losses, step)
    # -- discriminator step
    ctx.opt_d.zero_grad(set_to_none=True)
    fake = _fresh_fake(ctx, label)
    with ctx.autocast():
        pred_fake, pred_real = _discriminate_pair(ctx, label, fake, real, n)
        d_losses = spade_discriminator_losses(pred_fake, pred_real)
    _update(ctx, "discriminator", d_losses, step)
    return _floats(g_losses, d_losses)


def _discriminate_pair(ctx: StepContext, label, fake, real, n: int):
    """One D pass over the stacked (label, fake) and (label, real) pairs, as SPADE does."""
    pred = ctx.d(torch.cat([torch.cat([label, fake], 1), torch.cat([label, real], 1)], 0))
    return _split_pred(pred, n)


def oasis_iteration(ctx: StepContext, batch: dict, step: int) -> dict[str, float]:
    label, real = model_inputs(ctx, batch)
    # -- generator step
    ctx.opt_g.zero_grad(set_to_none=True)
    with ctx.autocast(), _frozen(ctx, ctx.d):
        fake = ctx.g(label)
        g_losses = oasis_generator_losses(ctx.d(fake), label, ctx.loss_cfg, ctx.dontcare_channel,
                                          fake=fake, real=real, vgg=ctx.vgg)
    g_losses = {f"G_{k}": v for k, v in g_losses.items()}
    _update(ctx, "generator", g_losses, step)
    # -- discriminator step
    ctx.opt_d.zero_grad(set_to_none=True)
    fake = _fresh_fake(ctx, label)
    with ctx.autocast():
        d_losses = oasis_discriminator_losses(ctx.d, real, fake, label, ctx.loss_cfg,
                                              ctx.dontcare_channel)
    _update(ctx, "discriminator", d_losses, step)
    if ctx.ema is not None:
        update_ema(ctx.ema, ctx.g_raw, ctx.ema_decay)
    return _floats(g_losses, d_losses)


def _floats(*dicts) -> dict[str, float]:
    out = {}
    for d in dicts:
        out.update({k: float(v.detach()) for k, v in d.items()})
    return out


def iteration(ctx: StepContext, batch: dict, step: int) -> dict[str, float]:
    """One G step + one D step (+ EMA); returns every loss term as a float."""
    fn = oasis_iteration if ctx.family == "oasis" else spade_iteration
    return fn(ctx, batch, step)
