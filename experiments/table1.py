"""Table 1: SPADE and CLADE as trained ('original'), with reflect padding and with 1x1 norm convs.

The same trained generator is modified by surgery (:func:`analysis.surgery.swap_padding`,
:func:`analysis.surgery.swap_norm_kernel` with ``mode='sum'``), no retraining - as the paper
probes its models. Metrics: FID-t, mIoU, Acc (paper) and the intra-class variation ICV-one.
CLADE's norms have no convs (per-class lookup), so its conv-k1 copy computes the same images.
"""
from __future__ import annotations

from analysis.surgery import swap_norm_kernel, swap_padding

from .common import Context, select, wide, write_table
from vasis.errors import UserError

NAME = "table1"
MODELS = ("spade", "clade")
QUICK_MODELS = ("spade",)
SETTINGS = ("original", "reflect", "conv-k1")
METRICS = ["FID-t", "mIoU", "Acc", "ICV-one"]


def modified(gen, setting: str):
    if setting == "original":
        return gen
    if setting == "reflect":
        return swap_padding(gen, "reflect")
    if setting == "conv-k1":
        return swap_norm_kernel(gen, 1, mode="sum")
    raise UserError(setting)


def run(ctx: Context, args) -> dict:
    models = select(list(QUICK_MODELS if ctx.quick and not args.models else MODELS), args.models)
    for model in models:
        for setting in SETTINGS:
            ctx.store.compute(NAME, model, setting, METRICS,
                              lambda m=model, s=setting: ctx.quality(modified(ctx.generator(m), s), METRICS))
    table = wide(ctx.store, NAME, [(m, s) for m in models for s in SETTINGS], METRICS)
    notes = ("Same trained generator per model; 'reflect' and 'conv-k1' by surgery "
             "(analysis.surgery), no retraining. mIoU / Acc in %, ICV-one = mean per-image "
             "per-class colour std (0..255). CLADE norms have no convs: its conv-k1 row equals "
             "'original'.")
    return write_table(ctx, NAME, table, "Table 1: padding and norm-kernel swap", notes)
