"""Evaluation metrics of the paper: FID (pytorch-fid's Inception network, FID-v / FID-t),
precision / recall / density / coverage on the same features, mIoU / pixel accuracy with a
pluggable segmenter, and per-layout diversity. See docs/evaluation.md."""
from .diversity import layout_diversity, lpips_available, sample_diversity
from .fid import (FID_WEIGHTS_NAME, FID_WEIGHTS_URL, FIDInceptionV3, activation_statistics,
                  default_weights_path, fid_score, fid_t, fid_v, frechet_distance,
                  inception_activations, load_fid_inception, reference_statistics, weights_label)
from .fid_weights import WeightsInfo, convert_torchscript, resolve_weights
from .scene_segmenter import TinySceneSegmenter, train_scene_segmenter
from .segmentation import (ConfusionMatrix, Segmenter, confusion_matrix, evaluate_segmentation,
                           imagenet_normalize, load_segmenter, segmentation_scores)

__all__ = [
    "sample_diversity", "layout_diversity", "lpips_available", "FID_WEIGHTS_NAME", "FID_WEIGHTS_URL",
    "FIDInceptionV3", "activation_statistics", "default_weights_path", "fid_score", "fid_t",
    "fid_v", "frechet_distance", "inception_activations", "load_fid_inception",
    "reference_statistics", "weights_label", "WeightsInfo", "convert_torchscript",
    "resolve_weights", "TinySceneSegmenter", "train_scene_segmenter", "ConfusionMatrix",
    "Segmenter", "confusion_matrix", "evaluate_segmentation", "imagenet_normalize",
    "load_segmenter", "segmentation_scores",
]
