import json
import math
import os

import numpy as np
import pytest
from PIL import Image

from analysis.metrics import intra_class_variation_dirs
from vasis.cli import main

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
