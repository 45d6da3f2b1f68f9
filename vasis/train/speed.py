"""Opt-in fast paths of a training run: ``--amp``, ``--channels-last``, ``--compile``.

None of them is on by default, and without them a CPU run (and its resume) is bit for bit the
run it always was. What each changes numerically:

* ``amp``: autocast of the G and D forward passes. On CUDA fp16 with a dynamic loss scale
  (``GradScaler``); on the CPU bf16 (8-bit mantissa) without a scaler, which pays off on CPUs
  with native bf16 matrix units (AVX512-BF16 / AMX) and may be slower elsewhere. Convs and
  matmuls run in the low precision, norms and losses stay fp32 (autocast's own lists); the
  weights, gradients and Adam state stay fp32. Outputs differ from fp32 at the level of the
  format's rounding (bf16: 2-3 significant digits).
* ``channels_last``: the networks' weights and the input batches are in NHWC memory order. The
  same maths, but other conv kernels (other summation orders): results differ from the default
  layout at float rounding level, and a resumed run is exact only if it keeps
  the flag.
* ``compile``: ``torch.compile`` of G and D (the modules the trainer steps; the state dicts and
  checkpoints are those of the plain modules). Fused kernels reorder float operations, so
  results differ at rounding level; the first iterations pay the compile time (tens of seconds
  on a CPU, which needs a C++ compiler).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class SpeedOptions:
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    def amp_dtype(self, device: torch.device) -> torch.dtype | None:
        """The autocast dtype on ``device``, or None without ``amp``."""
        if not self.amp:
            return None
        return torch.float16 if device.type == "cuda" else torch.bfloat16

    def uses_scaler(self, device: torch.device) -> bool:
        """fp16 needs a loss scale; bf16 has fp32's range and does not."""
        return self.amp_dtype(device) == torch.float16

    def adam_kwargs(self, device: torch.device) -> dict:
        """Keyword arguments of the runs' ``torch.optim.Adam``: always the fused kernel (one
        pass over each parameter instead of torch's default ~7 per-op passes; ~5x faster
        steps on the CPU). Same update formula; the fused kernel's last bits differ on a few
        elements. Not a switch: a run and its resume use it alike."""
        return {"fused": True} if device.type in ("cpu", "cuda") else {}


def apply_speed(g: nn.Module, d: nn.Module, opts: SpeedOptions) -> tuple[nn.Module, nn.Module]:
    """Put G and D in the options' memory format (in place) and return the modules to call
    (compiled wrappers with ``compile``; the modules themselves otherwise)."""
    if opts.channels_last:
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
    if opts.compile:
        return torch.compile(g), torch.compile(d)
    return g, d
