"""The built-in scenes: determinism, designed intra-class statistics, speed, and the
write_scenes -> custom loader round trip."""

import numpy as np
import pytest
import torch

from vasis.data import (SCENE_DESIGN, SceneDataset, batch_input, build_dataset, scene_statistics,
                        validate_dataset, within_image_class_std, write_scenes)
from vasis.labels import SCENES_CLASSES

SIZE = (128, 128)


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in ("label", "instance", "image"))


def test_items_follow_the_convention():
    item = SceneDataset(3, SIZE, seed=0)[1]
    assert item["label"].shape == SIZE and item["label"].dtype == torch.int64
    assert item["instance"].shape == SIZE and item["instance"].dtype == torch.int64
    assert item["image"].shape == (3, *SIZE) and item["image"].dtype == torch.float32
    assert -1 <= float(item["image"].min()) and float(item["image"].max()) <= 1
    assert set(item["label"].unique().tolist()) <= set(range(1, 7))
    inst, lab = item["instance"], item["label"]
    things = inst >= 1000
    assert torch.equal(inst[things] // 1000, lab[things])
    assert torch.equal(inst[~things], lab[~things])
    assert batch_input(torch.utils.data.default_collate([item]), "scenes").shape == (1, 7, *SIZE)


def test_same_seed_same_scenes_other_seed_or_split_differs():
    a, b = SceneDataset(6, SIZE, seed=5), SceneDataset(6, SIZE, seed=5)
    assert all(same(a[i], b[i]) for i in (0, 3, 5))
    assert same(a[4], SceneDataset(100, SIZE, seed=5)[4])  # independent of n and access order
    c = SceneDataset(6, SIZE, seed=6)
    v = SceneDataset(6, SIZE, seed=5, split="val")
    assert not any(same(a[i], c[i]) for i in range(6))
    assert not any(same(a[i], v[i]) for i in range(6))
    assert not same(a[0], a[1])


@pytest.fixture(scope="module")
def stats():
    return scene_statistics(n=48, size=SIZE, seed=0)


def test_measured_std_matches_the_design(stats):
    for name in SCENES_CLASSES[1:]:
        s = stats[name]
        assert s["images"] >= 10, name
        assert s["empirical_std"] == pytest.approx(s["expected_std"], rel=0.03), name
        # texture alone never explains all variation: gradients / instance shifts add to it
        assert s["expected_std"] > s["texture_std"], name
        assert s["clean_std"] > 0, name
    assert np.isnan(stats["unlabeled"]["expected_std"]) and stats["unlabeled"]["images"] == 0
    assert sum(s["pixel_fraction"] for s in stats.values()) == pytest.approx(1.0)
    # by design the sky varies mostly through its gradient, the ground mostly through texture
    assert stats["sky"]["clean_std"] > 3 * stats["sky"]["texture_std"]
    assert stats["ground"]["texture_std"] > 2 * stats["ground"]["clean_std"]


def test_texture_noise_has_the_designed_std():
    ds = SceneDataset(16, SIZE, seed=2)
    res = {c: [] for c in range(1, 7)}
    for i in range(16):
        s = ds.scene(i)
        r = s["image"] / 255.0 - s["clean"]
        for c in range(1, 7):
            m = s["label"] == c
            if m.sum() > 64:
                res[c].append(r[m])
    for c, parts in res.items():
        want = SCENE_DESIGN[SCENES_CLASSES[c]]["texture_std"]
        got = np.concatenate(parts).std()
        assert got == pytest.approx(np.sqrt(want ** 2 + 1 / (12 * 255 ** 2)), rel=0.05), SCENES_CLASSES[c]


def test_gradients_and_instance_colors():
    ds = SceneDataset(24, SIZE, seed=3)
    sky_top, sky_low, tree_green = [], [], []
    for i in range(24):
        s = ds.scene(i)
        rows = np.flatnonzero((s["label"] == 1).all(1))  # rows that are sky across the image
        if len(rows) >= 8:
            sky_top.append(s["clean"][rows[:2]].mean())
            sky_low.append(s["clean"][rows[-2:]].mean())
        for iid in np.unique(s["instance"][s["label"] == 4]):
            m = s["instance"] == iid
            if m.sum() >= 30:
                tree_green.append(s["clean"][m][:, 1].mean())
    assert len(sky_top) > 10 and np.all(np.array(sky_low) > np.array(sky_top))  # brighter at the horizon
    design = SCENE_DESIGN["tree"]
    assert len(tree_green) > 20
    assert len(np.unique(np.round(tree_green, 4))) == len(tree_green)  # every tree its own green
    # spread of tree greens: instance shift (std 0.06) and per-image illumination (+-8%)
    assert 0.5 * design["instance_std"] < np.std(tree_green) < 2 * design["instance_std"]


def test_within_image_class_std_compares_a_model_with_the_data():
    ds = SceneDataset(8, SIZE, seed=4)
    batch = torch.utils.data.default_collate([ds[i] for i in range(8)])
    real, count = within_image_class_std(batch["image"], batch["label"])
    assert count[0] == 0 and (count[1:] > 0).all()
    # a collapsed "generator" painting every class in one flat colour per image has no variation
    flat = batch["image"].clone()
    for n in range(8):
        for c in batch["label"][n].unique():
            m = batch["label"][n] == c
            flat[n][:, m] = flat[n][:, m].mean(1, keepdim=True)
    fake, _ = within_image_class_std(flat, batch["label"])
    assert np.all(fake[1:] < 1e-4) and np.all(real[1:] > 0.02)
    with pytest.raises(ValueError, match="do not match"):
        within_image_class_std(batch["image"], batch["label"][:, :64])


def test_write_scenes_round_trip_and_validation(tmp_path):
    root = write_scenes(tmp_path / "scenes", n_train=5, n_val=3, size=(64, 96), seed=7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenes"]  # no temp folder left over
    assert len(list((root / "train" / "images").iterdir())) == 5
    report = validate_dataset("scenes", root, ("train", "val"))
    assert report.samples == {"train": 5, "val": 3}
    for split, n in (("train", 5), ("val", 3)):
        loaded = build_dataset("scenes", root, split, size=(64, 96), train=False)
        made = SceneDataset(n, (64, 96), seed=7, split=split)
        assert len(loaded) == n
        assert all(same(loaded[i], made[i]) for i in range(n))
    # the plain custom loader finds the label space in dataset.json
    custom = build_dataset("custom", root, "val", size=(64, 96), train=False)
    assert custom.space.name == "scenes" and same(custom[0], SceneDataset(3, (64, 96), 7, "val")[0])
    with pytest.raises(FileExistsError):
        write_scenes(root, 1, 1, size=(32, 32))
    write_scenes(root, 2, 1, size=(32, 32), seed=1, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenes"]
    assert len(build_dataset("scenes", root, "train", size=(32, 32))) == 2


def test_build_dataset_scenes_in_memory():
    ds = build_dataset("scenes", split="val", n=4, seed=1)
    assert isinstance(ds, SceneDataset) and len(ds) == 4 and ds.size == SIZE
    assert len(build_dataset("scenes")) == 1000


def test_paint_layout_follows_the_design():
    from vasis.data.scenes import ILLUMINATION, SCENE_DESIGN, paint_layout
    from vasis.labels import SCENES_CLASSES
    lab = np.zeros((64, 64), np.int64)
    lab[:, :32] = SCENES_CLASSES.index("ground")
    lab[:, 32:] = SCENES_CLASSES.index("sky")
    img = paint_layout(lab, np.random.default_rng(0))
    assert img.shape == (64, 64, 3) and img.min() >= 0 and img.max() <= 1
    for name, sl in (("ground", np.s_[:, :32]), ("sky", np.s_[:, 32:])):
        d = SCENE_DESIGN[name]
        px = img[sl].reshape(-1, 3)
        assert px.std(0) == pytest.approx([d["texture_std"]] * 3, rel=0.15, abs=2e-3)
        ratio = px.mean(0) / np.array(d["base"])           # one illumination factor
        assert ILLUMINATION[0] - 0.01 < ratio.mean() < ILLUMINATION[1] + 0.01
        assert ratio.std() < 0.01
    with pytest.raises(ValueError, match="scene classes"):
        paint_layout(np.full((4, 4), 99), np.random.default_rng(0))
