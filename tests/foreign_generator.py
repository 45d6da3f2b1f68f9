"""A small SPADE-like generator in plain PyTorch, none of the suite's classes (issue 11).

It stands for "a network the suite did not build": its own conditional norm (param-free
BatchNorm, then a per-pixel scale and shift from convs on the resized label map, optionally
with noise), its own residual blocks, its own upsampling, an explicit ``ZeroPad2d`` before its
last conv. It takes SPADE's input (``analysis.encoders.spade``). Used by
tests/test_foreign_models.py and, through ``--factory foreign_generator:build``, by the
command-line tests (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

CITYSCAPES_INPUT = 36  # 35 classes + the instance-edge channel (SPADE's input)


class LabelNorm(nn.Module):
    """BatchNorm without affine, then ``x * (1 + gamma) + beta`` with gamma, beta from 3x3 convs
    on the label map; ``noise``: fresh N(0, 1) maps (one channel, broadcast) added to gamma and,
    independently drawn, to beta (as the VASIS norm does with its semantic noise)."""

    def __init__(self, channels: int, label_nc: int, hidden: int, noise: bool = False):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(label_nc, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)
        self.noise = noise

    def forward(self, x, seg):
        h = self.shared(F.interpolate(seg, size=x.shape[-2:], mode="nearest"))
        gamma, beta = self.gamma(h), self.beta(h)
        if self.noise:
            gamma = gamma + torch.randn_like(gamma[:, :1])
            beta = beta + torch.randn_like(beta[:, :1])
        return self.bn(x) * (1 + gamma) + beta


class Block(nn.Module):
    """Pre-activation residual block with two LabelNorms; 1x1 shortcut when widths differ."""

    def __init__(self, fin: int, fout: int, label_nc: int, hidden: int, noise: bool):
        super().__init__()
        self.norm_a = LabelNorm(fin, label_nc, hidden, noise)
        self.conv_a = nn.Conv2d(fin, fout, 3, padding=1)
        self.norm_b = LabelNorm(fout, label_nc, hidden, noise)
        self.conv_b = nn.Conv2d(fout, fout, 3, padding=1)
        self.skip = nn.Conv2d(fin, fout, 1, bias=False) if fin != fout else nn.Identity()

    def forward(self, x, seg):
        h = self.conv_a(F.leaky_relu(self.norm_a(x, seg), 0.2))
        h = self.conv_b(F.leaky_relu(self.norm_b(h, seg), 0.2))
        return self.skip(x) + h


class TinySIS(nn.Module):
    """4x4 start, four x2 upsamplings to 64x64 (any multiple of 16 works)."""

    def __init__(self, label_nc: int = CITYSCAPES_INPUT, width: int = 8, hidden: int = 8,
                 noise: bool = False):
        super().__init__()
        w = width
        self.head = nn.Conv2d(label_nc, 4 * w, 3, padding=1)
        self.head_0 = Block(4 * w, 4 * w, label_nc, hidden, noise)
        self.up_0 = Block(4 * w, 2 * w, label_nc, hidden, noise)
        self.up_1 = Block(2 * w, w, label_nc, hidden, noise)
        self.up_2 = Block(w, w, label_nc, hidden, noise)
        self.up_3 = Block(w, w, label_nc, hidden, noise)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")  # shared: four calls
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.ZeroPad2d(1), nn.Conv2d(w, 3, 3))

    def forward(self, seg):
        x = self.head(F.interpolate(seg, size=(seg.shape[2] // 16, seg.shape[3] // 16)))
        x = self.head_0(x, seg)
        for block in (self.up_0, self.up_1, self.up_2, self.up_3):
            x = block(self.upsample(x), seg)
        return torch.tanh(self.to_rgb(x))


def build(noise: bool = False) -> TinySIS:
    """The factory of ``--factory foreign_generator:build``: Cityscapes input, seeded weights."""
    torch.manual_seed(0)
    return TinySIS(noise=noise).eval()


def not_a_model():
    return "a string"
