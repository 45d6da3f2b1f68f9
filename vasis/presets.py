"""The registry of model and dataset presets: ``build_generator(model, dataset, **overrides)``.

Model presets are switch settings on a baseline (a VA model is its baseline plus switches);
dataset presets fix the label space and the paper's resolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .config import DiscriminatorConfig, GeneratorConfig, NormConfig, apply_overrides
from .errors import UserError
from .models.discriminators import MultiscaleDiscriminator, OASISDiscriminator
from .models.generators import OASISGenerator, SPADEGenerator
from .models.init import init_weights


@dataclass(frozen=True)
class DatasetPreset:
    name: str
    height: int
    width: int
    # Width changes that make a CPU-sized preset; empty for the paper's datasets.
    generator: dict = field(default_factory=dict)
    discriminator: dict = field(default_factory=dict)


DATASETS = {
    # SPADE's Cityscapes option is num_upsampling_layers 'more' (a 4x8 start); OASIS ignores it.
    "cityscapes": DatasetPreset("cityscapes", 256, 512, generator={"num_upsampling_layers": "more"}),
    "ade20k": DatasetPreset("ade20k", 256, 256),
    "coco-stuff": DatasetPreset("coco-stuff", 256, 256),
    # The suite's procedurally generated scenes: small enough to train and probe on a laptop CPU.
    "scenes": DatasetPreset("scenes", 128, 128, generator={"ngf": 8, "hidden": 16},
                            discriminator={"ndf": 16, "n_layers": 3, "channels_d": 8}),
}

_VASIS = dict(noise="semantic", noise_combine="concat", noise_channels="full",
              position=("learnable",), position_channels="all")

# model -> (generator arch, norm switches, generator switches, discriminator arch)
MODELS = {
    "spade": ("spade", {}, {}, "multiscale"),
    "clade": ("spade", {"modulation": "clade"}, {}, "multiscale"),
    "clade-icpe": ("spade", {"modulation": "clade", "position": ("relative",),
                             "position_channels": "one"}, {}, "multiscale"),
    "oasis": ("oasis", {}, {"use_3d_noise": True}, "oasis"),
    # The VASIS main runs: --noise_nc all --mode_noise norm_cat --pos learn --pos_nc all --pad reflect
    "va-spade": ("spade", dict(_VASIS), {"padding": "reflect"}, "multiscale"),
    "va-clade": ("spade", dict(_VASIS, modulation="clade"), {"padding": "reflect"}, "multiscale"),
    # VA-OASIS hard-codes its layer: zero-padded shared conv, reflect elsewhere, valid block
    # convs with reflect-padded outputs, and no 3D noise (--no_3dnoise).
    "va-oasis": ("oasis", dict(_VASIS, shared_padding="zero"),
                 {"padding": "reflect", "pad_after_block_conv": True, "use_3d_noise": False},
                 "oasis"),
}


def _lookup(table: dict, key: str, what: str):
    try:
        return table[key]
    except KeyError:
        raise UserError(f"unknown {what} {key!r}; choose one of {sorted(table)}") from None


def generator_config(model: str, dataset: str, **overrides) -> GeneratorConfig:
    arch, norm_kw, gen_kw, _ = _lookup(MODELS, model, "model")
    ds = _lookup(DATASETS, dataset, "dataset")
    cfg = GeneratorConfig(arch=arch, dataset=dataset, height=ds.height, width=ds.width,
                          norm=NormConfig(**norm_kw), **gen_kw)
    return apply_overrides(cfg, {**ds.generator, **overrides})


def discriminator_config(model: str, dataset: str, **overrides) -> DiscriminatorConfig:
    d_arch = _lookup(MODELS, model, "model")[3]
    ds = _lookup(DATASETS, dataset, "dataset")
    cfg = DiscriminatorConfig(arch=d_arch, dataset=dataset, height=ds.height, width=ds.width)
    try:
        return replace(cfg, **{**ds.discriminator, **overrides})
    except TypeError as err:
        raise UserError(f"bad discriminator option: {err}") from None


def build_generator(model: str, dataset: str, **overrides):
    """The generator of a model preset on a dataset preset, with optional switch overrides.

    >>> g = build_generator("va-spade", "scenes", padding="zero", noise="none")
    """

    cfg = generator_config(model, dataset, **overrides)
    return init_weights((OASISGenerator if cfg.arch == "oasis" else SPADEGenerator)(cfg))


def build_discriminator(model: str, dataset: str, **overrides):
    cfg = discriminator_config(model, dataset, **overrides)
    return init_weights((OASISDiscriminator if cfg.arch == "oasis" else MultiscaleDiscriminator)(cfg))
