"""Table 1: SPADE and CLADE as trained ('original'), with reflect padding and with 1x1 convs.

Two readings, labelled in the table:

* **retrained** - the paper's protocol (the official VASIS code has no surgery): one model
  trained per row with the switch set from the start: ``padding='reflect'``, and conv-k1 =
  ``block_kernel_size=1`` (the official ``--kernel 1``: the residual blocks' ``conv_0`` /
  ``conv_1``). For SPADE, conv-k1 also sets ``kernel_size=1`` (``--kernel_norm 1``, the norm
  convs), which is most likely what the official SPADE run used; the extra SPADE row
  ``conv-k1-blocks`` is ``block_kernel_size=1`` alone. CLADE's norm has no conv, so its
  conv-k1 is ``block_kernel_size=1`` alone.
* **surgery** - the trained original modified without retraining
  (:func:`analysis.surgery.swap_padding`, :func:`~analysis.surgery.swap_norm_kernel` and
  :func:`~analysis.surgery.swap_block_kernel`, ``mode='sum'``), as the suite's probes do.

Each row's model is ``--checkpoint MODEL:SETTING=PATH`` (``MODEL=PATH`` or ``MODEL:original=PATH``
for the original, which the surgery rows also start from) or else a short training run on
``--dataset`` (the shared train-or-reuse runs of :class:`experiments.common.Context`). Metrics:
FID-t, mIoU, Acc (paper) and the intra-class variation ICV-one. See docs/switches.md.
"""
from __future__ import annotations


import pandas as pd

from analysis.surgery import swap_block_kernel, swap_norm_kernel, swap_padding

from .common import Context, select, wide, write_table
from vasis.errors import UserError

NAME = "table1"
MODELS = ("spade", "clade")
QUICK_MODELS = ("spade",)
METRICS = ["FID-t", "mIoU", "Acc", "ICV-one"]

# Retrained rows: setting -> the switches the row's model is trained with.
RETRAINED = {
    "spade": {"reflect": {"padding": "reflect"},
              "conv-k1": {"block_kernel_size": 1, "kernel_size": 1},
              "conv-k1-blocks": {"block_kernel_size": 1}},
    "clade": {"reflect": {"padding": "reflect"},
              "conv-k1": {"block_kernel_size": 1}},
}
# Surgery rows: setting -> what is done to the trained original.
SURGERY = {
    "reflect": lambda g: swap_padding(g, "reflect"),
    "norm-k1": lambda g: swap_norm_kernel(g, 1, mode="sum"),
    "block-k1": lambda g: swap_block_kernel(g, 1, mode="sum"),
    "conv-k1": lambda g: swap_block_kernel(swap_norm_kernel(g, 1, mode="sum"), 1, mode="sum"),
}
# CLADE's norm has no conv: norm-k1 would equal the original and conv-k1 would equal block-k1.
SURGERY_ROWS = {"spade": ("reflect", "norm-k1", "block-k1", "conv-k1"),
                "clade": ("reflect", "block-k1")}


def row_settings(model: str) -> list[str]:
    """The SETTING names ``--checkpoint MODEL:SETTING=PATH`` takes for ``model``."""
    return ["original", *RETRAINED[model]]


def check_args(args) -> None:
    """Refuse bad ``--checkpoint`` / ``--models`` input before anything is created."""
    select(list(MODELS), args.models)
    valid = [f"{m}:{s}" for m in MODELS for s in row_settings(m)]
    seen = {}
    for item in args.checkpoint or ():
        key, sep, path = item.partition("=")
        key, path = key.strip(), path.strip()
        if not sep or not key or not path:
            raise UserError(f"--checkpoint {item!r}: table1 takes MODEL:SETTING=PATH (or "
                            f"MODEL=PATH for the original), e.g. spade:reflect=runs/spade-reflect")
        model, _, setting = key.partition(":")
        if model not in MODELS or (setting and setting not in row_settings(model)):
            raise UserError(f"--checkpoint {key}=...: table1 has no row {key!r}; use "
                            f"MODEL:SETTING=PATH with one of {', '.join(valid)} "
                            f"(or {' / '.join(MODELS)} for the original)")
        canon = f"{model}:{setting or 'original'}"
        if canon in seen and seen[canon] != path:
            raise UserError(f"--checkpoint gives two files for {canon}: {seen[canon]} and "
                            f"{path}; keep one")
        seen[canon] = path


def _original(ctx: Context, model: str):
    key = f"{model}:original"
    return ctx.generator(key if key in ctx.checkpoints else model, model)


def _retrained(ctx: Context, model: str, setting: str):
    overrides = RETRAINED[model][setting]
    gen = ctx.generator(f"{model}:{setting}", model, overrides)
    cfg = gen.cfg
    wrong = {k: getattr(cfg, k, getattr(cfg.norm, k, None)) for k, v in overrides.items()
             if getattr(cfg, k, getattr(cfg.norm, k, None)) != v}
    if wrong:
        raise UserError(
            f"the model of row {model}:{setting} has {wrong}, not {overrides}; give "
            f"--checkpoint {model}:{setting}=PATH a model trained with "
            f"{', '.join(f'{k}={v!r}' for k, v in overrides.items())}")
    return gen


def run(ctx: Context, args) -> dict:
    models = select(list(QUICK_MODELS if ctx.quick and not args.models else MODELS), args.models)
    rows = []  # (model, store setting, reading, shown setting)
    for model in models:
        ctx.store.compute(NAME, model, "original", METRICS,
                          lambda m=model: ctx.quality(_original(ctx, m), METRICS))
        rows.append((model, "original", "-", "original"))
        for setting in RETRAINED[model]:
            ctx.store.compute(NAME, model, f"retrained:{setting}", METRICS,
                              lambda m=model, s=setting: ctx.quality(_retrained(ctx, m, s), METRICS))
            rows.append((model, f"retrained:{setting}", "retrained", setting))
        for setting in SURGERY_ROWS[model]:
            ctx.store.compute(NAME, model, f"surgery:{setting}", METRICS,
                              lambda m=model, s=setting: ctx.quality(
                                  SURGERY[s](_original(ctx, m)), METRICS))
            rows.append((model, f"surgery:{setting}", "surgery", setting))
    table = wide(ctx.store, NAME, [(m, s) for m, s, _, _ in rows], METRICS)
    table.insert(1, "reading", [r for _, _, r, _ in rows])
    table["setting"] = [s for _, _, _, s in rows]
    notes = (
        "**retrained**: the paper's protocol, one model trained per row with the switch "
        "(`padding='reflect'`; conv-k1 = `block_kernel_size=1`, the official `--kernel 1` of the "
        "residual blocks' conv_0/conv_1). For SPADE, conv-k1 also sets `kernel_size=1` "
        "(`--kernel_norm 1`), which the official SPADE run most likely used; `conv-k1-blocks` "
        "is `block_kernel_size=1` alone. **surgery**: the trained original changed without "
        "retraining (`analysis.surgery`, mode `sum`): reflect = `swap_padding`, norm-k1 = "
        "`swap_norm_kernel`, block-k1 = `swap_block_kernel`, conv-k1 = both kernel swaps. CLADE's "
        "norm has no conv, so its only kernel rows change the residual convs. mIoU / Acc in %, "
        "ICV-one = mean per-image per-class colour std (0..255). Models: `--checkpoint "
        "MODEL:SETTING=PATH` or short runs on the dataset (docs/switches.md).")
    return write_table(ctx, NAME, pd.DataFrame(table),
                       "Table 1: padding and conv-k1, retrained and by surgery", notes)
