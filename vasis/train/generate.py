"""Images from a training checkpoint, in the layout the evaluation tools read.

``OUT/images/<name>_s<k>.png`` is sample ``k`` for label map ``<name>``;
``OUT/labels/<name>_s<k>.png`` is that label map at the generated size (nearest resize), so
``run_analysis.py variation --images OUT/images --labels OUT/labels`` pairs them by name.
Label PNGs keep the dataset's stored ids (ADE20K: 0 = unknown, classes 1..150; COCO-Stuff: 255 =
don't care). OASIS-family runs use the BN-refreshed EMA generator when the checkpoint has one.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data import build_dataset
from ..data.common import label_array, raw_label_table
from ..inputs import encode_labels
from ..labels import DONTCARE_ID, label_space
from .load import load_generator  # noqa: F401 - its home was here; callers import it from here
from ..errors import UserError, MissingFileError, ExistsError


def _to_raw(label: np.ndarray, preset: str) -> np.ndarray:
    out = label.astype(np.int64)
    if preset == "ade20k":  # suite ids 0..149 -> stored 1..150, don't care -> 0
        out = np.where(out == DONTCARE_ID, 0, out + 1)
    return out.astype(np.uint8)


def _label_folder(folder: Path, preset: str, size):
    space = label_space(preset)
    lut = raw_label_table(preset if preset in ("ade20k", "cityscapes") else "custom", space)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith("."))
    if not files:
        raise MissingFileError(f"no label PNGs in {folder}")
    problems = []
    for p in files:
        try:
            with Image.open(p) as im:
                raw = label_array(im.resize((size[1], size[0]), Image.NEAREST)
                                  if im.size != (size[1], size[0]) else im).astype(np.int64)
        except (OSError, ValueError) as err:
            problems.append(f"{p}: {err}")
            continue
        bad = np.unique(raw[(raw < 0) | (raw >= lut.size) | (lut[np.clip(raw, 0, lut.size - 1)] < 0)])
        if bad.size:
            problems.append(f"{p}: ids {bad[:10].tolist()} outside the {preset} label space")
            continue
        yield p.stem, torch.from_numpy(lut[raw]), None
    if problems:
        raise UserError("label maps not usable:\n  " + "\n  ".join(problems))


def _dataset_items(dataset, dataroot, split, size, limit):
    n = None if dataroot is not None else (limit or 100)
    ds = build_dataset(dataset, dataroot, split, size, train=False, n=n)
    count = len(ds) if limit is None else min(limit, len(ds))
    for i in range(count):
        item = ds[i]
        name = Path(item["path"]).stem if "://" not in item["path"] else f"{split}_{i:05d}"
        yield name, item["label"], item.get("instance")


@torch.no_grad()
def generate(checkpoint, out, *, labels=None, dataset=None, dataroot=None, split: str = "val",
             samples: int = 1, batch_size: int = 4, seed: int = 0, limit: int | None = None,
             device: str = "cpu", use_ema: bool = True) -> list[Path]:
    """Write ``samples`` images per label map; returns the image paths."""
    if samples < 1:
        raise UserError("samples must be >= 1")
    g, settings, preset, size = load_generator(checkpoint, device, use_ema)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ExistsError(f"output folder {out} is not empty; choose another --out")
    if labels is not None:
        items = list(_label_folder(Path(labels), preset, size))
    else:
        dataset = dataset or settings.dataset
        if dataroot is None and dataset != "scenes":
            dataroot = settings.dataroot
        items = list(_dataset_items(dataset, dataroot, split, size, limit))
        if limit is not None:
            items = items[:limit]
    space = label_space(preset)
    oasis = settings.model in ("oasis", "va-oasis")
    img_dir, lab_dir = out / "images", out / "labels"
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        lab = torch.stack([c[1] for c in chunk])
        inst = None
        if not oasis and space.instance and all(c[2] is not None for c in chunk):
            inst = torch.stack([c[2] for c in chunk])
        x = encode_labels(lab, space, inst, with_instance=False if oasis else None).to(device)
        for k in range(samples):
            torch.manual_seed(seed * 100003 + k * 1009 + start)
            imgs = g(x).clamp(-1, 1)
            imgs = ((imgs + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            for (name, label, _), img in zip(chunk, imgs):
                fname = f"{name}_s{k}.png"
                Image.fromarray(img, "RGB").save(img_dir / fname)
                Image.fromarray(_to_raw(label.numpy(), preset), "L").save(lab_dir / fname)
                written.append(img_dir / fname)
    (out / "generate.json").write_text(json.dumps({
        "checkpoint": str(checkpoint), "model": settings.model, "dataset": preset,
        "size": list(size), "samples": samples, "seed": seed, "images": len(written),
        "generator": "ema" if use_ema and oasis else "generator"}, indent=1))
    return written
