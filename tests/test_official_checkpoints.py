"""vasis.load_official: official SPADE/CLADE/OASIS/VASIS generator checkpoints in the suite.

Equivalence is proven against tests/official_reference.py, an independent functional
re-expression of each official forward that reads weights by their official names; random
official-layout state dicts (reduced width) are loaded with load_official and both forwards
run in eval mode. Both fp32 forwards are measured against the official forward in float64
(the exact result to fp32's eye): the suite's may be no further from it than 1e-5 or twice
as far as the official fp32 forward's own rounding, whichever is larger. (Sums in another
order - stacked convs, fused multiply-adds, channels_last convs - move an fp32 output by
rounding only; for OASIS the official fp32 forward is itself up to 1.4e-5 from exact at the
scenes preset, so a fixed 1e-5 between two fp32 forwards would test the rounding.)
"""
from __future__ import annotations

import copy

import pytest
import torch

import vasis
from analysis.study import TINY
from vasis.official_checkpoints import convert_official_state_dict
from vasis.inputs import encode_labels

from official_reference import (label_maps, oasis_input, official_forward, official_options,
                                official_spec, parameter_count, random_state_dict, spade_input)

MODELS = ("spade", "clade", "clade-icpe", "oasis", "va-spade", "va-clade", "va-oasis")


def compare(model, dataset, overrides, o, batch=2, seed=0):
    sd = random_state_dict(official_spec(o), seed=seed)
    gen = vasis.load_official(sd, model, dataset, **overrides)
    assert not gen.training
    space = vasis.label_space(dataset)
    label, instance = label_maps(batch, o.height, o.width, space.label_nc, space.dontcare, seed)
    z = torch.randn(batch, o.z_dim) if o.z_dim else None
    dist = None
    if model == "clade-icpe":
        dist = torch.stack([vasis.relative_position_code(m) for m in label])
    sd64 = {k: v.double() if v.is_floating_point() else v for k, v in sd.items()}

    def official(state, dtype):
        with torch.no_grad():
            if model in ("oasis", "va-oasis"):
                return official_forward(state, o, oasis_input(label, o).to(dtype),
                                        z=None if z is None else z.to(dtype))
            return official_forward(state, o, spade_input(label, instance, o).to(dtype),
                                    dist=None if dist is None else dist.to(dtype))
    with torch.no_grad():
        if model in ("oasis", "va-oasis"):
            ours = gen(label, z=z)
        else:
            ours = gen(label, relative=dist, instance=instance if space.instance else None)
    ref, exact = official(sd, torch.float32), official(sd64, torch.float64)
    assert ours.shape == ref.shape == (batch, 3, o.height, o.width)
    # The outputs must carry signal (not a saturated tanh) for the comparison to mean anything.
    assert ref.std() > 0.05 and (ref.abs() > 0.995).float().mean() < 0.5
    err = (ours.double() - exact).abs().max().item()
    official_err = (ref.double() - exact).abs().max().item()
    assert err <= max(1e-5, 2 * official_err), (
        f"{model} on {dataset}: max abs diff from the exact official forward {err:.3g} "
        f"(the official fp32 forward's: {official_err:.3g})")
    return sd, label, z, ref


@pytest.mark.parametrize("model", MODELS)
def test_matches_official_forward_scenes(model):
    """Reduced width (scenes preset: ngf 8, hidden 16, 128x128) in the official layout."""
    o = official_options(model, "scenes", 128, 128, ngf=8, hidden=16)
    compare(model, "scenes", {}, o)


REAL = [
    # OASIS with 3D noise on ADE20K: raw ids, z first.
    ("oasis", "ade20k", 128, 128),
    # VA-OASIS on COCO-Stuff: also the noise-table rows are permuted.
    ("va-oasis", "coco-stuff", 128, 128),
    # SPADE on COCO-Stuff: don't-care and instance-edge channels, same order as ours.
    ("spade", "coco-stuff", 128, 128),
    # VA-CLADE on Cityscapes ('more'): instance conv, +1 block input channels.
    ("va-clade", "cityscapes", 128, 256),
    # CLADE-ICPE on ADE20K: 151 raw-id rows; the relative code skips id 0 (other).
    ("clade-icpe", "ade20k", 128, 128),
]


@pytest.mark.parametrize("model,dataset,h,w", REAL)
def test_matches_official_forward_real_label_space(model, dataset, h, w):
    o = official_options(model, dataset, h, w, **TINY)
    sd, label, z, ref = compare(model, dataset, dict(TINY, height=h, width=w), o,
                                batch=1, seed=1)
    if o.oasis and o.dontcare:
        # Control: fed in the suite's channel order (don't-care last), the official network
        # gives another image, so the comparison above does exercise the permutation.
        with torch.no_grad():
            ours_order = encode_labels(label, vasis.label_space(dataset), with_instance=False)
            wrong = official_forward(sd, o, ours_order, z=z)
        assert not torch.allclose(wrong, ref, atol=1e-3)


# Parameter counts of the official generators (docs/facts.md §1, = the papers' tables), M.
PARAMS = {
    "cityscapes": dict(spade=93.05, clade=67.90, oasis=71.11, **{"va-spade": 83.34,
                       "va-clade": 70.41, "va-oasis": 61.82, "clade-icpe": 67.90}),
    "ade20k": dict(spade=96.49, clade=71.43, oasis=74.31, **{"va-spade": 88.26,
                   "va-clade": 74.16, "va-oasis": 66.05, "clade-icpe": 71.43}),
    "coco-stuff": dict(spade=97.48, clade=72.51, oasis=75.20, **{"va-spade": 89.97,
                       "va-clade": 75.59, "va-oasis": 67.50, "clade-icpe": 72.51}),
}


@pytest.mark.parametrize("dataset", ["cityscapes", "ade20k", "coco-stuff"])
def test_full_size_official_key_sets_map_exactly(dataset):
    """Full-size official layouts (checked against the published parameter counts) map onto
    the presets key for key and shape for shape (meta device: no memory, no forward)."""
    for model in MODELS:
        h, w = (256, 512) if dataset == "cityscapes" else (256, 256)
        spec = official_spec(official_options(model, dataset, h, w))
        assert round(parameter_count(spec) / 1e6, 2) == PARAMS[dataset][model], model
        with torch.device("meta"):
            gen = vasis.build_generator(model, dataset)
            sd = {k: torch.empty(s) for k, s in spec.items()}
        mapped = convert_official_state_dict(sd, gen, model=model)
        assert set(mapped) == set(gen.state_dict())
        assert len(mapped) == len(sd)


# -- the kernel switches: VASIS --kernel (block_kernel_size) and --kernel_norm (kernel_size) ----
# Generator parameters of the official VASIS code, Cityscapes 256x512, zero padding (issue 8:
# measured by building the official code; sum(p.numel() for p in G.parameters())).
KERNEL_COUNTS = [
    ("clade", 1, 3, 9_149_991),
    ("spade", 1, 3, 34_360_515),
    ("spade", 1, 1, 11_283_651),
    ("spade", 3, 1, 69_971_139),
]
KERNEL_OVERRIDES = {(1, 3): dict(block_kernel_size=1), (1, 1): dict(block_kernel_size=1, kernel_size=1),
                    (3, 1): dict(kernel_size=1)}


@pytest.mark.parametrize("model,kernel,kernel_norm,count", KERNEL_COUNTS)
def test_official_kernel_layouts_map_exactly(model, kernel, kernel_norm, count):
    """The official --kernel / --kernel_norm layouts at full size: the official count, and a
    key-for-key, shape-for-shape mapping onto the preset built with the matching overrides."""
    spec = official_spec(official_options(model, "cityscapes", 256, 512, kernel=kernel,
                                          kernel_norm=kernel_norm))
    assert parameter_count(spec) == count
    with torch.device("meta"):
        gen = vasis.build_generator(model, "cityscapes", **KERNEL_OVERRIDES[(kernel, kernel_norm)])
        sd = {k: torch.empty(s) for k, s in spec.items()}
    mapped = convert_official_state_dict(sd, gen, model=model)
    assert set(mapped) == set(gen.state_dict()) and len(mapped) == len(sd)


@pytest.mark.parametrize("model,kernel,kernel_norm", [
    ("spade", 1, 3), ("clade", 1, 3), ("clade-icpe", 1, 3), ("spade", 1, 1), ("spade", 3, 1)])
def test_official_kernel_checkpoints_match_official_forward(model, kernel, kernel_norm):
    o = official_options(model, "scenes", 128, 128, ngf=8, hidden=16, kernel=kernel,
                         kernel_norm=kernel_norm)
    compare(model, "scenes", KERNEL_OVERRIDES[(kernel, kernel_norm)], o)


def test_official_kernel_1_checkpoint_real_label_space():
    # CLADE on Cityscapes: instance conv (+1 block input channel) with 1x1 block convs.
    o = official_options("clade", "cityscapes", 128, 256, kernel=1, **TINY)
    compare("clade", "cityscapes", dict(TINY, height=128, width=256,
                                        block_kernel_size=1), o, batch=1, seed=1)


def test_kernel_mismatch_names_the_override():
    o = official_options("spade", "scenes", 128, 128, ngf=8, hidden=16, kernel=1, kernel_norm=1)
    sd = random_state_dict(official_spec(o))
    with pytest.raises(ValueError, match=r"block_kernel_size=1 \(official --kernel\) and "
                                         r"kernel_size=1 \(official --kernel_norm\)"):
        vasis.load_official(sd, "spade", "scenes")
    with pytest.raises(ValueError, match=r"build with block_kernel_size=3"):
        vasis.load_official(_scenes_sd("clade"), "clade", "scenes", block_kernel_size=1)


# -- loading paths and tolerated artifacts ---------------------------------------------------
def _scenes_sd(model, seed=0, drop=()):
    o = official_options(model, "scenes", 128, 128, ngf=8, hidden=16)
    sd = random_state_dict(official_spec(o), seed=seed)
    for k in drop:
        del sd[k]
    return sd


def test_path_wrapper_and_dataparallel_prefix(tmp_path):
    sd = _scenes_sd("va-spade")
    path = tmp_path / "checkpoints" / "run" / "latest_net_G.pth"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}, "epoch": 3}, path)
    a = vasis.load_official(str(path), "va-spade", "scenes")
    b = vasis.load_official(sd, "va-spade", "scenes")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_missing_num_batches_tracked_is_filled():
    sd = _scenes_sd("spade")
    sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    gen = vasis.load_official(sd, "spade", "scenes")
    assert int(gen.head_0.norm_0.param_free_norm.num_batches_tracked) == 0


def test_random_noise_drops_unused_official_tables():
    # Official VA-SPADE --mode_noise random_cat keeps only the (unused) scale tables.
    o = official_options("va-spade", "scenes", 128, 128, ngf=8, hidden=16)
    spec = {k: s for k, s in official_spec(o).items()
            if not k.endswith(("gamma_noise_beta", "beta_noise_beta"))}
    gen = vasis.load_official(random_state_dict(spec), "va-spade", "scenes", noise="random")
    assert not any("noise" in k for k in gen.state_dict())


def test_checkpoint_conversion_leaves_input_untouched():
    sd = _scenes_sd("clade")
    before = {k: v.clone() for k, v in sd.items()}
    vasis.load_official(sd, "clade", "scenes")
    assert sd.keys() == before.keys() and all(torch.equal(sd[k], before[k]) for k in sd)


# -- errors -----------------------------------------------------------------------------------
def test_unexpected_key_is_named():
    sd = _scenes_sd("spade")
    sd["head_0.norm_0.extra_table"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"Unexpected 1 key.*head_0\.norm_0\.extra_table") as e:
        vasis.load_official(sd, "spade", "scenes")
    assert "preset" in str(e.value)


def test_missing_key_is_named():
    sd = _scenes_sd("oasis", drop=["body.3.conv_0.weight_orig"])
    with pytest.raises(ValueError, match=r"Missing 1 key.*body\.3\.conv_0\.weight_orig"):
        vasis.load_official(sd, "oasis", "scenes")


def test_wrong_shape_is_named():
    sd = _scenes_sd("va-clade")
    key = "up_1.norm_0.class_specified_affine.gamma_seg"
    sd[key] = torch.zeros(5, 3)
    with pytest.raises(ValueError) as e:
        vasis.load_official(sd, "va-clade", "scenes")
    msg = str(e.value)
    assert key in msg and "up_1.norm_0.class_gamma" in msg
    assert "expected (7, 32)" in msg and "received (5, 3)" in msg


def test_wrong_model_is_diagnosed():
    sd = _scenes_sd("va-spade")
    with pytest.raises(ValueError, match=r"looks like a 'va-spade' checkpoint, not 'spade'"):
        vasis.load_official(sd, "spade", "scenes")


def test_wrong_dataset_is_a_shape_error():
    sd = _scenes_sd("clade")
    with pytest.raises(ValueError, match=r"shape mismatch.*class_specified_affine\.weight"):
        vasis.load_official(sd, "clade", "ade20k", ngf=8, hidden=16, height=128, width=128)


def test_padding_contradicting_the_checkpoint_is_refused():
    sd = _scenes_sd("va-spade")
    with pytest.raises(ValueError, match=r"padding.*fc \(reflect in the checkpoint, zero here\)"):
        vasis.load_official(sd, "va-spade", "scenes", padding="zero")


def test_va_oasis_block_padding_is_checked():
    with pytest.raises(ValueError, match=r"VA-OASIS; pad_after_block_conv=False"):
        vasis.load_official(_scenes_sd("va-oasis"), "va-oasis", "scenes",
                            pad_after_block_conv=False)


def test_missing_file_names_path_and_usual_locations(tmp_path):
    path = tmp_path / "checkpoints" / "ade_run" / "latest_net_G.pth"
    with pytest.raises(FileNotFoundError) as e:
        vasis.load_official(path, "spade", "ade20k")
    msg = str(e.value)
    assert str(path) in msg
    assert "checkpoints/<name>/latest_net_G.pth" in msg and "models/best_EMA.pth" in msg


@pytest.mark.parametrize("model", ["spade", "va-spade", "oasis"])
def test_train_mode_matches_the_official_training_forward(model):
    """In train mode (batch-statistics BN, one spectral-norm power iteration per forward) the
    suite generator and the reference's training path (``Official(training=True)``, used by
    benchmarks/bench_train_step.py) agree in the output, the gradients and the updated
    buffers (BN running statistics, spectral-norm u)."""

    o = official_options(model, "scenes", 128, 128, ngf=8, hidden=16)
    o.training = True
    sd = random_state_dict(official_spec(o), seed=0)
    gen = vasis.load_official(copy.deepcopy(sd), model, "scenes").train()
    ref_sd = {k: (v.clone().requires_grad_(True) if k.endswith("conv_0.weight_orig") else v.clone())
              for k, v in sd.items()}
    label, instance = label_maps(2, 128, 128, 7, False, 0)
    z = torch.randn(2, o.z_dim) if o.z_dim else None
    if o.oasis:
        ours, ref = gen(label, z=z), official_forward(ref_sd, o, oasis_input(label, o), z=z)
    else:
        ours, ref = gen(label), official_forward(ref_sd, o, spade_input(label, instance, o))
    assert (ours - ref).abs().max().item() < 1e-5
    ours.square().mean().backward()
    ref.square().mean().backward()
    name = "body.1" if o.oasis else "up_0"
    mine = getattr(gen.get_submodule(name).conv_0, "weight_orig").grad
    theirs = ref_sd[f"{name}.conv_0.weight_orig"].grad
    # float32 rounding: the suite divides wide spectral-norm convs' outputs by sigma, the
    # reference their weights (vasis.models.layers.conv_forward; equal in float64)
    assert (mine - theirs).abs().max() <= 1e-3 * theirs.abs().max()
    block = gen.get_submodule(name)
    assert torch.allclose(block.conv_0.weight_u, ref_sd[f"{name}.conv_0.weight_u"], atol=1e-6)
    assert not torch.allclose(block.conv_0.weight_u, sd[f"{name}.conv_0.weight_u"], atol=1e-6)
    bn = "first_norm" if o.oasis else "param_free_norm"
    assert torch.allclose(block.norm_0.param_free_norm.running_mean,
                          ref_sd[f"{name}.norm_0.{bn}.running_mean"], atol=1e-6)
