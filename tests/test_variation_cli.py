import json
import math
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from vasis.metrics.intra_class import intra_class_variation_dirs
from vasis_suite.cli import main

COCO = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "coco_stuff_sample")
FIELDS = {"one_color", "one_light", "all_color", "all_light"}


def write_folders(tmp_path, n=2, size=128, ext=".png"):
    rng = np.random.default_rng(0)
    img_dir, lab_dir = tmp_path / "img", tmp_path / "lab"
    img_dir.mkdir()
    lab_dir.mkdir()
    for i in range(n):
        lab = np.zeros((size, size), np.uint8)
        lab[size // 2:] = 2
        lab[:8, :8] = 5
        img = (rng.random((size, size, 3)) * 60 + 20 * lab[..., None]).astype(np.uint8)
        Image.fromarray(img).save(img_dir / f"im{i}{ext}", quality=100)
        Image.fromarray(lab).save(lab_dir / f"im{i}.png")
    return img_dir, lab_dir


def run_cli(capsys, *args):
    rc = main(["variation", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_on_tiny_folders(tmp_path, capsys):
    img, lab = write_folders(tmp_path)
    rc, out, _ = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "scenes",
                         "--format", "json")
    assert rc == 0
    got = json.loads(out)
    assert set(got) == FIELDS
    ref = intra_class_variation_dirs(img, lab, "scenes").as_dict()
    assert got == pytest.approx(ref)
    # uniform noise of width 60: std 60 / sqrt(12)
    assert got["one_color"] == pytest.approx(60 / math.sqrt(12), rel=0.05)
    rc, out, _ = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "scenes",
                         "--official", "--format", "json")
    official = json.loads(out)
    # official: mean over all 7 scenes classes, 4 of which are absent and count 0
    assert official["one_color"] == pytest.approx(got["one_color"] * 3 / 7, rel=0.01)
    rc, out, _ = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "scenes")
    assert rc == 0 and "one_color" in out and "corrected" in out


def test_official_jpeg_scale_quirk(tmp_path):
    img, lab = write_folders(tmp_path, n=1, ext=".jpg")
    corrected = intra_class_variation_dirs(img, lab, "scenes").as_dict()
    official = intra_class_variation_dirs(img, lab, "scenes", official=True).as_dict()
    # JPEG read as uint8 then * 255: 255 times the 0..255 value (7 classes vs 3 present)
    assert official["all_color"] == pytest.approx(corrected["all_color"] * 255 * 3 / 7, rel=0.01)


def test_errors_name_the_problem(tmp_path, capsys):
    img, lab = write_folders(tmp_path)
    rc, _, err = run_cli(capsys, "--images", tmp_path / "nope", "--labels", lab,
                         "--dataset", "scenes")
    assert rc == 2 and "nope" in err and "does not exist" in err
    os.remove(lab / "im1.png")
    rc, _, err = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "scenes")
    assert rc == 2 and "im1.png" in err and "no label map" in err
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(lab / "im1.png")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(lab / "stray.png")
    rc, _, err = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "scenes")
    assert rc == 2 and "stray.png" in err


@pytest.mark.skipif(not os.path.isdir(os.path.join(COCO, "val_img")),
                    reason="shared/data/coco_stuff_sample is not available next to the project")
def test_coco_stuff_sample(capsys):
    img, lab = os.path.join(COCO, "val_img"), os.path.join(COCO, "val_label")
    rc, out, _ = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "coco-stuff",
                         "--format", "json")
    assert rc == 0
    got = json.loads(out)
    assert set(got) == FIELDS and all(0 < v < 128 for v in got.values())
    # the official script crashes on COCO's don't-care 255: a clear one-line error instead
    rc, out, err = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "coco-stuff",
                           "--official")
    assert rc == 2 and out == ""
    assert "255" in err and "--official" in err and "000000000139.jpg" in err


@pytest.mark.skipif(not os.path.isdir(os.path.join(COCO, "val_img")),
                    reason="shared/data/coco_stuff_sample is not available next to the project")
@pytest.mark.parametrize("dataset", ["scenes", "cityscapes", "ade20k"])
def test_coco_labels_scored_as_another_dataset_are_refused(capsys, dataset):
    """COCO-Stuff ids (up to 181, and 255) are outside the other label spaces."""
    img, lab = os.path.join(COCO, "val_img"), os.path.join(COCO, "val_label")
    rc, out, err = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", dataset)
    lines = err.strip().splitlines()
    assert rc == 2 and out == "" and len(lines) == 1, err
    assert f"outside the {dataset} label space" in lines[0] and "--dataset" in lines[0]


def test_dataset_decides_ids_and_dont_care(tmp_path, capsys):
    img, lab = write_folders(tmp_path, n=2)  # ids 0, 2, 5
    # A don't-care region: ignored on COCO-Stuff (its 255), out of range on the others.
    for p in lab.iterdir():
        a = np.array(Image.open(p))
        a[-8:, -8:] = 255
        Image.fromarray(a).save(p)
    coco = intra_class_variation_dirs(img, lab, "coco-stuff")
    assert sorted(coco.per_class["class"]) == [0, 2, 5]
    assert list(coco.per_class["name"]) == ["person", "car", "bus"]
    for dataset in ("scenes", "cityscapes"):
        with pytest.raises(ValueError, match=r"\[255\] are outside the " + dataset):
            intra_class_variation_dirs(img, lab, dataset)
    rc, out, _ = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "coco-stuff")
    assert rc == 0 and "3 of its 182 classes present" in out
    # Class names follow the dataset.
    for p in lab.iterdir():
        a = np.array(Image.open(p))
        a[a == 255] = 0
        Image.fromarray(a).save(p)
    names = {d: list(intra_class_variation_dirs(img, lab, d).per_class["name"])
             for d in ("scenes", "cityscapes")}
    assert names == {"scenes": ["unlabeled", "ground", "building"],
                     "cityscapes": ["unlabeled", "rectification border", "dynamic"]}


@pytest.mark.parametrize("official", [False, True])
def test_non_image_file_in_a_folder_is_one_line(tmp_path, capsys, official):
    img, lab = write_folders(tmp_path, n=2)
    (img / "im1.png").write_text("not an image\n")
    extra = ["--official"] if official else []
    rc, out, err = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "scenes", *extra)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert str(img / "im1.png") in lines[0] and "not a readable image" in lines[0]
    (img / "im1.png").unlink()
    shutil.copy(img / "im0.png", img / "im1.png")
    (lab / "im1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)  # a broken label PNG
    rc, out, err = run_cli(capsys, "--images", img, "--labels", lab, "--dataset", "scenes", *extra)
    assert rc == 2 and str(lab / "im1.png") in err and "not a readable image" in err
