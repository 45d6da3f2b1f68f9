"""SPADE's multiscale PatchGAN and OASIS's U-Net segmentation discriminator.

Module names follow the official code so official ``*_D`` checkpoints load key for key.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

from ..config import DiscriminatorConfig
from ..labels import label_space
from .layers import conv_forward, run_sequential


def _maybe_sn(layer: nn.Module, spectral: bool) -> nn.Module:
    return spectral_norm(layer) if spectral else layer


class NLayerDiscriminator(nn.Module):
    """One PatchGAN scale: conv(4x4, s2) + lrelu, then (n_layers - 1) spectral-instance-norm convs."""

    def __init__(self, input_nc: int, ndf: int, n_layers: int, spectral: bool):
        super().__init__()
        kw, padw = 4, int(math.ceil((4 - 1.0) / 2))
        nf = ndf
        sequence = [[nn.Conv2d(input_nc, nf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, False)]]
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            # SPADE's 'spectralinstance': SN conv without bias, then affine-free instance norm.
            conv = _maybe_sn(nn.Conv2d(nf_prev, nf, kw, stride=stride, padding=padw, bias=False),
                             spectral)
            sequence.append([nn.Sequential(conv, nn.InstanceNorm2d(nf, affine=False)),
                             nn.LeakyReLU(0.2, False)])
        sequence.append([nn.Conv2d(nf, 1, kw, stride=1, padding=padw)])
        for n, layers in enumerate(sequence):
            self.add_module(f"model{n}", nn.Sequential(*layers))

    def forward(self, x):
        features = []
        for submodel in self.children():
            x = run_sequential(submodel, x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` PatchGANs on the (label, image) pair at successively halved resolutions.

    Returns, per scale, the list of intermediate features (the last is the patch logits), as
    SPADE's feature-matching loss needs.
    """

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        space = label_space(cfg.dataset)
        self.input_nc = space.input_nc + 3
        for i in range(cfg.num_d):
            self.add_module(f"discriminator_{i}",
                            NLayerDiscriminator(self.input_nc, cfg.ndf, cfg.n_layers, cfg.spectral))

    def forward(self, x: torch.Tensor):
        if x.dim() != 4 or x.shape[1] != self.input_nc:
            raise ValueError(f"MultiscaleDiscriminator expects (N, {self.input_nc}, H, W): label "
                             f"channels followed by the RGB image; got {tuple(x.shape)}")
        results = []
        for i, d in enumerate(self.children()):
            if i:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=[1, 1], count_include_pad=False)
            results.append(d(x))
        return results


class ResBlockD(nn.Module):
    """OASIS's discriminator block: direction -1 downsamples (avg pool), +1 upsamples (nearest)."""

    def __init__(self, fin: int, fout: int, direction: int, first: bool, spectral: bool):
        super().__init__()
        self.learned_shortcut = fin != fout
        self.up_or_down = direction
        self.first = first
        fmiddle = fout
        conv1 = _maybe_sn(nn.Conv2d(fin, fmiddle, 3, 1, 1), spectral)
        if first:
            self.conv1 = nn.Sequential(conv1)
        elif direction > 0:
            self.conv1 = nn.Sequential(nn.LeakyReLU(0.2, False), nn.Upsample(scale_factor=2), conv1)
        else:
            self.conv1 = nn.Sequential(nn.LeakyReLU(0.2, False), conv1)
        self.conv2 = nn.Sequential(nn.LeakyReLU(0.2, False),
                                   _maybe_sn(nn.Conv2d(fmiddle, fout, 3, 1, 1), spectral))
        if self.learned_shortcut:
            self.conv_s = _maybe_sn(nn.Conv2d(fin, fout, 1, 1, 0), spectral)
        if direction > 0:
            self.sampling = nn.Upsample(scale_factor=2)
        elif direction < 0:
            self.sampling = nn.AvgPool2d(2)
        else:
            self.sampling = nn.Identity()

    def shortcut(self, x):
        if self.first:
            if self.up_or_down < 0:
                x = self.sampling(x)
            return conv_forward(self.conv_s, x) if self.learned_shortcut else x
        if self.up_or_down > 0:
            x = self.sampling(x)
        if self.learned_shortcut:
            x = conv_forward(self.conv_s, x)
        if self.up_or_down < 0:
            x = self.sampling(x)
        return x

    def forward(self, x):
        dx = run_sequential(self.conv2, run_sequential(self.conv1, x))
        if self.up_or_down < 0:
            dx = self.sampling(dx)
        return self.shortcut(x) + dx


class OASISDiscriminator(nn.Module):
    """OASIS's U-Net: per-pixel logits over (semantic classes + 1 'fake' class)."""

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        space = label_space(cfg.dataset)
        self.output_nc = space.semantic_nc + 1
        m = cfg.channels_d
        # The official list is [3, 128, 128, 256, 256, 512, 512] (channels_d 64 -> 2x multiples).
        ch = [3, 2 * m, 2 * m, 4 * m, 4 * m, 8 * m, 8 * m]
        n = cfg.num_res_blocks
        self.body_up = nn.ModuleList()
        self.body_down = nn.ModuleList()
        for i in range(n):
            self.body_down.append(ResBlockD(ch[i], ch[i + 1], -1, i == 0, cfg.spectral))
        self.body_up.append(ResBlockD(ch[-1], ch[-2], 1, False, cfg.spectral))
        for i in range(1, n - 1):
            self.body_up.append(ResBlockD(2 * ch[-1 - i], ch[-2 - i], 1, False, cfg.spectral))
        self.body_up.append(ResBlockD(2 * ch[1], m, 1, False, cfg.spectral))
        self.layer_up_last = nn.Conv2d(m, self.output_nc, 1, 1, 0)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"OASISDiscriminator expects RGB images (N, 3, H, W); got {tuple(image.shape)}")
        x = image
        encoder = []
        for block in self.body_down:
            x = block(x)
            encoder.append(x)
        x = self.body_up[0](x)
        for i in range(1, len(self.body_down)):
            x = self.body_up[i](torch.cat([encoder[-i - 1], x], 1))
        return self.layer_up_last(x)
