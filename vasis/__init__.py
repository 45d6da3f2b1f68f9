"""vasis: SPADE, CLADE, OASIS and their variation-aware (VASIS) versions."""
from .official_checkpoints import load_official
from .config import DiscriminatorConfig, GeneratorConfig, NormConfig
from .metrics.fid import frechet_distance
from .labels import LABEL_SPACES, LabelSpace, label_space
from .presets import (DATASETS, MODELS, build_discriminator, build_generator,
                      discriminator_config, generator_config)
from .relative_position import relative_position_code

__all__ = [
    "DiscriminatorConfig", "GeneratorConfig", "NormConfig", "LABEL_SPACES", "LabelSpace",
    "label_space", "DATASETS", "MODELS", "build_discriminator", "build_generator",
    "discriminator_config", "generator_config", "relative_position_code", "load_official",
    "frechet_distance",
]
