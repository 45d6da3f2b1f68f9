"""The conditional normalization family: SPADE, CLADE (+ICPE), OASIS and the VASIS switches.

out = norm(x) * (1 + gamma) + beta   for SPADE modulation (SPADE, OASIS, VA-SPADE, VA-OASIS)
out = norm(x) * gamma + beta         for CLADE modulation (CLADE, CLADE-ICPE, VA-CLADE)

gamma and beta are built in three independent steps, each a switch of :class:`NormConfig`:
1. the label feature: convs on the label map (SPADE) or a per-class table lookup (CLADE), with
   ``seg_nc`` channels (all C, or C/2 when semantic noise is concatenated);
2. the position code (absolute / learnable / relative), which modulates the label feature
   multiplicatively through zero-initialised 1x1 convs: f * (1 + conv(pos));
3. the noise (semantic / random), concatenated to or averaged with the label feature.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import NormConfig
from . import cpu_kernels, label_patches
from .label_patches import LabelCodes
from .layers import (conv2d, conv_relu, eval_norm_affine, has_foreign_hooks, is_nhwc, lookup,
                     onehot_ids, padded_input, param_free_norm, parameter_cached, resize_ids,
                     resize_nearest, run_norm)


def absolute_position_grid(height: int, width: int) -> torch.Tensor:
    """(2, H, W) normalized (row, col) coordinates in [-1, 1), as the official VASIS code."""
    rows = torch.arange(height, dtype=torch.float32) / height * 2 - 1
    cols = torch.arange(width, dtype=torch.float32) / width * 2 - 1
    return torch.stack([rows[:, None].expand(height, width), cols[None, :].expand(height, width)])


def noise_split(cfg: NormConfig, channels: int) -> tuple[int, int]:
    """(label-feature channels, noise channels) of a norm over ``channels`` features.

    Concatenated noise takes the upper half of the channels (C - C//2); averaged noise has all
    C. ``noise_channels='one'`` does not change these counts: as in the official code it gives
    each class a single learnable scale and shift shared by all noise channels.
    """
    if cfg.noise == "none":
        return channels, 0
    if cfg.noise_combine == "plus":
        return channels, channels
    return channels // 2, channels - channels // 2


def class_ids(seg: torch.Tensor, semantic: slice) -> torch.Tensor:
    """(N, H, W) class ids of a conditioning map: the argmax of its one-hot channels (taken
    as :func:`~vasis.models.layers.onehot_ids` where the channels are one-hot)."""
    onehot = seg[:, semantic]
    ids = onehot_ids(onehot)
    return onehot.argmax(1) if ids is None else ids


def _fusable(a: nn.Module, b: nn.Module) -> bool:
    """Two plain convs of the same geometry, without hooks (complexity counters such as
    ptflops count convs through their forward hooks, so hooked convs run as modules)."""
    if type(a) is not nn.Conv2d or type(b) is not nn.Conv2d:
        return False
    if has_foreign_hooks(a) or has_foreign_hooks(b):
        return False
    same = ("in_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode")
    return all(getattr(a, k) == getattr(b, k) for k in same) and \
        (a.bias is None) == (b.bias is None) and a.weight.dtype == b.weight.dtype


def _stacked_conv(x, wa, wb, ba, bb, stride, padding, dilation, groups):
    """conv2d(x, cat([w_a, w_b]), cat([b_a, b_b])): two convs of one input as one."""
    bias = torch.cat([ba, bb]) if ba is not None else None
    return F.conv2d(x, torch.cat([wa, wb]), bias, stride, padding, dilation, groups)


class _StackedConv(torch.autograd.Function):
    """conv2d(x, cat([w_a, w_b]), cat([b_a, b_b])) that keeps only the separate weights for the
    backward (the stacked copy is rebuilt there), so memory stays that of two convs; the
    gradients are exactly those autograd gives for the stacked conv."""

    @staticmethod
    def forward(ctx, x, wa, wb, ba, bb, stride, padding, dilation, groups):
        ctx.save_for_backward(x, wa, wb)
        ctx.conf = (stride, padding, dilation, groups, ba is not None)
        return _stacked_conv(x, wa, wb, ba, bb, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        x, wa, wb = ctx.saved_tensors
        stride, padding, dilation, groups, has_bias = ctx.conf
        weight = torch.cat([wa, wb])
        need = ctx.needs_input_grad
        gx, gw, gb = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[0]] if has_bias else None, stride, padding, dilation,
            False, [0, 0], groups, [need[0], need[1] or need[2], has_bias and (need[3] or need[4])])
        n = wa.shape[0]
        gwa, gwb = (gw[:n], gw[n:]) if gw is not None else (None, None)
        gba, gbb = (gb[:n], gb[n:]) if gb is not None else (None, None)
        return gx, gwa, gwb, gba, gbb, None, None, None, None


def _gamma_beta(conv_g: nn.Module, conv_b: nn.Module, actv: torch.Tensor,
                one_plus_gamma: bool = False):
    """``conv_g(actv), conv_b(actv)`` computed as one conv with both weights stacked; the first
    map is ``1 + conv_g(actv)`` with ``one_plus_gamma`` (without gradients added in place to
    the stacked conv's new output, which nothing else holds: the same floats, no new map).

    Each output channel of a conv is its own dot product, so the forward is bit-identical to two
    convs (the official layout keeps two modules and two state-dict entries, and so does the
    suite); one conv reads ``actv`` once and is up to ~1.9x faster on the CPU. In the backward
    the gradient w.r.t. ``actv`` is one sum over 2C channels instead of two sums added, so
    gradients differ at float rounding (tests/test_models.py checks them against two convs).
    """
    # --channels-last's NHWC weights and --amp (autocast dtypes) take the modules' own path.
    if not _fusable(conv_g, conv_b) or not (actv.is_contiguous() or is_nhwc(actv)) or \
            not conv_g.weight.is_contiguous() or torch.is_autocast_enabled(actv.device.type):
        gamma = conv_g(actv)
        return (1 + gamma if one_plus_gamma else gamma), conv_b(actv)
    actv, padding = padded_input(conv_g, actv)
    # without gradients there is no backward to shape: the plain stacked conv, no Function
    stacked = _StackedConv.apply if torch.is_grad_enabled() else _stacked_conv
    out = stacked(actv, conv_g.weight, conv_b.weight, conv_g.bias, conv_b.bias,
                  conv_g.stride, padding, conv_g.dilation, conv_g.groups)
    gamma, beta = out.split_with_sizes([conv_g.out_channels, conv_b.out_channels], 1)
    if one_plus_gamma:
        gamma = 1 + gamma if torch.is_grad_enabled() else gamma.add_(1)
    return gamma, beta


def _shared(seq: nn.Module, seg: torch.Tensor) -> torch.Tensor:
    """``mlp_shared(seg)`` (a conv, then a ReLU): as functions where nothing hooks the modules,
    the ReLU in place on the conv's new output (the same floats, two module calls less)."""
    parts = conv_relu(seq)
    if parts is None:
        return seq(seg)
    conv, relu = parts
    if has_foreign_hooks(seq) or has_foreign_hooks(conv) or has_foreign_hooks(relu):
        return seq(seg)
    x, padding = padded_input(conv, seg)
    return F.relu_(F.conv2d(x, conv.weight, conv.bias, conv.stride, padding, conv.dilation,
                            conv.groups))


def _modulate(beta: torch.Tensor, normalized: torch.Tensor, scale: torch.Tensor):
    """``normalized * scale + beta`` as one fused multiply-add (``addcmul``: float rounding
    differs from a multiply then an add). Without gradients into ``beta``'s own buffer (a new
    map of the label feature; no full-size buffer more)."""
    if torch.is_grad_enabled() or beta.shape != normalized.shape or \
            not (beta.is_contiguous() or is_nhwc(beta)):
        return torch.addcmul(beta, normalized, scale)
    return beta.addcmul_(normalized, scale)


class ConditionalNorm(nn.Module):
    """One conditional normalization layer.

    Args:
        cfg: the switches.
        channels: C, the channels of the normalized feature.
        cond_nc: channels of the conditioning map the layer receives (one-hot label map, plus
            don't-care, instance-edge and OASIS 3D-noise channels where present).
        semantic: ``slice`` of the conditioning channels holding the one-hot classes; class ids
            are their argmax. Tables of CLADE are indexed by it.
        instance_channel: index of the instance-edge channel, or None. CLADE turns it into one
            extra output channel (``inst_conv``) as the official CLADE code does.
        resolution: (H, W) of this layer's feature map; the learnable position code lives there.
        padding: padding of the 3x3 convs ('zero' or 'reflect').
    """

    def __init__(self, cfg: NormConfig, channels: int, cond_nc: int, semantic: slice,
                 instance_channel: int | None, resolution: tuple[int, int], padding: str):
        super().__init__()
        self.cfg = cfg
        self.channels = channels
        self.semantic = semantic
        self.instance_channel = instance_channel
        self.resolution = tuple(resolution)
        self.seg_nc, self.noise_nc = noise_split(cfg, channels)
        self.param_free_norm = param_free_norm(cfg.param_free, channels)
        n_classes = semantic.stop - semantic.start

        if cfg.modulation == "spade":
            ks = cfg.kernel_size
            shared_pad = cfg.shared_padding or padding
            self.mlp_shared = nn.Sequential(
                conv2d(cond_nc, cfg.hidden, ks, padding=shared_pad), nn.ReLU())
            self.mlp_gamma = conv2d(cfg.hidden, self.seg_nc, ks, padding=padding)
            self.mlp_beta = conv2d(cfg.hidden, self.seg_nc, ks, padding=padding)
            # The official VA-SPADE gathers its noise tables with an argmax over every
            # conditioning channel, so the tables have one row per channel.
            table_rows = cond_nc
        else:
            self.class_gamma = nn.Parameter(torch.empty(n_classes, self.seg_nc).uniform_())
            self.class_beta = nn.Parameter(torch.zeros(n_classes, self.seg_nc))
            table_rows = n_classes
            if instance_channel is not None:
                self.inst_conv = nn.Conv2d(1, 1, kernel_size=1)

        if cfg.noise == "semantic":
            cols = 1 if cfg.noise_channels == "one" else self.noise_nc
            self.gamma_noise_gamma = nn.Parameter(torch.rand(table_rows, cols))
            self.beta_noise_gamma = nn.Parameter(torch.rand(table_rows, cols))
            self.gamma_noise_beta = nn.Parameter(torch.zeros(table_rows, cols))
            self.beta_noise_beta = nn.Parameter(torch.zeros(table_rows, cols))

        pos_in = 2 * len(cfg.position)
        if "absolute" in cfg.position:
            self.register_buffer("pos_absolute", absolute_position_grid(*self.resolution),
                                 persistent=False)
        if "learnable" in cfg.position:
            self.gamma_pos_learn = nn.Parameter(torch.randn(2, *self.resolution))
            self.beta_pos_learn = nn.Parameter(torch.randn(2, *self.resolution))
        if pos_in:
            pos_out = 1 if cfg.position_channels == "one" else self.seg_nc
            # Zero init: the position code starts as an identity modulation (1 + 0).
            self.conv_pos_gamma = nn.Conv2d(pos_in, pos_out, 1)
            self.conv_pos_beta = nn.Conv2d(pos_in, pos_out, 1)
            for conv in (self.conv_pos_gamma, self.conv_pos_beta):
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    @property
    def out_channels(self) -> int:
        extra = int(self.cfg.modulation == "clade" and self.instance_channel is not None)
        return self.channels + extra

    def conditioning(self, seg: torch.Tensor, classes: torch.Tensor | None, size,
                     codes: LabelCodes | None = None):
        """(seg, classes, codes) at ``size``: ``seg`` resized (nearest) when it is not there
        yet, with ``classes`` (its class-id map, if given) and ``codes`` (its
        :class:`~vasis.models.label_patches.LabelCodes`, if given) resized alike; the class
        ids computed from ``seg`` when this norm needs them and none were given."""
        if seg.shape[2:] != size:
            seg = resize_nearest(seg, size)
            if classes is not None:
                classes = resize_ids(classes, size)
            if codes is not None:
                codes = codes.resized(size)
        if classes is None and self.cfg.reads_classes:
            classes = class_ids(seg, self.semantic)
        return seg, classes, codes

    # -- the three parts -------------------------------------------------------------------
    def _label_feature(self, seg: torch.Tensor, classes: torch.Tensor | None,
                       codes: LabelCodes | None, one_plus_gamma: bool, nhwc: bool = False):
        """(gamma, beta), or (1 + gamma, beta) with ``one_plus_gamma``; SPADE's maps in
        channels_last with ``nhwc`` (the layout of the normalized features)."""
        if self.cfg.modulation == "spade":
            found = None if codes is None else label_patches.label_feature(
                self.mlp_shared, self.mlp_gamma, self.mlp_beta, codes, one_plus_gamma, nhwc=nhwc)
            if found is not None:
                return found
            if nhwc:   # (the resized map is a strided view: the conv copies it anyway)
                seg = seg.contiguous(memory_format=torch.channels_last)
            return _gamma_beta(self.mlp_gamma, self.mlp_beta, _shared(self.mlp_shared, seg),
                               one_plus_gamma)
        if nhwc:   # a gather each: maps the modulation can write into in place
            gamma = lookup(self.class_gamma, classes, nhwc=True)
            beta = lookup(self.class_beta, classes, nhwc=True)
        else:      # one gather for both tables
            gamma, beta = lookup(torch.cat([self.class_gamma, self.class_beta], 1),
                                 classes).split(self.seg_nc, 1)
        return (1 + gamma if one_plus_gamma else gamma), beta

    def _position_inputs(self, relative: torch.Tensor | None, size):
        """(gamma input, beta input) of the position convs, or None without a position code."""
        if not self.cfg.position:
            return None
        g_parts, b_parts = [], []
        batch = 1 if relative is None else relative.shape[0]
        if "absolute" in self.cfg.position:
            grid = self.pos_absolute.unsqueeze(0).expand(batch, -1, -1, -1)
            g_parts.append(grid)
            b_parts.append(grid)
        if "learnable" in self.cfg.position:
            g_parts.append(self.gamma_pos_learn.unsqueeze(0).expand(batch, -1, -1, -1))
            b_parts.append(self.beta_pos_learn.unsqueeze(0).expand(batch, -1, -1, -1))
        if "relative" in self.cfg.position:
            if relative is None:
                raise ValueError("this norm has a relative position code but got no relative map")
            rel = resize_nearest(relative, size)
            g_parts.append(rel)
            b_parts.append(rel)
        return torch.cat(g_parts, 1), torch.cat(b_parts, 1)

    def _position_factors(self, relative: torch.Tensor | None, size, nhwc: bool = False):
        """(1 + conv_pos_gamma(pos), 1 + conv_pos_beta(pos)), the position code's modulation
        of the label feature, or None without a position code; channels_last with ``nhwc``
        (the layout of the maps they multiply). Absolute and learnable codes depend on the
        parameters only, so generation and evaluation reuse them while those are unchanged
        (:func:`~vasis.models.layers.parameter_cached`)."""
        if not self.cfg.position:
            return None

        def compute():
            pos_g, pos_b = self._position_inputs(relative, size)
            factors = 1 + self.conv_pos_gamma(pos_g), 1 + self.conv_pos_beta(pos_b)
            if nhwc:
                return tuple(f.contiguous(memory_format=torch.channels_last) for f in factors)
            return factors
        convs = (self.conv_pos_gamma, self.conv_pos_beta)
        if "relative" in self.cfg.position or any(has_foreign_hooks(c) for c in convs):
            return compute()
        tensors = [t for c in convs for t in (c.weight, c.bias) if t is not None]
        tensors += [getattr(self, n) for n in ("pos_absolute", "gamma_pos_learn", "beta_pos_learn")
                    if hasattr(self, n)]
        return parameter_cached(self, f"position{tuple(size)}{'nhwc' if nhwc else ''}",
                                tensors, compute)

    def _noise_draws(self, like: torch.Tensor):
        """The two noise maps (for gamma, then for beta) drawn for a feature like ``like``."""
        shape = (like.shape[0], self.noise_nc, *like.shape[2:])
        draw = torch.rand if self.cfg.noise_distribution == "uniform" else torch.randn
        return (draw(shape, device=like.device, dtype=like.dtype),
                draw(shape, device=like.device, dtype=like.dtype))

    def _noise_tables(self, classes: torch.Tensor, gamma_shift_plus: float = 0.0,
                      nhwc: bool = False):
        """Semantic noise's per-pixel (gamma scale, gamma shift, beta scale, beta shift), one
        gather for the four tables (channels_last maps with ``nhwc``); ``gamma_shift_plus`` is
        added to that table first."""
        g_shift = self.gamma_noise_beta + gamma_shift_plus if gamma_shift_plus else \
            self.gamma_noise_beta
        tables = torch.cat([self.gamma_noise_gamma, g_shift, self.beta_noise_gamma,
                            self.beta_noise_beta], 1)
        return lookup(tables, classes, nhwc=nhwc).split(
            self.gamma_noise_gamma.shape[1], 1)

    def _noise(self, classes: torch.Tensor, like: torch.Tensor):
        u1, u2 = self._noise_draws(like)
        if self.cfg.noise == "random":
            return u1, u2
        g_scale, g_shift, b_scale, b_shift = self._noise_tables(classes, nhwc=is_nhwc(like))
        return torch.addcmul(g_shift, u1, g_scale), torch.addcmul(b_shift, u2, b_scale)

    def _modulate_concat_noise(self, x, normalized, gamma, beta, factors, classes):
        """The modulation with semantic noise concatenated to the label feature, without
        gradients: the scale (``1 + gamma`` for SPADE) and the shift are written straight
        into two buffers, label half then noise half (the noise drawn as in :meth:`_noise`),
        and the modulation goes in place into the shift's. The maths of the concatenations
        and the separate adds, with fused multiply-adds (float rounding) and three full-size
        passes fewer."""
        spade = self.cfg.modulation == "spade"
        split = self.seg_nc
        scale, shift = torch.empty_like(normalized), torch.empty_like(normalized)
        if factors is None:
            torch.add(gamma, float(spade), out=scale[:, :split])
            shift[:, :split].copy_(beta)
        else:
            if spade:
                torch.addcmul(gamma.new_ones(()), gamma, factors[0], out=scale[:, :split])
            else:
                torch.mul(gamma, factors[0], out=scale[:, :split])
            torch.mul(beta, factors[1], out=shift[:, :split])
        u1, u2 = self._noise_draws(x)
        g_scale, g_shift, b_scale, b_shift = self._noise_tables(classes, float(spade),
                                                                nhwc=is_nhwc(normalized))
        torch.addcmul(g_shift, u1, g_scale, out=scale[:, split:])
        torch.addcmul(b_shift, u2, b_scale, out=shift[:, split:])
        return shift.addcmul_(normalized, scale)

    def _modulate_all(self, x, normalized, gamma, beta, factors, classes):
        """The modulation with the position code's factors and the noise (drawn like ``x``,
        the norm's input), each step a map of its own (what autograd differentiates)."""
        if factors is not None:
            gamma = gamma * factors[0]
            beta = beta * factors[1]
        if self.cfg.noise != "none":
            g_noise, b_noise = self._noise(classes, x)
            if self.cfg.noise_combine == "concat":
                gamma = torch.cat([gamma, g_noise], 1)
                beta = torch.cat([beta, b_noise], 1)
            else:
                gamma = (gamma + g_noise) / 2
                beta = (beta + b_noise) / 2
        if self.cfg.modulation == "spade":
            return _modulate(beta, normalized, 1 + gamma)
        return _modulate(beta, normalized, gamma)

    def _modulated_in_one_pass(self, x: torch.Tensor, codes: LabelCodes):
        """SPADE's plain modulation ``BN(x) * (1 + gamma) + beta`` in one compiled pass over
        ``x`` (:func:`~vasis.models.cpu_kernels.modulate`), or None where it does not apply. It
        applies without gradients to a channels_last float32 CPU feature whose param-free
        norm is an eval-mode BatchNorm (its running statistics fold into a per-channel scale
        and shift) and whose label branch runs per square or per pixel (gamma and beta come
        as rows of a table, no maps)."""
        if torch.is_grad_enabled() or x.device.type != "cpu" or x.dtype != torch.float32 \
                or not is_nhwc(x):
            return None
        affine = eval_norm_affine(self.param_free_norm)
        if affine is None:
            return None
        rows = label_patches.label_rows(self.mlp_shared, self.mlp_gamma, self.mlp_beta, codes,
                                        one_plus_gamma=True, nhwc=True)
        if rows is None or rows.sizes[0] != rows.sizes[1]:
            return None
        return cpu_kernels.modulate(x, *affine, *rows.row_per_pixel())

    def forward(self, x: torch.Tensor, seg: torch.Tensor,
                relative: torch.Tensor | None = None,
                classes: torch.Tensor | None = None,
                codes: LabelCodes | None = None) -> torch.Tensor:
        """``seg`` at any size (resized here, nearest) or already at x's size (the generators
        resize once per resolution for all norms there); ``classes``: the class-id map of
        ``seg`` (at seg's size), if the caller has it (else computed here when needed);
        ``codes``: ``seg`` as :class:`~vasis.models.label_patches.LabelCodes`, if the caller
        has them (SPADE's label branch then runs once per distinct label square)."""
        seg, classes, codes = self.conditioning(seg, classes, x.shape[2:], codes)
        spade = self.cfg.modulation == "spade"
        # SPADE's scale 1 + gamma straight from the label feature when nothing else adds to it
        plain = spade and not self.cfg.position and self.cfg.noise == "none"
        if plain and codes is not None:
            out = self._modulated_in_one_pass(x, codes)
            if out is not None:
                return out
        normalized = run_norm(self.param_free_norm, x)
        nhwc = is_nhwc(normalized)
        gamma, beta = self._label_feature(seg, classes, codes, one_plus_gamma=plain, nhwc=nhwc)
        if plain:
            return _modulate(beta, normalized, gamma)

        factors = self._position_factors(relative, x.shape[2:], nhwc=nhwc)
        if self.cfg.noise == "semantic" and self.cfg.noise_combine == "concat" and \
                not torch.is_grad_enabled():
            modulate = self._modulate_concat_noise
        else:
            modulate = self._modulate_all
        out = modulate(x, normalized, gamma, beta, factors, classes)
        if spade:
            return out
        if self.instance_channel is not None:
            edge = seg[:, self.instance_channel:self.instance_channel + 1]
            out = torch.cat([out, self.inst_conv(edge)], 1)
        return out
