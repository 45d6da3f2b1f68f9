"""The probing tools on networks the suite did not build (issue 11).

The proof runs on ``tests/foreign_generator.py``: a SPADE-like generator in plain PyTorch (its own
norm, blocks and upsampling, no suite class). With the generic tools, a one-class layout under
reflect padding gives zero spatial std at every probe point; zero padding does not; noise in
its norm does not either.
"""
from __future__ import annotations

import json
import sys
import textwrap

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import analysis
import foreign_generator as fg
import vasis
from analysis import encoders
from analysis.study import TINY
from analysis.surgery import padding_of, swap_block_kernel, swap_norm_kernel, swap_padding
from vasis_suite.cli import main
from vasis.errors import UserError
from vasis.labels import DONTCARE_ID

SIZE = (64, 64)
CITY = encoders.spade("cityscapes")
FLAT = 1e-5  # spatial std / rms below this: constant up to float rounding


def rel_std(df) -> dict[str, float]:
    """{point: spatial_std / rms} of a probe frame."""
    base = df[df["class"].isna()]
    t = base.pivot_table(index="block", columns="statistic", values="value", sort=False)
    return (t["spatial_std"] / t["rms"]).to_dict()


def sky() -> torch.Tensor:
    return analysis.one_class("sky", dataset="cityscapes", size=SIZE)


def sky_road() -> torch.Tensor:
    return analysis.two_class("sky", "road", dataset="cityscapes", size=SIZE)


# ----------------------------------------------------------------------------- the proof
@pytest.mark.parametrize("bn", ["eval", "batch"])
def test_foreign_generator_shows_the_papers_structure(bn):
    zero = fg.build()
    reflect = swap_padding(zero, "reflect")
    noisy = swap_padding(fg.build(noise=True), "reflect")
    run = dict(samples=2, encode=CITY, bn=bn)
    flat = rel_std(analysis.probe(reflect, sky(), **run))
    border = rel_std(analysis.probe(zero, sky(), **run))
    noise = rel_std(analysis.probe(noisy, sky(), **run))
    points = ["head", "head_0", "up_0", "up_1", "up_2", "up_3", "upsample[0]", "upsample[1]",
              "upsample[2]", "upsample[3]", "to_rgb"]
    assert list(flat) == list(border) == list(noise) == points
    assert all(v < FLAT for v in flat.values()), flat                    # reflect: constant
    assert all(v > 1e-3 for v in border.values()), border                # zero: the border shows
    assert noise["head"] < FLAT                                          # before any norm ...
    assert all(v > 1e-3 for k, v in noise.items() if k != "head"), noise  # ... then the noise


def test_same_tidy_frame_as_for_suite_models():
    suite = analysis.probe(vasis.build_generator("spade", "cityscapes", **TINY, height=64,
                                                 width=128), analysis.one_class("sky", size=(64, 128), dataset="cityscapes"), samples=2)
    foreign = analysis.probe(fg.build(), {"sky": sky()}, samples=2, encode=CITY)
    assert list(foreign.columns) == list(suite.columns)
    assert set(foreign["statistic"]) == set(suite["statistic"])
    first = foreign.iloc[0]
    assert (first["model"], first["dataset"], first["layout"], first["padding"]) == (
        "TinySIS", "cityscapes", "sky", "zero")
    assert first["kernel"] is None and first["block_kernel"] is None
    cls = foreign[foreign["statistic"] == "class_spatial_std"]
    assert set(cls["class"]) == {23} and set(cls["class_name"]) == {"sky"}
    two = analysis.probe(fg.build(), {"two": sky_road()}, samples=2, encode=CITY,
                         points=["up_3"])
    assert set(two.loc[two["statistic"] == "class_sample_std", "class_name"]) == {"sky", "road"}


# ----------------------------------------------------------------------------- surgery
def _padding_zoo() -> nn.Module:
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ZeroPad2d((1, 2, 0, 1)),
                         nn.Conv2d(3, 3, 5, padding="same"), nn.ConstantPad2d(1, 0.0),
                         nn.Conv2d(3, 3, 1), nn.ReflectionPad2d(1), nn.Conv2d(3, 2, 3),
                         nn.ConstantPad2d(1, 0.5))


def test_swap_padding_works_on_any_module():
    zoo = _padding_zoo()
    assert padding_of(zoo) == "mixed"
    r = swap_padding(zoo, "reflect")
    assert [type(m).__name__ for m in r] == ["Conv2d", "ReflectionPad2d", "Conv2d",
                                             "ReflectionPad2d", "Conv2d", "ReflectionPad2d",
                                             "Conv2d", "ConstantPad2d"]
    assert r[1].padding == (1, 2, 0, 1) and r[3].padding == (1, 1, 1, 1)
    assert r[7].value == 0.5                                 # another constant is left alone
    assert [m.padding_mode for m in r if isinstance(m, nn.Conv2d)] == ["reflect"] * 2 + ["zeros"] * 2
    assert padding_of(r) == "reflect"
    assert isinstance(zoo[1], nn.ZeroPad2d) and zoo[0].padding_mode == "zeros"  # a copy
    z = swap_padding(r, "zero")
    assert [type(m).__name__ for m in z][1:7:2] == ["ZeroPad2d"] * 3
    assert padding_of(z) == "zero" and padding_of(nn.Conv2d(2, 2, 1)) is None
    x = torch.randn(1, 2, 12, 12)
    by_hand = _padding_zoo()
    by_hand.load_state_dict(zoo.state_dict())
    by_hand[5] = nn.ZeroPad2d(1)          # the one layer that padded otherwise
    with torch.no_grad():
        assert torch.equal(z(x), by_hand(x))                 # same weights, zero padding
        assert not torch.allclose(r(x), by_hand(x))


def test_swapped_padding_pads_like_a_reflection_layer():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    layered = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2, 3, 3))
    layered[1].load_state_dict(conv.state_dict())
    same = swap_padding(conv, "reflect")
    x = torch.randn(2, 2, 9, 7)
    with torch.no_grad():
        assert torch.allclose(same(x), layered(x), atol=1e-6)
        assert torch.allclose(swap_padding(layered, "zero")(x), conv(x), atol=1e-6)
        five = nn.Conv2d(2, 2, 5, padding="same")
        ref = nn.Conv2d(2, 2, 5)
        ref.load_state_dict(five.state_dict())
        assert torch.allclose(swap_padding(five, "reflect")(x),
                              ref(F.pad(x, (2, 2, 2, 2), mode="reflect")), atol=1e-6)


def test_kernel_swaps_of_a_foreign_model_need_convs():
    for swap in (swap_norm_kernel, swap_block_kernel):
        with pytest.raises(UserError, match=r"pass convs=.*head_0\.norm_a"):
            swap(fg.build(), 1)
        with pytest.raises(UserError, match="without convs="):
            swap(vasis.build_generator("spade", "scenes", **TINY), 1, convs=["fc"])
    with pytest.raises(UserError, match=r"no module 'head_0\.norm_a\.gama'.*head_0\.norm_a\.gamma"):
        swap_norm_kernel(fg.build(), 1, convs=["head_0.norm_a.gama"])
    with pytest.raises(UserError, match="is a LabelNorm, not an nn.Conv2d"):
        swap_norm_kernel(fg.build(), 1, convs=["head_0.norm_a"])
    with pytest.raises(UserError, match="selects no nn.Conv2d"):
        swap_norm_kernel(fg.build(), 1, convs=lambda name, m: False)
    with pytest.raises(UserError, match=r"padding \(0, 0\) for kernel \(3, 3\).*'same'"):
        swap_norm_kernel(nn.Sequential(nn.Conv2d(2, 2, 3)), 1, convs=["0"])


def _norm_convs(name, module):
    return ".norm_" in name


def test_norm_kernel_swap_of_a_foreign_model():
    gen = swap_padding(fg.build(), "reflect")
    k1 = swap_norm_kernel(gen, 1, convs=_norm_convs)
    named = dict(k1.named_modules())
    assert named["up_0.norm_b.gamma"].kernel_size == (1, 1)
    assert named["up_0.norm_b.shared.0"].kernel_size == (1, 1)
    assert named["up_0.conv_a"].kernel_size == (3, 3)                # not selected
    assert dict(gen.named_modules())["up_0.norm_b.gamma"].kernel_size == (3, 3)  # a copy
    with torch.no_grad():
        one, two = CITY(sky()[None]), CITY(sky_road()[None])
        # sum of taps: the same where the conv's input is constant (all of a one-class map
        # under reflect padding), different across the class boundary
        assert torch.allclose(k1(one), gen(one), atol=1e-5)
        assert not torch.allclose(k1(two), gen(two), atol=1e-4)
    b1 = swap_block_kernel(gen, 1, convs=["up_3.conv_a", "up_3.conv_b"])
    assert dict(b1.named_modules())["up_3.conv_b"].kernel_size == (1, 1)
    flat = rel_std(analysis.probe(b1, sky(), samples=2, encode=CITY))
    assert all(v < FLAT for v in flat.values()), flat


def test_kernel_swap_keeps_stride_groups_and_folds_parametrized_weights():
    torch.manual_seed(0)
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(4, 6, 3, padding=1, stride=2,
                                                             groups=2))
    reflect = swap_padding(nn.Sequential(conv), "reflect").eval()
    k1 = swap_norm_kernel(reflect, 1, convs=["0"])
    new = k1[0]
    assert (new.kernel_size, new.stride, new.groups, new.padding) == ((1, 1), (2, 2), 2, (0, 0))
    x = torch.full((1, 4, 8, 8), 0.7)
    with torch.no_grad():
        got, want = k1(x), reflect(x)
    # a constant input under reflect padding: the 1x1 sum-of-taps conv computes the same
    assert got.shape == want.shape == (1, 6, 4, 4)
    assert torch.allclose(got, want, atol=1e-5)


# ----------------------------------------------------------------------------- recorder
def test_default_points_and_bad_points():
    gen = fg.build()
    assert analysis.probe_points(gen)[0][0] == "head"
    suite = vasis.build_generator("spade", "scenes", **TINY)
    assert [n for n, _ in analysis.probe_points(suite)] == [n for n, _ in suite.blocks()]
    with pytest.raises(UserError, match=r"unknown probe point 'up_9'.*valid points of TinySIS: head, head_0, up_0"):
        analysis.FeatureRecorder(gen, points=["head_0", "up_9"])
    rec = analysis.FeatureRecorder(gen, points=["up_1.norm_a.gamma", "up_1"])
    assert list(rec.points) == ["up_1.norm_a.gamma", "up_1"]
    flat = nn.Sequential(nn.Flatten(), nn.Linear(36 * 64 * 64, 2))
    with pytest.raises(UserError, match=r"probe point '0' \(Flatten\) outputs \(2, 147456\), not an \(N, C, H, W\)"):
        with analysis.FeatureRecorder(flat, encode=CITY) as r:
            r.run(sky(), 2)


def test_recorder_by_hand_and_calibrate_with_encode():
    gen = fg.build()
    cal = analysis.calibrate(gen, sky_road()[None].expand(2, -1, -1), steps=2, encode=CITY)
    assert not torch.equal(cal.head_0.norm_a.bn.running_var, gen.head_0.norm_a.bn.running_var)
    with analysis.FeatureRecorder(cal, points=["up_0", "upsample"]) as rec:
        rec.labels = sky()[None]
        with torch.no_grad():
            cal(CITY(sky()[None]))
            cal(CITY(sky()[None]))  # a second forward counts the calls afresh
        df = rec.statistics()
    assert list(rec.points) == ["up_0", "upsample[0]", "upsample[1]", "upsample[2]",
                                "upsample[3]"]
    assert rec.points["upsample[3]"].n == 2 and rec.class_map("upsample[3]").shape == (64, 64)
    assert rec.class_map("upsample[0]").shape == (8, 8)
    assert set(df["block"]) == set(rec.points)


# ----------------------------------------------------------------------------- encoders
def test_encoders_follow_the_official_conventions():
    ids = torch.tensor([[[0, 23], [34, 7]]])
    x = CITY(ids)
    assert x.shape == (1, 36, 2, 2) and CITY.channels == 36
    assert torch.equal(x[0, :35].argmax(0), ids[0]) and x[0, 35].abs().sum() == 0  # no edges
    assert encoders.spade("cityscapes", instance=False)(ids).shape[1] == 35
    assert encoders.clade("cityscapes")(ids).equal(x)
    assert encoders.oasis("cityscapes")(ids).shape[1] == 35
    coco = torch.tensor([[[0, 181], [DONTCARE_ID, 5]]])
    s = encoders.spade("coco-stuff")(coco)
    assert s.shape[1] == 184 and s[0, 182, 1, 0] == 1 and s[0, 181, 0, 1] == 1
    o = encoders.oasis("coco-stuff")(coco)  # OASIS: label + 1, don't care in channel 0
    assert o.shape[1] == 183 and o[0, 0, 1, 0] == 1 and o[0, 182, 0, 1] == 1 and o[0, 1, 0, 0] == 1
    assert encoders.ids("cityscapes")(ids) is ids
    with pytest.raises(UserError, match="outside the cityscapes range"):
        encoders.ids("cityscapes")(ids + 40)
    with pytest.raises(UserError, match="unknown input convention 'pix2pix'.*spade, clade, oasis, ids"):
        encoders.encoder("pix2pix", "scenes")
    assert encoders.icpe_map(ids).shape == (1, 2, 2, 2)


@pytest.mark.parametrize("model,convention", [("spade", "spade"), ("oasis", "oasis")])
def test_encoders_agree_with_the_suites_own_input(model, convention):
    """A suite generator fed the encoded map computes what it computes from the integer map."""
    gen = vasis.build_generator(model, "cityscapes", **TINY, height=64, width=64,
                                **({"use_3d_noise": False} if model == "oasis" else {}))
    enc = encoders.encoder(convention, "cityscapes")
    lay = sky_road()[None]
    with torch.no_grad():
        gen.eval()
        assert torch.allclose(gen(enc(lay)), gen(lay), atol=1e-6)
    a = analysis.probe(gen, lay[0], samples=2, encode=enc)
    b = analysis.probe(gen, lay[0], samples=2)
    assert a.equals(b)


# ----------------------------------------------------------------------------- command line
@pytest.fixture
def mypkg(tmp_path, monkeypatch):
    """A package ``mypkg`` in a scratch folder (the current folder) whose ``models.build``
    returns the foreign generator."""
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(textwrap.dedent("""
        import foreign_generator

        def build():
            return foreign_generator.build()
    """))
    monkeypatch.chdir(tmp_path)
    for name in ("mypkg", "mypkg.models"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield tmp_path
    for name in ("mypkg", "mypkg.models"):
        sys.modules.pop(name, None)


def _cli(capsys, *args):
    assert main(["probe", "--factory", "mypkg.models:build", "--dataset", "cityscapes",
                 "--size", "64x64", "--samples", "2", *args]) == 0
    return capsys.readouterr().out


def test_cli_factory_points_encode(mypkg, capsys):
    before = list(sys.path)
    rows = json.loads(_cli(capsys, "--points", "head_0,up_0", "--encode", "spade",
                           "--padding", "reflect", "--format", "json"))
    assert sys.path == before                                   # the current folder is not left on it
    assert {r["block"] for r in rows} == {"head_0", "up_0"}
    assert {r["model"] for r in rows} == {"TinySIS"} and {r["padding"] for r in rows} == {"reflect"}
    by = {(r["block"], r["statistic"]): r["value"] for r in rows if r["class"] is None}
    for p in ("head_0", "up_0"):
        assert by[p, "spatial_std"] / by[p, "rms"] < FLAT
    zero = json.loads(_cli(capsys, "--points", "head_0,up_0", "--format", "json"))
    zby = {(r["block"], r["statistic"]): r["value"] for r in zero if r["class"] is None}
    assert all(zby[p, "spatial_std"] / zby[p, "rms"] > 1e-3 for p in ("head_0", "up_0"))
    text = _cli(capsys, "--layout", "two-class")
    assert text.startswith("# probe TinySIS (--factory mypkg.models:build) on cityscapes 64x64: "
                           "two-class [sky, road], padding zero, input spade, 2 samples, BN eval")
    assert "upsample[3]" in text and "to_rgb" in text


def test_cli_points_on_a_suite_model(capsys):
    assert main(["probe", "--model", "spade", "--points", "up_0,up_0.norm_1", "--samples", "2",
                 "--format", "json", "--ngf", "4", "--hidden", "8"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["block"] for r in rows if r["statistic"] == "rms"] == ["up_0", "up_0.norm_1"]
