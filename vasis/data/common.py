"""Shared pieces of the data loaders: the error type, raw-id -> suite-id mappings, SPADE's
resize / crop / flip preprocessing, and the conversion of PIL images to the item tensors.

Item convention (every dataset in :mod:`vasis.data`)::

    {'label': (H, W) int64, ids 0..label_nc-1 and 255 for don't care,
     'instance': (H, W) int64 (only where the dataset has instance maps),
     'image': (3, H, W) float32 in [-1, 1],
     'path': str}
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..labels import DONTCARE_ID, LabelSpace
from ..errors import UserError

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp")

# SPADE's load sizes: 286 in training and 256 at test time for a 256 crop (resize_and_crop).
TRAIN_LOAD_RATIO = 286 / 256


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset on disk: what, which files, and how to fix it."""

    kind: str
    paths: tuple[str, ...]
    message: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message} Fix: {self.fix}"


class DatasetError(UserError):
    """A dataset on disk cannot be used as is; ``problems`` lists every issue found."""

    def __init__(self, problems: list[Problem] | str, header: str | None = None):
        if isinstance(problems, str):
            problems = [Problem("dataset", (), problems, "see the message")]
        self.problems = list(problems)
        kinds: dict[str, int] = {}
        for p in self.problems:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in kinds.items())
        head = header or "dataset check failed"
        lines = [f"{head}: {len(self.problems)} problem(s) ({summary})"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Raw ids as stored in the label PNGs -> the suite's ids (0..label_nc-1, 255 don't care).
# A 256-entry table; -1 marks a raw id the dataset does not have.

def raw_label_table(dataset: str, space: LabelSpace) -> np.ndarray:
    lut = np.full(256, -1, dtype=np.int64)
    if dataset == "ade20k":
        # SceneParsing ids as stored (0 = other/unknown, 1..150 classes): the ids the official
        # models see, since SPADE's "label - 1" is never written back (see vasis.labels).
        lut[:space.label_nc] = np.arange(space.label_nc)
    elif dataset == "cityscapes":
        # labelIds 0..33 used directly; license plate (id -1, stored as 255 in uint8) -> 34.
        lut[:space.label_nc] = np.arange(space.label_nc)
        lut[255] = space.label_nc - 1
    else:
        # COCO-Stuff (0..181 + 255 unlabeled), custom folders and scenes: ids as stored.
        lut[:space.label_nc] = np.arange(space.label_nc)
        if space.dontcare:
            lut[DONTCARE_ID] = DONTCARE_ID
    return lut


def describe_raw_range(dataset: str, space: LabelSpace) -> str:
    if dataset == "ade20k":
        return f"0..{space.label_nc - 1} (0 = unknown)"
    if dataset == "cityscapes":
        return f"0..{space.label_nc - 1} and 255 (license plate)"
    return f"0..{space.label_nc - 1}" + (f" and {DONTCARE_ID} (don't care)" if space.dontcare else "")


def label_ids_of(arr: np.ndarray) -> np.ndarray:
    """The distinct values of a label array, vectorized (bincount for uint8, else unique)."""
    if arr.dtype == np.uint8:
        return np.flatnonzero(np.bincount(arr.ravel(), minlength=256))
    return np.unique(arr)


def invalid_raw_ids(ids: np.ndarray, lut: np.ndarray) -> list[int]:
    ids = np.asarray(ids, dtype=np.int64)
    bad = (ids < 0) | (ids >= lut.size)
    ok = ~bad
    bad[ok] = lut[ids[ok]] < 0
    return [int(v) for v in ids[bad]]


def label_array(img: Image.Image) -> np.ndarray:
    """A single-channel label/instance PIL image as a 2-D integer array (error for RGB)."""
    if img.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L", "1"):
        arr = np.asarray(img)
        if arr.dtype == bool:
            arr = arr.astype(np.uint8)
        return arr
    raise UserError(f"mode {img.mode!r} is not a single-channel id map")


# ---------------------------------------------------------------------------------------------
# SPADE preprocessing, generalized to a (H, W) output.

def resolve_size(size, default: tuple[int, int]) -> tuple[int, int]:
    if size is None:
        return default
    if isinstance(size, int):
        return (size, size)
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise UserError(f"size must be positive (H, W); got {size}")
    return (h, w)


@dataclass(frozen=True)
class Preprocess:
    """``resize_and_crop`` (ADE20K, COCO-Stuff, custom): resize to the load size ignoring the
    aspect ratio, crop ``size`` (random in training, top-left otherwise), flip in training.
    ``fixed`` (Cityscapes): resize straight to ``size``, flip in training. Images are resampled
    bicubically, label and instance maps with nearest neighbour."""

    mode: str
    size: tuple[int, int]
    load_size: tuple[int, int]
    train: bool
    flip: bool = True

    @classmethod
    def make(cls, mode: str, size: tuple[int, int], train: bool, load_size=None, flip: bool = True):
        if mode not in ("resize_and_crop", "fixed"):
            raise UserError(f"unknown preprocess mode {mode!r}; use 'resize_and_crop' or 'fixed'")
        if mode == "fixed":
            load = size
        elif load_size is not None:
            load = resolve_size(load_size, size)
        else:
            ratio = TRAIN_LOAD_RATIO if train else 1.0
            load = (int(round(size[0] * ratio)), int(round(size[1] * ratio)))
        if load[0] < size[0] or load[1] < size[1]:
            raise UserError(f"load size {load} is smaller than the crop size {size}")
        return cls(mode, size, load, train, flip)

    def params(self, rng: np.random.Generator) -> dict:
        """Crop offset and flip for one item (always drawn, so streams do not shift)."""
        y = int(rng.integers(0, self.load_size[0] - self.size[0] + 1))
        x = int(rng.integers(0, self.load_size[1] - self.size[1] + 1))
        flip = bool(rng.random() < 0.5)
        if not self.train:
            x = y = 0
        return {"crop": (y, x), "flip": flip and self.train and self.flip}

    def apply(self, img: Image.Image, params: dict, resample) -> Image.Image:
        lh, lw = self.load_size
        if img.size != (lw, lh):
            img = img.resize((lw, lh), resample)
        if self.mode == "resize_and_crop" and (lh, lw) != self.size:
            y, x = params["crop"]
            img = img.crop((x, y, x + self.size[1], y + self.size[0]))
        if params["flip"]:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return img


def image_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (3, H, W) float32 in [-1, 1] (SPADE's normalize with mean = std = 0.5)."""
    arr = np.ascontiguousarray(np.asarray(img.convert("RGB")).transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(arr * np.float32(1 / 127.5) - np.float32(1.0))


def open_id_map(path: str | Path) -> Image.Image:
    """Open a label or instance PNG so that nearest resizing keeps its ids (16-bit -> 'I')."""
    img = Image.open(path)
    if img.mode.startswith("I;16"):
        img = img.convert("I")
    return img
