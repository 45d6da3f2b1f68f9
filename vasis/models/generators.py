"""SPADE-family and OASIS generators, built from a :class:`GeneratorConfig`.

Module names follow the official code (``fc``, ``head_0`` ... ``up_3``, ``conv_img`` for SPADE;
``fc``, ``body.i``, ``conv_img`` for OASIS) so the official checkpoints map onto them.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import GeneratorConfig
from ..inputs import encode_labels
from ..labels import label_space
from ..relative_position import relative_position_code
from . import label_patches
from .blocks import ConditionalResBlock
from .label_patches import LabelCodes
from .layers import conv2d, is_nhwc, resize_nearest, upsample_2x, working_layout
from .norms import class_ids
from ..errors import UserError


class _Generator(nn.Module):
    """Shared input handling: validation, integer label maps, relative position maps."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.space = label_space(cfg.dataset)
        self.uses_relative = "relative" in cfg.norm.position

    @property
    def label_input_nc(self) -> int:
        """Channels of the label input (one-hot, don't-care, instance edges as applicable)."""
        raise NotImplementedError

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """(name, module) of the probe points in forward order: fc, then every residual block."""
        raise NotImplementedError

    def prepare_input(self, seg: torch.Tensor, instance: torch.Tensor | None = None) -> torch.Tensor:
        """Check ``seg`` and turn an integer (N, H, W) label map into the one-hot input."""
        return self.encode(seg, instance)[0]

    def encode(self, seg: torch.Tensor, instance: torch.Tensor | None = None):
        """(:meth:`prepare_input`'s one-hot input, the class ids it was encoded from - None
        for a float input)."""
        h, w = self.cfg.height, self.cfg.width
        given = tuple(seg.shape)
        if not seg.dtype.is_floating_point:
            # Errors name the map as it was passed, not its one-hot encoding.
            ids = seg[:, 0] if seg.dim() == 4 and seg.shape[1] == 1 else seg
            if ids.dim() != 3 or tuple(ids.shape[1:]) != (h, w):
                raise UserError(
                    f"{type(self).__name__} for {self.cfg.dataset} takes integer label maps of "
                    f"shape (N, {h}, {w}); got {given} ({seg.dtype}). Build the generator with "
                    f"height/width of your maps or resize them (nearest).")
            return encode_labels(ids, self.space, instance, with_instance=self._takes_instance,
                                 return_ids=True)
        expected = (self.label_input_nc, h, w)
        if seg.dim() == 3 or (seg.dim() == 4 and seg.shape[1] == 1 and expected[0] != 1):
            raise UserError(
                f"{type(self).__name__} got a {seg.dtype} map of shape {given}: a label map of "
                f"class ids must have an integer dtype (e.g. labels.long()); a float input must be "
                f"the one-hot map (N, {expected[0]}, {h}, {w})")
        if seg.dim() != 4 or tuple(seg.shape[1:]) != expected:
            raise UserError(
                f"{type(self).__name__} for {self.cfg.dataset} expects input of shape "
                f"(N, {expected[0]}, {h}, {w}) (one-hot labels"
                f"{' + don' + chr(39) + 't-care' if self.space.dontcare else ''}"
                f"{' + instance edges' if self._takes_instance else ''}) or an integer "
                f"(N, {h}, {w}) label map; got {given} ({seg.dtype}). "
                f"Build the generator with height/width of your maps or resize them.")
        return seg, None

    @property
    def _takes_instance(self) -> bool:
        return False

    def class_map(self, seg: torch.Tensor) -> torch.Tensor:
        """(N, H, W) class ids of the label input."""
        return class_ids(seg, slice(0, self.space.semantic_nc))

    def conditioning(self, seg: torch.Tensor, ids: torch.Tensor | None = None):
        """(class ids, label codes) of the label input ``seg`` (encoded from the class ids
        ``ids``, if given), once per forward for every norm (the blocks resize them, nearest,
        to their resolutions): the ids where the norms read them (CLADE tables, semantic
        noise), else None; the codes (:class:`~vasis.models.label_patches.LabelCodes`) where
        SPADE norms may run their label branch once per distinct label square, else None."""
        patches = self.cfg.norm.modulation == "spade" and label_patches.active(seg)
        codes = LabelCodes.of(seg, self.space.semantic_nc, ids) if patches else None
        if not self.cfg.norm.reads_classes:
            return None, codes
        if codes is not None:
            return codes.classes, codes
        return (self.class_map(seg) if ids is None else ids), codes

    def relative_map(self, seg: torch.Tensor) -> torch.Tensor:
        """CLADE's ICPE map of each label map of the batch, computed on the fly: (N, 2, H, W)."""
        if seg.is_meta:
            # Shape-only pass (e.g. the complexity count on the meta device): the map is
            # computed in numpy and is no module, so a zero map of the right shape stands in.
            return seg.new_zeros(seg.shape[0], 2, *seg.shape[2:])
        classes = self.class_map(seg).cpu().numpy()
        maps = np.stack([relative_position_code(c) for c in classes])
        return torch.from_numpy(maps).to(seg.device, seg.dtype)

    @staticmethod
    def _output(image: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """The image in the input's layout: the large maps ran in channels_last without
        gradients (:func:`~vasis.models.layers.working_layout`), the caller gets NCHW back
        unless it gave channels_last."""
        return image if is_nhwc(seg) else image.contiguous()

    def _norm_kwargs(self, cond_nc: int, semantic: slice, instance_channel, resolution):
        return dict(cond_nc=cond_nc, semantic=semantic, instance_channel=instance_channel,
                    resolution=resolution, padding=self.cfg.padding)


class SPADEGenerator(_Generator):
    """SPADE's generator; with CLADE modulation it is CLADE's, with VASIS switches VA-SPADE/VA-CLADE."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__(cfg)
        nf = cfg.ngf
        ups = cfg.num_upsampling_layers_count
        self.sh, self.sw = cfg.height // 2 ** ups, cfg.width // 2 ** ups
        in_nc = self.label_input_nc
        inst = self.space.semantic_nc if self.space.instance else None
        self.fc = conv2d(in_nc, 16 * nf, 3, padding=cfg.padding)

        mode = cfg.num_upsampling_layers
        # (name, fin, fout, upsample before the block)
        plan = [("head_0", 16, 16, False), ("G_middle_0", 16, 16, True),
                ("G_middle_1", 16, 16, mode in ("more", "most")), ("up_0", 16, 8, True),
                ("up_1", 8, 4, True), ("up_2", 4, 2, True), ("up_3", 2, 1, True)]
        plan = [(n, fin * nf, fout * nf, up) for n, fin, fout, up in plan]
        if mode == "most":
            plan.append(("up_4", nf, nf // 2, True))
        self._plan = [(name, up) for name, _, _, up in plan]
        h, w = self.sh, self.sw
        for name, fin, fout, up in plan:
            if up:
                h, w = 2 * h, 2 * w
            kwargs = self._norm_kwargs(in_nc, slice(0, self.space.semantic_nc), inst, (h, w))
            setattr(self, name, ConditionalResBlock(
                fin, fout, cfg.norm, kwargs, padding=cfg.padding, spectral=cfg.spectral,
                kernel_size=cfg.block_kernel_size))
        final_nc = plan[-1][2]
        self.conv_img = conv2d(final_nc, 3, 3, padding=cfg.padding)
        self.up = nn.Upsample(scale_factor=2)

    @property
    def label_input_nc(self) -> int:
        return self.space.input_nc

    @property
    def _takes_instance(self) -> bool:
        return self.space.instance

    def blocks(self):
        return [("fc", self.fc)] + [(name, getattr(self, name)) for name, _ in self._plan]

    def forward(self, seg: torch.Tensor, relative: torch.Tensor | None = None,
                instance: torch.Tensor | None = None) -> torch.Tensor:
        seg, ids = self.encode(seg, instance)
        if self.uses_relative and relative is None:
            relative = self.relative_map(seg)
        classes, codes = self.conditioning(seg, ids)
        x = self.fc(resize_nearest(seg, (self.sh, self.sw)))
        for name, up in self._plan:
            if up:
                x = upsample_2x(self.up, working_layout(x, scale=2))
            x = getattr(self, name)(x, seg, relative, classes, codes)
        return self._output(torch.tanh(self.conv_img(F.leaky_relu(x, 2e-1))), seg)


class OASISGenerator(_Generator):
    """OASIS's generator (3D noise optional); with VASIS switches VA-OASIS."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__(cfg)
        ch = cfg.ngf
        self.channels = [16 * ch, 16 * ch, 16 * ch, 8 * ch, 4 * ch, 2 * ch, 1 * ch]
        self.init_h, self.init_w = cfg.height // 32, cfg.width // 32
        z_nc = cfg.z_dim if cfg.use_3d_noise else 0
        cond_nc = self.space.semantic_nc + z_nc
        # z comes first in the conditioning map, as in the official code.
        semantic = slice(z_nc, z_nc + self.space.semantic_nc)
        self.fc = conv2d(cond_nc, 16 * ch, 3, padding=cfg.padding)
        self.body = nn.ModuleList()
        for i in range(len(self.channels) - 1):
            res = (self.init_h * 2 ** i, self.init_w * 2 ** i)
            kwargs = self._norm_kwargs(cond_nc, semantic, None, res)
            self.body.append(ConditionalResBlock(
                self.channels[i], self.channels[i + 1], cfg.norm, kwargs, padding=cfg.padding,
                spectral=cfg.spectral, pad_after_conv=cfg.pad_after_block_conv,
                activation_module=True, kernel_size=cfg.block_kernel_size))
        self.conv_img = conv2d(self.channels[-1], 3, 3, padding=cfg.padding)
        self.up = nn.Upsample(scale_factor=2)

    @property
    def label_input_nc(self) -> int:
        return self.space.semantic_nc

    def blocks(self):
        return [("fc", self.fc)] + [(f"body.{i}", b) for i, b in enumerate(self.body)]

    def forward(self, seg: torch.Tensor, z: torch.Tensor | None = None,
                relative: torch.Tensor | None = None) -> torch.Tensor:
        seg, ids = self.encode(seg)
        if self.uses_relative and relative is None:
            relative = self.relative_map(seg)
        classes, codes = self.conditioning(seg, ids)
        if self.cfg.use_3d_noise:
            n, _, h, w = seg.shape
            if z is None:
                z = torch.randn(n, self.cfg.z_dim, device=seg.device, dtype=seg.dtype)
            if tuple(z.shape) != (n, self.cfg.z_dim):
                raise UserError(f"z must have shape ({n}, {self.cfg.z_dim}); got {tuple(z.shape)}")
            seg = torch.cat([z[:, :, None, None].expand(n, self.cfg.z_dim, h, w), seg], 1)
            if codes is not None:
                codes = codes.with_prefix(z)
        elif z is not None:
            raise UserError("this OASIS generator was built without 3D noise (use_3d_noise=False); "
                             "do not pass z")
        x = self.fc(resize_nearest(seg, (self.init_h, self.init_w)))
        for i, block in enumerate(self.body):
            if i:
                x = upsample_2x(self.up, working_layout(x, scale=2))
            x = block(x, seg, relative, classes, codes)
        return self._output(torch.tanh(self.conv_img(F.leaky_relu(x, 2e-1))), seg)
