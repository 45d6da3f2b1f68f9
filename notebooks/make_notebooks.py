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
from analysis import layouts as L, surgery, recorder, metrics
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
            "one = L.one_class('sky', dataset=gen)\n"
            "two = L.two_class('sky', 'ground', dataset=gen)\n"
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
            "lab = L.one_class('sky', dataset='scenes')\n"
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
            "one = L.one_class('sky', dataset=spade)\n"
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
            "two = L.two_class('sky', 'ground', dataset=spade)\n"
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
            "series = L.boundary_series('sky', 'ground', [0.25, 0.5, 0.75], orientation='vertical',\n"
            "                           dataset=spade)\n"
            "anchors, patch = metrics.boundary_anchors(series, depth=8, side='first')\n"
            "sky = L.resolve_class('sky', spade)\n"
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
