"""Model surgery: copies of a generator with another padding, norm-conv or residual-conv kernel.

Both functions return a modified **deep copy** and never touch the generator they are given.
The copy's ``cfg`` (a frozen :class:`vasis.config.GeneratorConfig`) is replaced with
``dataclasses.replace`` so that ``copy.cfg`` describes what the copy now is, and the copy has the
same structure (and state-dict keys) as ``build_generator`` would give for that config.

Foreign models (issue 11): :func:`swap_padding` works on any ``nn.Module``; the kernel swaps
take ``convs=`` (module names or a predicate) on a network the suite did not build, which has
no ``cfg`` to keep in step and no suite classes to find its norm or block convs by.

The probes answer the question of VASIS section 3: does class-level mode collapse come from
what a conv sees *across a border* (padding) or *across a class boundary* (the 3x3 convs inside
the conditional norms, :func:`swap_norm_kernel`, and of the residual blocks,
:func:`swap_block_kernel`: the official VASIS ``--kernel_norm`` and ``--kernel``; see
``docs/switches.md``)?
"""
from __future__ import annotations

import copy
import difflib
from dataclasses import replace
from typing import Callable, Iterable, Union

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from vasis.config import GeneratorConfig
from vasis.models.blocks import ConditionalResBlock
from vasis.models.layers import conv2d
from vasis.models.norms import ConditionalNorm
from vasis.errors import UserError

__all__ = ["swap_padding", "swap_norm_kernel", "swap_block_kernel", "padded_convs", "norm_convs",
           "block_convs", "clone_module", "pad_modules", "padding_of", "select_convs"]

_TORCH_MODE = {"zero": "zeros", "reflect": "reflect"}

#: ``convs=`` of the kernel swaps: module names, or a predicate called as ``(name, conv)`` for
#: every ``nn.Conv2d`` of the model.
ConvSelection = Union[Iterable[str], Callable[[str, nn.Module], bool]]

# Explicit 2-D padding layers that swap_padding replaces (a ConstantPad2d only when its value
# is 0: another constant is a design choice, not a border rule). Zero padding is ZeroPad2d.
_PAD_LAYERS = tuple(c for c in (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d,
                                nn.ReplicationPad2d, getattr(nn, "CircularPad2d", None)) if c)
_PAD_NAMES = {nn.ReflectionPad2d: "reflect", nn.ReplicationPad2d: "replicate"}
if hasattr(nn, "CircularPad2d"):
    _PAD_NAMES[nn.CircularPad2d] = "circular"


def clone_module(module: nn.Module) -> nn.Module:
    """``copy.deepcopy`` that also works after a grad-enabled forward of spectral-norm'd convs.

    torch's spectral norm stores the normalized ``weight`` as a plain (non-leaf) attribute,
    which ``deepcopy`` refuses; those are copied detached (the hook recomputes them anyway).
    """
    memo = {}
    for m in module.modules():
        for value in vars(m).values():
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    return copy.deepcopy(module, memo)


def _normalize_padding(to: str) -> str:
    key = {"zeros": "zero", "zero": "zero", "reflect": "reflect"}.get(str(to).lower())
    if key is None:
        raise UserError(f"padding must be 'zero' or 'reflect', got {to!r}")
    return key


def padded_convs(gen: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """(name, conv) of every ``nn.Conv2d`` of ``gen`` that pads its input (padding != 0)."""
    return [(name, m) for name, m in gen.named_modules()
            if isinstance(m, nn.Conv2d) and any(p != 0 for p in _padding_of(m))]


def _padding_of(conv: nn.Conv2d) -> tuple[int, ...]:
    pad = conv.padding
    if isinstance(pad, str):  # 'valid', or 'same': d * (k - 1) in all, split by torch
        return (0,) if pad == "valid" else tuple(
            d * (k - 1) for k, d in zip(conv.kernel_size, conv.dilation))
    return tuple(pad)


def _set_mode(conv: nn.Conv2d, mode: str) -> None:
    """Give a conv another padding mode, keeping its padding amounts and weights."""
    conv.padding_mode = _TORCH_MODE[mode]
    if not isinstance(conv.padding, str):
        # Used by torch when padding_mode != 'zeros': (left, right, top, bottom). torch sets it
        # for string paddings ('same') itself, asymmetric amounts included.
        conv._reversed_padding_repeated_twice = [p for p in reversed(conv.padding) for _ in range(2)]


def pad_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, layer) of the explicit 2-D padding layers :func:`swap_padding` swaps:
    ``ZeroPad2d``, ``ConstantPad2d`` with value 0, ``ReflectionPad2d``, ``ReplicationPad2d``,
    ``CircularPad2d``."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _PAD_LAYERS)
            and (not isinstance(m, nn.ConstantPad2d) or float(m.value) == 0.0)]


def _pad_kind(layer: nn.Module) -> str:
    return "zero" if isinstance(layer, nn.ConstantPad2d) else _PAD_NAMES[type(layer)]


def padding_of(model: nn.Module) -> str | None:
    """How ``model`` pads: ``'zero'``, ``'reflect'`` (or ``'replicate'`` / ``'circular'``) when
    every padded ``Conv2d`` and every padding layer of :func:`pad_modules` agree, ``'mixed'``
    when they do not, ``None`` when nothing pads. A suite generator reports ``cfg.padding``.
    Padding done with ``F.pad`` inside a ``forward`` is code, not a module: it is not seen."""
    cfg = getattr(model, "cfg", None)
    if isinstance(cfg, GeneratorConfig):
        return cfg.padding
    kinds = {"zero" if c.padding_mode == "zeros" else c.padding_mode for _, c in padded_convs(model)}
    kinds |= {_pad_kind(m) for _, m in pad_modules(model)}
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, new)


def _set_padding(conv: nn.Conv2d, padding: tuple[int, int], mode: str) -> None:
    """Give a conv another 'same' padding and padding mode, keeping its weights."""
    conv.padding = tuple(padding)
    conv.padding_mode = _TORCH_MODE[mode]
    # Used by torch when padding_mode != 'zeros': (left, right, top, bottom).
    conv._reversed_padding_repeated_twice = [p for p in reversed(conv.padding) for _ in range(2)]


def swap_padding(gen: nn.Module, to: str = "reflect") -> nn.Module:
    """A deep copy of ``gen`` whose padded convs all pad with ``to`` ('reflect' or 'zero').

    Works on any ``nn.Module``. Every ``nn.Conv2d`` with a non-zero padding (in the suite's
    generators ``fc``, ``conv_img``, the residual blocks' 3x3 convs and the SPADE-norm convs
    ``mlp_shared[0]``, ``mlp_gamma``, ``mlp_beta``) gets ``padding_mode`` ``'reflect'`` or
    ``'zeros'`` with its padding amounts kept; 1x1 convs have nothing to pad and stay as they
    are. Spectral-norm'd convs need nothing special: padding does not touch the weight.

    Explicit padding layers (:func:`pad_modules`: ``ZeroPad2d``, ``ConstantPad2d`` with value
    0, ``ReflectionPad2d``, ``ReplicationPad2d``, ``CircularPad2d``; the official VASIS code's
    ``Sequential(ReflectionPad2d, Conv2d)`` for instance) are replaced in the copy by
    ``ReflectionPad2d`` / ``ZeroPad2d`` with the same amounts. A ``ConstantPad2d`` with another
    value is left alone, and so is padding written as ``F.pad`` in a ``forward`` (code, not a
    module; :func:`padding_of` cannot see it either). The suite's generators have no padding
    layers.

    VA-OASIS (``cfg.pad_after_block_conv``): its block convs are *valid* convs whose output is
    reflect-padded back to size. Their padding is defined as follows:

    * ``to='reflect'``: those blocks are left as they are (they already pad with reflection;
      this is the published VA-OASIS design).
    * ``to='zero'``: they become ordinary zero-padded convs (padding 1 *before* the conv, i.e.
      exactly OASIS's block; same weights, same spatial alignment in the interior). Zero-padding
      *after* the valid conv instead would not pad the conv's input at all: it would hard-wire
      the border ring of every residual branch to the constant 0 whatever the input, an output
      artefact rather than a padding, and a model that no published configuration describes.
      The padded-conv choice keeps the copy identical to
      ``build_generator(..., padding='zero', pad_after_block_conv=False)`` with these weights.

    The copy's ``cfg`` reports ``padding=to``; ``norm.shared_padding`` becomes ``None``
    (VA-OASIS's zero-padded shared norm conv is swapped too, so every conv follows ``to``),
    and ``pad_after_block_conv`` becomes False when ``to='zero'``.
    """
    to = _normalize_padding(to)
    new = clone_module(gen)
    for _, conv in padded_convs(new):
        _set_mode(conv, to)
    for name, layer in pad_modules(new):
        if _pad_kind(layer) != to:
            layer_cls = nn.ReflectionPad2d if to == "reflect" else nn.ZeroPad2d
            _replace(new, name, layer_cls(tuple(layer.padding)))
    if to == "zero":
        for module in new.modules():
            if isinstance(module, ConditionalResBlock) and module.pad_after_conv:
                for conv in (module.conv_0, module.conv_1):
                    k = conv.kernel_size
                    _set_padding(conv, (k[0] // 2, k[1] // 2), "zero")
                module.pad_after_conv = False
    cfg = getattr(new, "cfg", None)
    if cfg is not None:
        norm_cfg = replace(cfg.norm, shared_padding=None)
        gen_kw = {"padding": to, "norm": norm_cfg}
        if to == "zero" and getattr(cfg, "pad_after_block_conv", False):
            gen_kw["pad_after_block_conv"] = False
        new.cfg = replace(cfg, **gen_kw)
        _update_norm_cfgs(new, norm_cfg)
    return new


def norm_convs(gen: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """(name, conv) of the convs inside the SPADE-modulated conditional norms."""
    out = []
    for name, norm in gen.named_modules():
        if isinstance(norm, ConditionalNorm) and norm.cfg.modulation == "spade":
            out += [(f"{name}.mlp_shared.0", norm.mlp_shared[0]),
                    (f"{name}.mlp_gamma", norm.mlp_gamma), (f"{name}.mlp_beta", norm.mlp_beta)]
    return out


def _effective_weight(conv: nn.Conv2d) -> torch.Tensor:
    """The weight the conv computes with; for a spectral-norm'd conv W / sigma (eval-mode sigma).

    torch's classic spectral-norm hook: from ``weight_orig`` and the stored u, v. A
    ``torch.nn.utils.parametrize`` parametrization (the newer spectral norm, weight norm, ...):
    the weight it computes in eval mode (no power iteration), under ``no_grad``."""
    if hasattr(conv, "weight_orig"):
        w = conv.weight_orig.detach()
        u, v = conv.weight_u.detach(), conv.weight_v.detach()
        sigma = torch.dot(u, w.reshape(w.shape[0], -1) @ v)
        return w / sigma
    if parametrize.is_parametrized(conv, "weight"):
        was = conv.training
        conv.eval()
        try:
            with torch.no_grad():
                return conv.weight.detach().clone()
        finally:
            conv.train(was)
    return conv.weight.detach()


def _new_conv(old: nn.Conv2d, weight: torch.Tensor) -> nn.Conv2d:
    """A plain conv holding ``weight`` (k x k) with ``old``'s stride, dilation, groups, bias and
    padding mode, padded so that its output is aligned with ``old``'s ('same' padding)."""
    k = weight.shape[-1]
    dil = old.dilation[0]
    conv = nn.Conv2d(old.in_channels, old.out_channels, k, stride=old.stride,
                     padding=dil * (k // 2), dilation=old.dilation, groups=old.groups,
                     bias=old.bias is not None, padding_mode=old.padding_mode)
    conv = conv.to(device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if old.bias is not None:
            conv.bias.copy_(old.bias.detach())
    conv.train(old.training)
    return conv


def _resized_kernel(w: torch.Tensor, to: int, mode: str) -> torch.Tensor:
    """A (out, in, k, k) weight as a (out, in, to, to) one: 3x3 -> 1x1 by the sum of the taps
    (``mode='sum'``) or the centre tap (``'center'``); 1x1 -> 3x3 as the centre tap, zeros
    around. Linear in ``w``, so it commutes with a spectral norm's division by sigma."""
    k = w.shape[-1]
    if k == to:
        return w.clone()
    if to == 1:
        c = k // 2
        return w.sum((2, 3), keepdim=True) if mode == "sum" else w[:, :, c:c + 1, c:c + 1].clone()
    big = w.new_zeros(w.shape[0], w.shape[1], to, to)
    big[:, :, to // 2, to // 2] = w[:, :, 0, 0]
    return big


def _check_kernel_args(to, mode) -> None:
    if to not in (1, 3):
        raise UserError(f"kernel size must be 1 or 3, got {to!r}")
    if mode not in ("sum", "center"):
        raise UserError(f"mode must be 'sum' or 'center', got {mode!r}")


def _convert(conv: nn.Conv2d, to: int, mode: str) -> nn.Conv2d:
    if conv.kernel_size[0] == to:
        return conv
    return _new_conv(conv, _resized_kernel(_effective_weight(conv), to, mode))


def _is_suite(model: nn.Module) -> bool:
    return isinstance(getattr(model, "cfg", None), GeneratorConfig)


def select_convs(model: nn.Module, convs: ConvSelection, what: str = "convs") -> list[str]:
    """Names of the ``nn.Conv2d`` modules ``convs`` selects: module names (as in
    ``model.named_modules()``), or a predicate ``(name, conv) -> bool`` called for every
    ``nn.Conv2d``. Raises :class:`UserError` for an unknown name (with close names), a name
    that is no ``nn.Conv2d``, or an empty selection."""
    named = dict(model.named_modules())
    conv_names = _conv_names(model)
    if callable(convs):
        names = [n for n in conv_names if convs(n, named[n])]
    else:
        names = [convs] if isinstance(convs, str) else list(convs)
        for n in names:
            if not isinstance(n, str) or n not in named:
                close = difflib.get_close_matches(str(n), conv_names, n=5)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise UserError(
                    f"{what}: {type(model).__name__} has no module {n!r}.{hint} Its convs: "
                    f"{_short_list(conv_names)}")
            if not isinstance(named[n], nn.Conv2d):
                raise UserError(f"{what}: {n!r} is a {type(named[n]).__name__}, not an "
                                f"nn.Conv2d; name the convs themselves (its convs: "
                                f"{_short_list(conv_names)})")
    if not names:
        raise UserError(f"{what} selects no nn.Conv2d of {type(model).__name__}; its convs: "
                        f"{_short_list(conv_names)}")
    return list(dict.fromkeys(names))


def _conv_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if n and isinstance(m, nn.Conv2d)]


def _short_list(names: list[str], limit: int = 12) -> str:
    if not names:
        return "none"
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _check_swappable(name: str, conv: nn.Conv2d) -> None:
    """A conv whose kernel can be resized in place: square, padded to keep the size."""
    k, d = conv.kernel_size, conv.dilation
    if k[0] != k[1] or k[0] % 2 == 0:
        raise UserError(f"conv {name!r} has kernel {tuple(k)}: only square odd kernels (1x1, "
                        f"3x3, ...) can be swapped; leave it out of convs=")
    if d[0] != d[1]:
        raise UserError(f"conv {name!r} has dilation {tuple(d)}: only equal dilations can be "
                        f"swapped; leave it out of convs=")
    pad = conv.padding
    if pad != "same" and tuple(pad) != (d[0] * (k[0] // 2),) * 2:
        raise UserError(
            f"conv {name!r} has padding {pad!r} for kernel {tuple(k)}: a kernel swap keeps the "
            f"output size only for 'same' padding (dilation * (k // 2) = {d[0] * (k[0] // 2)}); "
            f"leave it out of convs=")


def _swap_selected(model: nn.Module, convs: ConvSelection, to: int, mode: str,
                   what: str) -> nn.Module:
    """The foreign-model kernel swap: a copy whose selected convs are ``to`` x ``to`` convs
    holding the resized effective weight (plain convs, see :func:`_new_conv`)."""
    names = select_convs(model, convs, what)
    named = dict(model.named_modules())
    for n in names:
        _check_swappable(n, named[n])
    new = clone_module(model)
    named = dict(new.named_modules())
    for n in names:
        _replace(new, n, _convert(named[n], to, mode))
    return new


def _foreign_kernel_swap(gen, convs, to, mode, func: str, finds: type, what: str):
    """``convs=`` handling shared by both kernel swaps: ``None`` for a suite-built model
    (returned as ``None``: the caller does the suite's swap), the generic swap otherwise."""
    suite = _is_suite(gen) or any(isinstance(m, finds) for m in gen.modules())
    if convs is None:
        if suite:
            return None
        raise UserError(
            f"{func}: {type(gen).__name__} was not built by the suite, so its {what} cannot be "
            f"found by class; pass convs= (a list of conv names, or a predicate "
            f"(name, module) -> bool), e.g. {func}(model, {to}, convs=lambda name, m: "
            f"'norm' in name). Its convs: {_short_list(_conv_names(gen))}")
    if _is_suite(gen):
        raise UserError(
            f"{func}: convs= is for models the suite did not build; a suite generator's cfg "
            f"gives one kernel size to all its {what}, so call {func}(gen, {to}) without convs=")
    return _swap_selected(gen, convs, to, mode, f"{func}(convs=...)")


def swap_norm_kernel(gen: nn.Module, to: int = 1, mode: str = "sum", *,
                     convs: ConvSelection | None = None) -> nn.Module:
    """A deep copy of ``gen`` whose conditional-norm convs have kernel size ``to`` (1 or 3).

    Affects ``mlp_shared[0]``, ``mlp_gamma`` and ``mlp_beta`` of every SPADE-modulated
    :class:`~vasis.models.norms.ConditionalNorm` (CLADE norms have no convs; only their
    ``cfg.kernel_size`` is updated). The residual-block convs are not touched.

    3x3 -> 1x1:

    * ``mode='sum'`` (default): the 1x1 weight is the sum of the nine taps. Inside a region
      where the conv's input is constant (a uniform class region, away from any boundary) a 3x3
      conv computes exactly ``sum(taps) @ x + b``, so the copy produces *the same output there*;
      what changes is only what the 3x3 conv saw across a class boundary or across the image
      border (padding). The difference between the two models therefore isolates the
      boundary/border information of the norm convs, which is the hypothesis being probed; it
      is the default for that reason.
    * ``mode='center'``: the 1x1 weight is the centre tap. This is what one would get by
      dropping the neighbours, but it also rescales the response in uniform regions, so it
      changes the whole map, not only boundaries.

    1x1 -> 3x3 puts the 1x1 weight in the centre tap, other taps zero: exact everywhere
    (the centre tap never sees padding), ``mode`` is ignored.

    A spectral-norm'd conv (none in the presets) is replaced by a plain conv holding its
    effective weight W/sigma (sigma from its stored u, v as in eval mode), so the copy
    computes what the original computed in eval mode. The new convs keep the bias and padding
    mode. The copy's ``cfg.norm.kernel_size`` (and every norm's ``cfg``) reports ``to``.

    A model the suite did not build (no suite ``cfg``, no
    :class:`~vasis.models.norms.ConditionalNorm`) needs ``convs=``: the names of its norm
    convs, or a predicate ``(name, conv) -> bool`` (see :func:`select_convs`). Each selected
    conv (square odd kernel, 'same' padding; stride, dilation, groups are kept) becomes a plain
    conv with the resized effective weight, by the rules above. A suite generator refuses
    ``convs=`` (its ``cfg`` has one kernel for all norm convs).
    """
    _check_kernel_args(to, mode)
    foreign = _foreign_kernel_swap(gen, convs, to, mode, "swap_norm_kernel", ConditionalNorm,
                                   "norm convs")
    if foreign is not None:
        return foreign
    new = clone_module(gen)
    for norm in new.modules():
        if isinstance(norm, ConditionalNorm) and norm.cfg.modulation == "spade":
            norm.mlp_shared[0] = _convert(norm.mlp_shared[0], to, mode)
            norm.mlp_gamma = _convert(norm.mlp_gamma, to, mode)
            norm.mlp_beta = _convert(norm.mlp_beta, to, mode)
    cfg = getattr(new, "cfg", None)
    if cfg is not None:
        norm_cfg = replace(cfg.norm, kernel_size=to)
        new.cfg = replace(cfg, norm=norm_cfg)
        _update_norm_cfgs(new, norm_cfg)
    return new


def _update_norm_cfgs(gen: nn.Module, norm_cfg) -> None:
    for module in gen.modules():
        if isinstance(module, ConditionalNorm):
            module.cfg = norm_cfg


def block_convs(gen: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """(name, conv) of the residual blocks' ``conv_0`` / ``conv_1`` (not the 1x1 ``conv_s``)."""
    out = []
    for name, block in gen.named_modules():
        if isinstance(block, ConditionalResBlock):
            out += [(f"{name}.conv_0", block.conv_0), (f"{name}.conv_1", block.conv_1)]
    return out


def _block_conv(conv: nn.Conv2d, to: int, mode: str, valid: bool) -> nn.Conv2d:
    """``conv`` as a ``to`` x ``to`` conv built like the generator builds it (same spectral
    norm, padding mode, bias) and computing the resized effective weight in eval mode."""
    if conv.kernel_size[0] == to:
        return conv
    spectral = hasattr(conv, "weight_orig")
    new = conv2d(conv.in_channels, conv.out_channels, to, bias=conv.bias is not None,
                 padding="reflect" if conv.padding_mode == "reflect" else "zero",
                 spectral=spectral)
    if valid:  # VA-OASIS: valid convs, the block pads their output
        new.padding = (0, 0)
    ref = conv.weight_orig if spectral else conv.weight
    new = new.to(device=ref.device, dtype=ref.dtype)
    with torch.no_grad():
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
        if not spectral:
            new.weight.copy_(_resized_kernel(conv.weight, to, mode))
        else:
            # Eval-mode spectral norm divides weight_orig by sigma = u . (W v) with the stored
            # u, v. The raw weight is resized (linear, so W/sigma is resized alike) and v is
            # chosen so that the new u . (W' v') is the old sigma: the copy computes exactly
            # the resized effective weight. u is refined by a few power iterations on W' so a
            # later train-mode pass starts near W''s own largest singular vector.
            w = _resized_kernel(conv.weight_orig, to, mode)
            u, v = conv.weight_u, conv.weight_v
            sigma = torch.dot(u, conv.weight_orig.reshape(w.shape[0], -1) @ v)
            mat = w.reshape(w.shape[0], -1)
            for _ in range(8):
                u = nn.functional.normalize(mat @ nn.functional.normalize(mat.t() @ u, dim=0),
                                            dim=0)
            wt_u = mat.t() @ u
            new.weight_orig.copy_(w)
            new.weight_u.copy_(u)
            new.weight_v.copy_(wt_u * (sigma / wt_u.dot(wt_u)))
    new.train(conv.training)
    return new


def swap_block_kernel(gen: nn.Module, to: int = 1, mode: str = "sum", *,
                      convs: ConvSelection | None = None) -> nn.Module:
    """A deep copy of ``gen`` whose residual blocks' ``conv_0`` / ``conv_1`` have kernel ``to``.

    The surgery twin of :func:`swap_norm_kernel` for the official VASIS ``--kernel`` switch
    (``GeneratorConfig.block_kernel_size``): the copy has the structure, state-dict keys and
    shapes and the ``cfg`` of ``build_generator(..., block_kernel_size=to)`` (spectral norm
    included), so it can be saved, reloaded or trained further like a built model. The stem
    (``fc``), ``conv_img``, the 1x1 shortcut ``conv_s`` and the norms are not touched; this is
    the only kernel swap that changes CLADE-type models, whose norms have no convs.

    The weights follow the same rules as :func:`swap_norm_kernel` (one shared helper):
    3x3 -> 1x1 ``mode='sum'`` (default) keeps the response wherever the block conv's input is
    spatially constant (a uniform class far from boundaries and borders, e.g. every block of a
    baseline under reflect padding on one class), so the copy differs only by what the 3x3
    convs saw across class boundaries and the image border; ``mode='center'`` keeps the centre
    tap, which also rescales the response in uniform regions. 1x1 -> 3x3 puts the 1x1 weight
    at the centre tap, zeros around: exact everywhere, ``mode`` ignored.

    The copy computes exactly that resized *effective* weight (W / sigma) in eval mode, with
    the generator's stored spectral-norm vectors (see :func:`_block_conv`). In train mode the
    spectral norm re-normalises the new weight by its own largest singular value, as in any
    model built with ``block_kernel_size=to``. A 1x1 conv pads nothing, so the copy of a
    reflect-padded model (the VA presets) is ``padding='reflect'`` with 1x1 block convs, a
    combination the official code refuses but the suite builds (docs/switches.md).

    A model the suite did not build needs ``convs=`` (its residual convs by name or predicate),
    exactly as in :func:`swap_norm_kernel`; the selected convs become plain convs holding the
    resized effective weight (a spectral norm is folded in, as for the norm convs).
    """
    _check_kernel_args(to, mode)
    foreign = _foreign_kernel_swap(gen, convs, to, mode, "swap_block_kernel",
                                   ConditionalResBlock, "residual-block convs")
    if foreign is not None:
        return foreign
    new = clone_module(gen)
    for block in new.modules():
        if isinstance(block, ConditionalResBlock):
            block.conv_0 = _block_conv(block.conv_0, to, mode, block.pad_after_conv)
            block.conv_1 = _block_conv(block.conv_1, to, mode, block.pad_after_conv)
    cfg = getattr(new, "cfg", None)
    if cfg is not None:
        new.cfg = replace(cfg, block_kernel_size=to)
    return new
