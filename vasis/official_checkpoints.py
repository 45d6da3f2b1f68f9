"""Load the official generator checkpoints (SPADE, CLADE, OASIS, VASIS) into the suite's models.

``load_official(path_or_state_dict, model, dataset, **overrides)`` builds the suite generator
with :func:`vasis.build_generator` and fills it with the official weights, mapping the official
parameter names onto the suite's and checking every key and shape. See :func:`load_official`
for what is mapped and why; :func:`convert_official_state_dict` is the mapping alone.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Mapping

import torch
import torch.nn as nn
from .errors import UserError, MissingFileError
from .loading import load_torch_file
from .presets import build_generator

__all__ = ["load_official", "convert_official_state_dict", "read_state_dict"]

# Convs the official code sometimes wraps as Sequential(ReflectionPad2d, Conv2d) (VASIS
# --pad reflect, VA-OASIS); ours pad through the conv's own padding_mode, so the index goes.
_SEQ_CONVS = ("fc", "conv_img", "mlp_gamma", "mlp_beta")
# The shared SPADE conv is Sequential(conv, ReLU) (index 0) or Sequential(pad, conv, ReLU)
# (index 1, VASIS reflect); ours is always Sequential(conv, ReLU).
_SHARED = "mlp_shared"
_NOISE_TABLES = ("gamma_noise_gamma", "beta_noise_gamma", "gamma_noise_beta", "beta_noise_beta")
# CLADE's ClassAffine (weight/bias, ICPE dist convs) and VASIS's VariationAffineCLADE
# (gamma_seg/beta_seg and the VASIS parameters) sit in `class_specified_affine`.
_CLASS_AFFINE = {
    "weight": "class_gamma", "bias": "class_beta",              # CLADE
    "gamma_seg": "class_gamma", "beta_seg": "class_beta",       # VA-CLADE
    "dist_conv_w": "conv_pos_gamma", "dist_conv_b": "conv_pos_beta",  # CLADE-ICPE
}
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "netG", "net_G", "G", "generator",
                 "netEMA", "EMA", "ema", "params")
_SHOW = 6  # how many keys an error message lists per kind

_WHERE = (
    "Official checkpoints usually live at checkpoints/<name>/latest_net_G.pth (SPADE, CLADE; "
    "VASIS VA-SPADE/VA-CLADE also <epoch>_net_G.pth, e.g. best_net_G.pth) and "
    "checkpoints/<name>/models/best_EMA.pth or latest_G.pth (OASIS, VA-OASIS; the pretrained "
    "zips unpack to e.g. oasis_ade20k_pretrained/models/best_EMA.pth).")


# -- reading -------------------------------------------------------------------------------
def _is_tensor_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_state_dict(path_or_state_dict, *, trust: bool = False, source: str | None = None
                    ) -> tuple["OrderedDict[str, torch.Tensor]", str]:
    """(state dict, description of its source) from a path, a state dict or a wrapping dict.

    Files are read with :func:`vasis.loading.load_torch_file`: ``weights_only=True`` (the
    official checkpoints are plain state dicts and read that way); a file that needs full
    unpickling - which can run code from the file - is refused unless ``trust=True``. A
    ``module.`` prefix on every key (DataParallel) is removed. ``source`` names an object
    already read from a file in messages.
    """
    obj = path_or_state_dict
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        source = f"file {path!r}"
        if not os.path.isfile(path):
            raise MissingFileError(
                f"no checkpoint file at {path!r}"
                f"{' (it is a directory)' if os.path.isdir(path) else ''}. {_WHERE}")
        obj = load_torch_file(path, trust=trust)
    else:
        source = source or "the given state dict"
    if not _is_tensor_dict(obj):
        if not isinstance(obj, Mapping):
            raise UserError(f"{source} holds a {type(obj).__name__}, not a state dict; pass a "
                             f"generator state dict (or a dict wrapping one)")
        inner = [k for k in _WRAPPER_KEYS if _is_tensor_dict(obj.get(k))]
        if not inner:
            inner = [k for k, v in obj.items() if _is_tensor_dict(v)]
        if len(inner) != 1:
            raise UserError(
                f"{source} is a dict with keys {sorted(map(str, obj))[:12]}, "
                f"{'none' if not inner else 'several'} of which is a state dict of tensors"
                f"{'' if not inner else f' ({inner})'}; pass the generator's state dict itself")
        source += f" (entry {inner[0]!r})"
        obj = obj[inner[0]]
    sd = OrderedDict(obj.items())
    if all(k.startswith("module.") for k in sd):
        sd = OrderedDict((k[len("module."):], v) for k, v in sd.items())
    return sd, source


# -- key mapping ---------------------------------------------------------------------------
def _map_key(key: str) -> tuple[str, tuple[str, str] | None]:
    """(suite key, padding evidence) of one official key.

    The evidence is (suite module path, 'reflect' | 'plain'): a Sequential conv at index 1 sat
    behind a ReflectionPad2d; a plain conv (or index 0 of the shared conv) padded with zeros.
    """
    parts = key.split(".")
    out: list[str] = []
    evidence = None
    i = 0
    while i < len(parts):
        p = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if p in _SEQ_CONVS and nxt is not None and nxt.isdigit() and i + 2 < len(parts):
            out.append(p)
            evidence = (".".join(out), "reflect" if nxt == "1" else "plain")
            i += 2
            continue
        if p in _SEQ_CONVS and nxt is not None and i + 2 == len(parts):
            out.append(p)
            evidence = (".".join(out), "plain")
            i += 1
            continue
        if p == _SHARED and nxt is not None and nxt.isdigit():
            out += [p, "0"]
            evidence = (".".join(out), "reflect" if nxt == "1" else "plain")
            i += 2
            continue
        if p == "first_norm":  # OASIS / VA-OASIS
            out.append("param_free_norm")
        elif p == "class_specified_affine" and nxt is not None:
            out.append(_CLASS_AFFINE.get(nxt, nxt))
            i += 2
            continue
        else:
            out.append(p)
        i += 1
    return ".".join(out), evidence


def _guess_model(keys) -> str | None:
    """The official model a key set looks like, for error messages."""
    keys = list(keys)
    has = lambda s: any(s in k for k in keys)  # noqa: E731
    noise = has("_noise_") or has("pos_learn") or has("conv_pos_")
    if has("body.0."):
        return "va-oasis" if noise else "oasis"
    if has("class_specified_affine"):
        if has("gamma_seg"):
            return "va-clade"
        return "clade-icpe" if has("dist_conv_w") else "clade"
    if has("head_0."):
        return "va-spade" if noise else "spade"
    return None


def _preview(items, n=_SHOW) -> str:
    items = list(items)
    shown = ", ".join(items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _describe(gen) -> str:
    cfg = gen.cfg
    return (f"the suite generator (arch={cfg.arch!r}, dataset={cfg.dataset!r}, ngf={cfg.ngf}, "
            f"{cfg.height}x{cfg.width}, modulation={cfg.norm.modulation!r}, "
            f"noise={cfg.norm.noise!r}, position={cfg.norm.position!r}, padding={cfg.padding!r}, "
            f"block_kernel_size={cfg.block_kernel_size}, kernel_size={cfg.norm.kernel_size})")


def _hint(official_keys, requested: str | None) -> str:
    guess = _guess_model(official_keys)
    hint = ("Likely fix: build with the model/dataset preset the checkpoint was trained with, and "
            "overrides matching its options (e.g. ngf, num_upsampling_layers, use_3d_noise, "
            "noise, noise_combine, position, position_channels, padding, block_kernel_size, "
            "kernel_size)")
    if guess and requested and guess != requested:
        hint = f"The checkpoint looks like a {guess!r} checkpoint, not {requested!r}. " + hint
    elif guess and not requested:
        hint = f"The checkpoint looks like a {guess!r} checkpoint. " + hint
    return hint + "."


def _label_rolled(t: torch.Tensor, dim: int, start: int, n: int) -> torch.Tensor:
    """Move official label channel ``start`` (OASIS's don't-care, first) after the other n-1."""
    head, seg, tail = t.split([start, n, t.shape[dim] - start - n], dim)
    seg = torch.cat([seg.narrow(dim, 1, n - 1), seg.narrow(dim, 0, 1)], dim)
    return torch.cat([head, seg, tail], dim)


def convert_official_state_dict(state_dict: Mapping[str, torch.Tensor], generator: nn.Module, *,
                                source: str = "the given state dict",
                                model: str | None = None) -> "OrderedDict[str, torch.Tensor]":
    """The official generator state dict in the suite's names and channel order, fully checked.

    ``generator`` is the suite generator the result is for (it may live on the meta device: only
    its state-dict keys, shapes and config are used). Raises ``ValueError`` on any missing or
    unexpected key, shape mismatch or padding mismatch; see :func:`load_official`.
    """
    cfg = generator.cfg
    target = generator.state_dict()
    space = generator.space

    if cfg.arch == "oasis" and cfg.use_3d_noise and cfg.norm.noise == "semantic":
        raise UserError(
            f"{source}: official VA-OASIS with 3D noise picks its noise-table rows by an argmax "
            f"over the z and label channels together, which the suite's generator (rows by "
            f"class) does not reproduce; the VA-OASIS runs use --no_3dnoise "
            f"(use_3d_noise=False, the va-oasis preset)")

    mapped: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    origin: dict[str, str] = {}
    evidence: dict[str, str] = {}
    dropped = []
    for key, value in state_dict.items():
        new, ev = _map_key(key)
        if (cfg.norm.noise == "random" and new.rsplit(".", 1)[-1] in _NOISE_TABLES
                and new not in target):
            # Official random_* noise never reads its tables (VA-SPADE keeps two, VA-CLADE all
            # four); the suite's random noise has none, so they are dropped, losslessly.
            dropped.append(key)
            continue
        if new in mapped:
            raise UserError(f"{source}: official keys {origin[new]!r} and {key!r} both map to "
                             f"{new!r}; the state dict mixes two layouts")
        mapped[new] = value
        origin[new] = key
        if ev is not None:
            evidence[ev[0]] = ev[1]

    # Documented torch-version artifact: BatchNorm's num_batches_tracked (torch >= 0.4.1) is
    # absent from very old checkpoints; it is only a step counter (unused with momentum set).
    filled = []
    for key in target:
        if (key.endswith(".num_batches_tracked") and key not in mapped
                and key[: -len("num_batches_tracked")] + "running_mean" in mapped):
            mapped[key] = torch.zeros((), dtype=torch.long)
            origin[key] = "(filled: num_batches_tracked)"
            filled.append(key)

    missing = [k for k in target if k not in mapped]
    unexpected = [k for k in mapped if k not in target]
    if missing or unexpected:
        lines = [f"{source} does not match {_describe(generator)}."]
        if missing:
            lines.append(f"Missing {len(missing)} key(s) (suite names): {_preview(missing)}.")
        if unexpected:
            shown = [k if origin[k] == k else f"{origin[k]} (-> {k})" for k in unexpected]
            lines.append(f"Unexpected {len(unexpected)} key(s) (official names): {_preview(shown)}.")
        lines.append(_hint(state_dict.keys(), model))
        raise UserError(" ".join(lines))

    bad = [(k, tuple(target[k].shape), tuple(mapped[k].shape)) for k in target
           if tuple(target[k].shape) != tuple(mapped[k].shape)]
    if bad:
        shown = [f"{origin[k]}{'' if origin[k] == k else f' (-> {k})'}: expected {exp}, "
                 f"received {got}" for k, exp, got in bad]
        raise UserError(
            f"{source} has {len(bad)} shape mismatch(es) with {_describe(generator)}: "
            f"{'; '.join(shown[:_SHOW])}{'; ...' if len(bad) > _SHOW else ''}. "
            f"{_kernel_hint(bad)}Label-channel "
            f"dimensions point at the dataset (label space), widths at ngf/hidden/noise "
            f"switches, position-code sizes at height/width/num_upsampling_layers. "
            f"{_hint(state_dict.keys(), model)}")

    _check_padding(generator, evidence, source)

    # Label channel order: the suite's one-hot is classes 0..label_nc-1, then don't-care. OASIS
    # (and VA-OASIS) shift COCO-Stuff labels by one and put don't-care (255) in channel 0, after
    # the 3D-noise z channels; every weight reading the label map is permuted. ADE20K needs
    # nothing: the suite keeps its raw ids (0 = other), as every official model sees them.
    if cfg.arch == "oasis" and space.dontcare:
        z = cfg.z_dim if cfg.use_3d_noise else 0
        n = space.semantic_nc
        for key in mapped:
            if key == "fc.weight" or key.endswith(".mlp_shared.0.weight"):
                mapped[key] = _label_rolled(mapped[key], 1, z, n)
            elif key.rsplit(".", 1)[-1] in _NOISE_TABLES:
                mapped[key] = _label_rolled(mapped[key], 0, z, n)
    return mapped


def _kernel_hint(bad) -> str:
    """The kernel override a checkpoint needs when only kernel sizes (not widths) differ."""
    hints = []
    for suffix, option, flag in (((".conv_0.weight_orig", ".conv_1.weight_orig", ".conv_0.weight",
                                   ".conv_1.weight"), "block_kernel_size", "--kernel"),
                                 ((".mlp_shared.0.weight", ".mlp_gamma.weight",
                                   ".mlp_beta.weight"), "kernel_size", "--kernel_norm")):
        sizes = {got[-1] for key, exp, got in bad
                 if key.endswith(suffix) and len(got) == 4 and exp[:2] == got[:2]}
        if len(sizes) == 1:
            hints.append(f"{option}={sizes.pop()} (official {flag})")
    return f"The checkpoint's kernels say: build with {' and '.join(hints)}. " if hints else ""


def _check_padding(generator: nn.Module, evidence: dict[str, str], source: str) -> None:
    """Official Sequential(ReflectionPad2d, Conv2d) vs plain convs must match our padding_mode."""
    wrong = []
    for path, kind in evidence.items():
        conv = generator.get_submodule(path)
        if not isinstance(conv, nn.Conv2d) or conv.kernel_size == (1, 1):
            continue
        ours = "reflect" if conv.padding_mode == "reflect" else "zero"
        theirs = "reflect" if kind == "reflect" else "zero"
        if ours != theirs:
            wrong.append(f"{path} ({theirs} in the checkpoint, {ours} here)")
    cfg = generator.cfg
    if cfg.arch == "oasis" and evidence.get("fc") is not None:
        # Officially only VA-OASIS reflect-pads fc, and VA-OASIS (only) runs its block convs
        # valid and reflect-pads their outputs; the keys cannot show that, the fc layout can.
        va_layout = evidence["fc"] == "reflect"
        if va_layout != cfg.pad_after_block_conv:
            wrong.append(f"block convs ({'valid convs, output reflect-padded' if va_layout else 'zero-padded'} "
                         f"in the official {'VA-OASIS' if va_layout else 'OASIS'}; "
                         f"pad_after_block_conv={cfg.pad_after_block_conv} here)")
    if wrong:
        raise UserError(
            f"{source} was trained with other padding than {_describe(generator)}: "
            f"{_preview(wrong)}. Likely fix: the VASIS models (--pad reflect) need padding='reflect' "
            f"(the va-* presets), SPADE/CLADE/OASIS padding='zero'; VA-OASIS is the va-oasis preset "
            f"(reflect, zero-padded shared conv).")


def load_official(path_or_state_dict, model: str, dataset: str, *, trust: bool = False,
                  source: str | None = None, **overrides) -> nn.Module:
    """The suite generator ``build_generator(model, dataset, **overrides)`` with official weights.

    Accepts a checkpoint path, a state dict, or a dict wrapping one (e.g. ``{'state_dict': sd}``);
    files are read with ``torch.load(map_location='cpu', weights_only=True)`` and a DataParallel
    ``module.`` prefix is stripped. A file that only reads with full unpickling (which runs any
    code the pickle names) is refused with a :class:`vasis.errors.UserError` unless
    ``trust=True``. Supported checkpoints (generator only):

    - SPADE / CLADE / CLADE-ICPE ``checkpoints/<name>/latest_net_G.pth`` (NVlabs/SPADE,
      tzt101/CLADE): ``class_specified_affine.weight/bias`` -> ``class_gamma/class_beta``,
      ``class_specified_affine.dist_conv_w/_b`` -> ``conv_pos_gamma/conv_pos_beta``.
    - VA-SPADE / VA-CLADE ``<epoch>_net_G.pth`` (xml94/VASIS): reflect-padded convs are
      ``Sequential(ReflectionPad2d, Conv2d)`` there (``fc.1.*``, ``conv_img.1.*``,
      ``mlp_shared.1.*``, ``mlp_gamma.1.*``), plain convs with ``padding_mode='reflect'`` here;
      VA-CLADE's ``class_specified_affine.{gamma_seg,beta_seg,...}`` move up to the norm.
    - OASIS / VA-OASIS ``checkpoints/<name>/models/{best,latest,<iter>}_{G,EMA}.pth``:
      ``first_norm`` -> ``param_free_norm``. On COCO-Stuff OASIS feeds label ``raw+1`` with
      don't-care in channel 0, the suite puts don't-care after the classes: the label input
      channels of ``fc`` and every ``mlp_shared`` conv, and the rows of VA-OASIS's noise tables,
      are permuted (behind the first ``z_dim`` channels with 3D noise). Cityscapes and ADE20K
      (raw ids, 0 = other, in every official model and in the suite) need none.

    Strictness: after mapping, any missing or unexpected key, any shape mismatch, and any padding
    the checkpoint's layout contradicts (``fc.1`` = reflect, ``fc`` = zero; an OASIS-arch ``fc.1``
    = VA-OASIS, whose block convs are valid with reflect-padded outputs) raise ``ValueError``
    naming the keys, the source and the likely fix. The only entries ever filled in are BatchNorm
    ``num_batches_tracked`` counters missing from checkpoints of torch < 0.4.1 (a counter the
    forward does not read). The only entries ever dropped are noise tables an official
    ``--mode_noise random_*`` model keeps but never reads (VA-SPADE two, VA-CLADE all four), and
    only when the suite model is built with ``noise='random'``. Official VA-CLADE creates all four
    tables in every noise mode; the suite's ``noise='semantic'`` is ``norm_*`` and uses all four
    (a ``mul_*`` VA-SPADE checkpoint lacks the offset tables and is refused as missing keys).
    Old spectral-norm checkpoints without ``weight_v`` (torch < 1.0) are not converted.

    Kernel switches: an official ``--kernel 1`` (VASIS) checkpoint needs ``block_kernel_size=1``
    and ``--kernel_norm 1`` needs ``kernel_size=1``; the keys are the same, only the conv shapes
    differ, and a mismatch names the override (docs/switches.md).

    The generator is returned in eval mode, as the official test scripts run it (running BN
    statistics; the VASIS noise is still drawn each forward).
    """

    state_dict, source = read_state_dict(path_or_state_dict, trust=trust, source=source)
    generator = build_generator(model, dataset, **overrides)
    mapped = convert_official_state_dict(state_dict, generator, source=source, model=model)
    generator.load_state_dict(mapped, strict=True)
    return generator.eval()
