"""An independent functional reference of the official generators, for checkpoint tests.

Nothing here uses the suite's modules: the official state-dict layouts (key -> shape) are
written out from the official code (NVlabs/SPADE, tzt101/CLADE, boschresearch/OASIS,
xml94/VASIS), and each official forward is re-expressed with torch.nn.functional, reading the
weights by their OFFICIAL names. Eval mode throughout (BN running stats, stored spectral-norm
u/v without power iteration).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Buffers (not nn.Parameters) of the official generators, for parameter counts.
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked", "weight_u", "weight_v")
NOISE_TABLES = ("gamma_noise_gamma", "beta_noise_gamma", "gamma_noise_beta", "beta_noise_beta")


@dataclass
class Official:
    """The official options that decide a generator's layout.

    family: 'spade', 'clade', 'va-spade', 'va-clade' (one SPADEGenerator), 'oasis', 'va-oasis'.
    label_nc / dontcare / instance as the official options (semantic_nc = their sum).
    """

    family: str
    label_nc: int
    dontcare: bool
    instance: bool
    height: int
    width: int
    ngf: int = 64
    hidden: int = 128          # nhidden, hard-coded 128 officially
    num_up: int = 5            # 5 'normal', 6 'more' (SPADE family only)
    add_dist: bool = False     # CLADE-ICPE
    z_dim: int = 0             # OASIS 3D noise (0 = --no_3dnoise)
    kernel: int = 3            # VASIS --kernel: the blocks' conv_0 / conv_1
    kernel_norm: int = 3       # VASIS --kernel_norm: SPADE's norm convs (zero padding)
    training: bool = False     # train-mode forward: batch-stat BN, spectral-norm power iteration

    def __post_init__(self):
        # VASIS architecture.py asserts --kernel 3 under --pad reflect (the VA runs).
        if self.va and self.kernel != 3:
            raise ValueError("the official reflect-padded block requires --kernel 3")

    @property
    def semantic_nc(self):
        return self.label_nc + int(self.dontcare) + int(self.instance)

    @property
    def table_nc(self):  # CLADE tables: no instance row
        return self.label_nc + int(self.dontcare)

    @property
    def oasis(self):
        return self.family in ("oasis", "va-oasis")

    @property
    def va(self):
        return self.family.startswith("va-")


def spade_family_blocks(o: Official):
    """(name, fin, fout, upsample before, norm resolution) of SPADEGenerator's blocks."""
    nf = o.ngf
    sw = o.width // 2 ** o.num_up
    sh = round(sw / (o.width / o.height))
    plan = [("head_0", 16, 16, False), ("G_middle_0", 16, 16, True),
            ("G_middle_1", 16, 16, o.num_up >= 6), ("up_0", 16, 8, True), ("up_1", 8, 4, True),
            ("up_2", 4, 2, True), ("up_3", 2, 1, True)]
    out, h, w = [], sh, sw
    for name, fi, fo, up in plan:
        if up:
            h, w = 2 * h, 2 * w
        out.append((name, fi * nf, fo * nf, up, (h, w)))
    return (sh, sw), out


def oasis_blocks(o: Official):
    ch = o.ngf
    chans = [16 * ch, 16 * ch, 16 * ch, 8 * ch, 4 * ch, 2 * ch, ch]
    w = o.width // 32
    h = round(w / (o.width / o.height))
    return (h, w), [(f"body.{i}", chans[i], chans[i + 1], i > 0, (h * 2 ** i, w * 2 ** i))
                    for i in range(6)]


def official_spec(o: Official) -> "OrderedDict[str, tuple]":
    """Official generator state-dict keys -> shapes."""
    s = OrderedDict()
    reflect = o.family in ("va-spade", "va-clade", "va-oasis")
    seq = ".1" if reflect else ""
    label = o.semantic_nc + o.z_dim
    add = 1 if o.family in ("clade", "va-clade") and o.instance else 0

    def conv(prefix, cin, cout, k, bias=True, sn=False):
        if sn:
            s[prefix + ".weight_orig"] = (cout, cin, k, k)
            s[prefix + ".weight_u"] = (cout,)
            s[prefix + ".weight_v"] = (cin * k * k,)
            if bias:
                s[prefix + ".bias"] = (cout,)
        else:
            s[prefix + ".weight"] = (cout, cin, k, k)
            if bias:
                s[prefix + ".bias"] = (cout,)

    def norm(p, c, res):
        bn = p + (".first_norm" if o.oasis else ".param_free_norm")
        s[bn + ".running_mean"] = (c,)
        s[bn + ".running_var"] = (c,)
        s[bn + ".num_batches_tracked"] = ()
        half = c // 2 if o.va else c
        if o.family in ("spade", "oasis"):
            conv(p + ".mlp_shared.0", label, o.hidden, o.kernel_norm)
            conv(p + ".mlp_gamma", o.hidden, c, o.kernel_norm)
            conv(p + ".mlp_beta", o.hidden, c, o.kernel_norm)
        elif o.family == "clade":
            s[p + ".class_specified_affine.weight"] = (o.table_nc, c)
            s[p + ".class_specified_affine.bias"] = (o.table_nc, c)
            if o.add_dist:
                conv(p + ".class_specified_affine.dist_conv_w", 2, 1, 1)
                conv(p + ".class_specified_affine.dist_conv_b", 2, 1, 1)
        elif o.family in ("va-spade", "va-oasis"):
            if o.family == "va-spade":  # N:190-195 then pos then mlp
                for t in ("gamma_noise_gamma", "beta_noise_gamma", "gamma_noise_beta",
                          "beta_noise_beta"):
                    s[f"{p}.{t}"] = (label, c - half)
            s[p + ".gamma_pos_learn"] = (2, *res)
            s[p + ".beta_pos_learn"] = (2, *res)
            conv(p + ".conv_pos_gamma", 2, half, 1)
            conv(p + ".conv_pos_beta", 2, half, 1)
            # VA-SPADE reflect: Seq(pad, conv, relu); VA-OASIS: zero-padded Seq(conv, relu)
            conv(p + (".mlp_shared.1" if o.family == "va-spade" else ".mlp_shared.0"),
                 label, o.hidden, 3)
            conv(p + ".mlp_gamma.1", o.hidden, half, 3)
            conv(p + ".mlp_beta.1", o.hidden, half, 3)
            if o.family == "va-oasis":
                for t in NOISE_TABLES:
                    s[f"{p}.{t}"] = (label, c - half)
        elif o.family == "va-clade":
            a = p + ".class_specified_affine"
            s[a + ".gamma_seg"] = (o.table_nc, half)
            s[a + ".beta_seg"] = (o.table_nc, half)
            for t in ("gamma_noise_gamma", "gamma_noise_beta", "beta_noise_gamma",
                      "beta_noise_beta"):
                s[f"{a}.{t}"] = (o.table_nc, c - half)
            s[a + ".gamma_pos_learn"] = (2, *res)
            s[a + ".beta_pos_learn"] = (2, *res)
            conv(a + ".conv_pos_gamma", 2, half, 1)
            conv(a + ".conv_pos_beta", 2, half, 1)
        if o.family in ("clade", "va-clade") and o.instance:
            conv(p + ".inst_conv", 1, 1, 1)

    if o.oasis:
        _, blocks = oasis_blocks(o)
        conv("conv_img" + seq, o.ngf, 3, 3)
    else:
        _, blocks = spade_family_blocks(o)
        conv("fc" + seq, label, 16 * o.ngf, 3)
    for name, fin, fout, _, res in blocks:
        fm = min(fin, fout)
        conv(name + ".conv_0", fin + add, fm, o.kernel, sn=True)
        conv(name + ".conv_1", fm + add, fout, o.kernel, sn=True)
        if fin != fout:
            conv(name + ".conv_s", fin + add, fout, 1, bias=False, sn=True)
        norm(name + ".norm_0", fin, res)
        norm(name + ".norm_1", fm, res)
        if fin != fout:
            norm(name + ".norm_s", fin, res)
    if o.oasis:
        conv("fc" + seq, label, 16 * o.ngf, 3)
    else:
        conv("conv_img" + seq, o.ngf, 3, 3)
    return s


def parameter_count(spec) -> int:
    return sum(math.prod(shape) for k, shape in spec.items() if not k.endswith(BUFFER_SUFFIXES))


def random_state_dict(spec, seed: int = 0, noise_scale_zero: bool = True):
    """Random official-layout weights at sane scales (activations O(1), tanh not saturated).

    Spectral-norm u/v are perturbed (power-iterated) top singular vectors, so sigma = u.W.v is well away from
    zero but is not the exact top singular value (a reimplementation must use the stored u, v).
    With ``noise_scale_zero`` the semantic-noise scale tables are zero, so the noise is
    deterministic (offset tables stay random and nonzero).
    """
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for key, shape in spec.items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "weight_u" or leaf == "weight_v":
            continue  # filled with their weight_orig
        if leaf == "num_batches_tracked":
            sd[key] = torch.tensor(int(torch.randint(1, 10000, (), generator=g)))
        elif leaf == "running_mean":
            sd[key] = 0.2 * torch.randn(shape, generator=g)
        elif leaf == "running_var":
            sd[key] = 0.5 + torch.rand(shape, generator=g)
        elif leaf in ("weight", "weight_orig") and len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            scale = 0.3 if ("conv_pos" in key or "dist_conv" in key) else 1.0
            sd[key] = scale * torch.randn(shape, generator=g) / math.sqrt(fan_in)
        elif leaf == "bias":
            sd[key] = 0.1 * torch.randn(shape, generator=g)
        elif leaf in ("weight", "gamma_seg"):  # CLADE scale tables
            sd[key] = 0.5 + torch.rand(shape, generator=g)
        elif leaf in ("gamma_noise_gamma", "beta_noise_gamma"):
            sd[key] = (torch.zeros(shape) if noise_scale_zero
                       else torch.rand(shape, generator=g))
        elif leaf in ("gamma_pos_learn", "beta_pos_learn"):
            sd[key] = torch.randn(shape, generator=g)
        else:  # bias tables, noise offsets
            sd[key] = 0.3 * torch.randn(shape, generator=g)
        if leaf == "weight_orig":
            p = key[: -len("weight_orig")]
            w = sd[key]
            mat = w.reshape(w.shape[0], -1)
            v = F.normalize(torch.randn(mat.shape[1], generator=g), dim=0)
            for _ in range(3):  # power iterations towards the top singular pair
                u = F.normalize(mat @ v, dim=0)
                v = F.normalize(mat.t() @ u, dim=0)
            uu = F.normalize(u + 0.2 * torch.randn(mat.shape[0], generator=g) /
                             math.sqrt(mat.shape[0]), dim=0)
            vv = F.normalize(v + 0.2 * torch.randn(mat.shape[1], generator=g) /
                             math.sqrt(mat.shape[1]), dim=0)
            sign = torch.sign(torch.dot(uu, mat @ vv))
            sd[p + "weight_u"] = uu * sign
            sd[p + "weight_v"] = vv
    return OrderedDict((k, sd[k]) for k in spec)  # the official key order


# -- official inputs ------------------------------------------------------------------------
def spade_input(label, instance, o: Official):
    """SPADE's preprocess_input: one-hot with don't-care (255) as channel label_nc, then edges."""
    ids = label.clone().long()
    if o.dontcare:
        ids[ids == 255] = o.label_nc
    nc = o.label_nc + int(o.dontcare)
    onehot = torch.zeros(ids.shape[0], nc, *ids.shape[1:]).scatter_(1, ids[:, None], 1.0)
    if not o.instance:
        return onehot
    t = instance[:, None]
    edge = torch.zeros_like(t, dtype=torch.bool)
    edge[:, :, :, 1:] |= t[:, :, :, 1:] != t[:, :, :, :-1]
    edge[:, :, :, :-1] |= t[:, :, :, 1:] != t[:, :, :, :-1]
    edge[:, :, 1:, :] |= t[:, :, 1:, :] != t[:, :, :-1, :]
    edge[:, :, :-1, :] |= t[:, :, 1:, :] != t[:, :, :-1, :]
    return torch.cat([onehot, edge.float()], 1)


def oasis_input(label, o: Official):
    """OASIS's one-hot. ADE20K/COCO-Stuff: label raw+1, unlabeled (255 here) -> channel 0."""
    ids = label.clone().long()
    if o.dontcare:
        ids = torch.where(ids == 255, torch.zeros_like(ids), ids + 1)
    nc = o.label_nc + int(o.dontcare)
    return torch.zeros(ids.shape[0], nc, *ids.shape[1:]).scatter_(1, ids[:, None], 1.0)


# -- functional pieces ----------------------------------------------------------------------
def _sn(sd, p, training=False):
    w = sd[p + ".weight_orig"]
    if training:  # torch's spectral_norm in train mode: one power iteration, v then u, no grad
        with torch.no_grad():
            mat = w.reshape(w.shape[0], -1)
            u, v = sd[p + ".weight_u"], sd[p + ".weight_v"]
            v.copy_(F.normalize(mat.t() @ u, dim=0, eps=1e-12))
            u.copy_(F.normalize(mat @ v, dim=0, eps=1e-12))
            # the graph keeps copies, so the next forward's update leaves a pending backward intact
            u, v = u.clone(), v.clone()
        return w / torch.dot(u, w.reshape(w.shape[0], -1) @ v)
    sigma = torch.dot(sd[p + ".weight_u"], w.reshape(w.shape[0], -1) @ sd[p + ".weight_v"])
    return w / sigma


def _conv(x, w, b, pad):
    # The padding follows the kernel read from the state dict (k // 2: none for 1x1), as the
    # official code pads 1 for its 3x3 and 0 for its --kernel 1 / --kernel_norm 1 convs.
    k = w.shape[-1]
    if pad == "zero":
        return F.conv2d(x, w, b, padding=k // 2)
    if pad == "reflect_before":
        x = F.pad(x, (k // 2,) * 4, mode="reflect")
        return F.conv2d(x, w, b)
    if pad == "valid_then_reflect":
        return F.pad(F.conv2d(x, w, b), (k // 2,) * 4, mode="reflect")
    raise ValueError(pad)


def _plain(sd, p, x, pad="zero"):
    return _conv(x, sd[p + ".weight"], sd.get(p + ".bias"), pad)


def _bn(sd, p, x, training=False):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], None, None,
                        training=training, momentum=0.1, eps=1e-5)


def _lookup(table, idx):
    return F.embedding(idx, table).permute(0, 3, 1, 2)


def _semantic_noise(sd, p, mask, k):
    """VASIS norm_cat noise: rand * scale[class] + offset[class] (scale 0 -> deterministic)."""
    c = mask.argmax(1)
    b, _, h, w = mask.shape
    n1, n2 = torch.rand(b, k, h, w), torch.rand(b, k, h, w)
    return (n1 * _lookup(sd[p + ".gamma_noise_gamma"], c) + _lookup(sd[p + ".gamma_noise_beta"], c),
            n2 * _lookup(sd[p + ".beta_noise_gamma"], c) + _lookup(sd[p + ".beta_noise_beta"], c))


def _learned_pos(sd, p, gamma, beta):
    g = F.conv2d(sd[p + ".gamma_pos_learn"][None], sd[p + ".conv_pos_gamma.weight"],
                 sd[p + ".conv_pos_gamma.bias"])
    b = F.conv2d(sd[p + ".beta_pos_learn"][None], sd[p + ".conv_pos_beta.weight"],
                 sd[p + ".conv_pos_beta.bias"])
    return gamma * (1 + g), beta * (1 + b)


def official_norm(sd, p, x, seg, o: Official, dist=None):
    family = o.family
    if family in ("spade", "oasis"):
        normalized = _bn(sd, p + (".first_norm" if o.oasis else ".param_free_norm"), x, o.training)
        s = F.interpolate(seg, size=x.shape[2:], mode="nearest")
        a = F.relu(_plain(sd, p + ".mlp_shared.0", s))
        return normalized * (1 + _plain(sd, p + ".mlp_gamma", a)) + _plain(sd, p + ".mlp_beta", a)
    if family in ("va-spade", "va-oasis"):
        normalized = _bn(sd, p + (".first_norm" if o.oasis else ".param_free_norm"), x, o.training)
        s = F.interpolate(seg, size=x.shape[2:], mode="nearest")
        if family == "va-spade":
            a = F.relu(_plain(sd, p + ".mlp_shared.1", s, "reflect_before"))
        else:
            a = F.relu(_plain(sd, p + ".mlp_shared.0", s, "zero"))
        gamma = _plain(sd, p + ".mlp_gamma.1", a, "reflect_before")
        beta = _plain(sd, p + ".mlp_beta.1", a, "reflect_before")
        gamma, beta = _learned_pos(sd, p, gamma, beta)
        k = x.shape[1] - gamma.shape[1]
        gn, bn = _semantic_noise(sd, p, s, k)
        gamma, beta = torch.cat([gamma, gn], 1), torch.cat([beta, bn], 1)
        return normalized * (1 + gamma) + beta
    # CLADE family
    normalized = _bn(sd, p + ".param_free_norm", x, o.training)
    s = F.interpolate(seg, size=x.shape[2:], mode="nearest")
    if o.instance:
        inst, s = s[:, -1:], s[:, :-1]
    a = p + ".class_specified_affine"
    c = s.argmax(1)
    if family == "clade":
        gamma, beta = _lookup(sd[a + ".weight"], c), _lookup(sd[a + ".bias"], c)
        if o.add_dist:
            d = F.interpolate(dist, size=x.shape[2:], mode="nearest")
            gamma = gamma * (1 + _plain(sd, a + ".dist_conv_w", d))
            beta = beta * (1 + _plain(sd, a + ".dist_conv_b", d))
    else:
        gamma, beta = _lookup(sd[a + ".gamma_seg"], c), _lookup(sd[a + ".beta_seg"], c)
        gamma, beta = _learned_pos(sd, a, gamma, beta)
        k = x.shape[1] - gamma.shape[1]
        gn, bn = _semantic_noise(sd, a, s, k)
        gamma, beta = torch.cat([gamma, gn], 1), torch.cat([beta, bn], 1)
    out = normalized * gamma + beta
    if o.instance:
        out = torch.cat([out, _plain(sd, p + ".inst_conv", inst)], 1)
    return out


def _block(sd, name, x, seg, o: Official, dist, learned):
    if o.family == "va-oasis":
        pad = "valid_then_reflect"
    elif o.va:
        pad = "reflect_before"
    else:
        pad = "zero"

    def snconv(p, t, pad):
        return _conv(t, _sn(sd, p, o.training), sd.get(p + ".bias"), pad)

    x_s = snconv(name + ".conv_s", official_norm(sd, name + ".norm_s", x, seg, o, dist),
                 "zero") if learned else x
    dx = snconv(name + ".conv_0",
                F.leaky_relu(official_norm(sd, name + ".norm_0", x, seg, o, dist), 0.2), pad)
    dx = snconv(name + ".conv_1",
                F.leaky_relu(official_norm(sd, name + ".norm_1", dx, seg, o, dist), 0.2), pad)
    return x_s + dx


def official_forward(sd, o: Official, seg, dist=None, z=None):
    """The official generator forward in eval mode on the official input ``seg``.

    OASIS with 3D noise takes ``z`` (B, z_dim) and prepends it to the label map (z first).
    """
    pad = "reflect_before" if o.va else "zero"
    seq = ".1" if o.va else ""
    if o.oasis:
        (h, w), blocks = oasis_blocks(o)
        if o.z_dim:
            b, _, H, W = seg.shape
            seg = torch.cat([z[:, :, None, None].expand(b, o.z_dim, H, W), seg], 1)
    else:
        (h, w), blocks = spade_family_blocks(o)
    x = _plain(sd, "fc" + seq, F.interpolate(seg, size=(h, w)), pad)
    for name, fin, fout, up, _ in blocks:
        if up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = _block(sd, name, x, seg, o, dist, fin != fout)
    return torch.tanh(_plain(sd, "conv_img" + seq, F.leaky_relu(x, 0.2), pad))


def official_options(model, dataset, height, width, ngf=64, hidden=128, kernel=3,
                     kernel_norm=3):
    """The official options of ``model`` trained on ``dataset`` (written from the official
    dataset classes, not from the suite's label spaces)."""
    oasis = model in ("oasis", "va-oasis")
    if dataset == "cityscapes":
        # SPADE: 35 labelIds + instance edges; OASIS: labelIds 0..34 as they are, no shift.
        space = dict(label_nc=35, dontcare=False, instance=not oasis)
    elif dataset == "ade20k":
        # Raw ids 0..150 (0 = other) for SPADE/CLADE (their "label - 1" is never stored) and OASIS.
        space = dict(label_nc=151, dontcare=False, instance=False)
    elif dataset == "coco-stuff":
        space = dict(label_nc=182, dontcare=True, instance=not oasis)
    elif dataset == "scenes":  # the suite's own label space, in the official layout
        space = dict(label_nc=7, dontcare=False, instance=False)
    family = "clade" if model == "clade-icpe" else model
    return Official(family=family, height=height, width=width, ngf=ngf, hidden=hidden,
                    num_up=6 if dataset == "cityscapes" and not oasis else 5,
                    add_dist=model == "clade-icpe", z_dim=64 if model == "oasis" else 0,
                    kernel=kernel, kernel_norm=kernel_norm, **space)


def label_maps(n, h, w, label_nc, dontcare, seed):
    """Blobby random label maps (255 = don't care where the dataset has it) and instance maps."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, label_nc, (n, h // 16, w // 16), generator=g)
    if dontcare:
        ids[torch.rand(ids.shape, generator=g) < 0.15] = 255
    label = ids.repeat_interleave(16, 1).repeat_interleave(16, 2)
    inst = torch.randint(0, 5, (n, h // 8, w // 8), generator=g)
    instance = inst.repeat_interleave(8, 1).repeat_interleave(8, 2)
    return label, instance
