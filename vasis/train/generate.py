"""Images from a training checkpoint, in the layout the evaluation tools read.

``OUT/images/<name>_s<k>.png`` is sample ``k`` for label map ``<name>``;
``OUT/labels/<name>_s<k>.png`` is that label map at the generated size (nearest resize), so
``run_analysis.py variation --images OUT/images --labels OUT/labels`` pairs them by name.
Label PNGs keep the dataset's stored ids (ADE20K: 0 = unknown, classes 1..150; COCO-Stuff: 255 =
don't care). OASIS-family runs use the BN-refreshed EMA generator when the checkpoint has one.

Every seeded generation of the suite (this command, the main job, the experiments) goes through
:func:`seeded_samples`, with one seed formula: sample ``k`` of a set of label maps is drawn
after ``torch.manual_seed(seed * 1009 + k)`` (:func:`sample_seed`), the batches in order with
the random stream running on, so sample ``k`` of a map does not depend on how many samples
are drawn (it does depend on the batch size and the order of the maps).
Arguments are checked before anything is read or written, and the output is written into a
temporary folder renamed to ``OUT`` at the end: a failed command leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..data import build_dataset
from ..data.common import label_array, raw_label_table
from ..inputs import encode_labels
from ..labels import DONTCARE_ID, label_space
from .load import load_generator  # noqa: F401 - its home was here; callers import it from here
from ..errors import UserError, MissingFileError, ExistsError
from ..data.folders import known_dataset


def sample_seed(seed: int, k: int) -> int:
    """The seed of sample ``k`` (see the module docstring)."""
    return seed * 1009 + k


def _rng_state(device: torch.device):
    return (torch.get_rng_state(),
            torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def _set_rng_state(state, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


@torch.no_grad()
def seeded_samples(gen, batches: Sequence[torch.Tensor], samples: int,
                   seed: int) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Yield ``(k, i, images)``: sample ``k`` of batch ``batches[i]`` (the generator's input),
    in [-1, 1], for ``k`` in ``range(samples)`` and the batches in order; ``gen`` in eval mode.

    The seed formula is :func:`sample_seed`. The caller's random state is left as it was
    (each batch runs in :func:`torch.random.fork_rng`, the stream of sample ``k`` carried from
    batch to batch), and ``batches`` is indexed lazily, so it may encode on the fly.
    """
    gen.eval()
    for k in range(samples):
        state = None
        for i in range(len(batches)):
            x = batches[i]
            dev = torch.device(x.device)
            with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                if state is None:
                    torch.manual_seed(sample_seed(seed, k))
                else:
                    _set_rng_state(state, dev)
                images = gen(x).clamp(-1, 1)
                state = _rng_state(dev)
            yield k, i, images


def sample_images(gen, batches: Sequence[torch.Tensor], samples: int, seed: int) -> torch.Tensor:
    """All of :func:`seeded_samples` stacked: (samples, N, 3, H, W) in [-1, 1]."""
    out = [[] for _ in range(samples)]
    for k, _, images in seeded_samples(gen, batches, samples, seed):
        out[k].append(images)
    return torch.stack([torch.cat(o) for o in out])


def batches_of(labels: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """``labels`` cut into consecutive batches (the last one may be shorter)."""
    return [labels[i:i + batch_size] for i in range(0, len(labels), batch_size)]


class EncodedBatches(Sequence):
    """The generator inputs of label maps (+ instance maps), encoded one batch at a time
    (:func:`vasis.inputs.encode_labels`; OASIS-family generators, told by the config's
    ``arch``, take no instance edges)."""

    def __init__(self, gen, labels: Sequence[torch.Tensor], instances=None, batch_size: int = 4,
                 device="cpu"):
        self.space = label_space(gen.cfg.dataset)
        self.oasis = gen.cfg.arch == "oasis"
        self.labels, self.instances = labels, instances
        self.batch_size, self.device = batch_size, device

    def __len__(self) -> int:
        return (len(self.labels) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < len(self):
            raise IndexError(i)
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        lab = torch.stack(list(self.labels[sl]))
        inst = None
        if not self.oasis and self.space.instance and self.instances is not None:
            chunk = list(self.instances[sl])
            if all(c is not None for c in chunk):
                inst = torch.stack(chunk)
        x = encode_labels(lab, self.space, inst, with_instance=False if self.oasis else None)
        return x.to(self.device)


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
    oasis = g.cfg.arch == "oasis"
    tmp = Path(tempfile.mkdtemp(dir=_existing_ancestor(out.parent), prefix=f".{out.name}.tmp-"))
    bar = tqdm(total=len(items) * samples, desc="generate", unit="img", disable=not progress,
               dynamic_ncols=True)
    try:
        img_dir, lab_dir = tmp / "images", tmp / "labels"
        img_dir.mkdir()
        lab_dir.mkdir()
        names = []
        batches = EncodedBatches(g, [c[1] for c in items], [c[2] for c in items], batch_size,
                                 device)
        for k, i, imgs in seeded_samples(g, batches, samples, seed):
            chunk = items[i * batch_size:(i + 1) * batch_size]
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
