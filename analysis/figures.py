"""Figures of the analysis jobs (small PNGs at dpi 100), written atomically.

* :func:`atomic_savefig` / :func:`save_figure` - PNG files (optionally quantized) via
  :mod:`vasis.atomic`;
* :func:`colorize` - the one class palette (:func:`vasis.train.monitor.label_colors`),
  :func:`to_rgb`, :func:`image_grid` - the shared pieces of the experiments' figures;
* the main job's figures (:func:`all_figures`: Figure-2-style per-block std, layouts,
  generated images, boundary profiles); :data:`SOURCE_STYLE`, the one palette of models and
  the data (the trained study's figures, :mod:`experiments.study_report`).
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from vasis.atomic import atomic_write_bytes  # noqa: E402
from vasis.labels import label_space  # noqa: E402
from vasis.train.monitor import label_colors  # noqa: E402

from .study import SETTINGS  # noqa: E402

STYLE = {("zero", 3): dict(color="tab:red", ls="-"), ("zero", 1): dict(color="tab:orange", ls="--"),
         ("reflect", 3): dict(color="tab:blue", ls="-"), ("reflect", 1): dict(color="tab:cyan", ls="--")}


def atomic_savefig(fig, path, dpi: int = 100, colors: int | None = None) -> None:
    """Save ``fig`` as PNG atomically; ``colors``: quantize to that many palette colours (keeps
    image grids small)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    data = buf.getvalue()
    if colors:
        img = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=colors)
        out = io.BytesIO()
        img.save(out, format="png", optimize=True)
        data = out.getvalue()
    atomic_write_bytes(path, data)


def to_rgb(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) or (3, H, W) in [-1, 1] -> (N, H, W, 3) or (H, W, 3) in [0, 1]."""
    x = ((images.clamp(-1, 1) + 1) / 2)
    return (x.permute(0, 2, 3, 1) if x.dim() == 4 else x.permute(1, 2, 0)).numpy()


def colorize(labels: torch.Tensor, num_classes: int) -> np.ndarray:
    """Label maps (N, H, W) or (H, W) -> RGB in [0, 1], with the suite's one class palette
    (:func:`vasis.train.monitor.label_colors`, also the training monitor's)."""
    labels = torch.as_tensor(labels)
    rgb = to_rgb(label_colors(labels.reshape(-1, *labels.shape[-2:]), num_classes))
    return rgb if labels.dim() == 3 else rgb[0]


def image_grid(cells: list[list[np.ndarray]], row_names: list[str], col_names: list[str],
               title: str | None = None, cell: float = 1.4):
    """A matplotlib figure of ``cells[r][c]`` (H, W, 3) images."""
    nr, nc = len(cells), len(cells[0])
    h, w = cells[0][0].shape[:2]
    fig, axes = plt.subplots(nr, nc, figsize=(cell * nc * w / h + 0.6, cell * nr + 0.4),
                             squeeze=False)
    for r in range(nr):
        for c in range(nc):
            ax = axes[r, c]
            ax.imshow(np.clip(cells[r][c], 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_names[c], fontsize=7)
            if c == 0:
                ax.set_ylabel(row_names[r], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(fig, path, colors: int | None = None) -> Path:
    """Save ``fig`` atomically and close it."""
    atomic_savefig(fig, path, dpi=100, colors=colors)
    plt.close(fig)
    return Path(path)


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


def layouts_figure(layouts: dict, num_classes: int):
    items = []
    for name, lab in layouts.items():
        if lab.dim() == 3:
            items += [(f"{name} {i}", l) for i, l in enumerate(lab)]
        else:
            items.append((name, lab))
    fig, axes = plt.subplots(1, len(items), figsize=(1.6 * len(items), 1.8), squeeze=False)
    for ax, (name, lab) in zip(axes[0], items):
        ax.imshow(colorize(lab, num_classes), interpolation="nearest")
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
    specs = {
        "fig2": ("fig2_block_std.png",
                 lambda: per_block_std(summary, models, "rel_spatial", "spatial std / rms")),
        "sample": ("block_sample_std.png",
                   lambda: per_block_std(summary, models, "rel_sample", "sample std / rms",
                                         layouts=("one-class",))),
        "layouts": ("layouts.png",
                    lambda: layouts_figure(layouts, label_space(cfg.dataset).label_nc)),
        "images": ("generated_images.png", lambda: images_figure(images, models)),
        "profiles": ("boundary_profiles.png", lambda: profiles_figure(profiles, models)),
    }
    for key, (name, make) in specs.items():
        fig = make()
        try:
            atomic_savefig(fig, figdir / name, colors=128)
        finally:
            plt.close(fig)
        out[key] = figdir / name
    return out


# The one palette of sources: baselines in warm colours, their VA versions in cool ones.
SOURCE_STYLE = {"data": dict(color="0.45", label="data"),
                "spade": dict(color="tab:red", label="SPADE"),
                "va-spade": dict(color="tab:blue", label="VA-SPADE"),
                "clade": dict(color="tab:orange", label="CLADE"),
                "va-clade": dict(color="tab:cyan", label="VA-CLADE"),
                "oasis": dict(color="tab:brown", label="OASIS"),
                "va-oasis": dict(color="tab:purple", label="VA-OASIS")}


def source_label(name: str) -> str:
    """The display name of a model preset or 'data'."""
    return SOURCE_STYLE.get(name, dict(label=name))["label"]
