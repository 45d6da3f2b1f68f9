import pytest
import torch

import vasis
from analysis import layouts
from analysis.study import TINY
from analysis.recorder import FeatureRecorder
from analysis.surgery import (block_convs, norm_convs, padded_convs, swap_block_kernel,
                              swap_norm_kernel, swap_padding)

SMALL = dict(TINY)


def build(model, **kw):
    torch.manual_seed(0)
    return vasis.build_generator(model, "scenes", **SMALL, **kw).eval()


def block_features(gen, labels, seed=0):
    with FeatureRecorder(gen, keep_features=1, sample_stats=False) as rec:
        rec.run(labels, 1, seed=seed)
    return {k: v[0] for k, v in rec.features.items()}


def max_rel_diff(a, b):
    return max(float((a[k] - b[k]).abs().max() / (a[k].abs().max() + 1e-30)) for k in a)


def test_swap_padding_copies_and_leaves_original_untouched():
    g = build("spade", padding="zero")
    before = {k: v.clone() for k, v in g.state_dict().items()}
    r = swap_padding(g, "reflect")
    assert r is not g and r.cfg.padding == "reflect" and g.cfg.padding == "zero"
    assert all(c.padding_mode == "zeros" for _, c in padded_convs(g))
    assert all(c.padding_mode == "reflect" for _, c in padded_convs(r))
    assert len(padded_convs(r)) == len(padded_convs(g)) > 0
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    # the copy equals a reflect-built generator with the same weights
    fresh = vasis.build_generator("spade", "scenes", **SMALL, padding="reflect").eval()
    fresh.load_state_dict(r.state_dict())
    lab = torch.randint(0, 7, (128, 128))
    # block outputs: an untrained generator's image is tanh saturated at +-1 in eval mode
    a, b = block_features(fresh, lab), block_features(r, lab)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="padding"):
        swap_padding(g, "circular")


def test_swap_padding_va_oasis_zero_is_oasis_block():
    g = build("va-oasis")
    z = swap_padding(g, "zero")
    assert g.cfg.pad_after_block_conv and not z.cfg.pad_after_block_conv
    assert z.cfg.padding == "zero" and z.cfg.norm.shared_padding is None
    assert all(b.pad_after_conv for b in g.body) and not any(b.pad_after_conv for b in z.body)
    ref = vasis.build_generator("va-oasis", "scenes", **SMALL, padding="zero",
                                pad_after_block_conv=False, shared_padding=None).eval()
    ref.load_state_dict(z.state_dict())
    lab = layouts.two_class("sky", "road", dataset="scenes")
    a, b = block_features(z, lab, seed=1), block_features(ref, lab, seed=1)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # reflect keeps the valid-conv + reflect-after blocks
    r = swap_padding(g, "reflect")
    assert all(b.pad_after_conv for b in r.body) and r.cfg.pad_after_block_conv


def test_norm_kernel_sum_keeps_uniform_regions_and_center_does_not():
    g = build("spade", padding="reflect")
    before = {k: v.clone() for k, v in g.state_dict().items()}
    one = layouts.one_class("road", dataset=g)
    k1 = swap_norm_kernel(g, 1)
    assert k1.cfg.norm.kernel_size == 1 and g.cfg.norm.kernel_size == 3
    assert all(c.kernel_size == (1, 1) for _, c in norm_convs(k1))
    assert all(c.kernel_size == (3, 3) for _, c in norm_convs(g))
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    ref = block_features(g, one)
    assert max_rel_diff(ref, block_features(k1, one)) < 1e-4
    assert max_rel_diff(ref, block_features(swap_norm_kernel(g, 1, mode="center"), one)) > 1e-2
    # across a boundary the 1x1 model differs
    two = layouts.two_class("sky", "road", dataset=g)
    assert max_rel_diff(block_features(g, two), block_features(k1, two)) > 1e-3


def test_norm_kernel_1_to_3_is_exact():
    g = build("va-spade", kernel_size=1)
    k3 = swap_norm_kernel(g, 3)
    assert k3.cfg.norm.kernel_size == 3
    lab = layouts.box("tree", "sky", dataset=g)
    assert max_rel_diff(block_features(g, lab), block_features(k3, lab)) < 1e-5
    with pytest.raises(ValueError):
        swap_norm_kernel(g, 5)
    with pytest.raises(ValueError):
        swap_norm_kernel(g, 1, mode="mean")


# -- the residual-block kernel (official VASIS --kernel) -------------------------------------
def _same_structure(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(sa[k].shape == sb[k].shape for k in sa)
    assert [type(m) for m in a.modules()] == [type(m) for m in b.modules()]
    assert [(c.kernel_size, c.padding, c.padding_mode) for _, c in block_convs(a)] == \
        [(c.kernel_size, c.padding, c.padding_mode) for _, c in block_convs(b)]


@pytest.mark.parametrize("model", ["spade", "clade", "oasis", "va-spade", "va-oasis"])
def test_swap_block_kernel_equals_a_built_model(model):
    g = build(model)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    k1 = swap_block_kernel(g, 1)
    fresh = build(model, block_kernel_size=1)
    assert k1.cfg == fresh.cfg and k1.cfg.block_kernel_size == 1 and g.cfg.block_kernel_size == 3
    _same_structure(k1, fresh)
    assert all(c.kernel_size == (3, 3) for _, c in block_convs(g))
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    # Reloaded into the built model, the copy's weights compute the same images.
    fresh.load_state_dict(k1.state_dict())
    lab = layouts.two_class("sky", "road", dataset="scenes")[None]
    with torch.no_grad():
        torch.manual_seed(1)
        a = k1(lab)
        torch.manual_seed(1)
        assert torch.equal(a, fresh(lab))
    back = swap_block_kernel(k1, 3)
    _same_structure(back, g)
    assert back.cfg == g.cfg


def test_block_kernel_sum_keeps_uniform_regions_and_center_does_not():
    # Reflect + one class: every block input is constant, so 'sum' must give the same features.
    g = build("clade", padding="reflect")
    one = layouts.one_class("road", dataset=g)
    ref = block_features(g, one)
    k1 = swap_block_kernel(g, 1)
    assert max_rel_diff(ref, block_features(k1, one)) < 1e-4
    assert max_rel_diff(ref, block_features(swap_block_kernel(g, 1, mode="center"), one)) > 1e-2
    # CLADE's norm kernel swap changes nothing; the block swap does, across a boundary.
    two = layouts.two_class("sky", "road", dataset=g)
    ref2 = block_features(g, two)
    assert max_rel_diff(ref2, block_features(swap_norm_kernel(g, 1), two)) == 0
    assert max_rel_diff(ref2, block_features(k1, two)) > 1e-3


def test_block_kernel_1_to_3_is_exact():
    g = build("spade", block_kernel_size=1)
    k3 = swap_block_kernel(g, 3)
    assert k3.cfg.block_kernel_size == 3
    assert all(c.kernel_size == (3, 3) for _, c in block_convs(k3))
    lab = layouts.box("tree", "sky", dataset=g)
    assert max_rel_diff(block_features(g, lab), block_features(k3, lab)) < 1e-5
    with pytest.raises(ValueError, match="kernel size must be 1 or 3, got 2"):
        swap_block_kernel(g, 2)
    with pytest.raises(ValueError, match="mode"):
        swap_block_kernel(g, 1, mode="mean")
