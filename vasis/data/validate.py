"""Check a dataset on disk before training: every problem at once, with file names and the fix.

Reports missing pairs, duplicates, unreadable files, size mismatches between image, label and
instance map, non-single-channel id maps and label ids outside the dataset's range. Image and
instance sizes come from file headers; label maps are decoded once for their ids (a bincount
per file). Truncated JPEG / PNG files are caught from the file's last bytes (the JPEG
end-of-image marker, the PNG IEND chunk) without decoding every image; ``decode_images=True``
decodes every image fully. Nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .common import (DatasetError, Problem, describe_raw_range, invalid_raw_ids, label_array,
                     label_ids_of, raw_label_table)
from .folders import FolderDataset, canonical_name, list_samples
from ..errors import UserError


@dataclass
class ValidationReport:
    name: str
    root: str
    splits: tuple[str, ...]
    samples: dict[str, int]
    label_ids: dict[str, list[int]] = field(default_factory=dict)  # raw ids seen per split
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        counts = ", ".join(f"{s}: {n}" for s, n in self.samples.items())
        return f"{self.name} at {self.root}: {counts} samples, {len(self.problems)} problem(s)"


_TAIL_BYTES = 64  # enough for PNG's 12-byte IEND chunk or JPEG's EOI marker plus padding
_PNG_IEND = b"IEND\xaeB`\x82"  # chunk type and its fixed CRC


def _tail_complete(path: Path, fmt: str | None) -> bool:
    """Whether the file ends as a complete JPEG (EOI marker FF D9, maybe padded) or PNG (the
    IEND chunk) does; other formats are not checked. Reads only the last bytes."""
    if fmt not in ("JPEG", "PNG", "MPO"):
        return True
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - _TAIL_BYTES))
        tail = f.read()
    if fmt == "PNG":
        return _PNG_IEND in tail
    return tail.rstrip(b"\x00\xff\r\n\t ").endswith(b"\xff\xd9")


def _header(path: Path, what: str, problems: list[Problem], decode: bool = False):
    """(size, mode) from the header; ``decode`` decodes the whole image. Without it a JPEG or
    PNG whose end is missing (a truncated copy) is decoded too, so extra bytes after a complete
    image are not mistaken for damage: only files that really fail to decode are reported."""
    try:
        with Image.open(path) as img:
            if decode or not _tail_complete(path, img.format):
                img.load()
            return img.size, img.mode
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        problems.append(Problem("unreadable", (str(path),),
                                f"{what} {path} cannot be read, it is damaged or truncated ({err}).",
                                "replace the file with a complete copy or remove the sample"))
        return None, None


def validate_dataset(name, dataroot=None, split="train", *, use_instance: bool | None = None,
                     label_space=None, check_ids: bool = True, decode_images: bool = False,
                     raise_on_error: bool = True) -> ValidationReport:
    """Check one or more splits of a dataset folder; raise one :class:`DatasetError` listing all.

    ``name`` is a dataset name (``cityscapes``, ``ade20k``, ``coco-stuff``, ``custom``,
    ``scenes`` = a folder written by ``write_scenes``) or a :class:`FolderDataset`.
    ``split`` may be a tuple such as ``("train", "val")``. Truncated JPEG / PNG images are found
    from their file ends; ``decode_images=True`` also decodes every image fully (catches damage
    inside a complete-looking file; slower). Returns the report when all is well
    (or always, with ``raise_on_error=False``).
    """
    if isinstance(name, FolderDataset):
        ds = name
        name, dataroot, split = ds.name, ds.root, ds.split
        label_space = label_space or ds.space
        use_instance = ds.use_instance if use_instance is None else use_instance
    name = canonical_name(name)
    if name == "scenes":
        name, label_space = "custom", label_space or "scenes"
    if dataroot is None:
        raise UserError("validate_dataset needs the dataroot of the dataset folder")
    splits = (split,) if isinstance(split, str) else tuple(split)
    report = ValidationReport(name, str(dataroot), splits, {})
    for sp in splits:
        listing = list_samples(name, dataroot, sp, use_instance, label_space)
        report.samples[sp] = len(listing.samples)
        problems = report.problems
        problems.extend(listing.problems)
        lut = raw_label_table(name, listing.space)
        seen = np.zeros(0, dtype=np.int64)
        for s in listing.samples:
            isize, imode = _header(s.image, "image", problems, decode_images)
            if imode is not None and imode not in ("RGB", "L", "P", "RGBA", "CMYK", "YCbCr", "LA", "I;16", "I"):
                problems.append(Problem("image mode", (str(s.image),),
                                        f"image {s.image} has mode {imode!r}.",
                                        "save it as an 8-bit RGB image"))
            lsize = None
            if check_ids:
                try:
                    with Image.open(s.label) as lab:
                        lsize = lab.size
                        arr = label_array(lab)
                except ValueError as err:
                    problems.append(Problem(
                        "label format", (str(s.label),), f"label map {s.label}: {err}.",
                        "save class ids as a single-channel (mode L) PNG, not a color-coded image"))
                    arr = None
                except (OSError, Image.DecompressionBombError) as err:
                    problems.append(Problem("unreadable", (str(s.label),),
                                            f"label map {s.label} cannot be read ({err}).",
                                            "replace the file with a valid PNG or remove the sample"))
                    arr = None
                if arr is not None:
                    ids = label_ids_of(arr)
                    seen = np.union1d(seen, ids)
                    bad = invalid_raw_ids(ids, lut)
                    if bad:
                        problems.append(Problem(
                            "label ids", (str(s.label),),
                            f"label map {s.label} has ids {bad[:20]} outside the {name} range "
                            f"{describe_raw_range(name, listing.space)}.",
                            "remap these ids (or set them to the don't-care id 255 where the "
                            "dataset has one) or choose the dataset whose label space they use"))
            else:
                lsize, lmode = _header(s.label, "label map", problems)
                if lmode is not None and lmode in ("RGB", "RGBA"):
                    problems.append(Problem(
                        "label format", (str(s.label),), f"label map {s.label} has mode {lmode!r}.",
                        "save class ids as a single-channel (mode L) PNG"))
            sizes = {"image": isize, "label": lsize}
            if listing.use_instance and s.instance is not None:
                nsize, nmode = _header(s.instance, "instance map", problems)
                if nmode in ("RGB", "RGBA"):
                    problems.append(Problem(
                        "instance format", (str(s.instance),),
                        f"instance map {s.instance} has mode {nmode!r}.",
                        "save instance ids as a single-channel PNG (mode L, I;16 or I)"))
                sizes["instance"] = nsize
            known = {k: v for k, v in sizes.items() if v is not None}
            if len(set(known.values())) > 1:
                files = {"image": s.image, "label": s.label, "instance": s.instance}
                desc = ", ".join(f"{k} {files[k]} is {w}x{h}" for k, (w, h) in known.items())
                paths = tuple(str(files[k]) for k in known)
                problems.append(Problem(
                    "size mismatch", paths, f"sample {s.key!r} sizes differ (WxH): {desc}.",
                    "resize the label/instance map to the image size with nearest-neighbour "
                    "resampling, or re-export the pair"))
        report.label_ids[sp] = [int(v) for v in seen]
    if report.problems and raise_on_error:
        raise DatasetError(report.problems, header=f"{name} at {dataroot} ({', '.join(splits)}) is not usable")
    return report
