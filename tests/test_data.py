"""Folder datasets (COCO-Stuff on the real sample; ADE20K, Cityscapes and custom on tiny
synthetic folders) and validation before training."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vasis.data import DatasetError, FolderDataset, batch_input, build_dataset, validate_dataset
from vasis.data.validate import _tail_complete


def in_coco_range(label):
    return bool((((label >= 0) & (label < 182)) | (label == 255)).all())


# --------------------------------------------------------------------------- COCO-Stuff sample

def test_coco_sample_loads_both_splits(coco_sample):
    train = build_dataset("coco-stuff", coco_sample, "train")
    val = build_dataset("coco-stuff", coco_sample, "val")
    assert (len(train), len(val)) == (13, 8)
    assert train.train and not val.train
    for ds in (train, val):
        for i in range(len(ds)):
            item = ds[i]
            assert item["label"].shape == (256, 256) and item["label"].dtype == torch.int64
            assert item["instance"].shape == (256, 256) and item["instance"].dtype == torch.int64
            assert item["image"].shape == (3, 256, 256) and item["image"].dtype == torch.float32
            assert -1.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
            assert in_coco_range(item["label"])
            assert item["path"].endswith(".jpg")


def test_coco_labels_are_the_stored_ids(coco_sample):
    ds = build_dataset("coco-stuff", coco_sample, "val", size=(64, 64))
    for i in range(len(ds)):
        raw = np.asarray(Image.open(ds.samples[i].label))
        got = set(ds[i]["label"].unique().tolist())
        assert got <= set(np.unique(raw).tolist())  # nearest resizing creates no new ids
        assert 255 in np.unique(raw) or 255 not in got


def test_coco_flip_moves_label_and_image_together(coco_sample):
    size = (96, 96)
    # load size == crop size: the only train augmentation left is the flip
    train = build_dataset("coco-stuff", coco_sample, "train", size=size, load_size=size)
    plain = build_dataset("coco-stuff", coco_sample, "train", size=size, train=False)
    flips = [train.params(i)["flip"] for i in range(len(train))]
    assert any(flips) and not all(flips)
    for i, flipped in enumerate(flips):
        a, b = train[i], plain[i]
        for key in ("label", "image", "instance"):
            want = torch.flip(b[key], [-1]) if flipped else b[key]
            assert torch.equal(a[key], want), (i, key)


def test_coco_random_crop_is_aligned_and_seeded(coco_sample):
    size, load = (64, 64), (80, 80)
    train = build_dataset("coco-stuff", coco_sample, "train", size=size, load_size=load, flip=False)
    full = build_dataset("coco-stuff", coco_sample, "train", size=load, train=False)
    offsets = set()
    for i in range(4):
        y, x = train.params(i)["crop"]
        offsets.add((y, x))
        a, b = train[i], full[i]
        for key in ("label", "image", "instance"):
            assert torch.equal(a[key], b[key][..., y:y + 64, x:x + 64]), (i, key)
    assert len(offsets) > 1
    again = build_dataset("coco-stuff", coco_sample, "train", size=size, load_size=load, flip=False)
    assert torch.equal(again[2]["image"], train[2]["image"])
    other = build_dataset("coco-stuff", coco_sample, "train", size=size, load_size=load, seed=1)
    assert any(other.params(i) != train.params(i) for i in range(len(train)))
    train.set_epoch(1)
    assert any(train.params(i)["crop"] != again.params(i)["crop"] for i in range(len(train)))


def test_coco_batch_through_dataloader(coco_sample):
    ds = build_dataset("coco-stuff", coco_sample, "val", size=(32, 32))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    x = batch_input(batch, "coco-stuff")
    assert x.shape == (3, 184, 32, 32)  # 182 classes + don't care + instance edges
    assert x[:, :183].sum(1).eq(1).all()


def test_validation_passes_on_the_sample(coco_sample):
    report = validate_dataset("coco-stuff", coco_sample, ("train", "val"))
    assert report.ok and report.samples == {"train": 13, "val": 8}
    assert all(in_coco_range(torch.tensor(ids)) for ids in report.label_ids.values())


def _copy_pairs(src, dst, names):
    for sub, ext in (("train_img", ".jpg"), ("train_label", ".png"), ("train_inst", ".png")):
        (dst / sub).mkdir(parents=True)
        for n in names:
            shutil.copy(src / sub / (n + ext), dst / sub / (n + ext))


def test_validation_reports_every_problem_at_once(coco_sample, tmp_path):
    names = sorted(p.stem for p in (coco_sample / "train_img").glob("*.jpg"))[:5]
    root = tmp_path / "coco"
    _copy_pairs(coco_sample, root, names)
    a, b, c, d, e = names
    (root / "train_label" / f"{a}.png").unlink()                       # image without label
    shutil.copy(root / "train_label" / f"{b}.png", root / "train_label" / "orphan.png")  # label w/o image
    lab = Image.open(root / "train_label" / f"{c}.png")
    lab.resize((lab.width // 2, lab.height // 2), Image.NEAREST).save(root / "train_label" / f"{c}.png")
    arr = np.array(Image.open(root / "train_label" / f"{d}.png"))
    arr[:3, :3] = 200                                                  # ids outside 0..181, 255
    Image.fromarray(arr).save(root / "train_label" / f"{d}.png")
    (root / "train_img" / f"{e}.jpg").write_bytes(b"not a jpeg")       # unreadable image
    before = sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*"))

    with pytest.raises(DatasetError) as info:
        validate_dataset("coco-stuff", root, "train")
    err = info.value
    assert isinstance(err, ValueError)
    kinds = {p.kind for p in err.problems}
    assert {"missing label", "missing image", "size mismatch", "label ids", "unreadable"} <= kinds
    msg = str(err)
    for needle in (f"{a}.jpg", "orphan.png", f"{c}.png", f"{d}.png", "[200]", f"{e}.jpg", "Fix:"):
        assert needle in msg, needle
    assert sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*")) == before

    # loading refuses the broken pairing too, and names the file
    with pytest.raises(DatasetError, match=f"{a}.jpg"):
        build_dataset("coco-stuff", root, "train")


def test_validation_flags_color_labels_and_missing_instances(coco_sample, tmp_path):
    names = sorted(p.stem for p in (coco_sample / "train_img").glob("*.jpg"))[:2]
    root = tmp_path / "coco"
    _copy_pairs(coco_sample, root, names)
    Image.open(root / "train_label" / f"{names[0]}.png").convert("RGB").save(
        root / "train_label" / f"{names[0]}.png")
    (root / "train_inst" / f"{names[1]}.png").unlink()
    with pytest.raises(DatasetError) as info:
        validate_dataset("coco-stuff", root, "train")
    kinds = {p.kind for p in info.value.problems}
    assert {"label format", "missing instance"} <= kinds
    assert validate_dataset("coco-stuff", root, "train", use_instance=False,
                            raise_on_error=False).problems[0].kind == "label format"


def test_missing_root_and_unknown_names_fail_clearly(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        build_dataset("coco-stuff", tmp_path / "nope", "train")
    with pytest.raises(ValueError, match="unknown folder dataset"):
        build_dataset("pascal", tmp_path, "train")
    with pytest.raises(ValueError, match="unknown split"):
        build_dataset("coco-stuff", tmp_path, "trian")
    with pytest.raises(DatasetError, match="no images found"):
        validate_dataset("coco-stuff", tmp_path, "train")


# --------------------------------------------------------------------------- synthetic layouts

def _save(path, arr, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path)


def test_ade20k_layout_keeps_raw_ids(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        _save(tmp_path / "images/validation" / f"ADE_val_{i:08d}.jpg", rng.integers(0, 255, (40, 60, 3), np.uint8))
        lab = np.zeros((40, 60), np.uint8)
        lab[:, 20:40], lab[:, 40:] = 1, 150
        _save(tmp_path / "annotations/validation" / f"ADE_val_{i:08d}.png", lab)
    ds = build_dataset("ade20k", tmp_path, "val", size=(32, 48))
    assert len(ds) == 3 and "instance" not in ds[0]
    lab = ds[0]["label"]
    assert lab.shape == (32, 48)
    # Raw ids, as the official models see them (SPADE's "label - 1" is never stored).
    assert set(lab.unique().tolist()) == {0, 1, 150}
    assert lab[0, 0] == 0 and lab[0, -1] == 150
    validate_dataset("ade20k", tmp_path, "val")
    lab[0, 0] = 151
    bad = np.full((40, 60), 151, np.uint8)
    _save(tmp_path / "annotations/validation/ADE_val_00000001.png", bad)
    with pytest.raises(DatasetError, match=r"\[151\]"):
        validate_dataset("ade20k", tmp_path, "val")


def test_cityscapes_layout_fixed_resize_and_instances(tmp_path):
    rng = np.random.default_rng(1)
    for city, frame in (("aachen", "000000_000019"), ("aachen", "000001_000019"), ("bonn", "000000_000019")):
        stem = f"{city}_{frame}"
        _save(tmp_path / "leftImg8bit/train" / city / f"{stem}_leftImg8bit.png",
              rng.integers(0, 255, (64, 128, 3), np.uint8))
        lab = np.full((64, 128), 7, np.uint8)
        lab[:10] = 23
        lab[60:, :4] = 255  # license plate (-1 in uint8)
        _save(tmp_path / "gtFine/train" / city / f"{stem}_gtFine_labelIds.png", lab)
        inst = np.full((64, 128), 7, np.uint16)  # 16-bit PNG like gtFine
        inst[30:40, 30:50] = 26001
        _save(tmp_path / "gtFine/train" / city / f"{stem}_gtFine_instanceIds.png", inst)
        _save(tmp_path / "gtFine/train" / city / f"{stem}_gtFine_color.png", np.zeros((64, 128, 3), np.uint8))
    ds = build_dataset("cityscapes", tmp_path, "train", size=(32, 64), train=False)
    assert len(ds) == 3 and ds.size == (32, 64)
    item = ds[0]
    assert item["label"].shape == (32, 64) and item["image"].shape == (3, 32, 64)
    assert set(item["label"].unique().tolist()) == {7, 23, 34}
    assert set(item["instance"].unique().tolist()) == {7, 26001}
    assert batch_input({k: v[None] for k, v in item.items() if k != "path"}, "cityscapes").shape == (1, 36, 32, 64)
    validate_dataset("cityscapes", tmp_path, "train")
    (tmp_path / "gtFine/train/bonn/bonn_000000_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(DatasetError, match="bonn_000000_000019_leftImg8bit.png"):
        validate_dataset("cityscapes", tmp_path, "train")


def test_custom_layout_needs_a_label_space(tmp_path):
    for i in range(2):
        _save(tmp_path / "train/images" / f"{i}.png", np.zeros((16, 16, 3), np.uint8))
        _save(tmp_path / "train/labels" / f"{i}.png", np.full((16, 16), 3, np.uint8))
    with pytest.raises(DatasetError, match="dataset.json"):
        build_dataset("custom", tmp_path, "train")
    ds = build_dataset("custom", tmp_path, "train", size=16, label_space="scenes")
    assert isinstance(ds, FolderDataset) and len(ds) == 2 and "instance" not in ds[0]
    assert ds[1]["label"].eq(3).all()
    _save(tmp_path / "train/labels/1.png", np.full((16, 16), 9, np.uint8))
    with pytest.raises(DatasetError, match="outside"):
        ds[1]


def test_truncated_images_are_caught_up_front_from_the_file_end(coco_sample, tmp_path):
    """A JPEG cut to 500 bytes, a PNG instance map cut short: found without decoding every
    image; complete files with bytes after their end marker are not flagged."""

    names = sorted(p.stem for p in (coco_sample / "train_img").glob("*.jpg"))[:5]
    root = tmp_path / "coco"
    _copy_pairs(coco_sample, root, names)
    a, b, c, d, e = names
    jpg = root / "train_img" / f"{a}.jpg"
    jpg.write_bytes(jpg.read_bytes()[:500])                              # truncated JPEG
    half = root / "train_img" / f"{e}.jpg"
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])     # header intact
    inst = root / "train_inst" / f"{b}.png"
    inst.write_bytes(inst.read_bytes()[:-200])                           # truncated PNG
    padded = root / "train_img" / f"{c}.jpg"
    padded.write_bytes(padded.read_bytes() + b"\x00" * 32)               # EOI + padding: fine
    trailer = root / "train_img" / f"{d}.jpg"
    trailer.write_bytes(trailer.read_bytes() + b"camera trailer" * 20)   # complete, extra data

    decoded = []
    real_load = Image.Image.load

    def counting_load(self):
        decoded.append(getattr(self, "filename", ""))
        return real_load(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image.Image, "load", counting_load)
        report = validate_dataset("coco-stuff", root, "train", check_ids=False,
                                      raise_on_error=False)
    bad = sorted(Path(p).name for pr in report.problems for p in pr.paths)
    assert bad == sorted([jpg.name, half.name, inst.name]), report.problems
    assert all("truncated" in pr.message for pr in report.problems)
    # only the files whose end looks wrong were decoded, not the complete ones
    assert str(padded) not in decoded and str(root / "train_img" / f"{b}.jpg") not in decoded
    # full decoding stays available and agrees
    full = validate_dataset("coco-stuff", root, "train", check_ids=False, decode_images=True,
                                raise_on_error=False)
    assert sorted(Path(p).name for pr in full.problems for p in pr.paths) == bad


def test_tail_check_needs_no_decoding_of_good_files(coco_sample):
    for p in sorted((coco_sample / "train_img").glob("*.jpg")):
        assert _tail_complete(p, "JPEG"), p
    for p in sorted((coco_sample / "train_label").glob("*.png"))[:3]:
        assert _tail_complete(p, "PNG"), p
