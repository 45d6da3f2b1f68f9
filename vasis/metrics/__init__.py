"""Evaluation metrics of the paper: FID (pytorch-fid's Inception network, FID-v / FID-t),
precision / recall / density / coverage on the same features, mIoU / pixel accuracy with a
pluggable segmenter, per-layout diversity and the VASIS intra-class variation of image folders
(:mod:`.intra_class`). See docs/evaluation.md and docs/metrics.md."""
from .diversity import layout_diversity, lpips_available, sample_diversity
from .density_coverage import prdc_scores
from .fid import (FID_WEIGHTS_NAME, FID_WEIGHTS_URL, FIDInceptionV3, activation_statistics,
                  default_weights_path, fid_from_features, fid_score, fid_t, fid_v,
                  frechet_distance, inception_activations, load_fid_inception,
                  reference_statistics, weights_label)
from .fid_weights import WeightsInfo, convert_torchscript, resolve_weights
from .image_sets import compare as compare_image_sets
from .intra_class import IntraClassVariation, intra_class_variation, intra_class_variation_dirs
from .scene_segmenter import TinySceneSegmenter, train_scene_segmenter
from .segmentation import (ConfusionMatrix, Segmenter, confusion_matrix, evaluate_segmentation,
                           imagenet_normalize, load_segmenter, segmentation_scores)

__all__ = [
    "sample_diversity", "layout_diversity", "lpips_available", "FID_WEIGHTS_NAME", "FID_WEIGHTS_URL",
    "FIDInceptionV3", "activation_statistics", "default_weights_path", "fid_score", "fid_t",
    "fid_v", "frechet_distance", "inception_activations", "load_fid_inception",
    "reference_statistics", "weights_label", "WeightsInfo", "convert_torchscript",
    "resolve_weights", "prdc_scores", "fid_from_features", "compare_image_sets",
    "TinySceneSegmenter", "train_scene_segmenter", "ConfusionMatrix",
    "Segmenter", "confusion_matrix", "evaluate_segmentation", "imagenet_normalize",
    "load_segmenter", "segmentation_scores", "IntraClassVariation", "intra_class_variation",
    "intra_class_variation_dirs",
]
