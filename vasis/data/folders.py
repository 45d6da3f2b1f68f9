"""Cityscapes, ADE20K, COCO-Stuff and custom folder datasets in the folder layouts SPADE uses.

Layouts (``split`` is ``train`` or ``val``; ``test`` reads ``val`` like SPADE)::

    coco-stuff  <root>/{split}_img/*.jpg   <root>/{split}_label/*.png   <root>/{split}_inst/*.png
                (+ the optional {split}_img_portrait etc. folders in training, as in SPADE)
    ade20k      <root>/images/{training,validation}/*.jpg
                <root>/annotations/{training,validation}/*.png
    cityscapes  <root>/leftImg8bit/{split}/<city>/*_leftImg8bit.png
                <root>/gtFine/{split}/<city>/*_gtFine_labelIds.png  (and *_gtFine_instanceIds.png)
    custom      <root>/{split}/images/*   <root>/{split}/labels/*.png   [<root>/{split}/instances/*.png]
                with <root>/dataset.json {"label_space": "<name>"} or a label_space argument

Files are paired by name (file stem; Cityscapes by ``city_seq_frame``), not by sorted order,
so a missing file is reported instead of silently shifting every pair after it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..labels import LabelSpace, label_space
from ..presets import DATASETS
from .common import (IMG_EXTENSIONS, DatasetError, Preprocess, Problem, describe_raw_range,
                     image_tensor, label_array, open_id_map, raw_label_table, resolve_size)
from ..errors import UserError
from .scenes import DEFAULT_N, SceneDataset

FOLDER_DATASETS = ("cityscapes", "ade20k", "coco-stuff", "custom")
_ALIASES = {"coco": "coco-stuff", "cocostuff": "coco-stuff", "coco_stuff": "coco-stuff", "ade": "ade20k"}
_PREPROCESS = {"cityscapes": "fixed"}  # everything else: resize_and_crop


@dataclass(frozen=True)
class Sample:
    key: str
    image: Path
    label: Path
    instance: Path | None = None


@dataclass
class Listing:
    """What a dataset folder holds for one split: matched samples and pairing problems."""

    name: str
    root: Path
    split: str
    space: LabelSpace
    samples: list[Sample]
    problems: list[Problem]
    use_instance: bool


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def known_dataset(name: str) -> str:
    """The canonical name of a dataset the suite reads (a folder layout or the built-in
    scenes); a :class:`UserError` naming the choices otherwise."""
    canon = canonical_name(name)
    if canon not in FOLDER_DATASETS + ("scenes",):
        raise UserError(f"unknown dataset {name!r}; choose one of "
                        f"{sorted(FOLDER_DATASETS + ('scenes',))}")
    return canon


def _split_dir(split: str) -> str:
    if split not in ("train", "val", "test"):
        raise UserError(f"unknown split {split!r}; use 'train' or 'val' ('test' reads 'val')")
    return "val" if split == "test" else split


def _files(folder: Path, recursive: bool = False, suffix: str | None = None) -> list[Path]:
    if not folder.is_dir():
        return []
    it = folder.rglob("*") if recursive else folder.iterdir()
    out = [p for p in it if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS and not p.name.startswith(".")]
    if suffix is not None:
        out = [p for p in out if p.name.endswith(suffix)]
    return sorted(out)


def _custom_space(root: Path, label_space_arg) -> LabelSpace:
    if isinstance(label_space_arg, LabelSpace):
        return label_space_arg
    if isinstance(label_space_arg, str):
        return label_space(label_space_arg)
    meta = root / "dataset.json"
    if meta.is_file():
        try:
            name = json.loads(meta.read_text())["label_space"]
        except (ValueError, KeyError) as err:
            raise DatasetError(f"{meta} is not valid JSON with a 'label_space' entry ({err}); "
                               f"fix the file or pass label_space=...") from None
        return label_space(name)
    raise DatasetError(
        f"custom dataset at {root} has no dataset.json naming its label space; write "
        f'{{"label_space": "<one of cityscapes, ade20k, coco-stuff, scenes>"}} there or pass '
        f"label_space=<name or LabelSpace>")


def _pair(name: str, images: dict, labels: dict, instances: dict | None,
          dirs: tuple[Path, Path, Path | None]) -> tuple[list[Sample], list[Problem]]:
    problems: list[Problem] = []
    img_dir, lab_dir, inst_dir = dirs
    for key in sorted(set(images) - set(labels)):
        problems.append(Problem(
            "missing label", (str(images[key]),),
            f"image {images[key]} has no label map in {lab_dir}.",
            "add the label PNG with the same name or remove the image"))
    for key in sorted(set(labels) - set(images)):
        problems.append(Problem(
            "missing image", (str(labels[key]),),
            f"label map {labels[key]} has no image in {img_dir}.",
            "add the image with the same name or remove the label map"))
    keys = sorted(set(images) & set(labels))
    if instances is not None:
        for key in keys:
            if key not in instances:
                problems.append(Problem(
                    "missing instance", (str(labels[key]),),
                    f"label map {labels[key]} has no instance map in {inst_dir}.",
                    "add the instance PNG with the same name, remove the pair, or load "
                    "without instances (use_instance=False)"))
        for key in sorted(set(instances) - set(labels)):
            problems.append(Problem(
                "missing label", (str(instances[key]),),
                f"instance map {instances[key]} has no label map in {lab_dir}.",
                "add the label PNG with the same name or remove the instance map"))
    samples = [Sample(k, images[k], labels[k], None if instances is None else instances.get(k))
               for k in keys]
    return samples, problems


def _index(paths: list[Path], keyfn, what: str, problems: list[Problem]) -> dict:
    out: dict = {}
    for p in paths:
        k = keyfn(p)
        if k in out:
            problems.append(Problem(
                "duplicate", (str(out[k]), str(p)),
                f"{what} {out[k]} and {p} have the same name {k!r}.",
                "keep one of them (e.g. delete the copy with the other extension)"))
            continue
        out[k] = p
    return out


def _stem(p: Path) -> str:
    return p.stem


def list_samples(name: str, dataroot, split: str = "train", use_instance: bool | None = None,
                 label_space_arg=None) -> Listing:
    """Find and pair a split's files; problems (missing pairs, duplicates) are collected."""
    name = canonical_name(name)
    if name not in FOLDER_DATASETS:
        raise UserError(f"unknown folder dataset {name!r}; choose one of {list(FOLDER_DATASETS)}")
    root = Path(dataroot).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} does not exist or is not a folder; "
                           f"pass the folder that holds the {name} layout")
    phase = _split_dir(split)
    space = _custom_space(root, label_space_arg) if name == "custom" else label_space(name)
    key = _stem
    problems: list[Problem] = []
    if name == "coco-stuff":
        img_dir, lab_dir, inst_dir = root / f"{phase}_img", root / f"{phase}_label", root / f"{phase}_inst"
        img_files, lab_files, inst_files = _files(img_dir), _files(lab_dir), _files(inst_dir)
        if phase == "train":  # SPADE also reads the optional *_portrait folders in training
            img_files += _files(root / f"{phase}_img_portrait")
            lab_files += _files(root / f"{phase}_label_portrait")
            inst_files += _files(root / f"{phase}_inst_portrait")

        def key(p: Path) -> str:
            return ("portrait/" if p.parent.name.endswith("_portrait") else "") + p.stem
    elif name == "ade20k":
        sub = {"train": "training", "val": "validation"}[phase]
        img_dir, lab_dir, inst_dir = root / "images" / sub, root / "annotations" / sub, None
        img_files, lab_files, inst_files = _files(img_dir), _files(lab_dir), []
    elif name == "cityscapes":
        img_dir, lab_dir = root / "leftImg8bit" / phase, root / "gtFine" / phase
        inst_dir = lab_dir
        img_files = _files(img_dir, recursive=True, suffix="_leftImg8bit.png")
        lab_files = _files(lab_dir, recursive=True, suffix="_gtFine_labelIds.png")
        inst_files = _files(lab_dir, recursive=True, suffix="_gtFine_instanceIds.png")

        def key(p: Path) -> str:  # city/city_seq_frame
            return f"{p.parent.name}/{'_'.join(p.name.split('_')[:3])}"
    else:  # custom
        base = root / phase
        img_dir, lab_dir, inst_dir = base / "images", base / "labels", base / "instances"
        img_files, lab_files, inst_files = _files(img_dir), _files(lab_dir), _files(inst_dir)
    if use_instance is None:
        use_instance = space.instance and bool(inst_files) if name != "custom" else bool(inst_files)
    elif use_instance and not inst_files:
        problems.append(Problem("missing instance", (str(inst_dir),),
                                f"instance maps were requested but {inst_dir} holds none.",
                                "add the instance maps or load with use_instance=False"))
    for folder, files, what in ((img_dir, img_files, "images"), (lab_dir, lab_files, "label maps")):
        if not files:
            problems.append(Problem(
                "empty folder", (str(folder),), f"no {what} found in {folder}.",
                f"check dataroot and split; the {name} layout is described in vasis/data/folders.py"))
    images = _index(img_files, key, "image", problems)
    labels = _index(lab_files, key, "label map", problems)
    instances = _index(inst_files, key, "instance map", problems) if use_instance else None
    samples, pair_problems = _pair(name, images, labels, instances, (img_dir, lab_dir, inst_dir))
    return Listing(name, root, split, space, samples, problems + pair_problems, bool(use_instance))


class FolderDataset(torch.utils.data.Dataset):
    """Image / label (/ instance) files with SPADE's preprocessing; items in the suite's convention.

    Random crops and flips come from ``numpy.random.default_rng([seed, epoch, index])``, so an
    item depends only on (seed, epoch, index) - not on worker count or access order. Call
    :meth:`set_epoch` once per epoch for fresh augmentation.
    """

    def __init__(self, listing: Listing, size: tuple[int, int], train: bool, seed: int = 0,
                 preprocess: str | None = None, load_size=None, flip: bool = True):
        if listing.problems:
            raise DatasetError(listing.problems, header=(
                f"{listing.name} at {listing.root} ({listing.split}) cannot be loaded; "
                f"run vasis.data.validate_dataset for a full check"))
        self.name = listing.name
        self.root = listing.root
        self.split = listing.split
        self.space = listing.space
        self.samples = listing.samples
        self.use_instance = listing.use_instance
        self.train = train
        self.seed = int(seed)
        self.epoch = 0
        self.size = size
        self.preprocess = Preprocess.make(preprocess or _PREPROCESS.get(self.name, "resize_and_crop"),
                                          size, train, load_size, flip)
        self.lut = raw_label_table(self.name, self.space)

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def params(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return self.preprocess.params(rng)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        s = self.samples[index]
        params = self.params(index)
        pp = self.preprocess
        reading = s.label  # the file being read, named in the error
        try:
            with open_id_map(s.label) as lab:
                raw = label_array(pp.apply(lab, params, Image.NEAREST))
            reading = s.image
            with Image.open(s.image) as img:
                image = image_tensor(pp.apply(img.convert("RGB"), params, Image.BICUBIC))
            inst = None
            if self.use_instance and s.instance is not None:
                reading = s.instance
                with open_id_map(s.instance) as im:
                    inst = label_array(pp.apply(im, params, Image.NEAREST))
        except (OSError, ValueError) as err:
            raise DatasetError([Problem("unreadable", (str(reading),),
                                        f"reading {reading} (sample {s.key!r}) failed: {err}.",
                                        "replace or remove the file (vasis.data.validate_dataset "
                                        "with decode_images=True finds every such file)")]) from err
        if raw.max(initial=0) >= self.lut.size or (self.lut[raw.astype(np.int64)] < 0).any():
            bad = sorted({int(v) for v in np.unique(raw) if v >= self.lut.size or self.lut[v] < 0})
            raise DatasetError([Problem(
                "label ids", (str(s.label),),
                f"label map {s.label} has ids {bad[:10]} outside {describe_raw_range(self.name, self.space)}.",
                "remap the labels or choose the dataset whose label space they use")])
        item = {"label": torch.from_numpy(self.lut[raw.astype(np.int64)]),
                "image": image, "path": str(s.image)}
        if inst is not None:
            item["instance"] = torch.from_numpy(inst.astype(np.int64))
        return item

    def __repr__(self) -> str:
        return (f"FolderDataset({self.name!r}, root={str(self.root)!r}, split={self.split!r}, "
                f"n={len(self)}, size={self.size}, train={self.train}, instance={self.use_instance})")


def default_size(name: str) -> tuple[int, int]:
    preset = DATASETS.get(canonical_name(name))
    return (preset.height, preset.width) if preset else (256, 256)


def build_dataset(name: str, dataroot=None, split: str = "train", size=None, train: bool | None = None,
                  *, seed: int = 0, use_instance: bool | None = None, label_space=None,
                  preprocess: str | None = None, load_size=None, flip: bool = True, n: int | None = None):
    """A dataset by name: ``cityscapes``, ``ade20k``, ``coco-stuff``, ``custom`` or ``scenes``.

    ``size`` is the (H, W) output (default: the dataset preset's size); ``train`` switches on
    random crop and flip (default: ``split == 'train'``). ``scenes`` without ``dataroot``
    generates the built-in scenes in memory (``n`` items, default 1000 train / 100 val);
    with a ``dataroot`` it reads a folder written by :func:`vasis.data.write_scenes`.
    """
    name = canonical_name(name)
    train = (split == "train") if train is None else bool(train)
    size = resolve_size(size, default_size(name))
    if name == "scenes":
        if dataroot is None:
            return SceneDataset(n if n is not None else DEFAULT_N[_split_dir(split)], size=size,
                                seed=seed, split=_split_dir(split))
        listing = list_samples("custom", dataroot, split, use_instance, label_space or "scenes")
        return FolderDataset(listing, size, train, seed, preprocess or "fixed", load_size, flip)
    if dataroot is None:
        raise UserError(f"dataset {name!r} needs a dataroot (the folder holding its files)")
    listing = list_samples(name, dataroot, split, use_instance, label_space)
    return FolderDataset(listing, size, train, seed, preprocess, load_size, flip)
