"""The VASIS intra-class variation statistics of generated image folders (official and corrected).

An evaluation metric of the paper beside FID and mIoU: per class, the spread of the colour /
lightness of its pixels, within an image (``one_*``) or pooled over all images (``all_*``),
computed exactly as the official VASIS evaluation script (``official=True``, quirks included)
or corrected. Definitions and the official script's quirks: ``docs/metrics.md``; the
map-level variation metrics (boundary profiles, pattern repetition, ...) are
:mod:`analysis.metrics`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import MissingFileError, UserError
from ..labels import DONTCARE_ID, label_space

__all__ = ["OFFICIAL_DATASETS", "FIELDS", "IntraClassVariation", "intra_class_variation",
           "match_files", "intra_class_variation_dirs"]

IGNORE = (DONTCARE_ID,)


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)

# label_nc and the label size (h, w) of the official evaluation script; 'scenes' is the suite's.
OFFICIAL_DATASETS = {
    "cityscapes": (35, (256, 512)),
    "ade20k": (151, (256, 256)),
    "coco-stuff": (183, (256, 256)),
    "scenes": (7, (128, 128)),
}
FIELDS = ("one_color", "one_light", "all_color", "all_light")
_LUMA = (0.299, 0.587, 0.114)
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class IntraClassVariation:
    """The four VASIS intra-class statistics (the means over classes) and their per-class values.

    ``per_class``: DataFrame with ``class``, ``name``, ``images`` (images where the class has
    >= 2 pixels), ``pixels``, ``one_color``, ``one_light``, ``all_color``, ``all_light``.
    """

    one_color: float
    one_light: float
    all_color: float
    all_light: float
    official: bool
    n_images: int
    per_class: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def as_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in FIELDS}


def _official_names(dataset: str | None, label_nc: int) -> list:
    if dataset is None:
        return [None] * label_nc
    names = label_space(dataset).classes  # ADE20K: raw ids, 0 = other, as the script reads them
    return [names[i] if i < len(names) else None for i in range(label_nc)]


def intra_class_variation(images: Iterable, labels: Iterable, *, label_nc: int | None = None,
                          official: bool = False, ignore=IGNORE, min_pixels: int = 2,
                          ddof: int = 0, dataset: str | None = None,
                          sources: Sequence[str] | None = None) -> IntraClassVariation:
    """VASIS intra-class variation of images against their label maps.

    ``images``: (H, W, 3) arrays; ``labels``: (H, W) integer arrays of the same size.

    Per image n and class s with pixel set P (RGB values x_k(p), luminance
    ``y(p) = 0.299 R + 0.587 G + 0.114 B``):
    ``one_color[s, n] = mean_k std_P x_k``, ``one_light[s, n] = std_P y``. Pooling the class's
    pixels of all images: ``all_color[s] = mean_k std x_k``, ``all_light[s] = std y``.

    ``official=True`` - exactly what VASIS ``evaluation/intra_class_variation`` computes (for
    comparing with published numbers): ``images`` on the script's scale (PNG 0..255, JPEG
    0..65025, see :func:`intra_class_variation_dirs`), ids ``0..label_nc-1`` with 255 mapped to
    ``label_nc``; any id then outside ``0..label_nc-1`` (COCO-Stuff's and Cityscapes' 255) makes
    the script crash, here a ``ValueError``; a class with <= 1 pixel in an image is skipped and
    counts 0; one_* use torch's unbiased float32 std and are averaged over *all* images (absent
    -> 0); all_* use numpy's biased (ddof 0) float32 std; the reported values are means over *all*
    ``label_nc`` classes (absent classes count 0).

    ``official=False`` - corrected: ids in ``ignore`` (don't-care 255) are left out; a class
    enters an image's statistics with >= ``min_pixels`` pixels; one std everywhere (``ddof``,
    default 0, float64); one_* are averaged over the images where the class is present, and the
    reported values are means over the classes present in at least one image. Pixel values are
    taken as given (use 0..255; :func:`intra_class_variation_dirs` reads every format on 0..255).
    """
    if official:
        if label_nc is None:
            raise UserError("official=True needs label_nc (35 Cityscapes, 151 ADE20K, 183 COCO-Stuff)")
        return _official(((lab, (lambda im=im: im)) for im, lab in zip(images, labels)),
                         label_nc, dataset, sources)
    return _corrected(zip(images, labels), ignore, min_pixels, ddof, dataset, label_nc, sources)


def _name(i, sources) -> str:
    return sources[i] if sources is not None and i < len(sources) else f"pair {i}"


def _check_pair(img: np.ndarray, lab: np.ndarray, i: int, sources) -> None:
    if lab.ndim != 2:
        raise UserError(f"{_name(i, sources)}: the label map must have one channel, "
                         f"got shape {lab.shape}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise UserError(f"{_name(i, sources)}: the image must be RGB (H, W, 3), got shape {img.shape}")
    if img.shape[:2] != lab.shape:
        raise UserError(f"{_name(i, sources)}: image size {img.shape[:2]} differs from label "
                         f"size {lab.shape}")


def _check_ids(lab: np.ndarray, space, ignore, name: str) -> None:
    """Ids of ``lab`` must be classes of ``space`` (or ignored ids such as its don't-care)."""
    ids = np.unique(lab)
    bad = [int(v) for v in ids if not (0 <= v < space.label_nc or int(v) in ignore)]
    if bad:
        allowed = f"0..{space.label_nc - 1}" + (f" and {DONTCARE_ID} (don't care)"
                                               if DONTCARE_ID in ignore else "")
        raise UserError(f"{name}: label ids {bad[:10]} are outside the {space.name} label space "
                        f"({allowed}); give the --dataset these label maps belong to (see "
                        f"`run_analysis.py classes --dataset D`)")


def _official(pairs, label_nc, dataset, sources) -> IntraClassVariation:
    """``pairs`` yields (label, image) lazily: as in the script, a label map is checked before
    its image is read."""
    cols_color, cols_light = [], []
    pooled_color = [[] for _ in range(label_nc)]
    pooled_light = [[] for _ in range(label_nc)]
    luma = torch.tensor(_LUMA, dtype=torch.float32).view(1, 3)
    counts = np.zeros(label_nc, dtype=np.int64)
    pixels = np.zeros(label_nc, dtype=np.int64)
    for i, (lab, get_img) in enumerate(pairs):
        lab = _np(lab).astype(np.int64).copy()
        lab[lab == 255] = label_nc
        bad = np.unique(lab[(lab < 0) | (lab >= label_nc)])
        if bad.size:
            shown = [255 if b == label_nc else int(b) for b in bad[:10]]
            raise UserError(
                f"{_name(i, sources)}: label ids {shown} are outside 0..{label_nc - 1}; the official "
                f"script maps 255 (don't care) to label_nc={label_nc} and then crashes in its "
                f"one-hot scatter (this happens for every COCO-Stuff map with don't-care pixels). "
                f"Run without --official (corrected mode ignores 255).")
        img = np.asarray(get_img(), dtype=np.float32)
        _check_pair(img, lab, i, sources)
        t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        col_c, col_l = torch.zeros(label_nc), torch.zeros(label_nc)
        for s in range(label_nc):
            mask = lab == s
            area = int(mask.sum())
            if area <= 1:
                continue
            P = t[:, torch.from_numpy(mask)]  # (3, area), pixels in row-major order
            col_c[s] = P.std(dim=1).mean()
            light = torch.mm(luma, P)
            col_l[s] = torch.std(light)
            pooled_color[s].append(P.numpy())
            pooled_light[s].append(light.numpy())
            counts[s] += 1
            pixels[s] += area
        cols_color.append(col_c)
        cols_light.append(col_l)
    n = len(cols_color)
    if n == 0:
        raise UserError("no images given")
    one_color = torch.stack(cols_color, 1)
    one_light = torch.stack(cols_light, 1)
    all_color = np.zeros(label_nc)
    all_light = np.zeros(label_nc)
    for s in range(label_nc):
        if pooled_color[s]:
            all_color[s] = np.hstack(pooled_color[s]).std(axis=1).mean()
            all_light[s] = np.hstack(pooled_light[s]).std(axis=1).mean()
    oc = one_color.mean(dim=1).numpy()
    ol = one_light.mean(dim=1).numpy()
    per_class = pd.DataFrame({"class": np.arange(label_nc), "name": _official_names(dataset, label_nc),
                              "images": counts, "pixels": pixels, "one_color": oc,
                              "one_light": ol, "all_color": all_color, "all_light": all_light})
    return IntraClassVariation(float(oc.mean()), float(ol.mean()), float(all_color.mean()),
                               float(all_light.mean()), True, n, per_class)


class _Pool:
    """Running count / mean / M2 per channel (Chan et al.'s parallel merge)."""

    def __init__(self, channels: int):
        self.n = 0
        self.mean = np.zeros(channels)
        self.m2 = np.zeros(channels)

    def add(self, x: np.ndarray) -> None:  # x: (channels, m)
        m = x.shape[1]
        mean = x.mean(axis=1)
        m2 = ((x - mean[:, None]) ** 2).sum(axis=1)
        delta = mean - self.mean
        total = self.n + m
        self.mean = self.mean + delta * m / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.n * m / total
        self.n = total

    def std(self, ddof: int) -> np.ndarray:
        return np.sqrt(self.m2 / (self.n - ddof))


def _corrected(pairs, ignore, min_pixels, ddof, dataset, label_nc, sources):
    ignore = set(ignore or ())
    luma = np.asarray(_LUMA)
    one_c: dict[int, list] = {}
    one_l: dict[int, list] = {}
    pool_c: dict[int, _Pool] = {}
    pool_l: dict[int, _Pool] = {}
    n = 0
    min_pixels = max(int(min_pixels), ddof + 1)
    space = label_space(dataset) if dataset is not None else None
    for i, (img, lab) in enumerate(pairs):
        img = np.asarray(img, dtype=np.float64)
        lab = _np(lab).astype(np.int64)
        _check_pair(img, lab, i, sources)
        if space is not None:
            _check_ids(lab, space, ignore, _name(i, sources))
        n += 1
        flat = img.reshape(-1, 3).T  # (3, H*W)
        lab_flat = lab.reshape(-1)
        for s in np.unique(lab_flat):
            s = int(s)
            if s in ignore:
                continue
            P = flat[:, lab_flat == s]
            if P.shape[1] < min_pixels:
                continue
            y = (luma @ P)[None]
            one_c.setdefault(s, []).append(P.std(axis=1, ddof=ddof).mean())
            one_l.setdefault(s, []).append(y.std(ddof=ddof))
            pool_c.setdefault(s, _Pool(3)).add(P)
            pool_l.setdefault(s, _Pool(1)).add(y)
    if n == 0:
        raise UserError("no images given")
    classes = sorted(one_c)
    names = None
    if dataset is not None:
        size = max(classes, default=-1) + 1
        names = _official_names(dataset, max(size, label_nc or 0))
    per_class = pd.DataFrame({
        "class": classes,
        "name": [names[c] if names else None for c in classes],
        "images": [len(one_c[c]) for c in classes],
        "pixels": [pool_c[c].n for c in classes],
        "one_color": [float(np.mean(one_c[c])) for c in classes],
        "one_light": [float(np.mean(one_l[c])) for c in classes],
        "all_color": [float(pool_c[c].std(ddof).mean()) for c in classes],
        "all_light": [float(pool_l[c].std(ddof)[0]) for c in classes],
    })
    if not classes:
        nan = float("nan")
        return IntraClassVariation(nan, nan, nan, nan, False, n, per_class)
    return IntraClassVariation(*(float(per_class[k].mean()) for k in FIELDS), False, n, per_class)


def _label_name_candidates(image_name: str, dataset: str) -> list[str]:
    stem, _ = os.path.splitext(image_name)
    cands = []
    if dataset == "cityscapes" and "leftImg8bit" in image_name:
        official = image_name.replace("leftImg8bit", "gtFine_labelIds")
        cands += [official, os.path.splitext(official)[0] + ".png"]
    else:
        cands.append(image_name.replace(".jpg", ".png"))
    cands.append(stem + ".png")
    return list(dict.fromkeys(cands))


def match_files(images_dir, labels_dir, dataset: str) -> list[tuple[str, str]]:
    """(image path, label path) pairs, in sorted image-name order.

    The label of ``x.jpg`` is ``x.png`` (the official rule ``.jpg -> .png``; an image ``x.png``
    pairs with ``x.png``); for Cityscapes ``*leftImg8bit*`` becomes ``*gtFine_labelIds*``
    (extension kept, then ``.png``). Files without an image extension and hidden files are not
    images. Raises ``FileNotFoundError`` for a missing folder and ``ValueError`` naming every
    image without a label (and vice versa) or an empty folder.
    """
    for what, d in (("images", images_dir), ("labels", labels_dir)):
        if not os.path.isdir(d):
            raise MissingFileError(f"{what} folder {d} does not exist")
    names = sorted(f for f in os.listdir(images_dir)
                   if not f.startswith(".") and f.lower().endswith(_IMAGE_EXT)
                   and os.path.isfile(os.path.join(images_dir, f)))
    if not names:
        raise UserError(f"no images ({', '.join(_IMAGE_EXT)}) in {images_dir}")
    label_files = set(os.listdir(labels_dir))
    pairs, missing, used = [], [], set()
    for name in names:
        for cand in _label_name_candidates(name, dataset):
            if cand in label_files:
                pairs.append((os.path.join(images_dir, name), os.path.join(labels_dir, cand)))
                used.add(cand)
                break
        else:
            missing.append(name)
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise UserError(f"{len(missing)} image(s) in {images_dir} have no label map in "
                         f"{labels_dir}: {shown} (expected e.g. "
                         f"{_label_name_candidates(missing[0], dataset)[0]})")
    extra = sorted(f for f in label_files - used
                   if not f.startswith(".") and f.lower().endswith(_IMAGE_EXT))
    if extra:
        shown = ", ".join(extra[:10]) + (f" and {len(extra) - 10} more" if len(extra) > 10 else "")
        raise UserError(f"{len(extra)} label map(s) in {labels_dir} have no image in "
                         f"{images_dir}: {shown}")
    return pairs


def _decode(path: str, read):
    """``read(path)`` with a file that is no (complete) image reported as one line."""

    try:
        return read(path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        # PIL: UnidentifiedImageError (not an image), OSError (truncated), SyntaxError
        # (broken header); matplotlib: ValueError. A UserError of ours passes through.
        if isinstance(err, UserError):
            raise
        raise UserError(f"{path} is not a readable image ({type(err).__name__}: {err}); remove "
                        f"it from the folder or replace it") from None


def _read_label(path: str, size_hw=None) -> np.ndarray:
    def read(p):
        with Image.open(p) as im:
            if im.mode not in ("L", "P", "I", "I;16", "1"):
                raise UserError(f"{p}: label maps must be single-channel id images, got mode "
                                f"{im.mode}")
            if size_hw is not None and im.size != (size_hw[1], size_hw[0]):
                im = im.resize((size_hw[1], size_hw[0]), Image.NEAREST)
            return np.array(im).astype(np.int64)
    return _decode(path, read)


def _read_rgb(path: str) -> np.ndarray:
    def read(p):
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"))
    return _decode(path, read)


def intra_class_variation_dirs(images_dir, labels_dir, dataset: str, *,
                               official: bool = False, **kwargs) -> IntraClassVariation:
    """:func:`intra_class_variation` of an image folder against a label folder (see
    :func:`match_files` for the pairing).

    Official mode reads as the VASIS script: label maps nearest-resized to the dataset's
    evaluation size (:data:`OFFICIAL_DATASETS`; images are *not* resized and must already have
    that size), images with ``matplotlib.pyplot.imread`` times 255 - so PNGs are on 0..255 but
    JPEGs on 0..65025 (the script's JPEG scale quirk: imread gives uint8 for JPEG, floats in 0..1
    for PNG). Corrected mode reads every image as 8-bit RGB (0..255) and nearest-resizes a label
    map to its image's size when they differ; ``dataset`` decides the label space: ids outside
    its classes raise a ``UserError`` naming the file, its don't-care 255 (COCO-Stuff only) is
    ignored, and ``per_class`` carries its class names. A file that is no readable image raises
    a ``UserError`` naming it.
    """
    if dataset not in OFFICIAL_DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; choose one of {sorted(OFFICIAL_DATASETS)}")
    pairs = match_files(images_dir, labels_dir, dataset)
    sources = [os.path.basename(p) for p, _ in pairs]
    label_nc, osize = OFFICIAL_DATASETS[dataset]
    if official:
        # local: matplotlib is heavy; only the official-style plot needs it
        import matplotlib.pyplot as plt

        def read_image(path, name):
            img = np.asarray(_decode(path, plt.imread), dtype=np.float32) * 255
            if img.ndim != 3 or img.shape[2] != 3:
                raise UserError(f"{name}: the official script needs RGB images, got shape {img.shape}")
            if img.shape[:2] != osize:
                raise UserError(
                    f"{name}: image is {img.shape[0]}x{img.shape[1]} but the official script "
                    f"resizes labels to {osize[0]}x{osize[1]} and not the images (it crashes); "
                    f"resize the images to {osize[0]}x{osize[1]} or run without --official")
            return img

        lazy = ((_read_label(lp, osize), (lambda ip=ip, name=name: read_image(ip, name)))
                for (ip, lp), name in zip(pairs, sources))
        return _official(lazy, label_nc, dataset, sources)

    def pairs_iter():
        for ip, lp in pairs:
            img = _read_rgb(ip)
            yield img, _read_label(lp, img.shape[:2])

    # The dataset decides which ids are classes and which are ignored: its don't-care (255)
    # where it has one (COCO-Stuff); elsewhere 255 is out of range like any other unknown id.
    space = label_space(dataset)
    opts = {"ignore": (DONTCARE_ID,) if space.dontcare else (), "min_pixels": 2, "ddof": 0}
    unknown = set(kwargs) - set(opts)
    if unknown:
        raise TypeError(f"unexpected options {sorted(unknown)}")
    opts.update(kwargs)
    return _corrected(pairs_iter(), opts["ignore"], opts["min_pixels"], opts["ddof"], dataset,
                      label_nc, sources)
