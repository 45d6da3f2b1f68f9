"""Training recipes: the official optimiser, schedule, batch and EMA settings per model x dataset.

SPADE family (SPADE, CLADE, CLADE-ICPE, VA-SPADE, VA-CLADE), from SPADE's ``train_options``:
Adam with TTUR (lr G 1e-4, D 4e-4, betas (0, 0.9)); the no-TTUR alternative is lr 2e-4 for both
with betas (0.5, 0.999) (``TrainRecipe.no_ttur()``); ``niter`` epochs at the base lr, then
``niter_decay`` epochs with the lr decayed linearly towards 0 (SPADE subtracts ``lr /
niter_decay`` after every decay epoch). Batch: Cityscapes 16, ADE20K / COCO-Stuff 32 (the VASIS
runs). Epochs: Cityscapes and ADE20K 100 + 100, COCO-Stuff 50 + 50 (SPADE's scripts).

OASIS / VA-OASIS, from OASIS's ``config.py``: Adam lr G 1e-4 (4e-4 on Cityscapes), D 4e-4,
betas (0, 0.999), no lr schedule; 200 epochs (COCO-Stuff 100); batch Cityscapes 20, ADE20K /
COCO-Stuff 32; EMA generator with decay 0.9999 (0.999 on Cityscapes) whose batch-norm statistics
are refreshed with 51 training batches before it is evaluated.

``scenes`` (the built-in procedural data) gets a tiny CPU recipe: batch 4, a few epochs, EMA
decay 0.99 for the OASIS models, no VGG loss (the paper recipes keep it on for the SPADE family).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from ..errors import UserError
from ..presets import MODELS

# A preset's family is its generator's arch in the registry (which losses, steps and recipe).
SPADE_FAMILY = tuple(m for m, (arch, *_) in MODELS.items() if arch == "spade")
OASIS_FAMILY = tuple(m for m, (arch, *_) in MODELS.items() if arch == "oasis")


@dataclass(frozen=True)
class TrainRecipe:
    """Everything the trainer needs besides the networks' architecture."""

    family: str                      # 'spade' or 'oasis' (which losses and steps)
    batch_size: int
    lr_g: float
    lr_d: float
    beta1: float
    beta2: float
    niter: int                       # epochs at the base learning rate
    niter_decay: int = 0             # then epochs of linear decay to 0 (SPADE family)
    ema_decay: float | None = None   # None: no EMA generator
    ema_refresh_batches: int = 51    # BN-stat refresh passes of the EMA before evaluation
    use_vgg: bool = True             # SPADE family: VGG19 perceptual loss (needs weights)
    num_workers: int = 0

    def __post_init__(self):
        if self.family not in ("spade", "oasis"):
            raise UserError(f"family must be 'spade' or 'oasis', got {self.family!r}")
        if self.batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.niter < 0 or self.niter_decay < 0 or self.niter + self.niter_decay < 1:
            raise UserError(f"need niter >= 0, niter_decay >= 0 and at least one epoch; got "
                             f"niter={self.niter}, niter_decay={self.niter_decay}")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise UserError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    @property
    def epochs(self) -> int:
        return self.niter + self.niter_decay

    def lr_factor(self, epoch: int) -> float:
        """The lr multiplier during 0-based ``epoch``: 1 for the first ``niter`` epochs, then
        ``1 - k / niter_decay`` in the k-th decay epoch (SPADE's ``update_learning_rate``)."""
        if self.niter_decay <= 0 or epoch < self.niter:
            return 1.0
        return max(0.0, 1.0 - (epoch - self.niter) / self.niter_decay)

    def no_ttur(self) -> "TrainRecipe":
        """SPADE's ``--no_TTUR``: lr 2e-4 for G and D, betas (0.5, 0.999)."""
        return replace(self, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999)

    def with_epochs(self, epochs: int) -> "TrainRecipe":
        """``epochs`` in all, split between constant and decaying lr in the recipe's proportion."""
        if epochs < 1:
            raise UserError(f"epochs must be >= 1, got {epochs}")
        if self.niter_decay == 0:
            return replace(self, niter=epochs)
        niter = int(math.floor(epochs * self.niter / self.epochs + 0.5))
        return replace(self, niter=niter, niter_decay=epochs - niter)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainRecipe":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


_SPADE_EPOCHS = {"cityscapes": (100, 100), "ade20k": (100, 100), "coco-stuff": (50, 50)}
_SPADE_BATCH = {"cityscapes": 16, "ade20k": 32, "coco-stuff": 32}
_OASIS_EPOCHS = {"cityscapes": 200, "ade20k": 200, "coco-stuff": 100}
_OASIS_BATCH = {"cityscapes": 20, "ade20k": 32, "coco-stuff": 32}


def recipe(model: str, dataset: str, **overrides) -> TrainRecipe:
    """The recipe of ``model`` on ``dataset`` (``custom`` folders get the ADE20K-like default),
    with field overrides, e.g. ``recipe('spade', 'scenes', batch_size=2)``."""
    if model in SPADE_FAMILY:
        if dataset == "scenes":
            base = TrainRecipe("spade", 4, 1e-4, 4e-4, 0.0, 0.9, niter=5, niter_decay=5,
                               use_vgg=False)
        else:
            niter, decay = _SPADE_EPOCHS.get(dataset, (100, 100))
            base = TrainRecipe("spade", _SPADE_BATCH.get(dataset, 32), 1e-4, 4e-4, 0.0, 0.9,
                               niter=niter, niter_decay=decay, use_vgg=True)
    elif model in OASIS_FAMILY:
        if dataset == "scenes":
            base = TrainRecipe("oasis", 4, 1e-4, 4e-4, 0.0, 0.999, niter=10, ema_decay=0.99,
                               ema_refresh_batches=2, use_vgg=False)
        else:
            city = dataset == "cityscapes"
            base = TrainRecipe("oasis", _OASIS_BATCH.get(dataset, 32), 4e-4 if city else 1e-4,
                               4e-4, 0.0, 0.999, niter=_OASIS_EPOCHS.get(dataset, 200),
                               ema_decay=0.999 if city else 0.9999, use_vgg=False)
    else:
        raise UserError(f"unknown model {model!r}; choose one of "
                         f"{sorted(SPADE_FAMILY + OASIS_FAMILY)}")
    try:
        return replace(base, **overrides)
    except TypeError as err:
        raise UserError(f"bad recipe option: {err}") from None
