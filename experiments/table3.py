"""Table 3: the main comparison - FID-t, FID-v, mIoU, Acc of every model (here also precision /
recall / density / coverage against the real images of the same maps, and the intra-class
variation ICV-one), and generator / discriminator params and GMac at the paper's
datasets' resolutions (Cityscapes 256x512, ADE20K and COCO-Stuff 256x256; counted on the meta
device by :func:`vasis.complexity.complexity`, so no full-size network is ever allocated).
"""
from __future__ import annotations

import pandas as pd

from analysis.report import md_table
from analysis.study import MODELS

from .common import Context, select, wide, write_table

NAME = "table3"
QUICK_MODELS = ("spade", "va-spade")
METRICS = ["FID-t", "FID-v", "precision", "recall", "density", "coverage", "mIoU", "Acc", "ICV-one"]
PAPER_DATASETS = ("cityscapes", "ade20k", "coco-stuff")
COMPLEXITY = ["G params (M)", "G GMac", "D params (M)", "D GMac"]


def run(ctx: Context, args) -> dict:
    models = select(list(QUICK_MODELS if ctx.quick and not args.models else MODELS), args.models)
    datasets = PAPER_DATASETS if not args.paper_dataset else tuple(args.paper_dataset)
    setting = f"eval:{ctx.dataset}"
    for m in models:
        ctx.store.compute(NAME, m, setting, METRICS,
                          lambda m=m: ctx.quality(ctx.generator(m), METRICS))
        for d in datasets:
            ctx.store.compute(NAME, m, f"complexity:{d}", COMPLEXITY,
                              lambda m=m, d=d: ctx.complexity(m, d))
    quality = wide(ctx.store, NAME, [(m, setting) for m in models], METRICS).drop(columns="setting")
    rows = []
    for m in models:
        r = {"model": m}
        for d in datasets:
            for c in COMPLEXITY:
                r[f"{d} {c}"] = ctx.store.get(NAME, m, f"complexity:{d}", c)
        rows.append(r)
    cx = pd.DataFrame(rows)
    table = quality.merge(cx[["model"] + [f"{datasets[0]} {c}" for c in COMPLEXITY]], on="model")
    notes = (f"Quality on {ctx.dataset} ({'checkpoints given' if ctx.checkpoints else 'short CPU runs'}); "
             "mIoU / Acc in %. Params / GMac at the paper's resolution of each dataset:\n\n"
             + md_table(cx, 2) + "\n")
    return write_table(ctx, NAME, table, "Table 3: main comparison", notes)
