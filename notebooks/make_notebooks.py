"""Write the notebooks of this folder (no outputs): ``python notebooks/make_notebooks.py``.

Each notebook is short and runs top to bottom on a CPU in well under a minute (tiny widths:
ngf=4, hidden=8); ``tests/test_notebooks.py`` executes them.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """import sys, pathlib
root = pathlib.Path.cwd()
while not (root / "vasis").is_dir() and root != root.parent:
    root = root.parent
sys.path.insert(0, str(root))

import matplotlib.pyplot as plt
import pandas as pd
import torch
import vasis
from analysis import layouts, metrics, recorder, surgery
from analysis.cpu import fast_cpu
from analysis.study import TINY, calibration_labels   # TINY: the preset, only narrower

torch.manual_seed(0)
cpu = fast_cpu(); cpu.__enter__()   # one thread, denormals flushed (see analysis.cpu)"""

NB = {
    "01_padding_and_kernel_probing.ipynb": [
        new_markdown_cell(
            "# Padding and norm-kernel probing\n\n"
            "Why do SPADE-like generators paint a class the same everywhere? A conditional norm "
            "gives each class one scale and shift, so two pixels of one class can only differ "
            "where a 3x3 conv sees something else: **the image border** (zero padding) or **a "
            "class boundary** (3x3 convs inside the norm). We take one untrained SPADE "
            "(fixed seed, BatchNorm statistics settled with `recorder.calibrate`) and make "
            "copies by surgery: `surgery.swap_padding` (zero vs reflect) and "
            "`surgery.swap_norm_kernel` (3x3 vs 1x1 norm convs) - all copies share every "
            "weight."),
        new_code_cell(SETUP),
        new_code_cell(
            "gen = vasis.build_generator('spade', 'scenes', **TINY)\n"
            "gen = recorder.calibrate(gen, calibration_labels('scenes', (128, 128)), steps=2)\n"
            "one = layouts.one_class('sky', dataset=gen)\n"
            "two = layouts.two_class('sky', 'ground', dataset=gen)\n"
            "copies = {f'{p} k{k}': surgery.swap_norm_kernel(surgery.swap_padding(gen, p), k)\n"
            "          for p in ('zero', 'reflect') for k in (3, 1)}\n"
            "list(copies)"),
        new_markdown_cell(
            "Generate both layouts with every copy. Untrained outputs are nearly grey, so an "
            "image that varies is shown with its per-channel mean removed and its contrast "
            "stretched, titled with its spatial std (over pixels, per channel, averaged). An "
            "image whose spatial std is below 1e-6 is constant up to float rounding: it is "
            "drawn as it is (no stretch, which would only magnify rounding) and titled "
            "`constant`."),
        new_code_cell(
            "CONSTANT = 1e-6   # spatial std below this: constant up to float32 rounding\n"
            "\n"
            "def show(ax, img):\n"
            "    \"\"\"Draw a (3, H, W) output in [-1, 1]; return its title.\"\"\"\n"
            "    x = img - img.mean((1, 2), keepdim=True)\n"
            "    s = float(x.std((1, 2)).mean())   # spatial std, not the spread between channels\n"
            "    if s < CONSTANT:\n"
            "        ax.imshow(((img + 1) / 2).permute(1, 2, 0).clamp(0, 1))\n"
            "        return f'constant (std < {CONSTANT:.0e})'\n"
            "    ax.imshow((0.5 + x.permute(1, 2, 0) / (6 * s)).clamp(0, 1))\n"
            "    return f'std {s:.1e}, stretched'\n"
            "\n"
            "fig, axes = plt.subplots(2, 5, figsize=(11, 4.6))\n"
            "titles = {}\n"
            "for r, (name, lab) in enumerate({'one-class': one, 'two-class': two}.items()):\n"
            "    axes[r, 0].imshow(lab, cmap='tab10', vmin=0, vmax=9); axes[r, 0].set_title(name)\n"
            "    for c, (setting, g) in enumerate(copies.items(), 1):\n"
            "        with torch.no_grad():\n"
            "            img = g(lab[None])[0]\n"
            "        titles[name, setting] = show(axes[r, c], img)\n"
            "        axes[r, c].set_title(f'{setting}\\n{titles[name, setting]}', fontsize=8)\n"
            "for ax in axes.flat: ax.axis('off')\n"
            "plt.tight_layout()\n"
            "# the text below relies on this: one class + reflect padding is constant\n"
            "assert all(titles['one-class', s].startswith('constant') for s in ('reflect k3', 'reflect k1'))\n"
            "assert not any(titles['one-class', s].startswith('constant') for s in ('zero k3', 'zero k1'))"),
        new_markdown_cell(
            "**Reading.** One class with reflect padding: the output is constant (spatial std "
            "below 1e-6, float rounding) - "
            "nothing tells one pixel from another. With zero padding the border is the only "
            "source of variation. With two classes and reflect padding every row is the same: "
            "the image is a function of the distance to the boundary alone, i.e. the same "
            "pattern wherever this boundary appears. The 3x3 -> 1x1 swap changes little here "
            "because the untrained norm convs start with small weights (std 0.02)."),
        new_code_cell(
            "rows = []\n"
            "for setting, g in copies.items():\n"
            "    df = recorder.probe(g, {'one-class': one, 'two-class': two}, samples=2)\n"
            "    s = df[df['class'].isna()].pivot_table(index=['layout', 'block'], columns='statistic',\n"
            "                                           values='value', sort=False)\n"
            "    rows.append((s['spatial_std'] / s['rms']).rename(setting))\n"
            "pd.concat(rows, axis=1).round(4)"),
        new_markdown_cell(
            "`spatial_std / rms` per block (scale-free): exactly 0 in every block for one class "
            "with reflect padding, clearly non-zero with zero padding. The same numbers for "
            "every preset: `.venv/bin/python run_analysis.py probe --model M --padding reflect`."),
    ],
    "02_per_block_std.ipynb": [
        new_markdown_cell(
            "# Per-block std (the VASIS Figure 2)\n\n"
            "VASIS Figure 2 plots, per generator block, the std of a feature map for a one-class "
            "layout. Here for a baseline (SPADE), OASIS (3D noise) and a VA model (VA-SPADE: "
            "semantic noise + learnable position code), each with zero and reflect padding, "
            "recorded with `recorder.probe` (tidy DataFrame, one row per block and statistic)."),
        new_code_cell(SETUP),
        new_code_cell(
            "lab = layouts.one_class('sky', dataset='scenes')\n"
            "cal = calibration_labels('scenes', (128, 128))\n"
            "frames = []\n"
            "for model in ('spade', 'oasis', 'va-spade'):\n"
            "    torch.manual_seed(0)\n"
            "    g = recorder.calibrate(vasis.build_generator(model, 'scenes', **TINY), cal, steps=1)\n"
            "    for pad in ('zero', 'reflect'):\n"
            "        frames.append(recorder.probe(surgery.swap_padding(g, pad), {'sky': lab},\n"
            "                                     samples=2, model=model))\n"
            "df = pd.concat(frames)\n"
            "df.head()"),
        new_markdown_cell(
            "`spatial_std` is the std over the map (per channel, then averaged), `sample_std` "
            "the std across the two generations at each pixel, `rms` the feature scale "
            "(untrained features grow or shrink from block to block, so we divide by it)."),
        new_code_cell(
            "s = df[df['class'].isna()].pivot_table(index=['model', 'padding', 'block'],\n"
            "                                       columns='statistic', values='value', sort=False)\n"
            "s['spatial/rms'] = s['spatial_std'] / s['rms']\n"
            "s['sample/rms'] = s['sample_std'] / s['rms']\n"
            "s = s.reset_index()\n"
            "fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)\n"
            "for ax, col in zip(axes, ('spatial/rms', 'sample/rms')):\n"
            "    for (model, pad), d in s.groupby(['model', 'padding'], sort=False):\n"
            "        ax.plot(range(len(d)), d[col], marker='o', ls='-' if pad == 'zero' else '--',\n"
            "                label=f'{model} {pad}')\n"
            "    ax.set_title(col); ax.set_xlabel('block (fc first)'); ax.grid(alpha=.3)\n"
            "axes[0].legend(fontsize=7); plt.tight_layout()"),
        new_markdown_cell(
            "**Reading.** SPADE with reflect padding is flat in every block and deterministic. "
            "OASIS with reflect padding is also flat in space, but its 3D noise (one vector per "
            "image, the same at every pixel) makes it vary across samples. VA-SPADE varies "
            "in space and across samples in every residual block with either padding (its "
            "`fc` is a plain conv of the label map and is flat under reflect padding). The main "
            "job (`.venv/bin/python run_analysis.py`) draws this for all seven presets: "
            "`figures/fig2_block_std.png`."),
    ],
    "03_variation_metrics.ipynb": [
        new_markdown_cell(
            "# Variation metrics\n\n"
            "The metrics of `analysis.metrics` (definitions in `docs/metrics.md`) on features "
            "and images of untrained generators:\n\n"
            "* **boundary-distance profile** (`variation_profile`, `fraction_within`): where in "
            "a class the variation lives - near the border/boundary or everywhere;\n"
            "* **intra/inter-class variation** (`class_variation`): within-class std against "
            "the spread of the class means;\n"
            "* **pattern repetition** (`pattern_repetition`): is the texture next to a boundary "
            "stamped identically wherever the boundary appears?"),
        new_code_cell(SETUP),
        new_code_cell(
            "cal = calibration_labels('scenes', (128, 128))\n"
            "torch.manual_seed(0)\n"
            "spade = recorder.calibrate(vasis.build_generator('spade', 'scenes', **TINY), cal, steps=1)\n"
            "torch.manual_seed(0)\n"
            "va = recorder.calibrate(vasis.build_generator('va-spade', 'scenes', **TINY), cal, steps=1)\n"
            "zero = surgery.swap_padding(spade, 'zero')\n"
            "one = layouts.one_class('sky', dataset=spade)\n"
            "with recorder.FeatureRecorder(zero, keep_features=1) as rec:\n"
            "    rec.run(one, 1, seed=0)\n"
            "    f, lab = rec.features['fc'][0], rec.class_map('fc')\n"
            "prof = metrics.variation_profile(f, lab)\n"
            "prof[['d_low', 'd_high', 'pixels', 'std', 'cum_variance_fraction', 'cum_area_fraction']]"),
        new_markdown_cell(
            "**Border profile** of SPADE's first block (`fc`, 4x4 on scenes) with zero padding: "
            "all of the variation (`cum_variance_fraction` = 1) lies within one pixel of the "
            "image edge, which holds 75% of the area - the interior is exactly flat. Later "
            "blocks upsample this pattern over the whole map (see `docs/metrics.md`, caveat "
            "for generators)."),
        new_code_cell(
            "two = layouts.two_class('sky', 'ground', dataset=spade)\n"
            "rows = []\n"
            "for name, g in {'spade reflect': surgery.swap_padding(spade, 'reflect'),\n"
            "                'va-spade reflect': va}.items():\n"
            "    with torch.no_grad(), torch.random.fork_rng():\n"
            "        torch.manual_seed(0)\n"
            "        imgs = g(two[None].expand(3, -1, -1))\n"
            "    cv = metrics.class_variation(imgs[0], two, samples=imgs, names=g.space.classes)\n"
            "    rows.append(cv.assign(model=name))\n"
            "pd.concat(rows)[['model', 'name', 'pixels', 'intra_std', 'sample_std', 'inter_std', 'ratio']]"),
        new_markdown_cell(
            "Without noise, SPADE's `sample_std` is 0: every generation of the layout is the "
            "same image. VA-SPADE's noise makes samples differ."),
        new_code_cell(
            "series = layouts.boundary_series('sky', 'ground', [0.25, 0.5, 0.75],\n"
            "                                 orientation='vertical', dataset=spade)\n"
            "anchors, patch = metrics.boundary_anchors(series, depth=8, side='first')\n"
            "sky = layouts.resolve_class('sky', spade)\n"
            "for name, g in {'spade reflect': surgery.swap_padding(spade, 'reflect'), 'va-spade': va}.items():\n"
            "    with torch.no_grad(), torch.random.fork_rng():\n"
            "        torch.manual_seed(0)\n"
            "        imgs = g(series)\n"
            "    score = metrics.pattern_repetition(imgs, anchors, patch, labels=series, cls=sky)\n"
            "    print(f'{name:15s} pattern repetition {score:.3f}')\n"
            "fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))\n"
            "for ax, img in zip(axes, imgs):\n"
            "    x = img - img.mean((1, 2), keepdim=True)\n"
            "    ax.imshow((0.5 + x.permute(1, 2, 0) / (6 * float(x.std()))).clamp(0, 1)); ax.axis('off')\n"
            "plt.tight_layout()"),
        new_markdown_cell(
            "**Pattern repetition**: the 8-pixel strip of sky left of a vertical boundary, "
            "compared across three placements of the boundary (mean normalized "
            "cross-correlation). Without noise every row of the strip is the same and its columns "
            "depend on the distance to the boundary (and, through the coarse first blocks, on "
            "where the boundary falls on their grid), so the texture correlates across "
            "placements (score clearly above 0); the VA model's noise brings it to about 0. "
            "The images show VA-SPADE at the three placements."),
    ],
}

# Notebook 04 needs nothing of the main job: plain PyTorch, analysis' generic tools.
SETUP_04 = """import sys, pathlib
root = pathlib.Path.cwd()
while not (root / "vasis").is_dir() and root != root.parent:
    root = root.parent
sys.path.insert(0, str(root))

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
import analysis
from analysis import encoders

# One thread with denormals flushed: untrained nets decay to denormal floats that x86 CPUs
# compute up to 50x slower (see analysis.cpu.fast_cpu).
torch.set_num_threads(1); torch.set_flush_denormal(True)"""

MODEL_04 = """class LabelNorm(nn.Module):
    \"\"\"My SPADE-style norm: param-free BN, then scale/shift from 3x3 convs on the label map.\"\"\"
    def __init__(self, ch, label_nc, hidden=8, noise=False):
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(label_nc, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, ch, 3, padding=1)
        self.beta = nn.Conv2d(hidden, ch, 3, padding=1)
        self.noise = noise

    def forward(self, x, seg):
        h = self.shared(F.interpolate(seg, size=x.shape[-2:], mode='nearest'))
        gamma, beta = self.gamma(h), self.beta(h)
        if self.noise:   # a fresh noise map each forward, as the VASIS norm does
            gamma = gamma + torch.randn_like(gamma[:, :1])
            beta = beta + torch.randn_like(beta[:, :1])
        return self.bn(x) * (1 + gamma) + beta


class ResBlock(nn.Module):
    def __init__(self, fin, fout, label_nc, noise):
        super().__init__()
        self.norm_0, self.conv_0 = LabelNorm(fin, label_nc, noise=noise), nn.Conv2d(fin, fout, 3, padding=1)
        self.norm_1, self.conv_1 = LabelNorm(fout, label_nc, noise=noise), nn.Conv2d(fout, fout, 3, padding=1)
        self.skip = nn.Conv2d(fin, fout, 1, bias=False) if fin != fout else nn.Identity()

    def forward(self, x, seg):
        h = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        return self.skip(x) + self.conv_1(F.leaky_relu(self.norm_1(h, seg), 0.2))


class MyGenerator(nn.Module):
    \"\"\"4x4 start, four x2 upsamplings: 64x64 images from SPADE's Cityscapes input.\"\"\"
    def __init__(self, label_nc=36, w=8, noise=False):
        super().__init__()
        self.stem = nn.Conv2d(label_nc, 4 * w, 3, padding=1)
        self.blocks = nn.ModuleList([ResBlock(4 * w, 4 * w, label_nc, noise),
                                     ResBlock(4 * w, 2 * w, label_nc, noise),
                                     ResBlock(2 * w, w, label_nc, noise),
                                     ResBlock(w, w, label_nc, noise)])
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.ZeroPad2d(1), nn.Conv2d(w, 3, 3))

    def forward(self, seg):
        x = self.stem(F.interpolate(seg, size=(seg.shape[2] // 16, seg.shape[3] // 16)))
        for block in self.blocks:
            x = block(F.interpolate(x, scale_factor=2.0), seg)
        return torch.tanh(self.to_rgb(x))


torch.manual_seed(0)
model = MyGenerator().eval()
torch.manual_seed(0)
noisy = MyGenerator(noise=True).eval()   # the same weights, with noise in its norms
print(sum(p.numel() for p in model.parameters()), 'parameters')"""

NB["04_probe_your_generator.ipynb"] = [
    new_markdown_cell(
        "# Probe your own generator\n\n"
        "The paper's probes on a network the suite did not build - your SPADE fork, a newer "
        "SIS model, a decoder with SPADE-style blocks - without porting it. Everything here "
        "works on any `nn.Module`:\n\n"
        "1. define (or import) the model;\n"
        "2. **encode**: turn the integer label maps of `analysis.layouts` into the model's input "
        "(`analysis.encoders`: the official SPADE / CLADE / OASIS conventions);\n"
        "3. **surgery**: `analysis.swap_padding` (any module), the kernel swaps with `convs=`;\n"
        "4. **record**: `analysis.probe(model, layouts, points=..., encode=...)`, the same tidy "
        "frame as for the suite's models;\n"
        "5. read the per-point spatial std.\n\n"
        "The command-line twin: `run_analysis.py probe --factory mypkg.models:build --encode "
        "spade --dataset cityscapes ...` (README, *Probe your own generator*)."),
    new_code_cell(SETUP_04),
    new_markdown_cell(
        "## 1. The model\n\n"
        "A small SPADE-like generator in plain PyTorch: its own norm (per-pixel scale and shift "
        "from convs on the label map), its own residual blocks, upsampling by `F.interpolate`, "
        "zero padding (and an explicit `ZeroPad2d` before the last conv). Untrained and "
        "narrow, so the notebook runs in seconds; with real weights, load them here."),
    new_code_cell(MODEL_04),
    new_markdown_cell(
        "## 2. Encode\n\n"
        "`encoders.spade('cityscapes')` is SPADE's input: 35 one-hot channels and the "
        "instance-edge channel (zero: a layout has no instances). The layouts are integer "
        "maps; the per-class statistics read their classes from them, whatever the encoding."),
    new_code_cell(
        "enc = encoders.spade('cityscapes')\n"
        "one = analysis.one_class('sky', dataset='cityscapes', size=(64, 64))\n"
        "two = analysis.two_class('sky', 'road', dataset='cityscapes', size=(64, 64))\n"
        "x = enc(one[None])\n"
        "with torch.no_grad():\n"
        "    print(enc, tuple(x.shape), '->', tuple(model(x).shape))"),
    new_markdown_cell(
        "## 3. Surgery\n\n"
        "`swap_padding` returns a copy whose padded convs use the other padding mode and whose "
        "padding layers (`ZeroPad2d`, `ReflectionPad2d`, ...) are swapped; the weights are "
        "shared. `swap_norm_kernel` cannot find a foreign model's norm convs by class: "
        "`convs=` names them (a list, or a predicate on the module name)."),
    new_code_cell(
        "reflect = analysis.swap_padding(model, 'reflect')\n"
        "norm_convs = lambda name, m: '.norm_' in name\n"
        "settings = {\n"
        "    'zero': model,\n"
        "    'reflect': reflect,\n"
        "    'reflect, 1x1 norm convs': analysis.swap_norm_kernel(reflect, 1, convs=norm_convs),\n"
        "    'reflect + noise': analysis.swap_padding(noisy, 'reflect'),\n"
        "}\n"
        "print(analysis.padding_of(model), '->', analysis.padding_of(reflect))\n"
        "print(reflect.to_rgb)"),
    new_markdown_cell(
        "## 4. Record\n\n"
        "Without `points=` the probe points are the model's top-level children (`stem`, "
        "`blocks`, `to_rgb`); here we name the four residual blocks as well. `bn='eval'`: "
        "the BatchNorms use their running statistics (untrained: the identity), in every "
        "setting alike."),
    new_code_cell(
        "points = ['stem', 'blocks.0', 'blocks.1', 'blocks.2', 'blocks.3', 'to_rgb']\n"
        "df = pd.concat([analysis.probe(g, {'sky': one, 'sky|road': two}, samples=2,\n"
        "                               points=points, encode=enc).assign(setting=name)\n"
        "                for name, g in settings.items()], ignore_index=True)\n"
        "df.head()"),
    new_markdown_cell(
        "## 5. Per-point std\n\n"
        "The spatial std of each point's features relative to their rms, on the one-class "
        "layout (a value below 1e-6 is drawn at 1e-6: constant up to float rounding), and "
        "the std across the two samples."),
    new_code_cell(
        "FLOOR = 1e-6\n"
        "base = df[df['class'].isna()]\n"
        "t = base.pivot_table(index=['layout', 'setting', 'block'], columns='statistic',\n"
        "                     values='value', sort=False)\n"
        "t['spatial/rms'] = t['spatial_std'] / t['rms']\n"
        "t['sample/rms'] = t['sample_std'] / t['rms']\n"
        "fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)\n"
        "for ax, col in zip(axes, ('spatial/rms', 'sample/rms')):\n"
        "    for name in settings:\n"
        "        v = t.loc[('sky', name), col].clip(lower=FLOOR)\n"
        "        ax.plot(range(len(v)), v, marker='o', label=name)\n"
        "    ax.set_xticks(range(len(points)), points, rotation=30)\n"
        "    ax.set_yscale('log'); ax.set_title(f'{col}, one class (sky)'); ax.grid(alpha=.3)\n"
        "axes[0].legend(fontsize=7); plt.tight_layout()\n"
        "flat = t.loc[('sky', 'reflect'), 'spatial/rms']\n"
        "assert (flat < 1e-5).all(), flat                                   # reflect: constant\n"
        "assert (t.loc[('sky', 'zero'), 'spatial/rms'] > 1e-3).all()        # zero: the border\n"
        "assert (t.loc[('sky', 'reflect, 1x1 norm convs'), 'spatial/rms'] < 1e-5).all()\n"
        "assert (t.loc[('sky', 'reflect + noise'), 'spatial/rms'].drop('stem') > 1e-3).all()\n"
        "t.loc['sky', ['spatial/rms', 'sample/rms']].unstack('block')[['spatial/rms']].round(4)"),
    new_markdown_cell(
        "**Reading.** The paper's structure on a network the suite never saw: with reflect "
        "padding a one-class map gives a constant feature map at every point (class-level "
        "mode collapse: nothing tells two sky pixels apart), and the 1x1 norm convs change "
        "nothing there (their sum-of-taps weights compute what the 3x3 convs computed on a "
        "constant map; the two curves lie on the floor, one under the other; so do the three "
        "noise-free settings on the right: every sample is the same). Zero padding brings "
        "variation in from the border, and noise in the norm makes every point after the "
        "stem vary in space and across samples. On the two-class layout each class varies "
        "inside under reflect padding too (`class_spatial_std`, not relative to rms here): "
        "every 3x3 conv next to the boundary (the stem, the block convs, the norm convs) sees "
        "the other class. Making only the norm convs 1x1 changes these numbers a little, "
        "because the stem and block convs still carry the boundary in "
        "(`swap_block_kernel(..., convs=...)` reaches those)."),
    new_code_cell(
        "cls = df[(df['layout'] == 'sky|road') & (df['statistic'] == 'class_spatial_std')]\n"
        "cls.pivot_table(index=['setting', 'class_name'], columns='block', values='value',\n"
        "                sort=False)[points].round(4)"),
    new_markdown_cell(
        "## Interactive (optional)\n\n"
        "With `ipywidgets` installed, choose the padding, the norm-conv kernel, the layout and "
        "the noise and see the first sample's image (mean removed, contrast stretched; a "
        "constant image stays flat grey) and the per-point std; `show(...)` is the same "
        "function without the controls."),
    new_code_cell(
        "def show(padding='zero', kernel=3, layout='sky|road', noise=False):\n"
        "    g = analysis.swap_padding(noisy if noise else model, padding)\n"
        "    if kernel == 1:\n"
        "        g = analysis.swap_norm_kernel(g, 1, convs=norm_convs)\n"
        "    lay = {'sky': one, 'sky|road': two}[layout]\n"
        "    d = analysis.probe(g, {layout: lay}, samples=2, points=points, encode=enc)\n"
        "    d = d[d['class'].isna()].pivot_table(index='block', columns='statistic',\n"
        "                                         values='value', sort=False)\n"
        "    with torch.no_grad(), torch.random.fork_rng():\n"
        "        torch.manual_seed(0)\n"
        "        img = g(enc(lay[None]))[0]\n"
        "    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))\n"
        "    x = img - img.mean((1, 2), keepdim=True)       # untrained: grey, so stretch\n"
        "    a.imshow((0.5 + x.permute(1, 2, 0) / (6 * float(x.std()) + 1e-12)).clamp(0, 1))\n"
        "    a.set_title(f'{padding}, k{kernel}, {layout}'); a.axis('off')\n"
        "    b.plot(range(len(points)), (d['spatial_std'] / d['rms'])[points].clip(lower=1e-6), marker='o')\n"
        "    b.set_yscale('log'); b.set_xticks(range(len(points)), points, rotation=30)\n"
        "    b.set_title('spatial std / rms'); plt.tight_layout(); plt.show()\n"
        "\n"
        "try:\n"
        "    import ipywidgets as widgets\n"
        "    widgets.interact(show, padding=['zero', 'reflect'], kernel=[3, 1],\n"
        "               layout=['sky', 'sky|road'], noise=False)\n"
        "except ImportError:\n"
        "    show('reflect', 3, 'sky|road')"),
]


def main() -> None:
    for name, cells in NB.items():
        for i, cell in enumerate(cells):
            cell["id"] = f"{name[:2]}-cell-{i:02d}"  # fixed ids: regenerating gives no diff
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}})
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(HERE / name)


if __name__ == "__main__":
    main()
