"""Configuration dataclasses: every architectural switch of the suite is a field here.

A VA model is its baseline's config with the VASIS fields switched on; presets in
:mod:`vasis.presets` fill these in for the paper's runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Optional
from .errors import UserError

MODULATIONS = ("spade", "clade")
NOISE_KINDS = ("none", "semantic", "random")
NOISE_DISTRIBUTIONS = ("uniform", "gaussian")
NOISE_CHANNELS = ("full", "one")
NOISE_COMBINES = ("concat", "plus")
POSITION_KINDS = ("absolute", "learnable", "relative")  # the official concatenation order
POSITION_CHANNELS = ("all", "one")
PADDINGS = ("zero", "reflect")
UPSAMPLINGS = {"normal": 5, "more": 6, "most": 7}


def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        raise UserError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


@dataclass(frozen=True)
class NormConfig:
    """The conditional normalization: param-free norm, modulation, and the VASIS switches.

    ``modulation='spade'`` computes scale/shift with convs on the label map (SPADE, OASIS);
    ``'clade'`` looks them up per class. ``noise`` and ``position`` are the VASIS additions;
    CLADE's ICPE is ``position=('relative',)`` with ``position_channels='one'``.
    """

    modulation: str = "spade"
    param_free: str = "syncbatch"
    kernel_size: int = 3
    hidden: int = 128
    noise: str = "none"
    noise_distribution: str = "uniform"
    noise_channels: str = "full"
    noise_combine: str = "concat"
    position: tuple[str, ...] = ()
    position_channels: str = "all"
    # VA-OASIS keeps zero padding in its shared conv while the rest reflects; None follows
    # the generator's padding.
    shared_padding: Optional[str] = None

    def __post_init__(self):
        _check("modulation", self.modulation, MODULATIONS)
        _check("param_free", self.param_free, ("batch", "syncbatch", "instance"))
        _check("kernel_size", self.kernel_size, (1, 3))
        _check("noise", self.noise, NOISE_KINDS)
        _check("noise_distribution", self.noise_distribution, NOISE_DISTRIBUTIONS)
        _check("noise_channels", self.noise_channels, NOISE_CHANNELS)
        _check("noise_combine", self.noise_combine, NOISE_COMBINES)
        _check("position_channels", self.position_channels, POSITION_CHANNELS)
        if self.shared_padding is not None:
            _check("shared_padding", self.shared_padding, PADDINGS)
        position = (self.position,) if isinstance(self.position, str) else tuple(self.position)
        position = tuple(p for p in position if p != "none")
        for p in position:
            _check("position", p, POSITION_KINDS)
        if len(set(position)) != len(position):
            raise UserError(f"position lists a kind twice: {position}")
        # Canonical order, so ('learnable', 'absolute') and ('absolute', 'learnable') are one config.
        object.__setattr__(self, "position", tuple(p for p in POSITION_KINDS if p in position))

    @property
    def reads_classes(self) -> bool:
        """Whether the norm reads the class-id map (CLADE tables, semantic-noise tables)."""
        return self.modulation == "clade" or self.noise == "semantic"


@dataclass(frozen=True)
class GeneratorConfig:
    """A SPADE-family (``arch='spade'``) or OASIS (``arch='oasis'``) generator."""

    arch: str = "spade"
    dataset: str = "cityscapes"
    height: int = 256
    width: int = 512
    ngf: int = 64
    num_upsampling_layers: str = "normal"
    padding: str = "zero"
    spectral: bool = True
    z_dim: int = 64
    use_3d_noise: bool = False
    # VA-OASIS reflect-pads the *output* of its valid 3x3 block convs (official quirk).
    pad_after_block_conv: bool = False
    # Kernel of every residual block's conv_0 / conv_1 (the official VASIS --kernel); the
    # stem, conv_img and the 1x1 shortcut conv_s keep theirs. 1 is also allowed with reflect
    # padding, unlike the official code: see docs/switches.md.
    block_kernel_size: int = 3
    norm: NormConfig = field(default_factory=NormConfig)

    def __post_init__(self):
        _check("arch", self.arch, ("spade", "oasis"))
        _check("padding", self.padding, PADDINGS)
        _check("block_kernel_size", self.block_kernel_size, (1, 3))
        _check("num_upsampling_layers", self.num_upsampling_layers, tuple(UPSAMPLINGS))
        if self.arch == "oasis" and self.norm.modulation != "spade":
            raise UserError("the OASIS generator uses SPADE modulation; set norm.modulation='spade'")
        ups = self.num_upsampling_layers_count
        for name, size in (("height", self.height), ("width", self.width)):
            if size <= 0 or size % (2 ** ups):
                raise UserError(
                    f"{name}={size} must be a positive multiple of {2 ** ups} for a {self.arch} "
                    f"generator with {ups} upsamplings; pick e.g. {max(1, size // 2 ** ups) * 2 ** ups}")

    @property
    def num_upsampling_layers_count(self) -> int:
        return 5 if self.arch == "oasis" else UPSAMPLINGS[self.num_upsampling_layers]


@dataclass(frozen=True)
class DiscriminatorConfig:
    """SPADE's multiscale PatchGAN (``arch='multiscale'``) or OASIS's U-Net (``arch='oasis'``)."""

    arch: str = "multiscale"
    dataset: str = "cityscapes"
    height: int = 256
    width: int = 512
    ndf: int = 64
    num_d: int = 2
    n_layers: int = 4
    spectral: bool = True
    channels_d: int = 64  # OASIS width multiplier (its channel list is built from it)
    num_res_blocks: int = 6

    def __post_init__(self):
        _check("arch", self.arch, ("multiscale", "oasis"))


def config_field_names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


def apply_overrides(cfg: GeneratorConfig, overrides: dict) -> GeneratorConfig:
    """Apply flat overrides: generator fields and norm fields share one namespace."""
    gen_names = config_field_names(GeneratorConfig) - {"norm"}
    norm_names = config_field_names(NormConfig)
    gen_kw, norm_kw = {}, {}
    for key, value in overrides.items():
        if key in gen_names:
            gen_kw[key] = value
        elif key in norm_names:
            norm_kw[key] = value
        elif key == "norm" and isinstance(value, NormConfig):
            gen_kw["norm"] = value
        else:
            raise UserError(
                f"unknown generator option {key!r}; valid options: "
                f"{sorted(gen_names | norm_names)}")
    norm = replace(gen_kw.pop("norm", cfg.norm), **norm_kw)
    return replace(cfg, norm=norm, **gen_kw)
