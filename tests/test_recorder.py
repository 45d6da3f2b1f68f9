import pytest
import torch
import torch.nn.functional as F

import vasis
from analysis import layouts
from analysis.metrics import distance_to_boundary, fraction_within
from analysis.recorder import FeatureRecorder, calibrate, describe_model, probe
from analysis.study import TINY

SMALL = dict(TINY)
COLUMNS = {"model", "dataset", "layout", "padding", "kernel", "block_kernel", "samples", "block", "kind",
           "statistic", "class", "class_name", "channel", "value"}


def build(model, **kw):
    torch.manual_seed(0)
    return vasis.build_generator(model, "scenes", **SMALL, **kw)


def relative_std(df):
    """spatial_std / rms per block (fresh models' magnitudes vary wildly from block to block)."""
    p = df.pivot_table(index="block", columns="statistic", values="value", sort=False)
    return (p["spatial_std"] / p["rms"]).to_dict()


@pytest.mark.parametrize("model", ["spade", "clade", "oasis"])
def test_baselines_flat_with_reflect_not_with_zero(model):
    for padding in ("reflect", "zero"):
        g = build(model, padding=padding)
        df = probe(g, layouts.one_class("sky", dataset=g), samples=1)
        assert set(df["block"]) == {n for n, _ in g.blocks()}
        rel = relative_std(df)
        if padding == "reflect":
            assert all(v < 1e-5 for v in rel.values()), rel
        else:
            assert all(v > 1e-2 for v in rel.values()), rel


@pytest.mark.parametrize("model", ["va-spade", "va-clade", "va-oasis"])
def test_va_models_vary_in_every_block(model):
    for padding in ("reflect", "zero"):
        g = build(model, padding=padding)
        df = probe(g, layouts.one_class("sky", dataset=g), samples=2)
        rel = relative_std(df)
        # fc is a plain conv of the label map (no noise): flat under reflect padding.
        blocks = [n for n, _ in g.blocks()][1:]
        assert all(rel[b] > 1e-2 for b in blocks), (padding, rel)
        samp = df[df.statistic == "sample_std"].set_index("block")["value"]
        assert all(samp[b] > 0 for b in blocks)


def test_zero_padding_variation_lives_at_the_border():
    # 256x256 scenes SPADE: fc runs at 8x8, where zero padding first meets a uniform input.
    g = build("spade", padding="zero", height=256, width=256)
    lay = layouts.one_class("sky", dataset=g)
    with FeatureRecorder(g, keep_features=1) as rec:
        rec.run(lay, 1)
        feats, maps = rec.features, {n: rec.class_map(n) for n, _ in g.blocks()}
    fc, lab = feats["fc"][0], maps["fc"]
    area = float((distance_to_boundary(lab) <= 1).mean())
    assert area == pytest.approx(28 / 64)
    assert fraction_within(fc, lab, 1)[1] == pytest.approx(1.0)  # interior exactly flat
    head = feats["head_0"][0]
    assert fraction_within(head, lab, 1)[1] > area + 0.1
    # reflect padding: every block flat, so all of the variation above is the border's doing
    r = probe(build("spade", padding="reflect", height=256, width=256), lay, samples=1)
    assert all(v < 1e-5 for v in relative_std(r).values())


def test_probe_frame_and_fig2():
    g = build("va-spade")
    lay = layouts.two_class("sky", "road", dataset=g)
    df = probe(g, {"two": lay, "one": layouts.one_class("sky", dataset=g)}, samples=3, norms=True,
               per_channel=True)
    assert COLUMNS <= set(df.columns)
    assert set(df.layout) == {"two", "one"} and set(df.model) == {"va-spade"}
    assert set(df.padding) == {"reflect"} and set(df.kernel) == {3}
    stats = set(df.statistic)
    assert {"spatial_std", "spatial_std_channel", "class_spatial_std", "sample_std",
            "class_sample_std", "fig2_std", "fig2_mean", "rms"} <= stats
    assert "up_0.norm_s" in set(df.block) and set(df.kind) == {"block", "norm"}
    cls = df[(df.layout == "two") & (df.statistic == "class_spatial_std")]
    assert set(cls["class"]) == {1, 3} and set(cls["class_name"]) == {"sky", "road"}
    # fig2_std: channel 0 of image 0, nearest-resized to 256x256, unbiased std
    feats = {}
    h = g.up_1.register_forward_hook(lambda m, i, o: feats.setdefault("x", o))
    try:
        torch.manual_seed(0)
        with torch.no_grad():
            g.eval()(lay[None].expand(3, -1, -1))
    finally:
        h.remove()
    x = F.interpolate(feats["x"][0:1, 0:1], size=(256, 256), mode="nearest")[0, 0]
    got = df[(df.layout == "two") & (df.block == "up_1") & (df.statistic == "fig2_std")]["value"]
    assert float(got.iloc[0]) == pytest.approx(float(x.std()), rel=1e-5)


def test_hooks_removed_even_when_forward_raises():
    g = build("spade")
    modules = [m for _, m in g.blocks()]
    with pytest.raises(ValueError):
        with FeatureRecorder(g, norms=True) as rec:
            assert all(len(m._forward_hooks) == 1 for m in modules)
            rec.run(torch.zeros(64, 64, dtype=torch.long))  # wrong size
    assert all(len(m._forward_hooks) == 0 for m in g.modules())
    assert rec.labels is None


def test_modes_restored_and_batch_bn_leaves_running_stats():
    g = build("va-clade")
    g.train()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    probe(g, layouts.one_class("sky", dataset=g), samples=2, bn="batch")
    assert g.training
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    c = calibrate(g, layouts.boundary_series("sky", "road", [0.3, 0.6], dataset=g), steps=2)
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    assert not c.training
    assert describe_model(g) == "va-clade" and describe_model(build("clade-icpe")) == "clade-icpe"
