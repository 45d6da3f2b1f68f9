"""Training losses of the SPADE family (SPADE, CLADE, VA-SPADE, VA-CLADE) and of OASIS / VA-OASIS.

Written from the papers and from reading the official code (NVlabs/SPADE
``models/networks/loss.py`` + ``models/pix2pix_model.py``; boschresearch/OASIS
``models/losses.py`` + ``models/models.py``); numbers and normalisations follow that code.

SPADE family (discriminator = :class:`~vasis.models.discriminators.MultiscaleDiscriminator`,
whose output is, per scale, a list of intermediate features with the patch logits last)::

    D:  hinge_d_loss(pred_real, pred_fake)                 # = D_real + D_fake, as SPADE sums them
    G:  hinge_g_loss(pred_fake)
        + lambda_feat * feature_matching_loss(pred_fake, pred_real)
        + lambda_vgg  * VGGLoss()(fake, real)              # unless lambda_vgg == 0
        + lambda_kld  * kld_loss(mu, logvar)               # only with the VAE image encoder

* Hinge, per scale: ``mean(relu(1 - D(real)))``, ``mean(relu(1 + D(fake)))`` (D), ``-mean(D(fake))``
  (G), each a mean over every element of that scale's patch logits; the scales are then
  **averaged** (SPADE's ``GANLoss.__call__`` sums the per-scale means and divides by ``len(input)``),
  so every scale counts the same whatever its size.
* Feature matching: ``sum_i sum_j L1mean(F_ij(fake), F_ij(real).detach()) / num_D`` over the
  scales ``i`` and the intermediate features ``j`` (the last output, the logits, is excluded).
  SPADE multiplies each term by ``lambda_feat / num_D``; here the ``1/num_D`` is inside
  :func:`feature_matching_loss` and ``lambda_feat`` is applied by the caller (or by
  :func:`spade_generator_losses`).
* VGG19 perceptual loss: L1 between relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 features of
  fake and (detached) real, weighted 1/32, 1/16, 1/8, 1/4, 1. **Images are fed exactly as the
  generator outputs them, in [-1, 1], without ImageNet mean/std normalisation** — this is what
  the official SPADE (and OASIS) ``VGG19`` does, and the published lambdas assume it.
* KL term: ``-0.5 * sum(1 + logvar - mu^2 - exp(logvar))``, a *sum* over batch and latent
  dimensions (SPADE's ``KLDLoss``), weighted ``lambda_kld = 0.05``.

OASIS (discriminator = :class:`~vasis.models.discriminators.OASISDiscriminator`, per-pixel
logits ``(N, semantic_nc + 1, H, W)``; channel 0 = fake, channel ``c + 1`` = class ``c`` in the
suite's label order)::

    D:  oasis_adversarial_loss(D(fake), label, for_real=False)
        + oasis_adversarial_loss(D(real), label, for_real=True, dontcare_channel=...)
        + lambda_labelmix * labelmix_loss(mask, D(mixed), D(fake), D(real))
    G:  oasis_adversarial_loss(D(G(label)), label, for_real=True, dontcare_channel=...)

* Real: per-pixel cross entropy towards class ``c + 1`` weighted by a class-balancing map
  computed from the *batch's* class pixel counts: ``w_c = (N*H*W) / (count_c * n_present)``,
  ``n_present`` = classes with pixels, don't-care excluded; don't-care pixels get weight 0; the
  result is the mean over all ``N*H*W`` pixels (zero-weighted ones included). Fake: plain
  (unweighted) mean cross entropy towards class 0.
* Don't-care: OASIS sets ``contain_dontcare_label`` for all its datasets and zeroes *its* channel
  0. In the suite's order that is channel ``label_nc`` (the last one) for ADE20K / COCO-Stuff
  (id 255), and channel 0 ('unlabeled') for Cityscapes, whose OASIS label order equals the
  suite's. :func:`oasis_dontcare_channel` returns the right index per dataset.
* LabelMix: one Bernoulli(0.5) bit per class, shared by every image of the batch;
  ``mask = bit[class]`` per pixel; ``mixed = mask * real + (1 - mask) * fake``;
  ``MSE(mask * D(real) + (1 - mask) * D(fake), D(mixed))`` on the raw logits of all channels,
  nothing detached. **Deliberate fix of an official quirk:** OASIS relabels its class map in
  place, class by class (``target_map[target_map == c] = randint(0, 2)`` for sorted classes), so
  the pixels of class 0 that drew bit 1 are hit again when class 1 is processed: class 0 then
  takes class 1's bit (P(bit=1) = 1/4 and correlated with class 1 when class 1 is present). Here
  every class present in the batch draws its own independent bit in one go (see
  :func:`labelmix_mask`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from .errors import MissingFileError, UserError
from .labels import label_space
from .presets import MODELS, _lookup

__all__ = [
    "LossConfig", "loss_config",
    "hinge_loss", "hinge_d_loss", "hinge_g_loss", "feature_matching_loss", "kld_loss",
    "VGGLoss", "VGG19Features", "VGG19_URL", "VGG19_FILENAME", "default_vgg19_path",
    "load_vgg19_features",
    "oasis_dontcare_channel", "class_balance_weights", "n1_target", "oasis_adversarial_loss",
    "labelmix_mask", "labelmix_images", "labelmix_loss",
    "spade_generator_losses", "spade_discriminator_losses",
    "oasis_generator_losses", "oasis_discriminator_losses",
]


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LossConfig:
    """Loss weights. Defaults are SPADE's (``options/train_options.py``) plus OASIS's LabelMix.

    ``lambda_vgg = 0`` turns the VGG loss off (no VGG19 weights needed; SPADE's
    ``--no_vgg_loss``). OASIS trains without VGG by default (its ``--add_vgg_loss`` uses 10) and
    with ``lambda_labelmix`` 10, 5 on Cityscapes: see :func:`loss_config`.
    """

    lambda_feat: float = 10.0
    lambda_vgg: float = 10.0
    lambda_kld: float = 0.05
    lambda_labelmix: float = 10.0
    class_balancing: bool = True   # OASIS: off with --no_balancing_inloss
    vgg_weights: str | None = None  # explicit VGG19 weights file; None -> torchvision cache

    @property
    def use_vgg(self) -> bool:
        return self.lambda_vgg != 0


def model_arch(model: str) -> str:
    """The generator ``arch`` of a model preset ('spade' or 'oasis'), read off the registry."""
    return _lookup(MODELS, model, "model")[0]


def loss_config(model: str, dataset: str, **overrides) -> LossConfig:
    """The official loss weights for a model preset on a dataset preset.

    SPADE family: feat 10, vgg 10, kld 0.05. OASIS / VA-OASIS: no VGG (``lambda_vgg = 0``;
    OASIS's ``--add_vgg_loss`` would use 10), LabelMix 10, 5 on Cityscapes.
    """
    kw: dict = {}
    if model_arch(model) == "oasis":
        kw["lambda_vgg"] = 0.0
        kw["lambda_labelmix"] = 5.0 if dataset == "cityscapes" else 10.0
    kw.update(overrides)
    return LossConfig(**kw)


# --------------------------------------------------------------------------------------------
# SPADE: hinge GAN, feature matching, KL
# --------------------------------------------------------------------------------------------

def _final_logits(pred) -> list[torch.Tensor]:
    """Per-scale patch logits from a tensor, a list of tensors, or a list of feature lists."""
    if isinstance(pred, torch.Tensor):
        return [pred]
    if not isinstance(pred, (list, tuple)) or not pred:
        raise TypeError("expected a tensor, or a non-empty list (one entry per discriminator "
                        f"scale) of tensors or of feature lists; got {type(pred).__name__}")
    return [p[-1] if isinstance(p, (list, tuple)) else p for p in pred]


def hinge_loss(pred, target_is_real: bool, for_discriminator: bool = True) -> torch.Tensor:
    """SPADE's hinge ``GANLoss``, averaged over discriminator scales (0-dim tensor).

    D, real: ``mean(relu(1 - x))``; D, fake: ``mean(relu(1 + x))``; G: ``-mean(x)`` (only with
    ``target_is_real=True``). ``pred`` may be the multiscale discriminator's output (list of
    per-scale feature lists; the last entry of each is used), a list of logits, or a tensor.
    """
    if not for_discriminator and not target_is_real:
        raise ValueError("the generator's hinge loss must aim for real (target_is_real=True)")
    losses = []
    for x in _final_logits(pred):
        if for_discriminator:
            losses.append(F.relu(1 - x).mean() if target_is_real else F.relu(1 + x).mean())
        else:
            losses.append(-x.mean())
    return torch.stack(losses).mean()


def hinge_d_loss(pred_real, pred_fake) -> torch.Tensor:
    """Discriminator hinge loss ``D_real + D_fake`` (SPADE sums the two terms, no 1/2)."""
    return hinge_loss(pred_real, True, True) + hinge_loss(pred_fake, False, True)


def hinge_g_loss(pred_fake) -> torch.Tensor:
    """Generator hinge loss ``-mean(D(fake))``, averaged over scales."""
    return hinge_loss(pred_fake, True, for_discriminator=False)


def feature_matching_loss(pred_fake: Sequence[Sequence[torch.Tensor]],
                          pred_real: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """SPADE's discriminator feature matching, without ``lambda_feat``.

    ``sum_i sum_j mean|F_ij(fake) - F_ij(real)| / num_D`` over scales ``i`` and every output
    ``j`` but the last (the logits); real features are detached. Multiply by ``lambda_feat``.
    """
    if len(pred_fake) != len(pred_real) or not pred_fake:
        raise ValueError(f"feature matching needs the same number of scales for fake and real; "
                         f"got {len(pred_fake)} and {len(pred_real)}")
    num_d = len(pred_fake)
    total = None
    for feats_fake, feats_real in zip(pred_fake, pred_real):
        if not isinstance(feats_fake, (list, tuple)) or len(feats_fake) != len(feats_real):
            raise ValueError("feature matching needs, per scale, lists of intermediate features "
                             "of equal length (MultiscaleDiscriminator's output)")
        for f_fake, f_real in zip(feats_fake[:-1], feats_real[:-1]):
            term = F.l1_loss(f_fake, f_real.detach())
            total = term if total is None else total + term
    if total is None:  # only logits: nothing to match
        return pred_fake[0][-1].new_zeros(())
    return total / num_d


def kld_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over batch and dims: SPADE's ``KLDLoss``.

    Unweighted; SPADE multiplies by ``lambda_kld`` (0.05).
    """
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


# --------------------------------------------------------------------------------------------
# VGG19 perceptual loss
# --------------------------------------------------------------------------------------------

VGG19_FILENAME = "vgg19-dcbbb9e9.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILENAME}"
# torchvision vgg19().features indices: relu1_1 = 1, relu2_1 = 6, relu3_1 = 11, relu4_1 = 20,
# relu5_1 = 29; SPADE's slices are [0:2], [2:7], [7:12], [12:21], [21:30].
_VGG_SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))
VGG_LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


def default_vgg19_path() -> Path:
    """Where torchvision caches the ImageNet VGG19: ``<torch hub dir>/checkpoints/vgg19-dcbbb9e9.pth``.

    The hub dir is ``$TORCH_HOME/hub`` (default ``~/.cache/torch/hub``), read at call time.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILENAME


def _missing_weights_error(path: Path, explicit: bool) -> FileNotFoundError:
    where = ("the given path" if explicit else
             "torchvision's cache ($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints)")
    return MissingFileError(
        f"VGG19 ImageNet weights for the perceptual loss not found at {path} ({where}). "
        f"This machine cannot download them. Download {VGG19_URL} on a machine with internet "
        f"access (e.g. `curl -LO {VGG19_URL}`, or run "
        f"`python -c \"import torchvision; torchvision.models.vgg19(weights='IMAGENET1K_V1')\"` "
        f"there and copy ~/.cache/torch/hub/checkpoints/{VGG19_FILENAME}), then either put the "
        f"file at {default_vgg19_path()} (set TORCH_HOME to use another cache directory) or pass "
        f"its path explicitly (VGGLoss(weights=...), LossConfig(vgg_weights=...)). To train "
        f"without the VGG loss, set lambda_vgg=0 (LossConfig(lambda_vgg=0), CLI --no-vgg-loss), "
        f"as OASIS does by default.")


def _vgg19_feature_layers() -> nn.Sequential:
    """``torchvision.models.vgg19(weights=None).features`` without building the classifier."""
    try:
        # local: torchvision is heavy and only the VGG loss needs it (private API: a fallback)
        from torchvision.models.vgg import cfgs, make_layers
        return make_layers(cfgs["E"], batch_norm=False)
    except (ImportError, KeyError):  # pragma: no cover - older/newer torchvision layouts
        import torchvision
        return torchvision.models.vgg19(weights=None).features


def load_vgg19_features(weights: str | os.PathLike | None = None) -> nn.Sequential:
    """torchvision's VGG19 ``features`` with ImageNet weights read from a local file.

    ``weights``: a file in torchvision's key layout (``features.0.weight``, ...; classifier keys
    are ignored and may be absent), a raw ``features`` state dict (``0.weight``, ...), or None
    for :func:`default_vgg19_path`. Raises :class:`FileNotFoundError` with instructions if absent.
    """
    explicit = weights is not None
    path = Path(weights).expanduser() if explicit else default_vgg19_path()
    if not path.is_file():
        raise _missing_weights_error(path, explicit)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{path} does not hold a state dict (got {type(state).__name__})")
    if any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    features = _vgg19_feature_layers()
    missing, unexpected = features.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UserError(
            f"{path} is not a torchvision VGG19 checkpoint: missing {sorted(missing)[:6]}, "
            f"unexpected {sorted(unexpected)[:6]} (features keys). Expected {VGG19_URL}.")
    return features


class VGG19Features(nn.Module):
    """Frozen VGG19 returning relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (SPADE's ``VGG19``)."""

    def __init__(self, weights: str | os.PathLike | None = None):
        super().__init__()
        layers = load_vgg19_features(weights)
        for i, (a, b) in enumerate(_VGG_SLICES, start=1):
            self.add_module(f"slice{i}", nn.Sequential(*[layers[j] for j in range(a, b)]))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        # Always frozen: no dropout/BN inside, but keep eval() semantics for clarity.
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i in range(1, len(_VGG_SLICES) + 1):
            x = getattr(self, f"slice{i}")(x)
            out.append(x)
        return out


class VGGLoss(nn.Module):
    """SPADE's perceptual loss: ``sum_k w_k * L1mean(VGG_k(x), VGG_k(y).detach())``.

    ``x`` (generated) and ``y`` (real) are RGB in [-1, 1], fed to VGG **without** ImageNet
    normalisation, as the official code does. Unweighted; multiply by ``lambda_vgg`` (10). VGG
    parameters are frozen (``requires_grad=False``); gradients reach ``x`` only.
    """

    def __init__(self, weights: str | os.PathLike | None = None):
        super().__init__()
        self.vgg = VGG19Features(weights)
        self.weights = VGG_LAYER_WEIGHTS

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGGLoss expects two RGB batches of equal shape (N, 3, H, W); got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        with torch.no_grad():
            feats_y = self.vgg(y)
        feats_x = self.vgg(x)
        loss = x.new_zeros(())
        for w, fx, fy in zip(self.weights, feats_x, feats_y):
            loss = loss + w * F.l1_loss(fx, fy.detach())
        return loss


# --------------------------------------------------------------------------------------------
# OASIS: class-balanced (N+1)-class adversarial loss and LabelMix
# --------------------------------------------------------------------------------------------

def oasis_dontcare_channel(dataset: str) -> int | None:
    """The suite's one-hot channel that OASIS treats as don't-care (weight 0), or None.

    COCO-Stuff: ``label_nc`` (id 255, the last channel; OASIS's channel 0). Cityscapes and
    ADE20K: 0 ('unlabeled'; OASIS's label order equals the suite's there). Other label spaces
    whose class 0 is 'unlabeled' (the built-in scenes, where it is never drawn): 0. Else None.
    """

    space = label_space(dataset)
    if space.dontcare:
        return space.label_nc
    if space.classes and space.classes[0].lower() == "unlabeled":
        return 0
    return None


def _check_onehot(label: torch.Tensor, logits: torch.Tensor | None = None) -> None:
    if label.dim() != 4:
        raise ValueError(f"label must be a one-hot map (N, semantic_nc, H, W); got {tuple(label.shape)}")
    if logits is not None:
        if logits.dim() != 4 or logits.shape[1] != label.shape[1] + 1 \
                or logits.shape[0] != label.shape[0] or logits.shape[2:] != label.shape[2:]:
            raise ValueError(
                f"OASIS logits must be (N, semantic_nc + 1, H, W) for a label (N, semantic_nc, H, W); "
                f"got logits {tuple(logits.shape)} and label {tuple(label.shape)} (drop an "
                f"instance-edge channel from the label before the loss)")


def class_balance_weights(label: torch.Tensor, dontcare_channel: int | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """OASIS's class-balancing weights from one batch: ``(coefficients (C,), weight map (N, H, W))``.

    ``coeff_c = N*H*W / (count_c * n_present)`` with ``count_c`` the class's pixel count over the
    whole batch and ``n_present`` the number of classes with pixels (don't-care excluded);
    ``coeff[dontcare_channel] = 0``; absent classes get 0 (OASIS: inf, never indexed). The map
    is ``coeff[argmax(label)]``.
    """
    _check_onehot(label)
    n, c, h, w = label.shape
    counts = label.detach().float().sum(dim=(0, 2, 3))
    if dontcare_channel is not None:
        if not 0 <= dontcare_channel < c:
            raise ValueError(f"dontcare_channel {dontcare_channel} out of range for {c} label channels")
        counts[dontcare_channel] = 0
    present = counts > 0
    n_present = present.sum().clamp(min=1).float()
    coeffs = torch.zeros_like(counts)
    coeffs[present] = (n * h * w) / (counts[present] * n_present)
    classes = label.argmax(dim=1)
    return coeffs, coeffs[classes]


def n1_target(label: torch.Tensor, for_real: bool) -> torch.Tensor:
    """(N, H, W) class targets of the N+1 loss: class ``c`` -> ``c + 1`` (real), 0 (fake)."""
    _check_onehot(label)
    classes = label.argmax(dim=1)
    return classes + 1 if for_real else torch.zeros_like(classes)


def oasis_adversarial_loss(logits: torch.Tensor, label: torch.Tensor, for_real: bool,
                           dontcare_channel: int | None = None, balance: bool = True) -> torch.Tensor:
    """OASIS's (N+1)-class cross entropy (``losses_computer.loss``).

    ``logits``: D output (N, semantic_nc + 1, H, W); ``label``: one-hot (N, semantic_nc, H, W).
    Real (D on real images, and G's loss on generated ones): class-balanced mean of the
    per-pixel CE towards ``class + 1`` (see :func:`class_balance_weights`; ``balance=False``
    uses weight 1, OASIS's ``--no_balancing_inloss``). Fake: unweighted mean CE towards 0.
    """
    _check_onehot(label, logits)
    ce = F.cross_entropy(logits, n1_target(label, for_real), reduction="none")
    if not for_real:
        return ce.mean()
    if balance:
        _, weight_map = class_balance_weights(label, dontcare_channel)
        return (ce * weight_map).mean()
    return ce.mean()


def labelmix_mask(label: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """LabelMix mask (N, 1, H, W) float in {0, 1}: one fair coin per class, shared by the batch.

    ``label`` is a one-hot map (N, C, H, W) or a class-index map (N, H, W) / (N, 1, H, W).
    Each class draws one independent bit (``torch.randint(0, 2, (C,))``, with ``generator`` if
    given); every pixel takes its class's bit. Unlike the official in-place relabelling (see the
    module docstring) no class can inherit another class's bit.
    """
    if label.dim() == 4 and label.shape[1] > 1:
        classes = label.argmax(dim=1, keepdim=True)
        num_classes = label.shape[1]
    else:
        classes = label.long().reshape(label.shape[0], 1, *label.shape[-2:])
        num_classes = int(classes.max().item()) + 1 if classes.numel() else 1
    bits = torch.randint(0, 2, (num_classes,), generator=generator,
                         device=generator.device if generator is not None else "cpu")
    bits = bits.to(classes.device)
    dtype = label.dtype if label.is_floating_point() else torch.float32
    return bits[classes].to(dtype)


def labelmix_images(mask: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``mask * real + (1 - mask) * fake`` (mask broadcast over the RGB channels)."""
    return mask * real + (1 - mask) * fake


def labelmix_loss(mask: torch.Tensor, d_mixed: torch.Tensor, d_fake: torch.Tensor,
                  d_real: torch.Tensor) -> torch.Tensor:
    """LabelMix consistency: ``MSE(mask * D(real) + (1 - mask) * D(fake), D(mixed))``.

    Raw logits, all channels, mean over every element; nothing detached (as OASIS). Multiply by
    ``lambda_labelmix``.
    """
    return F.mse_loss(mask * d_real + (1 - mask) * d_fake, d_mixed)


# --------------------------------------------------------------------------------------------
# One-call helpers mirroring the official training steps
# --------------------------------------------------------------------------------------------

def spade_generator_losses(pred_fake, pred_real, cfg: LossConfig = LossConfig(),
                           fake: torch.Tensor | None = None, real: torch.Tensor | None = None,
                           vgg: VGGLoss | None = None, mu: torch.Tensor | None = None,
                           logvar: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """SPADE's ``compute_generator_loss`` terms, already weighted; the G loss is their sum.

    ``pred_fake``/``pred_real``: MultiscaleDiscriminator outputs for (label, fake) / (label, real).
    Keys: ``GAN``, ``GAN_Feat`` (if lambda_feat), ``VGG`` (if lambda_vgg; needs ``vgg``, ``fake``,
    ``real``), ``KLD`` (if ``mu``/``logvar`` given).
    """
    losses = {"GAN": hinge_g_loss(pred_fake)}
    if cfg.lambda_feat:
        losses["GAN_Feat"] = feature_matching_loss(pred_fake, pred_real) * cfg.lambda_feat
    if cfg.use_vgg:
        if vgg is None or fake is None or real is None:
            raise ValueError("lambda_vgg != 0 needs vgg=VGGLoss(...), fake and real images "
                             "(or set lambda_vgg=0 / --no-vgg-loss)")
        losses["VGG"] = vgg(fake, real) * cfg.lambda_vgg
    if mu is not None and logvar is not None:
        losses["KLD"] = kld_loss(mu, logvar) * cfg.lambda_kld
    return losses


def spade_discriminator_losses(pred_fake, pred_real) -> dict[str, torch.Tensor]:
    """SPADE's ``D_Fake`` and ``D_real`` hinge terms; the D loss is their sum."""
    return {"D_Fake": hinge_loss(pred_fake, False, True), "D_real": hinge_loss(pred_real, True, True)}


def oasis_generator_losses(d_fake: torch.Tensor, label: torch.Tensor, cfg: LossConfig = LossConfig(),
                           dontcare_channel: int | None = None, fake: torch.Tensor | None = None,
                           real: torch.Tensor | None = None, vgg: VGGLoss | None = None
                           ) -> dict[str, torch.Tensor]:
    """OASIS G terms: ``adv`` = balanced N+1 CE of D(G(label)) as real; ``VGG`` if lambda_vgg."""
    losses = {"adv": oasis_adversarial_loss(d_fake, label, True, dontcare_channel,
                                            cfg.class_balancing)}
    if cfg.use_vgg:
        if vgg is None or fake is None or real is None:
            raise ValueError("lambda_vgg != 0 needs vgg=VGGLoss(...), fake and real images")
        losses["VGG"] = vgg(fake, real) * cfg.lambda_vgg
    return losses


def oasis_discriminator_losses(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                               label: torch.Tensor, cfg: LossConfig = LossConfig(),
                               dontcare_channel: int | None = None,
                               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """OASIS's D step terms (``fake`` should be generated under no_grad); the D loss is their sum.

    Keys: ``D_fake``, ``D_real``, and ``D_lm`` (``lambda_labelmix * labelmix_loss``) unless
    ``lambda_labelmix`` is 0.
    """
    d_fake = discriminator(fake)
    d_real = discriminator(real)
    losses = {"D_fake": oasis_adversarial_loss(d_fake, label, False),
              "D_real": oasis_adversarial_loss(d_real, label, True, dontcare_channel,
                                               cfg.class_balancing)}
    if cfg.lambda_labelmix:
        mask = labelmix_mask(label, generator).to(real.dtype)
        d_mixed = discriminator(labelmix_images(mask, real, fake))
        losses["D_lm"] = cfg.lambda_labelmix * labelmix_loss(mask, d_mixed, d_fake, d_real)
    return losses
