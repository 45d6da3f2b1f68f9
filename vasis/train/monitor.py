"""What a run reports: loss lines (``losses.jsonl``), TensorBoard scalars and sample grids, and
two cheap variation metrics of generated images against their label maps.

* ``variation/intra_*``: the mean over classes of :func:`vasis.data.within_image_class_std`
  (within-image std of a class's pixels, [0, 1] units) for generated and real images;
  class-level mode collapse shows as ``intra_fake`` well below ``intra_real``
  (``intra_ratio`` < 1).
* ``variation/inter_*``: per image, the std across the classes' mean colours (how different
  the classes look from each other), averaged over images.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..data import within_image_class_std


def _mean_or_nan(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def inter_class_std(images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                    min_pixels: int = 16) -> float:
    """Mean over images of the std across class mean colours ([0, 1] units; channels averaged)."""
    x = (images.detach().float().cpu() + 1) / 2
    lab = labels.cpu().long()
    out = []
    for img, lb in zip(x, lab):
        flat = lb.reshape(-1)
        keep = (flat >= 0) & (flat < num_classes)
        flat = flat[keep]
        px = img.reshape(3, -1)[:, keep]
        counts = torch.bincount(flat, minlength=num_classes).double()
        sums = torch.stack([torch.bincount(flat, px[c].double(), num_classes) for c in range(3)])
        ok = counts >= min_pixels
        if int(ok.sum()) < 2:
            continue
        means = sums[:, ok] / counts[ok]
        out.append(float(means.std(dim=1, unbiased=False).mean()))
    return float(np.mean(out)) if out else float("nan")


def variation_metrics(fake: torch.Tensor, real: torch.Tensor, labels: torch.Tensor,
                      num_classes: int, min_pixels: int = 16) -> dict[str, float]:
    intra_fake = _mean_or_nan(within_image_class_std(fake, labels, num_classes, min_pixels)[0])
    intra_real = _mean_or_nan(within_image_class_std(real, labels, num_classes, min_pixels)[0])
    return {
        "variation/intra_fake": intra_fake,
        "variation/intra_real": intra_real,
        "variation/intra_ratio": intra_fake / intra_real if intra_real > 0 else float("nan"),
        "variation/inter_fake": inter_class_std(fake, labels, num_classes, min_pixels),
        "variation/inter_real": inter_class_std(real, labels, num_classes, min_pixels),
    }


def label_colors(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, H, W) ids -> (N, 3, H, W) in [-1, 1] with a fixed pseudo-random palette (255 black)."""
    g = torch.Generator().manual_seed(1234)
    palette = torch.rand(max(num_classes, 1) + 1, 3, generator=g) * 2 - 1
    palette[-1] = -1.0
    ids = labels.cpu().long().clone()
    ids[(ids < 0) | (ids >= num_classes)] = num_classes
    return palette[ids].permute(0, 3, 1, 2)


def sample_grid(labels: torch.Tensor, real: torch.Tensor, fakes: list[torch.Tensor],
                num_classes: int) -> torch.Tensor:
    """Rows: label colours, real, each fake; columns: the batch. (3, H', W') in [0, 1]."""
    rows = [label_colors(labels, num_classes), real.detach().float().cpu()]
    rows += [f.detach().float().cpu() for f in fakes]
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    return ((grid.clamp(-1, 1) + 1) / 2)


class RunLog:
    """``losses.jsonl`` plus an optional TensorBoard writer (rank 0 only)."""

    def __init__(self, run_dir, resume_step: int = 0, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "losses.jsonl"
        if resume_step and self.path.exists():
            # After a crash the log may run ahead of the checkpoint: drop those lines.
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))
        self.writer = None
        if tensorboard:
            # local: tensorboard is heavy; only a run that logs to TensorBoard needs it (it is a
            # dependency in pyproject, so no fallback)
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(str(self.run_dir / "tb"),
                                        purge_step=resume_step + 1 if resume_step else None)

    def scalars(self, step: int, values: dict[str, float], jsonl: bool = True) -> None:
        if jsonl:
            with open(self.path, "a") as f:
                f.write(json.dumps({"step": step, **values}) + "\n")
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k if "/" in k else f"loss/{k}", v, step)

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, grid, step)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def read_losses(run_dir) -> list[dict]:
    path = Path(run_dir) / "losses.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
