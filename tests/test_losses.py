"""Losses: hand-computed values on tiny tensors, LabelMix mask properties, VGG with fake weights."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vasis.losses import (VGG19_FILENAME, VGG19_URL, LossConfig, VGGLoss, class_balance_weights,
                          feature_matching_loss, hinge_d_loss, hinge_g_loss, hinge_loss,
                          kld_loss, labelmix_images, labelmix_loss, labelmix_mask, loss_config,
                          n1_target, oasis_adversarial_loss, oasis_discriminator_losses,
                          oasis_dontcare_channel, spade_discriminator_losses,
                          spade_generator_losses)


def t(values, shape):
    return torch.tensor(values, dtype=torch.float32).reshape(shape)


def onehot(classes, c):
    """(N, H, W) int map -> (N, C, H, W) float one-hot."""
    return F.one_hot(torch.as_tensor(classes), c).permute(0, 3, 1, 2).float()


# ------------------------------------------------------------------------------ hinge / FM / KL

def _two_scales(x1, x2):
    # MultiscaleDiscriminator layout: per scale a list of features, patch logits last.
    return [[torch.full((1, 2, 2, 2), 7.0), x1], [torch.full((1, 2, 1, 1), -7.0), x2]]


REAL1, REAL2 = t([0.5, 2.0, -1.0, 0.0], (1, 1, 2, 2)), t([3.0], (1, 1, 1, 1))
FAKE1, FAKE2 = t([-2.0, 0.5, 0.0, -0.5], (1, 1, 2, 2)), t([-0.25], (1, 1, 1, 1))


def test_hinge_by_hand_and_scale_average():
    real, fake = _two_scales(REAL1, REAL2), _two_scales(FAKE1, FAKE2)
    # real: relu(1-x) scale 1 = (0.5 + 0 + 2 + 1) / 4 = 0.875, scale 2 = 0 -> mean 0.4375
    assert hinge_loss(real, True).item() == pytest.approx(0.4375)
    # fake: relu(1+x) scale 1 = (0 + 1.5 + 1 + 0.5) / 4 = 0.75, scale 2 = 0.75 -> 0.75
    assert hinge_loss(fake, False).item() == pytest.approx(0.75)
    assert hinge_d_loss(real, fake).item() == pytest.approx(1.1875)
    d = spade_discriminator_losses(fake, real)
    assert d["D_real"].item() == pytest.approx(0.4375) and d["D_Fake"].item() == pytest.approx(0.75)
    # G: -mean(x): scale 1 = 0.5, scale 2 = 0.25 -> 0.375 (scales averaged, not pixel-pooled)
    assert hinge_g_loss(fake).item() == pytest.approx(0.375)
    # plain tensors / lists of logits are accepted too
    assert hinge_g_loss(FAKE1).item() == pytest.approx(0.5)
    assert hinge_g_loss([FAKE1, FAKE2]).item() == pytest.approx(0.375)
    with pytest.raises(ValueError):
        hinge_loss(fake, False, for_discriminator=False)


def test_feature_matching_by_hand():
    fake = [[torch.zeros(1, 1, 2, 2), t([1.0, 2.0], (1, 2, 1, 1)), torch.full((1, 1, 2, 2), 100.0)],
            [t([0.5], (1, 1, 1, 1)), torch.zeros(1, 2, 1, 1), torch.full((1, 1, 1, 1), -100.0)]]
    real = [[torch.ones(1, 1, 2, 2), torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 2, 2)],
            [torch.zeros(1, 1, 1, 1), torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1, 1)]]
    for f in fake[0] + fake[1]:
        f.requires_grad_(True)
    for r in real[0] + real[1]:
        r.requires_grad_(True)
    # (|0-1| + mean(1, 2) + |0.5| + 0) / num_D = (1 + 1.5 + 0.5 + 0) / 2; logits excluded
    loss = feature_matching_loss(fake, real)
    assert loss.item() == pytest.approx(1.5)
    loss.backward()
    assert all(r.grad is None for r in real[0] + real[1])  # real features detached
    assert fake[0][-1].grad is None and fake[0][0].grad is not None
    g = spade_generator_losses(fake, real, LossConfig(lambda_vgg=0))
    assert g["GAN_Feat"].item() == pytest.approx(15.0) and "VGG" not in g and "KLD" not in g
    assert g["GAN"].item() == pytest.approx((-100.0 + 100.0) / 2)


def test_kld_by_hand():
    mu, logvar = t([1.0, 0.0], (1, 2)), t([0.0, math.log(2.0)], (1, 2))
    # -0.5 * [(1 + 0 - 1 - 1) + (1 + ln2 - 0 - 2)] = 1 - ln2 / 2
    assert kld_loss(mu, logvar).item() == pytest.approx(1 - math.log(2) / 2, rel=1e-6)
    assert kld_loss(torch.zeros(3, 8), torch.zeros(3, 8)).item() == 0.0
    # a sum, not a mean, over batch and dims
    assert kld_loss(mu.repeat(4, 1), logvar.repeat(4, 1)).item() == pytest.approx(4 - 2 * math.log(2), rel=1e-6)
    g = spade_generator_losses([[FAKE1]], [[REAL1]], LossConfig(lambda_vgg=0), mu=mu, logvar=logvar)
    assert g["KLD"].item() == pytest.approx(0.05 * (1 - math.log(2) / 2), rel=1e-6)


def test_loss_config_defaults():
    c = LossConfig()
    assert (c.lambda_feat, c.lambda_vgg, c.lambda_kld, c.lambda_labelmix) == (10, 10, 0.05, 10)
    assert loss_config("spade", "ade20k") == c
    assert loss_config("oasis", "cityscapes").lambda_labelmix == 5
    assert loss_config("va-oasis", "ade20k").lambda_labelmix == 10
    assert not loss_config("oasis", "ade20k").use_vgg
    assert loss_config("oasis", "ade20k", lambda_vgg=10).use_vgg


# ------------------------------------------------------------------------------ OASIS

# 2x2 map, classes 0, 1 and don't-care (channel 2 = label_nc, the suite's last channel)
CLASSES = [[[0, 0], [1, 2]]]


def test_class_balance_weights_by_hand():
    label = onehot(CLASSES, 3)
    coeffs, wmap = class_balance_weights(label, dontcare_channel=2)
    # counts (2, 1, [1 -> 0 dontcare]); present 2; N*H*W = 4 -> 4/(2*2) = 1, 4/(1*2) = 2, 0
    assert coeffs.tolist() == [1.0, 2.0, 0.0]
    assert wmap.tolist() == [[[1.0, 1.0], [2.0, 0.0]]]
    # without don't-care: 3 present classes -> 4/(2*3), 4/(1*3), 4/(1*3)
    coeffs, _ = class_balance_weights(label)
    assert coeffs.tolist() == pytest.approx([2 / 3, 4 / 3, 4 / 3])
    # absent classes get 0 (never indexed)
    coeffs, _ = class_balance_weights(onehot(CLASSES, 5), dontcare_channel=2)
    assert coeffs.tolist() == [1.0, 2.0, 0.0, 0.0, 0.0]


def test_n1_cross_entropy_by_hand():
    label = onehot(CLASSES, 3)
    assert n1_target(label, True).tolist() == [[[1, 1], [2, 3]]]
    assert n1_target(label, False).tolist() == [[[0, 0], [0, 0]]]
    logits = torch.zeros(1, 4, 2, 2)
    logits[0, 1, 0, 1] = math.log(3.0)  # p(target 1) = 3/6 at (0, 1)
    logits[0, 0, 1, 1] = 5.0            # don't-care pixel: anything, weight 0
    # real: weights (1, 1, 2, 0) * CE (ln4, ln2, ln4, *) / 4 pixels
    real = oasis_adversarial_loss(logits, label, True, dontcare_channel=2)
    assert real.item() == pytest.approx((math.log(4) + math.log(2) + 2 * math.log(4)) / 4, rel=1e-6)
    # fake: unweighted CE towards class 0: ln4, ln6, ln4, ln(e^5 + 3) - 5
    fake = oasis_adversarial_loss(logits, label, False, dontcare_channel=2)
    expect = (2 * math.log(4) + math.log(6) + math.log(math.exp(5) + 3) - 5) / 4
    assert fake.item() == pytest.approx(expect, rel=1e-6)
    # balancing off -> plain mean CE towards class + 1
    plain = oasis_adversarial_loss(logits, label, True, balance=False)
    assert plain.item() == pytest.approx(F.cross_entropy(logits, n1_target(label, True)).item())
    with pytest.raises(ValueError, match="semantic_nc"):
        oasis_adversarial_loss(torch.zeros(1, 3, 2, 2), label, True)


def _official_formula(logits, label):
    """OASIS's balanced real loss in *its* order (don't-care = channel 0), from oasis.md §5."""
    occ = label.sum(dim=(0, 2, 3))
    occ[0] = 0
    k = (occ > 0).sum()
    coeff = torch.reciprocal(occ) * label.numel() / (k * label.shape[1])
    coeff[0] = 0
    integers = label.argmax(1)
    w = coeff[integers]
    return (F.cross_entropy(logits, integers + 1, reduction="none") * w).mean()


def test_balanced_loss_matches_official_order_after_roll():
    g = torch.Generator().manual_seed(0)
    n, nc = 3, 6  # suite: classes 0..4, don't-care = channel 5
    classes = torch.randint(0, nc, (n, 5, 7), generator=g)
    label = onehot(classes, nc)
    logits = torch.randn(n, nc + 1, 5, 7, generator=g)
    ours = oasis_adversarial_loss(logits, label, True, dontcare_channel=nc - 1)
    # official order: don't-care first; D channel 0 stays fake
    perm = [nc - 1] + list(range(nc - 1))
    off_label = label[:, perm]
    off_logits = torch.cat([logits[:, :1], logits[:, 1:][:, perm]], 1)
    assert ours.item() == pytest.approx(_official_formula(off_logits, off_label).item(), rel=1e-6)


def test_dontcare_channels():
    assert oasis_dontcare_channel("ade20k") == 0  # raw ids: 0 = other, as OASIS uses them
    assert oasis_dontcare_channel("coco-stuff") == 182
    assert oasis_dontcare_channel("cityscapes") == 0


def test_labelmix_mask_consistency():
    g = torch.Generator().manual_seed(3)
    nc = 12
    classes = torch.randint(0, nc, (4, 9, 9), generator=g)
    label = onehot(classes, nc)
    mask = labelmix_mask(label, generator=g)
    assert mask.shape == (4, 1, 9, 9) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    bits = {}
    for c in range(nc):  # same class -> same bit everywhere in the batch
        vals = mask[:, 0][classes == c].unique()
        assert vals.numel() <= 1
        if vals.numel():
            bits[c] = vals.item()
    assert set(bits.values()) == {0.0, 1.0}
    # index maps give the same kind of mask; the draw follows the generator
    m2 = labelmix_mask(classes, generator=torch.Generator().manual_seed(5))
    m3 = labelmix_mask(classes[:, None], generator=torch.Generator().manual_seed(5))
    assert torch.equal(m2, m3)
    real, fake = torch.randn(4, 3, 9, 9), torch.randn(4, 3, 9, 9)
    mixed = labelmix_images(mask, real, fake)
    on = mask.expand_as(real).bool()
    assert torch.equal(mixed[on], real[on]) and torch.equal(mixed[~on], fake[~on])


def test_labelmix_bits_independent_per_class():
    # classes 0 and 1 both present: each class gets a fair, independent coin (no re-draw quirk)
    classes = torch.tensor([[[0, 1]]])
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([labelmix_mask(classes, generator=g)[0, 0, 0] for _ in range(4000)])
    assert draws[:, 0].mean().item() == pytest.approx(0.5, abs=0.04)
    assert (draws[:, 0] == draws[:, 1]).float().mean().item() == pytest.approx(0.5, abs=0.04)


def test_labelmix_loss_by_hand_and_per_pixel_d():
    mask = t([1.0, 0.0], (1, 1, 1, 2))
    d_real, d_fake = t([1.0, 2.0, 3.0, 4.0], (1, 2, 1, 2)), t([5.0, 6.0, 7.0, 8.0], (1, 2, 1, 2))
    d_mixed = torch.zeros(1, 2, 1, 2, requires_grad=True)
    # mixed target = (1, 6, 3, 8): MSE vs 0 = (1 + 36 + 9 + 64) / 4
    loss = labelmix_loss(mask, d_mixed, d_fake, d_real)
    assert loss.item() == pytest.approx(110 / 4)
    loss.backward()
    assert d_mixed.grad is not None  # nothing detached
    # a per-pixel discriminator (1x1 conv) commutes with mixing -> zero LabelMix loss
    torch.manual_seed(0)
    disc = nn.Conv2d(3, 4, 1)
    label = onehot(torch.randint(0, 3, (2, 6, 6)), 3)
    real, fake = torch.randn(2, 3, 6, 6), torch.randn(2, 3, 6, 6)
    losses = oasis_discriminator_losses(disc, real, fake, label, LossConfig(), dontcare_channel=2)
    assert set(losses) == {"D_fake", "D_real", "D_lm"}
    assert losses["D_lm"].item() == pytest.approx(0.0, abs=1e-10)
    sum(losses.values()).backward()
    assert disc.weight.grad is not None


# ------------------------------------------------------------------------------ VGG

@pytest.fixture(scope="module")
def vgg_cache(tmp_path_factory):
    """A torch home whose hub cache holds a random VGG19 in torchvision's key layout."""
    # local: torchvision is heavy; only this fixture needs it
    import torchvision

    torch.manual_seed(0)
    features = torchvision.models.vgg19(weights=None).features
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(10)  # classifier keys are ignored
    home = tmp_path_factory.mktemp("torch_home")
    path = home / "hub" / "checkpoints" / VGG19_FILENAME
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return home, path, features


def test_vgg_loss_with_fake_weights(vgg_cache, monkeypatch):
    home, path, reference = vgg_cache
    monkeypatch.setenv("TORCH_HOME", str(home))
    loss_fn = VGGLoss()  # found through TORCH_HOME
    assert all(not p.requires_grad for p in loss_fn.parameters())
    torch.manual_seed(1)
    y = torch.rand(2, 3, 32, 32) * 2 - 1
    assert loss_fn(y, y.clone()).item() == 0.0
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    y.requires_grad_(True)
    loss = loss_fn(x, y)
    assert loss.item() > 0
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert y.grad is None
    assert all(p.grad is None for p in loss_fn.parameters())
    # same as relu1_1..relu5_1 (features 1, 6, 11, 20, 29) of torchvision's VGG19, no ImageNet norm
    with torch.no_grad():
        expect, hx, hy = 0.0, x.detach(), y.detach()
        taps = dict(zip((1, 6, 11, 20, 29), (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)))
        for i in range(30):
            hx, hy = reference[i](hx), reference[i](hy)
            if i in taps:
                expect += taps[i] * (hx - hy).abs().mean().item()
    assert loss.item() == pytest.approx(expect, rel=1e-4)
    # explicit path works without TORCH_HOME
    monkeypatch.setenv("TORCH_HOME", str(home / "nowhere"))
    assert VGGLoss(weights=path)(x, y).item() == pytest.approx(loss.item(), rel=1e-6)
    g = spade_generator_losses([[x[:, :1]]], [[y[:, :1]]], LossConfig(), fake=x, real=y, vgg=loss_fn)
    assert g["VGG"].item() == pytest.approx(10 * loss.item(), rel=1e-5)


def test_vgg_missing_weights_message(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        VGGLoss()
    msg = str(err.value)
    assert str(tmp_path / "hub" / "checkpoints" / VGG19_FILENAME) in msg
    assert VGG19_URL in msg and "TORCH_HOME" in msg and "lambda_vgg=0" in msg and "--no-vgg-loss" in msg
    with pytest.raises(FileNotFoundError, match="given path"):
        VGGLoss(weights=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="lambda_vgg"):
        spade_generator_losses([[FAKE1]], [[REAL1]], LossConfig())
