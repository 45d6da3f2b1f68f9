"""Evaluation metrics of the paper: FID (pytorch-fid's Inception network, FID-v / FID-t),
mIoU / pixel accuracy with a pluggable segmenter, and per-layout diversity. See
docs/evaluation.md."""
from .diversity import layout_diversity, lpips_available, sample_diversity
from .fid import (FID_WEIGHTS_NAME, FID_WEIGHTS_URL, FIDInceptionV3, activation_statistics,
                  default_weights_path, fid_score, fid_t, fid_v, frechet_distance,
                  inception_activations, load_fid_inception, reference_statistics)
from .scene_segmenter import TinySceneSegmenter, train_scene_segmenter
from .segmentation import (ConfusionMatrix, Segmenter, confusion_matrix, evaluate_segmentation,
                           imagenet_normalize, load_segmenter, segmentation_scores)

__all__ = [
    "sample_diversity", "layout_diversity", "lpips_available", "FID_WEIGHTS_NAME", "FID_WEIGHTS_URL",
    "FIDInceptionV3", "activation_statistics", "default_weights_path", "fid_score", "fid_t",
    "fid_v", "frechet_distance", "inception_activations", "load_fid_inception",
    "reference_statistics", "TinySceneSegmenter", "train_scene_segmenter", "ConfusionMatrix",
    "Segmenter", "confusion_matrix", "evaluate_segmentation", "imagenet_normalize",
    "load_segmenter", "segmentation_scores",
]
