"""Images from a training checkpoint, in the layout the evaluation tools read.

``OUT/images/<name>_s<k>.png`` is sample ``k`` for label map ``<name>``;
``OUT/labels/<name>_s<k>.png`` is that label map at the generated size (nearest resize), so
``run_analysis.py variation --images OUT/images --labels OUT/labels`` pairs them by name.
Label PNGs keep the dataset's stored ids (ADE20K: 0 = unknown, classes 1..150; COCO-Stuff: 255 =
don't care). OASIS-family runs use the BN-refreshed EMA generator when the checkpoint has one.
Arguments are checked before anything is read or written, and the output is written into a
temporary folder renamed to ``OUT`` at the end: a failed command leaves nothing behind.
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


def _check_arguments(out: Path, labels, dataset, dataroot, split, samples, batch_size, limit,
                     device) -> None:
    """Every argument that can be checked without reading the checkpoint, before any work."""
    for option, value in (("--samples", samples), ("--batch-size", batch_size), ("--limit", limit)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise UserError(f"{option} must be an integer >= 1, got {value!r}")
    if split not in ("train", "val"):
        raise UserError(f"unknown split {split!r}; use 'train' or 'val'")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExistsError(f"output folder {out} is not empty; choose another --out")
    if labels is not None and not Path(labels).is_dir():
        raise MissingFileError(f"label folder {labels} does not exist; give a folder of label "
                               f"PNGs (--labels) or drop it to use the run's dataset")
    if dataset is not None:
        from ..data.folders import known_dataset
        known_dataset(dataset)
    if dataroot is not None and not Path(dataroot).is_dir():
        raise MissingFileError(f"dataroot {dataroot} does not exist or is not a folder; give the "
                               f"folder that holds the dataset's files")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available here; use --device cpu")


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


@torch.no_grad()
def generate(checkpoint, out, *, labels=None, dataset=None, dataroot=None, split: str = "val",
             samples: int = 1, batch_size: int = 4, seed: int = 0, limit: int | None = None,
             device: str = "cpu", use_ema: bool = True, progress: bool = False) -> list[Path]:
    """Write ``samples`` images per label map; returns the image paths.

    The arguments are checked first; the files are written into a temporary folder beside
    ``out`` that is renamed to ``out`` at the end, so a failure at any point leaves nothing."""
    from tqdm.auto import tqdm

    out = Path(out)
    _check_arguments(out, labels, dataset, dataroot, split, samples, batch_size, limit, device)
    g, settings, preset, size = load_generator(checkpoint, device, use_ema)
    if labels is not None:
        items = list(_label_folder(Path(labels), preset, size))
    else:
        dataset = dataset or settings.dataset
        if dataroot is None and dataset != "scenes":
            dataroot = settings.dataroot
        items = list(_dataset_items(dataset, dataroot, split, size, limit))
        if limit is not None:
            items = items[:limit]
    if not items:
        raise UserError(f"no label maps to generate for (split {split!r}); check --split, "
                        f"--dataset / --dataroot or --labels")
    space = label_space(preset)
    oasis = settings.model in ("oasis", "va-oasis")
    tmp = Path(tempfile.mkdtemp(dir=_existing_ancestor(out.parent), prefix=f".{out.name}.tmp-"))
    bar = tqdm(total=len(items) * samples, desc="generate", unit="img", disable=not progress,
               dynamic_ncols=True)
    try:
        img_dir, lab_dir = tmp / "images", tmp / "labels"
        img_dir.mkdir()
        lab_dir.mkdir()
        names = []
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
                    names.append(fname)
                bar.update(len(chunk))
        (tmp / "generate.json").write_text(json.dumps({
            "checkpoint": str(checkpoint), "model": settings.model, "dataset": preset,
            "size": list(size), "samples": samples, "seed": seed, "images": len(names),
            "generator": "ema" if use_ema and oasis else "generator"}, indent=1))
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, out)  # replaces an empty `out` folder; refuses a non-empty one
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    return [out / "images" / n for n in names]
