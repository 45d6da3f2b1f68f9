"""The suite's built-in data: procedurally generated outdoor scenes with known intra-class statistics.

No download: every scene follows from ``(seed, split, index)``. Classes are the ``scenes``
label space (unlabeled, sky, ground, road, tree, building, water); class 0 (unlabeled) is
reserved and never drawn. A scene has sky above a horizon, ground below it, sometimes a lake
or sea and a road in perspective, buildings standing on the horizon and trees on the ground
(trees and buildings are instances, drawn far to near so nearer ones occlude).

Image model, in [0, 1] intensity units, per pixel of class c (:data:`SCENE_DESIGN`)::

    clean = illum * (base_c + gradient_c * ramp_c(position) + shift_instance)
    image = quantize8(clip(clean + texture_c * N(0, 1)))        # white-noise texture, per channel

* illumination gradients: sky brightens linearly toward the horizon, ground and road get
  brighter toward the viewer, water brighter toward the horizon, buildings lit from one side;
* per-instance colour shifts: every tree / building draws its own N(0, instance_std^2) RGB
  shift (clipped to 2 std), so each tree is a different green;
* per-image illumination ``illum ~ U(0.92, 1.08)`` (varies between images only).

Hence the *expected* within-image standard deviation of class c in one image is, per channel,
``sqrt(var(clean over the class region) + texture_c^2 + 1/(12*255^2))``; clipping is rare by
design. :func:`scene_statistics` reports it next to the measured value, and
:func:`within_image_class_std` measures the same quantity on any images (e.g. a generator's
output for the same label maps) so a trained model can be compared with the data.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..labels import SCENES_CLASSES, label_space
from ..errors import UserError, ExistsError

SKY, GROUND, ROAD, TREE, BUILDING, WATER = 1, 2, 3, 4, 5, 6
INSTANCE_STRIDE = 1000  # instance id = class * 1000 + k for things, = class id for stuff
DEFAULT_N = {"train": 1000, "val": 100}
_SPLIT_STREAM = {"train": 0, "val": 1}
QUANT_VAR = 1.0 / (12 * 255.0 ** 2)  # variance added by rounding to 8 bits
ILLUMINATION = (0.92, 1.08)

# base RGB, texture std (white noise per channel), gradient RGB amplitude over the class's ramp,
# per-instance RGB shift std. Ramps: sky 0 at the top -> 1 at the horizon; ground/road -0.5 at the
# horizon -> 0.5 at the bottom; water 1 at the horizon -> 0 at the bottom; building -0.5 at its
# left edge -> 0.5 at its right edge; tree: none.
SCENE_DESIGN = {
    "sky": dict(base=(0.42, 0.60, 0.80), texture_std=0.010, gradient=(0.30, 0.22, 0.08), instance_std=0.0),
    "ground": dict(base=(0.42, 0.50, 0.27), texture_std=0.060, gradient=(0.12, 0.12, 0.06), instance_std=0.0),
    "road": dict(base=(0.38, 0.38, 0.40), texture_std=0.025, gradient=(0.06, 0.06, 0.06), instance_std=0.0),
    "tree": dict(base=(0.20, 0.42, 0.17), texture_std=0.045, gradient=(0.0, 0.0, 0.0), instance_std=0.06),
    "building": dict(base=(0.52, 0.48, 0.44), texture_std=0.020, gradient=(0.08, 0.08, 0.08), instance_std=0.10),
    "water": dict(base=(0.16, 0.30, 0.48), texture_std=0.035, gradient=(0.12, 0.14, 0.14), instance_std=0.0),
}

_NC = len(SCENES_CLASSES)
_BASE = np.zeros((_NC, 3), np.float32)
_GRAD = np.zeros((_NC, 3), np.float32)
_TEX = np.zeros(_NC, np.float32)
_INST = np.zeros(_NC, np.float32)
for _name, _d in SCENE_DESIGN.items():
    _c = SCENES_CLASSES.index(_name)
    _BASE[_c], _GRAD[_c], _TEX[_c], _INST[_c] = _d["base"], _d["gradient"], _d["texture_std"], _d["instance_std"]


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), _SPLIT_STREAM[split], int(index)])


def render_scene(rng: np.random.Generator, size=(128, 128)) -> dict:
    """One scene as numpy arrays: ``label`` (H,W) uint8, ``instance`` (H,W) int64,
    ``clean`` (H,W,3) float32 noise-free image, ``image`` (H,W,3) uint8."""
    H, W = size
    yy = np.arange(H, dtype=np.float32)[:, None] + 0.5
    xx = np.arange(W, dtype=np.float32)[None, :] + 0.5
    hz = rng.uniform(0.30, 0.55) * H
    below = np.broadcast_to(yy >= hz, (H, W))
    depth = np.clip((yy - hz) / (H - hz), 0.0, 1.0)  # 0 at the horizon, 1 at the bottom (H,1)
    inst = np.where(below, GROUND, SKY).astype(np.int64)

    # water: a sea band at the horizon or a lake ellipse on the ground
    u = rng.random()
    if u < 0.2:
        inst[below & (yy < hz + rng.uniform(0.2, 0.5) * (H - hz))] = WATER
    elif u < 0.6:
        cx, cy = rng.uniform(0.15, 0.85) * W, hz + rng.uniform(0.25, 0.65) * (H - hz)
        rx, ry = rng.uniform(0.15, 0.35) * W, rng.uniform(0.08, 0.2) * (H - hz)
        inst[below & (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1.0)] = WATER
    # a road from a vanishing point on the horizon to the bottom edge
    if rng.random() < 0.7:
        vx, bx = rng.uniform(0.3, 0.7) * W, rng.uniform(0.2, 0.8) * W
        half = rng.uniform(0.12, 0.3) * W * depth + 0.5
        inst[below & (np.abs(xx - (vx + (bx - vx) * depth)) < half)] = ROAD

    # things: buildings on the horizon and trees on the ground, drawn far to near
    objects = []
    for _ in range(int(rng.integers(0, 4))):
        w = rng.uniform(0.08, 0.22) * W
        x0 = rng.uniform(-0.05, 1.0) * W - w / 2
        base = hz + rng.uniform(0.0, 0.04) * H
        top = hz - rng.uniform(0.15, 0.85) * hz
        objects.append((base, BUILDING, (x0, w, top)))
    for _ in range(int(rng.integers(0, 6))):
        t = rng.uniform(0.02, 1.0) ** 1.5
        base = hz + t * (H - hz)
        r = H * (0.035 + 0.09 * t) * rng.uniform(0.8, 1.2)
        objects.append((base, TREE, (rng.uniform(0.0, 1.0) * W, r)))
    objects.sort(key=lambda o: o[0])
    shifts = {}
    x_ramp = np.zeros((H, W), np.float32)
    counter = {TREE: 0, BUILDING: 0}
    for base, cls, geo in objects:
        counter[cls] += 1
        iid = cls * INSTANCE_STRIDE + counter[cls]
        if cls == BUILDING:
            x0, w, top = geo
            m = (xx >= x0) & (xx < x0 + w) & (yy >= top) & (yy < base)
            x_ramp = np.where(m, np.broadcast_to((xx - x0) / w - 0.5, (H, W)), x_ramp)
        else:
            cx, r = geo
            trunk_h, cy = 0.8 * r, base - 0.8 * r - 0.9 * r
            canopy = ((xx - cx) / r) ** 2 + ((yy - cy) / (1.1 * r)) ** 2 < 1.0
            trunk = (np.abs(xx - cx) < max(0.25 * r, 0.75)) & (yy >= base - trunk_h - 0.5 * r) & (yy < base)
            m = canopy | trunk
        inst[m] = iid
        shifts[iid] = np.clip(rng.normal(0.0, _INST[cls], 3), -2 * _INST[cls], 2 * _INST[cls])

    label = np.where(inst >= INSTANCE_STRIDE, inst // INSTANCE_STRIDE, inst).astype(np.uint8)

    # noise-free image: base + gradient * ramp + instance shift, times the image's illumination
    ramp = np.zeros((_NC, H, W), np.float32)
    ramp[SKY] = np.clip(yy / hz, 0.0, 1.0)
    ramp[GROUND] = ramp[ROAD] = depth - 0.5
    ramp[WATER] = 1.0 - depth
    ramp[BUILDING] = x_ramp
    r_pix = np.take_along_axis(ramp, label[None].astype(np.int64), 0)[0]
    clean = _BASE[label] + _GRAD[label] * r_pix[..., None]
    for iid, sh in shifts.items():
        m = inst == iid
        if m.any():
            clean[m] += sh.astype(np.float32)
    clean *= np.float32(rng.uniform(*ILLUMINATION))
    noise = rng.standard_normal((H, W, 3), dtype=np.float32) * _TEX[label][..., None]
    image = np.clip(np.rint((clean + noise) * 255.0), 0, 255).astype(np.uint8)
    return {"label": label, "instance": inst, "clean": clean, "image": image}


def paint_layout(label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Any label map (H, W) of scene ids painted with the design's colours and textures:
    ``quantize8(clip(illum * base_c + texture_c * N(0, 1)))`` in [0, 1], (H, W, 3) float32.

    What a photo of that layout looks like under :data:`SCENE_DESIGN` without the parts that
    need a scene's geometry (the ramps follow the horizon, the shifts the instances): the data's
    reference for layouts no scene has, such as the same boundary at several positions. Class 0
    (unlabeled) is black.
    """
    label = np.asarray(label).astype(np.int64)
    if label.min() < 0 or label.max() >= _NC:
        raise UserError(f"label ids must be scene classes 0..{_NC - 1}; got {label.min()}..{label.max()}")
    clean = _BASE[label] * np.float32(rng.uniform(*ILLUMINATION))
    noise = rng.standard_normal(clean.shape, dtype=np.float32) * _TEX[label][..., None]
    return (np.clip(np.rint((clean + noise) * 255.0), 0, 255) / 255.0).astype(np.float32)


def _to_item(scene: dict, path: str) -> dict:
    img = torch.from_numpy(np.ascontiguousarray(scene["image"].transpose(2, 0, 1), dtype=np.float32)
                           * np.float32(1 / 127.5) - np.float32(1.0))
    return {"label": torch.from_numpy(scene["label"].astype(np.int64)),
            "instance": torch.from_numpy(scene["instance"]), "image": img, "path": path}


class SceneDataset(torch.utils.data.Dataset):
    """``n`` generated scenes of ``size`` (H, W); item ``i`` depends only on (seed, split, i).

    Items follow the suite's convention: ``label`` (H,W) int64 scenes ids, ``instance`` (H,W)
    int64, ``image`` (3,H,W) float in [-1, 1] (the 8-bit image, as :func:`write_scenes` stores
    it), ``path`` ``scenes://<split>/<seed>/<index>``.
    """

    def __init__(self, n: int, size=(128, 128), seed: int = 0, split: str = "train"):
        if split not in _SPLIT_STREAM:
            raise UserError(f"unknown split {split!r}; use 'train' or 'val'")
        if int(n) < 0:
            raise UserError(f"n must be >= 0; got {n}")
        self.n, self.seed, self.split = int(n), int(seed), split
        self.size = (size, size) if isinstance(size, int) else tuple(int(v) for v in size)
        if min(self.size) < 16:
            raise UserError(f"scenes need at least 16x16 pixels; got {self.size}")
        self.space = label_space("scenes")
        self.name = "scenes"

    def __len__(self) -> int:
        return self.n

    def scene(self, index: int) -> dict:
        """The numpy arrays of scene ``index``, including the noise-free ``clean`` image."""
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} scenes")
        return render_scene(_rng(self.seed, self.split, index), self.size)

    def __getitem__(self, index: int) -> dict:
        return _to_item(self.scene(index), f"scenes://{self.split}/{self.seed}/{index:05d}")

    def __repr__(self) -> str:
        return f"SceneDataset(n={self.n}, size={self.size}, seed={self.seed}, split={self.split!r})"


def write_scenes(root, n_train: int = 1000, n_val: int = 100, size=(128, 128), seed: int = 0,
                 overwrite: bool = False) -> Path:
    """Write scenes in the ``custom`` layout (``<root>/{train,val}/{images,labels,instances}/*.png``
    plus ``dataset.json``), atomically: everything goes to a temporary folder beside ``root``
    which is renamed into place at the end. Read back with ``build_dataset('scenes', root, ...)``
    or ``build_dataset('custom', root, ...)``."""
    root = Path(root).expanduser().resolve()
    if root.exists() and not overwrite:
        raise ExistsError(f"{root} already exists; pass overwrite=True to replace it")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        for split, n in (("train", n_train), ("val", n_val)):
            ds = SceneDataset(n, size, seed, split)
            dirs = [tmp / split / d for d in ("images", "labels", "instances")]
            for d in dirs:
                d.mkdir(parents=True)
            for i in range(n):
                s = ds.scene(i)
                name = f"{i:05d}.png"
                Image.fromarray(s["image"], "RGB").save(dirs[0] / name, compress_level=1)
                Image.fromarray(s["label"], "L").save(dirs[1] / name, compress_level=1)
                Image.fromarray(s["instance"].astype(np.uint16)).save(dirs[2] / name, compress_level=1)
        meta = {"label_space": "scenes", "generator": "vasis.data.scenes", "seed": int(seed),
                "size": list(ds.size), "n_train": int(n_train), "n_val": int(n_val),
                "classes": list(SCENES_CLASSES), "design": SCENE_DESIGN,
                "instance_ids": "stuff: class id; things: class * 1000 + k"}
        (tmp / "dataset.json").write_text(json.dumps(meta, indent=1))
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
            os.replace(root, old / "data")
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


# ---------------------------------------------------------------------------------------------
# Intra-class statistics

def _as_numpy_images(images, value_range) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().float().numpy()
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] != 3:
        raise UserError(f"images must have shape (N, 3, H, W); got {x.shape}")
    lo, hi = value_range
    return (x - lo) / (hi - lo)


def within_image_class_std(images, labels, num_classes: int = _NC, min_pixels: int = 64,
                    value_range=(-1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Mean within-image standard deviation per class, in [0, 1] intensity units.

    For every image and class with at least ``min_pixels`` pixels: the std over the class's
    pixels per RGB channel, averaged over channels; then the mean over those images.
    ``images`` (N,3,H,W) in ``value_range`` (default the items' [-1, 1]), ``labels`` (N,H,W).
    Returns ``(std, count)`` arrays of length ``num_classes`` (std is NaN where count is 0).
    """
    x = _as_numpy_images(images, value_range)
    lab = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if lab.ndim == 2:
        lab = lab[None]
    if lab.shape != (x.shape[0],) + x.shape[2:]:
        raise UserError(f"labels {lab.shape} do not match images {x.shape}")
    total = np.zeros(num_classes)
    count = np.zeros(num_classes, dtype=np.int64)
    for img, lb in zip(x, lab):
        flat = lb.reshape(-1).astype(np.int64)
        keep = (flat >= 0) & (flat < num_classes)
        flat = flat[keep]
        px = img.reshape(3, -1)[:, keep]
        n = np.bincount(flat, minlength=num_classes)[:num_classes]
        s1 = np.stack([np.bincount(flat, px[c], num_classes) for c in range(3)])
        s2 = np.stack([np.bincount(flat, px[c] ** 2, num_classes) for c in range(3)])
        ok = n >= min_pixels
        mean = s1[:, ok] / n[ok]
        var = np.maximum(s2[:, ok] / n[ok] - mean ** 2, 0.0)
        total[ok] += np.sqrt(var).mean(0)
        count[ok] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


def scene_statistics(n: int = 64, size=(128, 128), seed: int = 0, split: str = "train",
                     min_pixels: int = 64) -> dict[str, dict[str, float]]:
    """The scenes' own per-class statistics over ``n`` scenes (generated, not read from disk).

    Per class name: ``texture_std``, ``instance_std`` (design), ``expected_std`` (the mean
    within-image std predicted by the design from the noise-free image, see the module doc),
    ``empirical_std`` (measured on the 8-bit images with :func:`within_image_class_std`),
    ``clean_std`` (measured on the noise-free images: the illumination and instance part alone),
    ``pixel_fraction`` and ``images`` (how many scenes have the class on >= min_pixels pixels).
    All stds are in [0, 1] intensity units (an item's [-1, 1] std is twice as large).
    """
    ds = SceneDataset(n, size, seed, split)
    expected = np.zeros(_NC)
    clean_std = np.zeros(_NC)
    pixels = np.zeros(_NC)
    imgs, labs = [], []
    for i in range(n):
        s = ds.scene(i)
        lb = s["label"].reshape(-1).astype(np.int64)
        cl = s["clean"].reshape(-1, 3).astype(np.float64)
        cnt = np.bincount(lb, minlength=_NC)
        pixels += cnt
        ok = cnt >= min_pixels
        s1 = np.stack([np.bincount(lb, cl[:, c], _NC) for c in range(3)])
        s2 = np.stack([np.bincount(lb, cl[:, c] ** 2, _NC) for c in range(3)])
        var = np.maximum(s2[:, ok] / cnt[ok] - (s1[:, ok] / cnt[ok]) ** 2, 0.0)
        expected[ok] += np.sqrt(var + _TEX[ok].astype(np.float64) ** 2 + QUANT_VAR).mean(0)
        clean_std[ok] += np.sqrt(var).mean(0)
        imgs.append(s["image"].transpose(2, 0, 1))
        labs.append(s["label"])
    emp, count = within_image_class_std(np.stack(imgs), np.stack(labs), _NC, min_pixels,
                                        value_range=(0, 255))
    out = {}
    for c, name in enumerate(SCENES_CLASSES):
        d = SCENE_DESIGN.get(name, {})
        k = max(int(count[c]), 1)
        out[name] = {
            "texture_std": float(d.get("texture_std", 0.0)),
            "instance_std": float(d.get("instance_std", 0.0)),
            "expected_std": float(expected[c] / k) if count[c] else float("nan"),
            "empirical_std": float(emp[c]),
            "clean_std": float(clean_std[c] / k) if count[c] else float("nan"),
            "pixel_fraction": float(pixels[c] / max(pixels.sum(), 1)),
            "images": int(count[c]),
        }
    return out
