"""The FID Inception network, assembled from pytorch-fid's own module classes.

pytorch-fid builds its FID Inception (``pytorch_fid.inception.fid_inception_v3``) as
torchvision's Inception v3 (1008 classes, no aux head) with nine blocks replaced by its
``FIDInceptionA`` / ``FIDInceptionC`` / ``FIDInceptionE_1`` / ``FIDInceptionE_2`` classes: the
TensorFlow FID graph's 3x3 average pools leave padded zeros out of the average, and its last
block pools with a max. That function also downloads the weights, so :class:`FIDInceptionV3`
makes the same replacements itself (no second hand-written copy of the blocks) and takes its
weights from :mod:`vasis.metrics.fid_weights`. Parameter names are those of pytorch-fid's
published file ``pt_inception-2015-12-05-6726825d.pth``, less the unused classifier ``fc``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError

FID_DIMS = 2048
CLASSIFIER_KEYS = ("fc.weight", "fc.bias")  # in the published file; not used for FID


def _pytorch_fid_inception() -> nn.Module:
    """torchvision's Inception v3 with pytorch-fid's FID blocks (as ``fid_inception_v3`` does,
    without its download)."""
    # local: torchvision and pytorch-fid are heavy; only building the FID network needs them
    import torchvision
    from pytorch_fid import inception as pfi

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                          init_weights=False)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception v3 up to the pool3 features: ``forward`` maps (N, 3, H, W)
    images in [0, 1] to (N, 2048). ``weights_source`` / ``weights_sha256`` say which weights
    were loaded (set by :func:`vasis.metrics.fid_weights.load_fid_inception`)."""

    STAGES = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
              "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
              "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")

    def __init__(self, resize_input: bool = True, normalize_input: bool = True):
        super().__init__()
        self.resize_input = resize_input
        self.normalize_input = normalize_input
        net = _pytorch_fid_inception()
        for name in self.STAGES:
            setattr(self, name, getattr(net, name))
        # channels_last: oneDNN's convs take the activations without a layout reorder per
        # layer (benchmarks/bench_fid_features.py); features equal the default layout's to rounding
        self.to(memory_format=torch.channels_last)
        self.weights_sha256: str | None = None
        self.weights_source: str | None = None
        for p in self.parameters():
            p.requires_grad_(False)

    def basic_convs(self) -> list[nn.Module]:
        """The conv + batch-norm units in definition order (94; the order of the TF graph)."""
        # local: torchvision is heavy; only the FID network's users get here
        from torchvision.models.inception import BasicConv2d
        return [m for m in self.modules() if isinstance(m, BasicConv2d)]

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise UserError(f"expected (N, 3, H, W) images; got shape {tuple(x.shape)}")
        x = x.float()
        if self.resize_input and tuple(x.shape[-2:]) != (299, 299):
            # (at 299x299 bilinear interpolation is the identity, so it is skipped)
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        if self.normalize_input:
            x = 2.0 * x - 1.0
        return x.contiguous(memory_format=torch.channels_last)

    def features(self, x: torch.Tensor, stop: str = "Mixed_7c") -> torch.Tensor:
        """Feature map after stage ``stop`` (one of :attr:`STAGES`) of preprocessed images."""
        if stop not in self.STAGES:
            raise UserError(f"unknown stage {stop!r}; choose from {self.STAGES}")
        x = self.preprocess(x)
        for name in self.STAGES:
            x = getattr(self, name)(x)
            if name == stop:
                break
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
