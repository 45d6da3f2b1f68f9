"""Figure 2: the std of the feature maps after ``fc`` and every block, one- and two-class layouts,
zero vs reflect padding.

The official protocol (docs/facts.md section 5): channel 0 of the first image, resized (nearest)
to 256x256, its std (``fig2_std`` of :func:`analysis.recorder.probe`). The padding is swapped on
the same generator by surgery. With reflect padding a one-class layout gives zero std in every
block (no boundary at all) for the models without noise - class-level mode collapse made visible;
zero padding makes a fake variation from the image border.
"""
from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # figures go to files, never to a display
import matplotlib.pyplot as plt  # noqa: E402

from analysis.figures import save_figure
from analysis.study import default_classes, make_layout
from analysis.recorder import probe
from analysis.surgery import swap_padding

from .common import Context, select, write_table

NAME = "fig2"
MODELS = ("spade", "clade", "oasis", "va-spade", "va-clade", "va-oasis")
QUICK_MODELS = ("spade", "va-spade")
LAYOUTS = ("one-class", "two-class")
PADDINGS = ("zero", "reflect")


def block_std(ctx: Context, gen, layout: str, padding: str) -> dict:
    g = swap_padding(gen, padding)
    lay = make_layout(layout, default_classes(ctx.dataset, layout), ctx.dataset, g)
    df = probe(g, {layout: lay}, samples=1, seed=ctx.seed)
    d = df[df.statistic == "fig2_std"]
    return {str(b): float(v) for b, v in zip(d.block, d.value)}


def run(ctx: Context, args) -> dict:
    models = select(list(QUICK_MODELS if ctx.quick and not args.models else MODELS), args.models)
    records = []
    for m in models:
        for lay in LAYOUTS:
            for pad in PADDINGS:
                vals = ctx.store.compute(NAME, m, f"{lay}/{pad}", None,
                                         lambda m=m, l=lay, p=pad: block_std(ctx, ctx.generator(m), l, p))
                records += [dict(model=m, layout=lay, padding=pad, block=b, std=v)
                            for b, v in vals.items()]
    df = pd.DataFrame(records)
    table = df.pivot_table(index=["model", "layout", "padding"], columns="block", values="std",
                           sort=False).reset_index()
    table.columns.name = None
    fig = _figure(df, models)
    path = save_figure(fig, ctx.out / "fig2.png")
    out = write_table(ctx, NAME, table, "Figure 2: feature std per block",
                      "Channel 0 of the first image after fc and each block, resized to 256x256 "
                      "(the official --vis probe); padding swapped by surgery. fig2.png plots it.",
                      digits=4)
    return {**out, "figure": path}


def _figure(df: pd.DataFrame, models):
    fig, axes = plt.subplots(1, len(models), figsize=(2.6 * len(models) + 0.4, 2.6), squeeze=False)
    for ax, m in zip(axes[0], models):
        d = df[df.model == m]
        for lay in LAYOUTS:
            for pad in PADDINGS:
                s = d[(d.layout == lay) & (d.padding == pad)]
                ax.plot(np.arange(len(s)), s["std"].to_numpy(), marker="o", ms=3,
                        ls="-" if pad == "zero" else "--", label=f"{lay} {pad}")
        blocks = list(d[(d.layout == LAYOUTS[0]) & (d.padding == PADDINGS[0])].block)
        ax.set_xticks(range(len(blocks)))
        ax.set_xticklabels(blocks, rotation=90, fontsize=6)
        ax.set_title(m, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("std (channel 0)", fontsize=8)
    axes[0, -1].legend(fontsize=6)
    fig.tight_layout()
    return fig
