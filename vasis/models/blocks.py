"""The residual block with conditional norms shared by SPADE, CLADE and OASIS generators."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from .layers import conv2d, conv_forward, has_foreign_hooks, resize_nearest
from .norms import ConditionalNorm


class ConditionalResBlock(nn.Module):
    """shortcut(x) + conv_1(act(norm_1(conv_0(act(norm_0(x)))))), as SPADE's and OASIS's block.

    The shortcut is ``conv_s(norm_s(x))`` (1x1, no bias) when fin != fout. ``norm_kwargs``
    are passed to every :class:`ConditionalNorm` (conditioning layout and resolution).
    ``kernel_size`` (3 or 1) is the kernel of ``conv_0`` / ``conv_1`` (the official VASIS
    ``--kernel``); ``conv_s`` stays 1x1. With ``pad_after_conv`` those convs are valid convs
    whose output is reflect-padded back to size (the official VA-OASIS block); otherwise they
    pad their input. A 1x1 conv pads nothing either way.
    """

    def __init__(self, fin: int, fout: int, norm_cfg, norm_kwargs: dict, *, padding: str,
                 spectral: bool, pad_after_conv: bool = False, activation_module: bool = False,
                 kernel_size: int = 3):
        super().__init__()
        # OASIS applies its leaky ReLU as a module, SPADE as a function. The maths is the same,
        # but complexity counters (ptflops) only see modules, and the papers' MACs follow that.
        self.activ = nn.LeakyReLU(0.2) if activation_module else None
        self.learned_shortcut = fin != fout
        self.pad_after_conv = pad_after_conv
        fmiddle = min(fin, fout)
        self.norm_0 = ConditionalNorm(norm_cfg, fin, **norm_kwargs)
        self.norm_1 = ConditionalNorm(norm_cfg, fmiddle, **norm_kwargs)
        conv_pad = "zero" if pad_after_conv else padding
        self.conv_0 = conv2d(self.norm_0.out_channels, fmiddle, kernel_size, padding=conv_pad,
                             spectral=spectral)
        self.conv_1 = conv2d(self.norm_1.out_channels, fout, kernel_size, padding=conv_pad,
                             spectral=spectral)
        if pad_after_conv:
            for conv in (self.conv_0, self.conv_1):
                conv.padding = (0, 0)
        if self.learned_shortcut:
            self.norm_s = ConditionalNorm(norm_cfg, fin, **norm_kwargs)
            self.conv_s = conv2d(self.norm_s.out_channels, fout, 1, bias=False, spectral=spectral)

    def actvn(self, x):
        return self.activ(x) if self.activ is not None else F.leaky_relu(x, 2e-1)

    def _activated(self, norm, x, *conditioning):
        """``actvn(norm(x, ...))``, in place on the norm's new output where no hook sees it (on
        the norm or the activation module): one full-size buffer less."""
        out = norm(x, *conditioning)
        if has_foreign_hooks(norm) or (self.activ is not None and has_foreign_hooks(self.activ)):
            return self.actvn(out)
        return F.leaky_relu_(out, 2e-1)

    def _conv(self, conv, x):
        x = conv_forward(conv, x)
        if not self.pad_after_conv:
            return x
        # The valid conv lost kernel // 2 pixels per side (none for a 1x1 conv, so the
        # surgery can swap the kernel without touching this flag).
        pad = conv.kernel_size[0] // 2
        return F.pad(x, (pad,) * 4, mode="reflect") if pad else x

    def forward(self, x, seg, relative=None, classes=None, codes=None):
        """``seg`` (and ``relative``) at any size or already at x's (see ConditionalNorm);
        ``classes`` and ``codes``: the class-id map and the label codes of ``seg`` (at seg's
        size), shared by the three norms, if known."""
        # one resize for the block's three norms, not one each
        seg, classes, codes = self.norm_0.conditioning(seg, classes, x.shape[2:], codes)
        if relative is not None:
            relative = resize_nearest(relative, x.shape[2:])
        if self.learned_shortcut:
            x_s = conv_forward(self.conv_s, self.norm_s(x, seg, relative, classes, codes))
        else:
            x_s = x
        conditioning = (seg, relative, classes, codes)
        dx = self._conv(self.conv_0, self._activated(self.norm_0, x, *conditioning))
        dx = self._conv(self.conv_1, self._activated(self.norm_1, dx, *conditioning))
        # dx is conv_1's new output: added to in place unless a hook on conv_1 holds it
        return x_s + dx if has_foreign_hooks(self.conv_1) else dx.add_(x_s)
