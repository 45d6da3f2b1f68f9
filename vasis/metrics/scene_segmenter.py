"""A tiny segmenter for the built-in ``scenes`` data, so mIoU / Acc run end to end on a CPU.

It stands in for the paper's segmenters (DRN-D-105, UperNet-101, DeepLab-v2) on the suite's
own data: a few dilated 3x3 convolutions on the RGB image plus a vertical-position channel
(sky and water have similar colours; where they are tells them apart), trained with
cross-entropy on real scene images. Train it with :func:`train_scene_segmenter` and pass it
(or ``Segmenter(model)``) to :func:`vasis.metrics.evaluate_segmentation`.
"""
from __future__ import annotations

import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..labels import SCENES_CLASSES
from ..data.scenes import SceneDataset


class TinySceneSegmenter(nn.Module):
    """images (N, 3, H, W) in [-1, 1] -> logits (N, num_classes, H, W)."""

    def __init__(self, num_classes: int = len(SCENES_CLASSES), width: int = 24,
                 dilations=(1, 2, 4, 8)):
        super().__init__()
        layers, cin = [], 4  # RGB + vertical position
        for d in dilations:
            layers += [nn.Conv2d(cin, width, 3, padding=d, dilation=d),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            cin = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        y = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1)
        return self.head(self.body(torch.cat([x, y.expand(n, 1, h, w)], 1)))


def train_scene_segmenter(n_images: int = 400, size=(128, 128), steps: int = 400,
                          batch_size: int = 8, lr: float = 3e-3, seed: int = 0, width: int = 24,
                          time_limit: float | None = None, device="cpu",
                          verbose: bool = False) -> TinySceneSegmenter:
    """Train :class:`TinySceneSegmenter` on ``n_images`` training scenes of ``size`` (H, W).

    Scenes are rendered once and sampled with replacement (generator seeded by ``seed``); Adam
    with a cosine learning-rate decay; ``time_limit`` (seconds) stops early. Class 0
    (unlabeled) never occurs in the scenes and gets no gradient. Returns the model in eval mode.
    """
    torch.manual_seed(seed)
    ds = SceneDataset(n_images, size=size, seed=seed, split="train")
    items = [ds[i] for i in range(len(ds))]
    images = torch.stack([it["image"] for it in items])
    labels = torch.stack([it["label"] for it in items])
    model = TinySceneSegmenter(width=width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(ds), (batch_size,), generator=gen)
        x, y = images[idx].to(device), labels[idx].to(device)
        if torch.rand((), generator=gen) < 0.5:  # horizontal flip
            x, y = x.flip(-1), y.flip(-1)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if verbose and step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f}")
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
    return model.eval()
