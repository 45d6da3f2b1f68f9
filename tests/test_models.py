"""The model core's Must-hold list: every preset x variant runs; the padding/noise/position
claims of the paper hold block by block; bad input fails clearly."""
import copy
import os

import pytest
import torch
import torch.nn.functional as F

import vasis
from analysis.recorder import calibrate
from analysis.study import TINY
from vasis import allocator
from vasis.models import layers
from vasis.inputs import encode_labels
from vasis.models.layers import (conv2d, conv_forward, lookup, parameter_cached, resize_ids,
                                 spectral_norm_on_weight)
from vasis.models.norms import _gamma_beta, _shared, class_ids
from vasis.presets import build_discriminator

MODELS = list(vasis.MODELS)
SPADE_FAMILY = ["spade", "clade", "clade-icpe", "va-spade", "va-clade"]

VARIANTS = {
    "default": {},
    "no-noise-no-pos": {"noise": "none", "position": ()},
    "semantic-concat": {"noise": "semantic", "noise_combine": "concat"},
    "semantic-plus": {"noise": "semantic", "noise_combine": "plus"},
    "semantic-one": {"noise": "semantic", "noise_channels": "one"},
    "semantic-gaussian": {"noise": "semantic", "noise_distribution": "gaussian"},
    "random": {"noise": "random"},
    "pos-learnable-one": {"position": ("learnable",), "position_channels": "one"},
    "pos-absolute": {"position": ("absolute",)},
    "pos-relative": {"position": ("relative",)},
    "pos-all-three": {"position": ("absolute", "learnable", "relative")},
    "kernel-1": {"kernel_size": 1},
    "reflect": {"padding": "reflect"},
    "zero": {"padding": "zero"},
    "instance-norm": {"param_free": "instance"},
}


def tiny_generator(model, dataset="scenes", **overrides):
    return vasis.build_generator(model, dataset, **{**TINY, **overrides})


def scenes_labels(n=2, seed=0, size=128):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 7, (n, 8, 8), generator=g)
    return coarse.repeat_interleave(size // 8, 1).repeat_interleave(size // 8, 2)


@pytest.mark.parametrize("block_kernel", [3, 1])
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("model", MODELS)
def test_every_preset_and_variant_runs_forward_and_backward(model, variant, block_kernel):
    # OASIS's valid VA-OASIS convs need a 4x4 start (128 px); the SPADE family runs at 64 px.
    size = 128 if model in ("oasis", "va-oasis") else 64
    gen = tiny_generator(model, height=size, width=size, block_kernel_size=block_kernel,
                         **VARIANTS[variant])
    blocks = [m for _, m in gen.blocks()][1:]
    assert all(b.conv_0.kernel_size == b.conv_1.kernel_size == (block_kernel,) * 2 for b in blocks)
    out = gen(scenes_labels(size=size))
    assert out.shape == (2, 3, size, size)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    grads = [p.grad for p in gen.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("model", MODELS)
def test_discriminators_run(model):
    gen = tiny_generator(model)
    disc = vasis.build_discriminator(model, "scenes", ndf=8, channels_d=4)
    labels = scenes_labels()
    fake = gen(labels)
    if model in ("oasis", "va-oasis"):
        logits = disc(fake)
        assert logits.shape == (2, vasis.label_space("scenes").semantic_nc + 1, 128, 128)
    else:
        feats = disc(torch.cat([gen.prepare_input(labels), fake], 1))
        assert len(feats) == 2 and all(f[-1].shape[1] == 1 for f in feats)
    (logits if model in ("oasis", "va-oasis") else feats[0][-1]).mean().backward()


def spatial_std(x):
    return x.flatten(2).std(-1).max().item()


def one_class(class_id=1, n=2, size=128):
    return torch.full((n, size, size), class_id, dtype=torch.long)


@pytest.mark.parametrize("model", ["spade", "clade", "oasis"])
def test_reflect_padding_one_class_is_spatially_constant_in_every_block(model):
    gen = tiny_generator(model, padding="reflect").eval()
    kwargs = {"z": torch.randn(2, gen.cfg.z_dim)} if model == "oasis" else {}
    outs = block_outputs(gen, one_class(), **kwargs)
    assert len(outs) == len(gen.blocks())
    for name, out in outs.items():
        assert spatial_std(out) < 1e-5 * max(1.0, out.abs().max().item()), name


@pytest.mark.parametrize("model", ["spade", "clade", "oasis"])
def test_zero_padding_one_class_is_not_constant(model):
    gen = tiny_generator(model, padding="zero").eval()
    kwargs = {"z": torch.randn(2, gen.cfg.z_dim)} if model == "oasis" else {}
    outs = block_outputs(gen, one_class(), **kwargs)
    # The zero border makes the first conv see a boundary; every later block inherits it.
    for name, out in outs.items():
        assert spatial_std(out) > 1e-4, name


@pytest.mark.parametrize("model,switch", [
    ("spade", {"noise": "semantic"}), ("spade", {"position": ("learnable",)}),
    ("clade", {"noise": "semantic"}), ("clade", {"position": ("absolute",)}),
    ("oasis", {"noise": "semantic"}), ("oasis", {"position": ("learnable",)}),
    ("va-spade", {}), ("va-clade", {}), ("va-oasis", {}),
])
def test_noise_or_position_code_breaks_the_constant_map_under_reflect_padding(model, switch):
    gen = tiny_generator(model, padding="reflect", **switch).eval()
    # Freshly built position convs are zero (identity modulation); give them weights as training would.
    with torch.no_grad():
        for name, p in gen.named_parameters():
            if "conv_pos" in name:
                p.normal_(0, 0.5)
    kwargs = {"z": torch.randn(2, gen.cfg.z_dim)} if gen.cfg.use_3d_noise else {}
    outs = block_outputs(gen, one_class(), **kwargs)
    for name, out in list(outs.items())[1:]:  # fc sees only the label map
        assert spatial_std(out) > 1e-4, name


def block_outputs(gen, labels, **kwargs):
    outs, hooks = {}, []
    for name, module in gen.blocks():
        hooks.append(module.register_forward_hook(
            lambda m, i, o, name=name: outs.__setitem__(name, o.detach())))
    try:
        with torch.no_grad():
            gen(labels, **kwargs)
    finally:
        for h in hooks:
            h.remove()
    return outs


def test_position_code_starts_as_identity():
    labels = scenes_labels()
    # BN statistics of its own: an untrained generator's eval image saturates tanh otherwise
    gen = calibrate(tiny_generator("spade", padding="reflect", position=("learnable",)), labels,
                    steps=2)
    base = tiny_generator("spade", padding="reflect").eval()
    base.load_state_dict({k: v for k, v in gen.state_dict().items() if "pos" not in k})
    with torch.no_grad():
        out, want = gen(labels), base(labels)
    assert want.abs().max() < 0.9
    assert torch.allclose(out, want, rtol=0, atol=1e-6 * want.abs().max())


def test_zero_noise_scale_makes_semantic_noise_deterministic():
    gen = tiny_generator("va-spade").eval()
    with torch.no_grad():
        for name, p in gen.named_parameters():
            if name.endswith("noise_gamma"):
                p.zero_()
    labels = scenes_labels()
    with torch.no_grad():
        assert torch.equal(gen(labels), gen(labels))
    gen2 = tiny_generator("va-spade").eval()
    with torch.no_grad():
        assert not torch.equal(gen2(labels), gen2(labels))


# -- bad input ---------------------------------------------------------------------------
def test_wrong_channel_count_names_expected_and_received():
    gen = tiny_generator("spade")
    with pytest.raises(ValueError, match=r"\(N, 7, 128, 128\).*\(2, 5, 128, 128\)"):
        gen(torch.zeros(2, 5, 128, 128))


def test_wrong_spatial_size_names_expected_and_received():
    gen = tiny_generator("oasis")
    with pytest.raises(ValueError, match=r"128.*got \(1, 7, 64, 64\)"):
        gen(torch.zeros(1, 7, 64, 64))
    # An integer map is reported as it was passed, not as its internal one-hot encoding.
    with pytest.raises(ValueError, match=r"\(N, 128, 128\); got \(1, 64, 64\) \(torch.int64\)"):
        gen(torch.zeros(1, 64, 64, dtype=torch.long))


def test_float_label_map_names_the_dtype():
    gen = tiny_generator("spade")
    with pytest.raises(ValueError, match=r"torch.float32 map of shape \(2, 128, 128\).*integer dtype"):
        gen(torch.zeros(2, 128, 128))


def test_label_ids_out_of_range_are_named():
    gen = tiny_generator("clade")
    labels = one_class(3)
    labels[0, 0, 0] = 9
    labels[1, 5, 5] = 255  # scenes has no don't-care class
    with pytest.raises(ValueError, match=r"\[9, 255\].*0\.\.6"):
        gen(labels)


def test_dontcare_is_accepted_where_the_dataset_has_it():
    labels = torch.full((1, 4, 4), 255)
    labels[0, 0, 0] = 3
    onehot = encode_labels(labels, vasis.label_space("coco-stuff"))
    assert onehot.shape == (1, 184, 4, 4)  # 182 classes, don't care, instance edges
    assert onehot[0, 182].sum() == 15 and onehot[0, 3, 0, 0] == 1
    # ADE20K keeps its raw ids (0 = other), as the official models see them: no don't-care id.
    with pytest.raises(ValueError, match=r"\[255\].*0\.\.150"):
        encode_labels(labels, vasis.label_space("ade20k"))


def test_encoded_ids_are_not_the_callers_tensor():
    """The class ids encode_labels returns (the generators keep them as the label codes) are
    a tensor of their own, also where no don't-care id needs mapping."""
    labels = one_class(3)
    onehot, ids = encode_labels(labels, vasis.label_space("scenes"), return_ids=True)
    assert torch.equal(ids, labels) and ids.data_ptr() != labels.data_ptr()
    assert torch.equal(onehot.argmax(1), labels)


def test_unknown_preset_and_option_errors():
    with pytest.raises(ValueError, match="unknown model 'pix2pix'"):
        vasis.build_generator("pix2pix", "scenes")
    with pytest.raises(ValueError, match="unknown dataset 'kitti'"):
        vasis.build_generator("spade", "kitti")
    with pytest.raises(ValueError, match="unknown generator option 'noize'"):
        vasis.build_generator("spade", "scenes", noize="semantic")
    with pytest.raises(ValueError, match="noise must be one of"):
        vasis.build_generator("spade", "scenes", noise="pink")
    with pytest.raises(ValueError, match="height=100 must be a positive multiple of 32"):
        vasis.build_generator("spade", "scenes", height=100)
    with pytest.raises(vasis.errors.UserError, match=r"block_kernel_size must be one of \(1, 3\), got 2"):
        vasis.build_generator("spade", "scenes", block_kernel_size=2)


def test_overrides_do_not_leak_between_builds():
    a = vasis.generator_config("va-spade", "scenes", padding="zero")
    b = vasis.generator_config("va-spade", "scenes")
    assert a.padding == "zero" and b.padding == "reflect"
    assert b.norm.noise == "semantic" and b.norm.position == ("learnable",)


def test_presets_are_baseline_plus_switches():
    base = vasis.generator_config("spade", "cityscapes")
    va = vasis.generator_config("va-spade", "cityscapes")
    assert va.norm.modulation == base.norm.modulation == "spade"
    assert (va.arch, va.ngf, va.num_upsampling_layers) == (base.arch, base.ngf, base.num_upsampling_layers)
    assert type(vasis.build_generator("va-clade", "scenes", **TINY)) is type(
        vasis.build_generator("clade", "scenes", **TINY))


@pytest.mark.parametrize("model,dataset,millions", [
    ("spade", "cityscapes", 93.05), ("clade", "ade20k", 71.43), ("clade-icpe", "coco-stuff", 72.51),
    ("oasis", "cityscapes", 71.11), ("va-spade", "cityscapes", 83.34), ("va-clade", "ade20k", 74.16),
    ("va-oasis", "coco-stuff", 67.50),
])
def test_parameter_counts_match_the_paper(model, dataset, millions):
    with torch.device("meta"):
        gen = vasis.build_generator(model, dataset)
    assert round(sum(p.numel() for p in gen.parameters()) / 1e6, 2) == millions


@pytest.mark.parametrize("model,overrides,count", [
    # The official VASIS code's counts (Cityscapes 256x512, zero padding; docs/switches.md).
    ("clade", dict(block_kernel_size=1), 9_149_991),
    ("spade", dict(block_kernel_size=1), 34_360_515),
    ("spade", dict(block_kernel_size=1, kernel_size=1), 11_283_651),
    ("spade", dict(kernel_size=1), 69_971_139),
])
def test_kernel_switch_parameter_counts_are_exact(model, overrides, count):
    with torch.device("meta"):
        gen = vasis.build_generator(model, "cityscapes", **overrides)
    assert sum(p.numel() for p in gen.parameters()) == count
    # Only the blocks' conv_0 / conv_1 follow block_kernel_size: stem, conv_img, conv_s keep theirs.
    k = overrides.get("block_kernel_size", 3)
    assert gen.fc.kernel_size == gen.conv_img.kernel_size == (3, 3)
    assert gen.up_0.conv_s.kernel_size == (1, 1) and gen.up_0.conv_0.kernel_size == (k, k)


def test_gamma_beta_as_one_conv_is_bit_identical_and_hooks_still_see_both_convs():
    """The SPADE norm computes mlp_gamma and mlp_beta as one stacked conv: the forward is
    bit-identical to two module calls, and a conv with a forward hook (complexity counters)
    makes the norm call the modules again."""
    torch.manual_seed(0)
    for padding in ("zeros", "reflect"):
        g = torch.nn.Conv2d(8, 6, 3, padding=1, padding_mode=padding)
        b = torch.nn.Conv2d(8, 6, 3, padding=1, padding_mode=padding)
        x = torch.randn(2, 8, 9, 11)
        fg, fb = _gamma_beta(g, b, x)
        assert torch.equal(fg, g(x)) and torch.equal(fb, b(x))
        seen = []
        h = g.register_forward_hook(lambda *a: seen.append(1))
        _gamma_beta(g, b, x)
        h.remove()
        assert seen == [1]


def test_one_plus_gamma_of_the_stacked_conv_has_the_bits_of_the_sum():
    """SPADE's scale 1 + gamma: added in place to the stacked conv's new output without
    gradients, as a new map with them; either way the floats of ``1 + conv_g(x)``."""
    torch.manual_seed(0)
    g, b = torch.nn.Conv2d(8, 6, 3, padding=1), torch.nn.Conv2d(8, 6, 3, padding=1)
    x = torch.randn(2, 8, 9, 11)
    with torch.no_grad():
        scale, shift = _gamma_beta(g, b, x, one_plus_gamma=True)
        assert torch.equal(scale, 1 + g(x)) and torch.equal(shift, b(x))
    scale, shift = _gamma_beta(g, b, x.requires_grad_(), one_plus_gamma=True)
    assert scale.requires_grad and torch.equal(scale.detach(), (1 + g(x)).detach())


@pytest.mark.parametrize("model", ["spade", "clade", "va-spade", "oasis"])
def test_large_maps_run_channels_last_without_gradients(model, monkeypatch):
    """Without gradients on the CPU the generators run maps of NHWC_MIN_PIXELS pixels or more
    in channels_last (the last blocks at the scenes preset; the per-square path, CLADE's and
    the noise's tables gather rows, the position code's factors are kept channels_last); the
    image comes back NCHW and equals the all-NCHW forward (the same seed: the same noise) up
    to rounding. With gradients nothing changes layout."""
    x = torch.randn(1, 4, 64, 64)
    assert layers.working_layout(x) is x                      # gradients on
    with torch.no_grad():
        assert layers.is_nhwc(layers.working_layout(x))
        small = torch.randn(1, 4, 32, 32)
        assert layers.working_layout(small) is small
        assert layers.is_nhwc(layers.working_layout(small, scale=2))
    label = torch.randint(0, vasis.label_space("scenes").label_nc, (1, 128, 128))
    gen = vasis.build_generator(model, "scenes")
    z = torch.randn(1, gen.cfg.z_dim) if model == "oasis" else None
    # BN statistics of its own: an untrained generator's eval image saturates tanh otherwise
    gen = calibrate(gen, label, steps=2, **({"z": z} if z is not None else {}))
    last = gen.body[-1] if model == "oasis" else gen.up_3
    layouts = []
    last.register_forward_pre_hook(lambda m, args: layouts.append(layers.is_nhwc(args[0])))
    call = (lambda: gen(label, z=z)) if model == "oasis" else (lambda: gen(label))
    with torch.no_grad():
        torch.manual_seed(0)
        nhwc = call()
        monkeypatch.setattr(layers, "NHWC_MIN_PIXELS", 10 ** 9)
        torch.manual_seed(0)
        nchw = call()
    assert layouts == [True, False]
    assert nhwc.is_contiguous() and nchw.is_contiguous()
    assert nchw.abs().max() < 0.9
    assert (nhwc - nchw).abs().max() < 1e-5 * nchw.abs().max()
    monkeypatch.undo()
    call()                                                     # with gradients
    assert layouts[-1] is False


def test_upsampling_by_a_broadcast_copy_gives_nearests_values(monkeypatch):
    """The generators' 2x upsampling without gradients: NCHW maps COPY_UPSAMPLE_WIDTHS wide are
    copied through a broadcast view, with exactly nearest's values; other maps, gradients and a
    hooked module (complexity counters) take the module's own path (torch's kernel)."""
    up = torch.nn.Upsample(scale_factor=2)
    low, high = layers.COPY_UPSAMPLE_WIDTHS
    kernel_calls = []
    interpolate = F.interpolate

    def spy(*args, **kwargs):
        kernel_calls.append(args[0].shape)
        return interpolate(*args, **kwargs)
    monkeypatch.setattr(F, "interpolate", spy)
    took_kernel = []
    for shape in [(1, 5, 3, low), (2, 4, 7, high), (1, 3, 4, low - 1), (1, 3, 4, high + 1)]:
        x = torch.randn(shape)
        before = len(kernel_calls)
        with torch.no_grad():
            out = layers.upsample_2x(up, x)
        took_kernel.append(len(kernel_calls) > before)
        assert torch.equal(out, interpolate(x, scale_factor=2, mode="nearest")), shape
        assert out.is_contiguous()
    assert took_kernel == [False, False, True, True]
    x = torch.randn(1, 4, 8, 16)
    with torch.no_grad():   # channels_last maps keep torch's kernel (its NHWC one is fast)
        kernel_calls.clear()
        assert layers.is_nhwc(layers.upsample_2x(up, x.contiguous(memory_format=torch.channels_last)))
        assert len(kernel_calls) == 1
    seen = []
    handle = up.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    with torch.no_grad():
        layers.upsample_2x(up, x)
    handle.remove()
    assert seen == [torch.Size([1, 4, 16, 32])]
    leaf = x.clone().requires_grad_()
    kernel_calls.clear()
    out = layers.upsample_2x(up, leaf)
    out.sum().backward()
    assert len(kernel_calls) == 1 and torch.equal(leaf.grad, torch.full_like(x, 4.0))


def test_mlp_shared_runs_as_functions_with_the_modules_bits_unless_hooked():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Conv2d(5, 4, 3, padding=1, padding_mode="reflect"),
                              torch.nn.ReLU())
    x = torch.randn(2, 5, 7, 6, requires_grad=True)
    up = torch.randn(2, 4, 7, 6)
    mine, ref = _shared(seq, x), seq(x)
    assert torch.equal(mine, ref)
    g_mine = torch.autograd.grad((mine * up).sum(), [x, seq[0].weight, seq[0].bias])
    g_ref = torch.autograd.grad((ref * up).sum(), [x, seq[0].weight, seq[0].bias])
    assert all(torch.equal(a, b) for a, b in zip(g_mine, g_ref))
    for hooked in (seq, seq[0], seq[1]):
        seen = []
        h = hooked.register_forward_hook(lambda *a: seen.append(1))
        assert torch.equal(_shared(seq, x), ref) and seen == [1]
        h.remove()


def test_stacked_conv_gradients_are_autograds_of_the_stacked_conv():
    """The memory-saving stacked conv gives exactly the gradients autograd gives for one conv
    with the concatenated weights (and, to rounding, those of two separate convs)."""
    torch.manual_seed(0)
    for padding in ("zeros", "reflect"):
        g = torch.nn.Conv2d(8, 6, 3, padding=1, padding_mode=padding)
        b = torch.nn.Conv2d(8, 5, 3, padding=1, padding_mode=padding)
        x = torch.randn(2, 8, 9, 11, requires_grad=True)
        up_g, up_b = torch.randn(2, 6, 9, 11), torch.randn(2, 5, 9, 11)
        fg, fb = _gamma_beta(g, b, x)
        mine = torch.autograd.grad((fg * up_g).sum() + (fb * up_b).sum(),
                                   [x, g.weight, b.weight, g.bias, b.bias])
        xp = F.pad(x, (1,) * 4, mode="reflect") if padding == "reflect" else x
        out = F.conv2d(xp, torch.cat([g.weight, b.weight]), torch.cat([g.bias, b.bias]),
                       padding=0 if padding == "reflect" else 1)
        sg, sb = out.split([6, 5], 1)
        stacked = torch.autograd.grad((sg * up_g).sum() + (sb * up_b).sum(),
                                      [x, g.weight, b.weight, g.bias, b.bias])
        two = torch.autograd.grad((g(x) * up_g).sum() + (b(x) * up_b).sum(),
                                  [x, g.weight, b.weight, g.bias, b.bias])
        for m, s, t in zip(mine, stacked, two):
            assert torch.equal(m, s)
            assert torch.allclose(m, t, rtol=1e-5, atol=1e-5)


def _spectral_pair(padding, cin=16, cout=32, bias=True):
    torch.manual_seed(0)
    conv = conv2d(cin, cout, 3, padding=padding, spectral=True, bias=bias).train()
    twin = conv2d(cin, cout, 3, padding=padding, spectral=True, bias=bias).train()
    twin.load_state_dict(conv.state_dict())
    return conv, twin


@pytest.mark.parametrize("padding,bias,dtype", [("zero", True, torch.float32),
                                                ("reflect", True, torch.float32),
                                                ("zero", False, torch.float32),
                                                ("reflect", True, torch.float64)])
def test_spectral_conv_divides_the_output_with_the_hooks_sigma(padding, bias, dtype):
    """With gradients on, a spectral-norm'd conv whose weight outnumbers its output computes
    conv(x, W) / sigma + b: the same power iteration (u, v buffers bit-identical to the hook's),
    output and gradients equal to float rounding (float64: to 1e-12, the same maths), and not
    the same bits (the path really ran)."""
    conv, twin = _spectral_pair(padding, bias=bias)
    conv, twin = conv.to(dtype), twin.to(dtype)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
    x = torch.randn(2, 16, 3, 4, dtype=dtype, requires_grad=True)   # 4608 weights > 768 outputs
    up = torch.randn(2, 32, 3, 4, dtype=dtype)
    for _ in range(2):                                     # two steps: u, v keep in step
        mine = conv_forward(conv, x)
        ref = twin(x)
        assert torch.equal(conv.weight_u, twin.weight_u) and torch.equal(conv.weight_v, twin.weight_v)
        params = [x, conv.weight_orig] + ([conv.bias] if bias else [])
        g_mine = torch.autograd.grad((mine * up).sum(), params)
        g_ref = torch.autograd.grad((ref * up).sum(), [x, twin.weight_orig] + ([twin.bias] if bias else []))
        assert torch.allclose(mine, ref, **tol) and not torch.equal(mine, ref)
        for a, b in zip(g_mine, g_ref):
            assert torch.allclose(a, b, **tol)


def test_spectral_conv_divides_the_output_without_gradients_too():
    """Generation and evaluation take the output side as well (in place: no graph to keep),
    in eval mode (the stored u, v: unchanged) and train mode (one power iteration, as the
    hook's)."""
    for mode in ("eval", "train"):
        conv, twin = _spectral_pair("reflect")
        getattr(conv, mode)(), getattr(twin, mode)()
        x = torch.randn(2, 16, 3, 4)
        with torch.no_grad():
            mine, ref = conv_forward(conv, x), twin(x)
        assert (mine - ref).abs().max() <= 1e-6 * ref.abs().max() and not torch.equal(mine, ref)
        assert torch.equal(conv.weight_u, twin.weight_u) and torch.equal(conv.weight_v, twin.weight_v)


def test_parameter_cached_follows_in_place_changes_that_keep_the_version():
    """torch's fused Adam changes parameters in place without bumping their version counter:
    the cache compares values, so a changed parameter is seen; with gradients on it computes."""
    owner = torch.nn.Linear(3, 2)
    calls = []

    def compute():
        calls.append(1)
        return owner.weight.sum().item()
    with torch.no_grad():
        first = parameter_cached(owner, "s", [owner.weight], compute)
        assert parameter_cached(owner, "s", [owner.weight], compute) == first and len(calls) == 1
    owner.weight.grad = torch.ones_like(owner.weight)
    torch.optim.Adam(owner.parameters(), lr=0.1, fused=True).step()   # (torch 2.14: no bump)
    with torch.no_grad():
        assert parameter_cached(owner, "s", [owner.weight], compute) != first
    assert len(calls) == 2
    parameter_cached(owner, "s", [owner.weight], compute)                        # gradients on
    assert len(calls) == 3


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_spectral_conv_divides_a_small_weight_as_the_hook_does(mode):
    """Where the output outnumbers the weight, the weight is divided as torch's hook divides it,
    without the module call: output, u / v and gradients bit-identical to the hook's, and the
    divided weight kept on the module as the hook keeps it."""
    conv, twin = _spectral_pair("reflect")
    getattr(conv, mode)(), getattr(twin, mode)()
    x = torch.randn(2, 16, 40, 40, requires_grad=True)   # 51200 outputs > 4608 weights
    up = torch.randn(2, 32, 40, 40)
    for _ in range(2):                                     # two steps: u, v keep in step
        before = conv.weight
        mine, ref = conv_forward(conv, x), twin(x)
        assert torch.equal(mine, ref) and conv.weight is not before
        assert torch.equal(conv.weight, twin.weight)
        assert torch.equal(conv.weight_u, twin.weight_u) and torch.equal(conv.weight_v, twin.weight_v)
        g_mine = torch.autograd.grad((mine * up).sum(), [x, conv.weight_orig, conv.bias])
        g_ref = torch.autograd.grad((ref * up).sum(), [x, twin.weight_orig, twin.bias])
        assert all(torch.equal(a, b) for a, b in zip(g_mine, g_ref))


def test_spectral_conv_runs_the_module_where_the_hook_path_must_stay():
    """Another hook on the conv, a conv without spectral norm, or spectral_norm_on_weight: the
    module call runs."""
    conv, twin = _spectral_pair("zero")
    x = torch.randn(2, 16, 3, 4)
    seen = []
    h = conv.register_forward_hook(lambda *a: seen.append(1))
    assert torch.equal(conv_forward(conv, x), twin(x)) and seen == [1]
    h.remove()
    plain = conv2d(16, 32, 3)
    assert torch.equal(conv_forward(plain, x), plain(x))
    xg = x.clone().requires_grad_(True)
    with spectral_norm_on_weight():                        # the official operations, on request
        assert torch.equal(conv_forward(conv, xg), twin(xg))
    assert not torch.equal(conv_forward(conv, xg), twin(xg))   # and the output path again


@pytest.mark.parametrize("model", ["spade", "oasis"])
def test_discriminators_divide_wide_spectral_convs_outputs(model):
    """Both discriminators run their convs through conv_forward: outputs, gradients and the
    spectral-norm buffers equal those of torch's hook on every conv (the official operations,
    spectral_norm_on_weight) to float rounding, and the output path really ran."""
    torch.manual_seed(0)
    d = build_discriminator(model, "scenes", ndf=8, channels_d=4, height=64, width=64).train()
    twin = copy.deepcopy(d)
    nc = 3 if model == "oasis" else d.input_nc
    x = torch.randn(2, nc, 64, 64)

    def run(net):
        out = net(x)
        flat = out if torch.is_tensor(out) else torch.cat([f.flatten() for s in out for f in s])
        grads = torch.autograd.grad(flat.square().sum(), [p for p in net.parameters()])
        return flat, grads

    mine, g_mine = run(d)
    with spectral_norm_on_weight():
        theirs, g_theirs = run(twin)
    assert torch.allclose(mine, theirs, rtol=1e-4, atol=1e-5) and not torch.equal(mine, theirs)
    for a, b in zip(g_mine, g_theirs):
        assert (a - b).abs().max() <= 1e-3 * b.abs().max() + 1e-7
    for (k, a), (_, b) in zip(d.state_dict().items(), twin.state_dict().items()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), k


def test_class_map_resized_once_equals_argmax_at_every_resolution():
    """The generators argmax the label input once and resize the id map per resolution:
    exactly the ids of the resized one-hot map, at up- and downsampling sizes."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 9, (2, 13, 17), generator=g)
    seg = F.one_hot(ids, 9).permute(0, 3, 1, 2).float()
    for size in [(1, 2), (4, 8), (7, 5), (13, 17), (26, 34)]:
        want = class_ids(F.interpolate(seg, size=size, mode="nearest"), slice(0, 9))
        assert torch.equal(resize_ids(ids, size), want)


def test_lookup_gathers_the_embedding_rows_contiguous():
    """The official F.embedding(ids, table).permute(0, 3, 1, 2): the same floats, in NCHW
    order; its gradient the same per-row sums."""
    g = torch.Generator().manual_seed(1)
    table = torch.randn(9, 5, generator=g, requires_grad=True)
    classes = torch.randint(0, 9, (3, 6, 7), generator=g)
    mine = lookup(table, classes)
    official = F.embedding(classes, table).permute(0, 3, 1, 2)
    assert mine.shape == (3, 5, 6, 7) and mine.is_contiguous()
    assert torch.equal(mine, official) and lookup(table, classes[:1]).is_contiguous()
    upstream = torch.randn(mine.shape, generator=g)
    a, = torch.autograd.grad((mine * upstream).sum(), table)
    b, = torch.autograd.grad((official * upstream).sum(), table)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_class_ids_of_a_onehot_map_without_argmax():
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 6, (2, 9, 11), generator=g)
    seg = torch.cat([F.one_hot(ids, 6).permute(0, 3, 1, 2).float(), torch.ones(2, 1, 9, 11)], 1)
    assert torch.equal(class_ids(seg, slice(0, 6)), ids)
    soft = torch.rand(2, 6, 9, 11, generator=g)
    assert torch.equal(class_ids(soft, slice(0, 6)), soft.argmax(1))


def test_keep_freed_memory_sets_glibc_for_this_process_and_its_children(monkeypatch):
    """The commands ask glibc to keep freed memory (vasis.allocator); a variable the user set
    stays as it is."""
    for key in allocator._ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")              # the user's own choice
    assert allocator.keep_freed_memory()
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == allocator._ENV["MALLOC_TRIM_THRESHOLD_"]
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == "65536"
