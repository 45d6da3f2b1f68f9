"""The complexity report: the papers' parameter counts and ptflops MACs (docs/facts.md §1)."""
import json

import pytest
import torch
import torch.nn as nn

from vasis_suite.cli import main
from vasis.complexity import build_networks, complexity, count_macs, count_params

DATASETS = ["cityscapes", "ade20k", "coco-stuff"]
MODELS = ["spade", "clade", "clade-icpe", "oasis", "va-spade", "va-clade", "va-oasis"]

# Generator parameters, M (docs/facts.md §1 = the papers' Tables 3-5).
G_PARAMS = {
    "spade": (93.05, 96.49, 97.48),
    "clade": (67.90, 71.43, 72.51),
    "clade-icpe": (67.90, 71.43, 72.51),
    "oasis": (71.11, 74.31, 75.20),
    "va-spade": (83.34, 88.26, 89.97),
    "va-clade": (70.41, 74.16, 75.59),
    "va-oasis": (61.82, 66.05, 67.50),
}
D_PARAMS = {"multiscale": (5.60, 5.84, 5.90), "oasis": (22.25, 22.26, 22.26)}
D_ARCH = {m: ("oasis" if "oasis" in m else "multiscale") for m in MODELS}

# GMac per image as published (Cityscapes: the official code measured, = Table 3).
G_MACS = {
    ("spade", "cityscapes"): 281.64, ("clade", "cityscapes"): 75.58,
    ("va-spade", "cityscapes"): 189.61, ("va-clade", "cityscapes"): 75.82,
    ("oasis", "cityscapes"): 319.03, ("va-oasis", "cityscapes"): 183.33,
    ("spade", "ade20k"): 181.33, ("va-spade", "ade20k"): 134.75,
    ("clade", "ade20k"): 42.25, ("va-clade", "ade20k"): 42.37,
    ("oasis", "ade20k"): 194.56, ("va-oasis", "ade20k"): 125.93,
    ("spade", "coco-stuff"): 191.32, ("va-spade", "coco-stuff"): 144.74,  # paper: 144.7
    ("clade", "coco-stuff"): 42.43,
}
D_MACS = {
    ("multiscale", "cityscapes"): 10.48, ("oasis", "cityscapes"): 97.05,
    ("multiscale", "ade20k"): 7.83, ("oasis", "ade20k"): 49.02,
    ("multiscale", "coco-stuff"): 8.54,
}


@pytest.fixture(scope="module")
def reports():
    return {(m, d): complexity(m, d) for m in MODELS for d in DATASETS}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_parameter_counts(reports, model, dataset):
    r = reports[model, dataset]
    i = DATASETS.index(dataset)
    assert round(r["generator_params"] / 1e6, 2) == pytest.approx(G_PARAMS[model][i])
    assert round(r["discriminator_params"] / 1e6, 2) == pytest.approx(D_PARAMS[D_ARCH[model]][i])


@pytest.mark.parametrize("model, dataset", sorted(G_MACS))
def test_generator_macs_match_paper(reports, model, dataset):
    assert round(reports[model, dataset]["generator_macs"] / 1e9, 2) == pytest.approx(
        G_MACS[model, dataset])


@pytest.mark.parametrize("arch, dataset", sorted(D_MACS))
def test_discriminator_macs_match_paper(reports, arch, dataset):
    for model in MODELS:
        if D_ARCH[model] == arch:
            got = reports[model, dataset]["discriminator_macs"]
            assert round(got / 1e9, 2) == pytest.approx(D_MACS[arch, dataset]), model


def test_inputs_are_the_official_ones(reports):
    assert reports["spade", "cityscapes"]["discriminator_input"] == [39, 256, 512]
    assert reports["spade", "cityscapes"]["generator_input"] == [36, 256, 512]
    assert reports["oasis", "cityscapes"]["generator_input"] == [35, 256, 512]
    assert reports["oasis", "ade20k"]["discriminator_input"] == [3, 256, 256]


def test_json_cli(capsys):
    assert main(["complexity", "--model", "va-spade", "--dataset", "cityscapes",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("generator_params", "discriminator_params", "generator_macs", "discriminator_macs",
                "height", "width"):
        assert isinstance(out[key], int) and not isinstance(out[key], bool), key
    assert (out["model"], out["dataset"], out["height"], out["width"]) == (
        "va-spade", "cityscapes", 256, 512)
    assert round(out["generator_macs"] / 1e9, 2) == 189.61
    assert round(out["generator_params"] / 1e6, 2) == 83.34


def test_text_cli_and_overrides(capsys):
    assert main(["complexity", "--model", "va-spade", "--dataset", "cityscapes",
                 "--noise", "none", "--position", "none", "--padding", "zero"]) == 0
    out = capsys.readouterr().out
    # VA-SPADE without noise and position code is SPADE (93.05 M, 281.64 GMac).
    assert "93.05 M" in out and "281.64 GMac" in out and "10.48 GMac" in out


@pytest.mark.parametrize("argv,count", [
    (["--model", "clade", "--block-kernel", "1"], 9_149_991),
    (["--model", "spade", "--block-kernel", "1", "--kernel", "1"], 11_283_651),
])
def test_kernel_overrides_cli(capsys, argv, count):
    # The official VASIS --kernel / --kernel_norm counts (docs/switches.md).
    assert main(["complexity", *argv, "--dataset", "cityscapes", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["generator_params"] == count


@pytest.mark.parametrize("model", MODELS)
def test_meta_count_equals_real_count(model):
    """The shape-only count on the meta device is the count of a real forward (small preset)."""
    meta = complexity(model, "scenes")
    real = complexity(model, "scenes", device="cpu")
    for key in ("generator_params", "discriminator_params", "generator_macs", "discriminator_macs"):
        assert meta[key] == real[key], key


def test_reflect_padding_form_does_not_change_the_count():
    """The official VA models pad with a ReflectionPad2d module before a valid conv; ptflops does
    not count the pad and counts the conv by its output, so Conv2d(padding_mode='reflect') is
    the same count."""
    with torch.device("meta"):
        official = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(128, 64, 3))
        ours = nn.Conv2d(128, 64, 3, padding=1, padding_mode="reflect")
    assert count_macs(official, (128, 32, 64)) == count_macs(ours, (128, 32, 64))
    assert count_params(official) == count_params(ours)


def test_sync_batch_norm_is_not_counted_but_batch_norm_is():
    """The official SynchronizedBatchNorm2d is no ptflops module type (the papers' counts leave
    it out); a plain nn.BatchNorm2d ('batch') is counted: one MAC per normalized element."""
    sync = complexity("spade", "cityscapes")["generator_macs"]
    batch = complexity("spade", "cityscapes", param_free="batch")["generator_macs"]
    gen, _ = build_networks("spade", "cityscapes")
    assert batch - sync == 80_019_456
    assert count_params(gen) == complexity("spade", "cityscapes", param_free="batch")["generator_params"]


def test_count_macs_restores_mode_and_reports_failure():
    with torch.device("meta"):
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    net.train()
    assert count_macs(net, (3, 4, 4)) == (27 * 8 + 8) * 16
    assert net.training
    with pytest.raises(RuntimeError, match="ptflops could not count"):
        count_macs(net, (5, 4, 4))
