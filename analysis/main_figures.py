"""Figures of the main analysis job (:mod:`analysis.main_job`); small PNGs at dpi 100."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .main_job import BORDER_D, SETTINGS, atomic_savefig  # noqa: E402

STYLE = {("zero", 3): dict(color="tab:red", ls="-"), ("zero", 1): dict(color="tab:orange", ls="--"),
         ("reflect", 3): dict(color="tab:blue", ls="-"), ("reflect", 1): dict(color="tab:cyan", ls="--")}
# scenes palette (unlabeled, sky, ground, road, tree, building, water); other datasets cycle it
PALETTE = np.array([[0, 0, 0], [110, 170, 230], [120, 150, 70], [110, 110, 115],
                    [40, 110, 40], [170, 120, 90], [40, 80, 160]], dtype=np.uint8)


def _grid(n, cols):
    rows = (n + cols - 1) // cols
    return rows, cols


def per_block_std(summary, models, value: str, title: str, layouts=("one-class", "two-class")):
    n = len(models)
    fig, axes = plt.subplots(len(layouts), n, figsize=(2.3 * n + 0.5, 2.3 * len(layouts)),
                             squeeze=False, sharey="row")
    for r, lay in enumerate(layouts):
        for c, m in enumerate(models):
            ax = axes[r, c]
            s = summary[(summary.model == m) & (summary.layout == lay)]
            for key in SETTINGS:
                d = s[(s.padding == key[0]) & (s.kernel == key[1])]
                ax.plot(d.block_index, d[value], marker="o", ms=3, lw=1.2,
                        label=f"{key[0]} k{key[1]}", **STYLE[key])
            blocks = list(s[(s.padding == SETTINGS[0][0]) & (s.kernel == SETTINGS[0][1])].block)
            ax.set_xticks(range(len(blocks)))
            ax.set_xticklabels(blocks, rotation=90, fontsize=6)
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(alpha=0.3)
            if r == 0:
                ax.set_title(m, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{lay}\n{title}", fontsize=8)
    axes[0, -1].legend(fontsize=6, loc="best")
    fig.tight_layout()
    return fig


def colorize(lab: torch.Tensor) -> np.ndarray:
    return PALETTE[np.asarray(lab) % len(PALETTE)]


def layouts_figure(layouts: dict):
    items = []
    for name, lab in layouts.items():
        if lab.dim() == 3:
            items += [(f"{name} {i}", l) for i, l in enumerate(lab)]
        else:
            items.append((name, lab))
    fig, axes = plt.subplots(1, len(items), figsize=(1.6 * len(items), 1.8), squeeze=False)
    for ax, (name, lab) in zip(axes[0], items):
        ax.imshow(colorize(lab), interpolation="nearest")
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    return fig


def images_figure(images: dict, models):
    cols = [(p, k, lay) for lay in ("one-class", "two-class") for p, k in SETTINGS]
    fig, axes = plt.subplots(len(models), len(cols), figsize=(0.95 * len(cols), 1.05 * len(models)),
                             squeeze=False)
    for r, m in enumerate(models):
        # Untrained outputs are nearly grey: stretch each row by one factor (the largest
        # spatial std in the row), so flat images stay flat and rows stay comparable inside.
        row = [images[(m, p, k, lay)] for p, k, lay in cols if (m, p, k, lay) in images]
        scale = max([float(i.std(dim=(1, 2)).mean()) for i in row] + [1e-12])
        for c, (p, k, lay) in enumerate(cols):
            ax = axes[r, c]
            img = images.get((m, p, k, lay))
            if img is not None:
                x = img - img.mean(dim=(1, 2), keepdim=True)
                ax.imshow((0.5 + x.permute(1, 2, 0).numpy() / (6 * scale)).clip(0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{lay}\n{p} k{k}", fontsize=6)
            if c == 0:
                ax.set_ylabel(m, fontsize=7)
    fig.suptitle("first sample; per image mean removed, contrast stretched by one factor per row",
                 fontsize=7, y=1.0)
    fig.subplots_adjust(top=0.93)
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, 0.97))
    return fig


def profiles_figure(profiles, models):
    """Row 1: one-class, zero padding, k3: cumulative share of variation vs distance to the image
    edge (as a fraction of the block's size), for the first three blocks and the last, with the
    share of area (dotted). Row 2: two-class, reflect padding: the same vs distance to the class
    boundary, last block, k3 and k1."""
    n = len(models)
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n + 0.5, 4.6), squeeze=False, sharey=True)
    for c, m in enumerate(models):
        ax = axes[0, c]
        p = profiles[(profiles.model == m) & (profiles.layout == "one-class")
                     & (profiles.padding == "zero") & (profiles.kernel == 3)]
        blocks = list(dict.fromkeys(p.block))
        picks = blocks[:3] + blocks[-1:]
        for i, b in enumerate(picks):
            d = p[p.block == b]
            x = d.d_high / d["size"]
            col = plt.cm.viridis(i / max(1, len(picks) - 1))
            ax.plot(x, d.cum_variance_fraction, marker="o", ms=3, color=col, label=b)
            ax.plot(x, d.cum_area_fraction, ls=":", color=col)
        ax.set_xscale("log")
        ax.set_title(m, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower right")
        if c == 0:
            ax.set_ylabel("one-class, zero pad\nshare of variation\nwithin d of the edge", fontsize=7)
        ax = axes[1, c]
        for k, ls in ((3, "-"), (1, "--")):
            q = profiles[(profiles.model == m) & (profiles.layout == "two-class")
                         & (profiles.padding == "reflect") & (profiles.kernel == k)]
            if not len(q):
                continue
            last = list(dict.fromkeys(q.block))[-1]
            # class of the first row (the upper class); the lower class looks alike
            d = q[(q.block == last) & (q["class"] == q["class"].iloc[0])]
            x = d.d_high / d["size"]
            ax.plot(x, d.cum_variance_fraction, ls=ls, marker="o", ms=3, color="tab:blue",
                    label=f"reflect k{k} ({last})")
            ax.plot(x, d.cum_area_fraction, ls=":", color="gray")
        ax.set_xscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower right")
        ax.set_xlabel("d / block size", fontsize=7)
        if c == 0:
            ax.set_ylabel("two-class, reflect pad\nshare of variation within\nd of the boundary",
                          fontsize=7)
    fig.tight_layout()
    return fig


def all_figures(summary, profiles, layouts, images, cfg, figdir: Path) -> dict:
    figdir = Path(figdir)
    models = list(cfg.models)
    out = {}
    quantize = {"images": 128}
    specs = {
        "fig2": ("fig2_block_std.png",
                 lambda: per_block_std(summary, models, "rel_spatial", "spatial std / rms")),
        "sample": ("block_sample_std.png",
                   lambda: per_block_std(summary, models, "rel_sample", "sample std / rms",
                                         layouts=("one-class",))),
        "layouts": ("layouts.png", lambda: layouts_figure(layouts)),
        "images": ("generated_images.png", lambda: images_figure(images, models)),
        "profiles": ("boundary_profiles.png", lambda: profiles_figure(profiles, models)),
    }
    for key, (name, make) in specs.items():
        fig = make()
        try:
            atomic_savefig(fig, figdir / name, colors=quantize.get(key, 128))
        finally:
            plt.close(fig)
        out[key] = figdir / name
    return out


__all__ = ["all_figures", "per_block_std", "layouts_figure", "images_figure", "profiles_figure",
           "colorize", "BORDER_D"]
