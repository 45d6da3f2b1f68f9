"""Small building blocks shared by every network: padded convs and parameter-free norms."""
from __future__ import annotations

import torch.nn as nn
from torch.nn.utils import spectral_norm as _spectral_norm
from ..errors import UserError

PADDINGS = ("zero", "reflect")
PARAM_FREE_NORMS = ("batch", "syncbatch", "instance")


def conv2d(in_ch: int, out_ch: int, kernel_size: int, *, padding: str = "zero",
           bias: bool = True, spectral: bool = False, stride: int = 1) -> nn.Module:
    """A 'same' conv whose border handling is a switch.

    Reflect padding is the conv's own ``padding_mode`` rather than a separate pad layer, so the
    parameter names are the same for both paddings and a checkpoint loads into either; the
    padding can be swapped later by changing one attribute (see ``analysis.surgery``).
    Spectral norm is torch's classic hook, whose ``weight_orig``/``weight_u``/``weight_v``
    state-dict entries are the official SPADE/OASIS ones.
    """
    if padding not in PADDINGS:
        raise UserError(f"padding must be one of {PADDINGS}, got {padding!r}")
    conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2,
                     bias=bias, padding_mode="reflect" if padding == "reflect" else "zeros")
    return _spectral_norm(conv) if spectral else conv


class SynchronizedBatchNorm2d(nn.BatchNorm2d):
    """``syncbatch``: the official code's ``SynchronizedBatchNorm2d`` in one process.

    Maths and state dict are exactly ``nn.BatchNorm2d``'s (the official class also just calls
    ``F.batch_norm`` outside DataParallel); the trainer converts it to ``nn.SyncBatchNorm``
    under DistributedDataParallel. It is a class of its own, as in the official code, because
    complexity counters key on exact module types: ptflops counts ``nn.BatchNorm2d`` but not
    the official sync BN, so the papers' MACs (SPADE 281.64 GMac on Cityscapes, not 281.72)
    leave it out, while ``batch`` (a plain ``nn.BatchNorm2d`` there too) is counted.
    """


def param_free_norm(kind: str, channels: int) -> nn.Module:
    """Normalization without affine parameters; the conditional norm supplies scale and shift."""
    if kind == "syncbatch":
        return SynchronizedBatchNorm2d(channels, affine=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    raise UserError(f"param-free norm must be one of {PARAM_FREE_NORMS}, got {kind!r}")
