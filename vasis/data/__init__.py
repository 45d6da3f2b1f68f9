"""Datasets: Cityscapes, ADE20K, COCO-Stuff and custom folders in SPADE's layouts, their
validation before training, and the suite's built-in procedurally generated scenes.

Every item is ``{'label': (H,W) int64 (0..label_nc-1, 255 don't care), 'instance': (H,W) int64
(where the dataset has instance maps), 'image': (3,H,W) float in [-1,1], 'path': str}``; turn a
batch into generator input with :func:`batch_input` (one-hot, don't care, instance edges).
"""
from __future__ import annotations

import torch

from ..inputs import encode_labels
from ..labels import LabelSpace, label_space
from .common import DatasetError, Problem
from .folders import FOLDER_DATASETS, FolderDataset, Sample, build_dataset, list_samples
from .scenes import (SCENE_DESIGN, SceneDataset, render_scene, scene_statistics,
                     within_image_class_std, write_scenes)
from .validate import ValidationReport, validate_dataset


def batch_input(batch: dict, space, with_instance: bool | None = None) -> torch.Tensor:
    """A collated batch -> the (N, C, H, W) generator input of ``space`` (edges at batch time)."""
    space = space if isinstance(space, LabelSpace) else label_space(space)
    return encode_labels(batch["label"], space, batch.get("instance"), with_instance)


__all__ = [
    "DatasetError", "Problem", "FOLDER_DATASETS", "FolderDataset", "Sample", "build_dataset",
    "list_samples", "SCENE_DESIGN", "SceneDataset", "within_image_class_std", "render_scene",
    "scene_statistics", "write_scenes", "ValidationReport", "validate_dataset", "batch_input",
]
