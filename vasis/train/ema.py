"""OASIS's exponential moving average of the generator.

Every entry of the state dict is averaged after each iteration - parameters *and* buffers
(batch-norm running statistics, ``num_batches_tracked``, spectral-norm ``u``/``v``) - as
``ema = ema * decay + g * (1 - decay)`` written back with ``copy_`` (so integer buffers are
truncated, as in the official code). Before the EMA generator is evaluated its batch-norm
statistics are refreshed by forward passes in train mode over training batches (OASIS: 51).

The trainer refreshes a *copy* (``ema_eval`` in checkpoints, used for samples and ``generate``)
and never the running average itself, so the training state does not depend on when samples or
checkpoints were taken and a resumed run matches an uninterrupted one exactly.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable

import torch
import torch.nn as nn


def new_ema(generator: nn.Module) -> nn.Module:
    ema = copy.deepcopy(generator)
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float) -> None:
    """``ema = ema * decay + g * (1 - decay)`` for every state-dict entry (official order)."""
    src = generator.state_dict()
    for key, value in ema.state_dict().items():
        new = src[key]
        if value.dtype.is_floating_point:
            value.mul_(decay).add_(new.to(value.dtype), alpha=1 - decay)
        else:
            value.copy_(value * decay + new * (1 - decay))


@torch.no_grad()
def refreshed_copy(ema: nn.Module, batches: Iterable, forward: Callable[[nn.Module, object], object]
                   ) -> nn.Module:
    """A copy of ``ema`` whose BN statistics were updated by ``forward(model, batch)`` in train
    mode for each of ``batches`` (momentum updates, not a reset: OASIS's refresh)."""
    model = copy.deepcopy(ema)
    model.train()
    for batch in batches:
        forward(model, batch)
    model.eval()
    return model
