"""Figures 1 and 3: images of every model for similar class boundaries.

* ``fig1.png`` - Figure 1's test: the same straight boundary (two classes) placed at different
  positions, and the same box at different centres; one row per layout, one column per model.
  Class-level mode collapse shows as the same pattern along the boundary in every row.
* ``fig3.png`` - Figure 3: validation label maps of the dataset, the real image and each model.
* ``fig1_fig3.csv`` / ``.md`` - the pattern repetition along the boundary per model (mean NCC of
  the first class's strip beside the boundary across the boundary series,
  :func:`analysis.metrics.pattern_repetition`; 1 = identical pattern wherever the boundary is).
"""
from __future__ import annotations

import torch

import analysis.metrics as metrics
from analysis.figures import colorize, image_grid, save_figure, to_rgb
from analysis.layouts import box_series, boundary_series, resolve_class
from analysis.study import MODELS
from vasis.data import build_dataset
from vasis.errors import UserError
from vasis.labels import label_space

from .common import Context, select, wide, write_table

NAME = "fig1_fig3"
QUICK_MODELS = ("spade", "va-spade")
POSITIONS = (0.3, 0.45, 0.6, 0.75)
CENTERS = ((0.4, 0.3), (0.6, 0.7))


def boundary_classes(dataset: str) -> tuple[str, str, str]:
    """The two classes of the boundary series and the box's class."""
    return ("sky", "ground", "tree") if dataset == "scenes" else ("sky", "road", "tree")


def layouts(gen, dataset: str):
    first, second, box_cls = boundary_classes(dataset)
    series = boundary_series(first, second, POSITIONS, orientation="vertical", dataset=gen)
    boxes = box_series(box_cls, second, CENTERS, box_size=0.3, dataset=gen)
    return series, boxes


@torch.no_grad()
def repetition(ctx: Context, gen) -> dict:
    series, _ = layouts(gen, ctx.dataset)
    imgs = ctx.generate(gen, series, seed=ctx.seed).double()
    anchors, patch = metrics.boundary_anchors(series, orientation="vertical", depth=8, side="first")
    cls = resolve_class(boundary_classes(ctx.dataset)[0], gen)
    return {"repetition": float(metrics.pattern_repetition(imgs, anchors, patch, labels=series, cls=cls))}


def run(ctx: Context, args) -> dict:
    models = select(list(QUICK_MODELS if ctx.quick and not args.models else MODELS), args.models)
    gens = {m: ctx.generator(m) for m in models}
    for m, g in gens.items():
        ctx.store.compute(NAME, m, "boundary-series", ["repetition"], lambda g=g: repetition(ctx, g))
    g0 = next(iter(gens.values()))
    nc = label_space(g0.cfg.dataset).label_nc
    # Figure 1: similar boundaries.
    series, boxes = layouts(g0, ctx.dataset)
    lay = torch.cat([series, boxes])
    cols = [colorize(lay, nc)] + [to_rgb(ctx.generate(g, lay, seed=ctx.seed)) for g in gens.values()]
    cells = [[c[r] for c in cols] for r in range(len(lay))]
    rows = [f"boundary {p:.2f}" for p in POSITIONS] + [f"box {c}" for c in CENTERS]
    f1 = save_figure(image_grid(cells, rows, ["layout"] + models,
                                "Figure 1: similar class boundaries"), ctx.out / "fig1.png")
    # Figure 3: validation label maps.
    labels, inst = ctx.eval_data((g0.cfg.height, g0.cfg.width))
    n = min(4, len(labels))
    real = _real_images(ctx, (g0.cfg.height, g0.cfg.width), n)
    cols = [colorize(labels[:n], nc)] + ([real] if real is not None else [])
    cols += [to_rgb(ctx.generate(g, labels[:n], inst[:n] if inst is not None else None,
                                 seed=ctx.seed)) for g in gens.values()]
    names = ["layout"] + (["real"] if real is not None else []) + models
    cells = [[c[r] for c in cols] for r in range(n)]
    f3 = save_figure(image_grid(cells, [f"val {i}" for i in range(n)], names,
                                "Figure 3: validation layouts"), ctx.out / "fig3.png")
    table = wide(ctx.store, NAME, [(m, "boundary-series") for m in models], ["repetition"])
    out = write_table(ctx, NAME, table, "Figures 1 and 3: pattern repetition along a boundary",
                      "repetition: mean NCC of the strip left of the boundary across "
                      f"{len(POSITIONS)} positions (1 = same pattern everywhere). Figures: "
                      "fig1.png (boundary / box series), fig3.png (validation maps).", digits=3)
    return {**out, "fig1": f1, "fig3": f3}


def _real_images(ctx: Context, size, n):
    try:
        ds = build_dataset(ctx.dataset, ctx.dataroot, "val", size, train=False,
                           n=n if ctx.dataroot is None else None)
        return to_rgb(torch.stack([ds[i]["image"] for i in range(n)]))
    except (UserError, IndexError):  # no (or too few) real maps: the figure goes without them
        return None
