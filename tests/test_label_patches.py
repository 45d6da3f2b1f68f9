"""SPADE's label branch per distinct label square (vasis.models.label_patches) against the convs."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import vasis
from analysis.recorder import calibrate
from official_reference import label_maps
from vasis.models import cpu_kernels, label_patches
from vasis.models.label_patches import LabelCodes, distinct_windows, label_feature, padded
from vasis.models.layers import eval_norm_affine, is_nhwc, onehot_ids
from vasis.models.norms import _gamma_beta

MODES = ("zeros", "reflect", "replicate", "circular")


def blocky(n, h, w, classes, block, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, classes, (n, -(-h // block), -(-w // block)), generator=g)
    return ids.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w]


# the CPU path works on numpy arrays, other devices on tensors
KINDS = {"tensor": lambda t: t, "numpy": lambda t: t.numpy()}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_padded_ids_are_the_convs_padding(mode, kind):
    ids = torch.randint(0, 9, (2, 5, 7))
    got = torch.as_tensor(padded(KINDS[kind](ids), 2, mode, sentinel=99))
    if mode == "zeros":
        want = F.pad(ids.float(), (2, 2, 2, 2), value=99.0)
    else:
        want = F.pad(ids[:, None].float(), (2, 2, 2, 2), mode=mode)[:, 0]
    assert torch.equal(got, want.long())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_distinct_windows_against_unfold(k, kind):
    grid = blocky(2, 20 + k - 1, 17 + k - 1, 4, 3)
    found = distinct_windows(KINDS[kind](grid), k)
    every = F.unfold(grid[:, None].float(), k).long().transpose(1, 2)       # (N, HW, k*k)
    every = every.reshape(-1, k * k)
    assert torch.equal(found.values[found.inverse.reshape(-1)], every)
    assert found.count == torch.unique(every, dim=0).shape[0]            # each window once


@pytest.mark.parametrize("kind", KINDS)
def test_distinct_windows_in_stages_when_one_key_does_not_fit(kind):
    """Ids of 300: 300**9 overflows int64, so rows of 3 are numbered first."""
    g = torch.Generator().manual_seed(0)
    grid = torch.randint(0, 300, (1, 6, 6), generator=g).repeat_interleave(2, 1).repeat_interleave(2, 2)
    assert 300 ** 9 > 2 ** 62
    found = distinct_windows(KINDS[kind](grid), 3)
    every = F.unfold(grid[:, None].float(), 3).long().transpose(1, 2).reshape(-1, 9)
    assert torch.equal(found.values[found.inverse.reshape(-1)], every)
    assert found.count == torch.unique(every, dim=0).shape[0]


@pytest.mark.parametrize("kind", KINDS)
def test_distinct_windows_decline_keys_beyond_int64(kind):
    """Ids of 3 million: even a row piece of three (3e6 ** 3 > 2 ** 62) has no int64 key."""
    grid = torch.tensor([[[0, 1, 2, 3], [3_000_000, 5, 6, 7], [8, 9, 10, 11]]])
    assert distinct_windows(KINDS[kind](grid), 3) is None
    assert distinct_windows(KINDS[kind](grid % 1000), 3).count == 2


@pytest.mark.parametrize("ids", [7, 300])
@pytest.mark.parametrize("seed", range(3))
def test_the_compiled_search_numbers_windows_as_the_tensor_path(seed, ids):
    """The CPU path's hash table numbers the windows in key order, as torch.unique does on
    other devices: the same inverse and values (so the same tables, row for row; without
    gradients in the order they first appear), on maps
    whose windows repeat in runs and across rows (the table's probing, its run shortcut), with
    one key per window (7 ids) and in stages (300 ids: row pieces numbered first)."""
    grid = blocky(3, 40, 31, ids, 1 + seed, seed=seed)
    found, want = distinct_windows(grid.numpy(), 3), distinct_windows(grid, 3)
    assert torch.equal(found.inverse, want.inverse) and torch.equal(found.values, want.values)
    with torch.no_grad():   # numbered as they first appear: the same windows
        unsorted = distinct_windows(grid.numpy(), 3)
    flat = unsorted.inverse.reshape(-1)
    first = torch.full((unsorted.count,), flat.numel()).scatter_reduce(
        0, flat, torch.arange(flat.numel()), "amin")           # each id's first pixel
    assert bool((first[1:] > first[:-1]).all())
    every = F.unfold(grid[:, None].float(), 3).long().transpose(1, 2).reshape(-1, 9)
    for w in (found, unsorted):
        assert torch.equal(w.values[w.inverse.reshape(-1)], every)


@pytest.mark.parametrize("model", ["spade", "oasis"])
def test_window_order_changes_no_float_of_a_forward_without_gradients(model, monkeypatch):
    """Without gradients the CPU path skips sorting the windows: each row of the branch is
    computed on its own, so the forward is the one with windows in key order."""
    label, _ = label_maps(1, 128, 128, vasis.label_space("scenes").label_nc, False, 0)
    gen, kw = calibrated(model, label)
    real = cpu_kernels.distinct_windows
    outs = []
    for in_order in (False, True):
        monkeypatch.setattr(cpu_kernels, "distinct_windows",
                            lambda grid, k, in_key_order=True, o=in_order: real(grid, k, o))
        torch.manual_seed(0)
        with torch.no_grad():
            outs.append(gen(label, **kw))
    assert_within(outs[0], outs[1], 1e-6)


def test_onehot_ids_is_the_argmax_of_a_onehot_map_and_refuses_soft_labels():
    ids = blocky(2, 16, 16, 5, 4)
    onehot = F.one_hot(ids, 5).permute(0, 3, 1, 2).float()
    assert torch.equal(onehot_ids(onehot), onehot.argmax(1))
    soft = onehot.clone()
    soft[0, :, 0, 0] = 0.2
    assert onehot_ids(soft) is None
    two = onehot.clone()
    two[0, :2, 0, 0] = 1.0                                 # two ones: sums to 2
    assert onehot_ids(two) is None


def assert_close_at_scale(mine, theirs, rel=1e-5):
    """Gradients equal up to float rounding of their sums: each tensor within ``rel`` of the
    largest entry of all (some entries, e.g. a BN-normalized layer's bias gradient, are zero in
    exact arithmetic and rounding noise on both sides, so no per-entry tolerance fits)."""
    scale = max(b.abs().max() for b in theirs if b is not None)
    for a, b in zip(mine, theirs):
        if b is not None:
            assert (a - b).abs().max() <= rel * scale, float((a - b).abs().max() / scale)


def _norm_convs(cin, hidden, cout, k1, k2, mode1, mode2, seed=0):
    torch.manual_seed(seed)
    shared = nn.Sequential(nn.Conv2d(cin, hidden, k1, padding=k1 // 2, padding_mode=mode1),
                           nn.ReLU())
    conv_g = nn.Conv2d(hidden, cout, k2, padding=k2 // 2, padding_mode=mode2)
    conv_b = nn.Conv2d(hidden, cout, k2, padding=k2 // 2, padding_mode=mode2)
    for conv in (shared[0], conv_g, conv_b):
        nn.init.normal_(conv.weight, std=0.3)
        nn.init.normal_(conv.bias, std=0.3)
    return shared, conv_g, conv_b


def _encode(ids, n_classes, edges=None):
    onehot = F.one_hot(ids, n_classes).permute(0, 3, 1, 2).float()
    return onehot if edges is None else torch.cat([onehot, edges[:, None].float()], 1)


CASES = [  # k1, k2, mode of mlp_shared, mode of mlp_gamma / mlp_beta
    (3, 3, "zeros", "zeros"),          # SPADE, OASIS
    (3, 3, "reflect", "reflect"),      # VA-SPADE
    (3, 3, "zeros", "reflect"),        # VA-OASIS (shared_padding zero)
    (1, 1, "zeros", "zeros"),          # --kernel_norm 1
    (3, 1, "reflect", "zeros"),
    (5, 3, "replicate", "circular"),
]


STEPS = ("squares", "pixels")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [1, 3])
def test_tap_rows_per_pixel_against_unfold(k, kind):
    grid = blocky(2, 9 + k - 1, 7 + k - 1, 5, 2)
    rows = label_patches._tap_rows_per_pixel(KINDS[kind](grid), k, 5)
    every = F.unfold(grid[:, None].float(), k).long().transpose(1, 2).reshape(-1, k * k)
    assert torch.equal(rows.long(), every * k * k + torch.arange(k * k))


@pytest.mark.parametrize("k1,k2,mode1,mode2", CASES)
@pytest.mark.parametrize("edges", [False, True])
@pytest.mark.parametrize("step2", STEPS)
def test_label_feature_equals_the_convs_values_and_gradients(k1, k2, mode1, mode2, edges, step2):
    ids = blocky(2, 96, 64, 6, 12)
    edge = (blocky(2, 96, 64, 2, 16, seed=1) if edges else None)
    seg = _encode(ids, 6, edge)
    convs = _norm_convs(seg.shape[1], 8, 5, k1, k2, mode1, mode2)
    codes = LabelCodes.of(seg, 6)
    assert codes is not None and torch.equal(codes.classes, ids)
    mine = label_feature(*convs, codes, cost_rule=False, step2=step2)
    assert mine is not None                                   # the per-square path ran
    theirs = _gamma_beta(convs[1], convs[2], convs[0](seg))
    for a, b in zip(mine, theirs):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    # gradients w.r.t. every weight: the same sums in another order
    upstream = [torch.randn_like(t) for t in theirs]
    grads = []
    for out in (mine, theirs):
        params = [p for c in convs for p in c.parameters()]
        grads.append(torch.autograd.grad(sum((o * u).sum() for o, u in zip(out, upstream)),
                                         params))
    assert_close_at_scale(*grads)


@pytest.mark.parametrize("one_plus_gamma", [False, True])
@pytest.mark.parametrize("step2", STEPS)
def test_channels_last_maps_are_the_column_gathers_maps(one_plus_gamma, step2):
    """``nhwc=True`` (the layout of large maps without gradients): the same gamma and beta,
    with the channels innermost (per square: channels_last maps; per pixel: views of one)."""
    ids = blocky(2, 64, 48, 6, 10)
    seg = _encode(ids, 6)
    convs = _norm_convs(seg.shape[1], 8, 5, 3, 3, "zeros", "zeros")
    codes = LabelCodes.of(seg, 6)
    with torch.no_grad():
        columns = label_feature(*convs, codes, one_plus_gamma, cost_rule=False, step2=step2)
        rows = label_feature(*convs, codes, one_plus_gamma, cost_rule=False, nhwc=True,
                             step2=step2)
    for a, b in zip(rows, columns):
        assert is_nhwc(a) if step2 == "squares" else a.stride(1) == 1
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("step2", STEPS)
def test_label_feature_with_a_per_image_prefix(step2):
    """OASIS's 3D noise: the codes are per image, the vectors carry z."""
    ids = blocky(3, 64, 48, 4, 10)
    z = torch.randn(3, 5)
    seg = _encode(ids, 4)
    full = torch.cat([z[:, :, None, None].expand(3, 5, 64, 48), seg], 1)
    codes = LabelCodes.of(seg, 4).with_prefix(z)
    convs = _norm_convs(full.shape[1], 8, 6, 3, 3, "zeros", "reflect")
    mine = label_feature(*convs, codes, cost_rule=False, step2=step2)
    theirs = _gamma_beta(convs[1], convs[2], convs[0](full))
    for a, b in zip(mine, theirs):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def _spy(method, calls, name):
    def spy(*args, **kwargs):
        calls.append(name)
        return method(*args, **kwargs)
    return spy


def test_label_feature_declines_what_the_convs_must_do(monkeypatch):
    ids = blocky(1, 128, 128, 4, 16)
    seg = _encode(ids, 4)
    convs = _norm_convs(4, 32, 32, 3, 3, "zeros", "zeros")    # ~3e8 multiply-adds as convs
    codes = LabelCodes.of(seg, 4)
    assert label_feature(*convs, codes) is not None
    # a forward hook on a conv (ptflops, a probe) must see the conv run
    handle = convs[1].register_forward_hook(lambda *a: None)
    assert label_feature(*convs, codes) is None
    handle.remove()
    # small maps: the convs cost less than the path's fixed costs
    small = LabelCodes.of(_encode(blocky(1, 32, 32, 4, 8), 4), 4)
    assert label_feature(*convs, small) is None
    # most squares distinct: the products per square save too little
    noisy = LabelCodes.of(_encode(torch.randint(0, 4, (1, 128, 128)), 4), 4)
    assert label_feature(*convs, noisy) is None
    assert label_feature(*convs, noisy, cost_rule=False) is not None   # (the rule declined)
    # without gradients, for channels_last features, the second step sums per pixel where
    # many windows differ, and the rule then takes smaller maps (its fixed costs are less);
    # with gradients or NCHW features, per square
    steps = []
    monkeypatch.setattr(LabelCodes, "pixel_taps", _spy(LabelCodes.pixel_taps, steps, "pixels"))
    monkeypatch.setattr(LabelCodes, "branch_windows",
                        _spy(LabelCodes.branch_windows, steps, "squares"))
    mid = LabelCodes.of(_encode(blocky(1, 64, 64, 4, 8), 4), 4)
    narrow = _norm_convs(4, 16, 16, 3, 3, "zeros", "zeros")     # ~2.1e7 multiply-adds as convs
    assert label_feature(*narrow, mid, nhwc=True) is None and steps == []
    with torch.no_grad():
        assert label_feature(*narrow, mid) is None and steps == []
        assert label_feature(*narrow, mid, nhwc=True) is not None and steps == ["pixels"]
        tiny = LabelCodes.of(_encode(blocky(1, 16, 16, 4, 8), 4), 4)
        assert label_feature(*convs, tiny, nhwc=True) is None      # ~5e6: below even that
        steps.clear()   # few distinct windows (16-pixel blocks): per square
        assert label_feature(*convs, codes, nhwc=True) is not None and steps == ["squares"]
        monkeypatch.setattr(label_patches, "PIXEL_MIN_SHARE", 0.0)
        steps.clear()
        assert label_feature(*convs, codes, nhwc=True) is not None and steps == ["pixels"]
        monkeypatch.setattr(label_patches, "PIXEL_TABLE_BYTES", 0)
        steps.clear()
        assert label_feature(*convs, codes, nhwc=True) is not None and steps == ["squares"]
    # soft labels are not codes
    soft = seg.clone()
    soft[0, 0, 0, 0] = 0.5
    assert LabelCodes.of(soft, 4) is None


@pytest.mark.parametrize("per_pixel", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_one_pass_modulation_equals_the_separate_passes(per_pixel, affine):
    """cpu_kernels.modulate against torch's passes: the eval-mode BatchNorm, the lookups (or
    the per-pixel sums) of gamma and beta, the multiply-add; on rows per square and per pixel
    (LabelRows.row_per_pixel)."""
    torch.manual_seed(0)
    c, n, h, w = 16, 2, 24, 20
    bn = nn.BatchNorm2d(c, affine=affine)
    for t in (bn.running_mean, *([bn.weight, bn.bias] if affine else [])):
        nn.init.normal_(t)
    bn.running_var.uniform_(0.5, 2)
    bn.eval()
    x = torch.randn(n, c, h, w).contiguous(memory_format=torch.channels_last)
    table = torch.randn(50, 2 * c)
    with torch.no_grad():
        index = torch.randint(0, 50, (n * h * w, 9), dtype=torch.int32) if per_pixel else \
            torch.randint(0, 50, (n, h, w))
        rows = label_patches.LabelRows(table, index, [c, c], (n, h, w))
        gamma, beta = rows.maps(nhwc=True)
        want = beta.addcmul(bn(x), gamma)
        got = cpu_kernels.modulate(x, *eval_norm_affine(bn), *rows.row_per_pixel())
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert (got - want).abs().max() <= 1e-6 * want.abs().max()
    assert eval_norm_affine(bn.train()) is None        # batch statistics depend on x


SCENES = ("spade", "va-spade", "oasis", "va-oasis")


def calibrated(model, label, **build):
    """A fresh scenes generator whose BatchNorm running statistics are its own on ``label``
    (eval mode: without them an untrained generator's eval output saturates tanh at +-1,
    where no difference can show), and the keyword arguments of its forward."""
    torch.manual_seed(0)
    gen = vasis.build_generator(model, "scenes", **build)
    kw = {"z": torch.randn(label.shape[0], gen.cfg.z_dim)} if gen.cfg.use_3d_noise else {}
    return calibrate(gen, label, steps=2, **kw), kw


def assert_within(mine, theirs, rel):
    assert theirs.abs().max() < 0.9                        # not saturated: a difference shows
    assert (mine - theirs).abs().max() <= rel * theirs.abs().max()


@pytest.mark.parametrize("model", SCENES)
def test_generators_equal_their_convs_with_and_without_gradients(model):
    space = vasis.label_space("scenes")
    label, _ = label_maps(2, 128, 128, space.label_nc, space.dontcare, 0)
    original, kw = calibrated(model, label, ngf=4, hidden=8)
    outs = []
    for devices in (("cpu",), ()):
        gen = copy.deepcopy(original)   # the train-mode pass updates BN statistics
        with label_patches.using(devices):
            torch.manual_seed(1)
            gen.eval()
            with torch.no_grad():
                plain = gen(label, **kw)
            gen.train()
            torch.manual_seed(1)
            out = gen(label, **kw)
            grads = torch.autograd.grad(out.square().sum(), list(gen.parameters()),
                                        allow_unused=True)
        outs.append((plain, out, grads))
    (p1, o1, g1), (p2, o2, g2) = outs
    assert_within(p1, p2, 1e-5)
    assert_within(o1, o2, 1e-5)
    assert_close_at_scale(g1, g2)


def test_the_per_square_path_runs_in_the_generators(monkeypatch):
    """The scenes generators do take it (a test that could not fail otherwise)."""
    calls = []
    real = label_patches.label_rows

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out is not None)
        return out
    monkeypatch.setattr(label_patches, "label_rows", spy)
    gen = vasis.build_generator("spade", "scenes").eval()
    label, _ = label_maps(1, 128, 128, vasis.label_space("scenes").label_nc, False, 0)
    one_pass = []
    real_modulate = cpu_kernels.modulate
    monkeypatch.setattr(cpu_kernels, "modulate",
                        lambda *a: one_pass.append(1) or real_modulate(*a))
    with torch.no_grad():
        gen(label)
    assert any(calls) and not all(calls)      # large maps per square, small ones by convs
    assert len(one_pass) == sum(calls)        # each modulated in one pass (eval, no gradients)
    calls.clear()
    with label_patches.using(()), torch.no_grad():
        gen(label)
    assert calls == []
