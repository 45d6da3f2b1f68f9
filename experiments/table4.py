"""Table 4: the ablation of semantic noise and the learnable position code on VA-SPADE and
VA-CLADE (neither / noise only / position only / both), built by overrides of the presets (all
with reflect padding). Quality on the evaluation data; params and GMac at Cityscapes 256x512
(the paper's Table 4; docs/facts.md section 1: VA-SPADE 93.05 / 81.22 / 95.21 / 83.34 M).
"""
from __future__ import annotations

from .common import Context, select, wide, write_table

NAME = "table4"
BASES = ("va-spade", "va-clade")
VARIANTS = {  # name: (semantic noise, position code, overrides)
    "neither": ("no", "no", {"noise": "none", "position": []}),
    "noise": ("yes", "no", {"position": []}),
    "position": ("no", "yes", {"noise": "none"}),
    "both": ("yes", "yes", {}),
}
METRICS = ["FID-v", "mIoU", "Acc", "ICV-one"]
COMPLEXITY = ["G params (M)", "G GMac"]


def evaluate(ctx: Context, args, name: str, variants: dict, metrics, title: str, notes: str):
    todo = select(rows_of(variants, ctx.quick and not args.models),
                  args.models, key=lambda r: f"{r[0]}:{r[1]}")
    paper = args.paper_dataset[0] if args.paper_dataset else "cityscapes"
    for base, v in todo:
        key = f"{base}:{v}"
        ov = variants[v][-1]
        ctx.store.compute(name, key, f"eval:{ctx.dataset}", metrics,
                          lambda k=key, b=base, o=ov: ctx.quality(ctx.generator(k, b, o), metrics))
        ctx.store.compute(name, key, f"complexity:{paper}", COMPLEXITY,
                          lambda b=base, o=ov: ctx.complexity(b, paper, _tuple(o)))
    table = wide(ctx.store, name, [(f"{b}:{v}", f"eval:{ctx.dataset}") for b, v in todo], metrics)
    for c in COMPLEXITY:
        table[f"{paper} {c}"] = [ctx.store.get(name, f"{b}:{v}", f"complexity:{paper}", c)
                                 for b, v in todo]
    table = table.drop(columns="setting")
    extra = {k: [variants[v][i] for _, v in todo] for i, k in enumerate(variants_columns(variants))}
    for pos, (k, vals) in enumerate(extra.items()):
        table.insert(1 + pos, k, vals)
    return write_table(ctx, name, table, title, notes)


def rows_of(variants: dict, quick: bool):
    bases = BASES[:1] if quick else BASES
    return [(b, v) for b in bases for v in variants]


def variants_columns(variants: dict):
    n = len(next(iter(variants.values()))) - 1
    return ["semantic noise", "position code"][:n] if n == 2 else ["variant"][:n]


def _tuple(overrides: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}


def run(ctx: Context, args) -> dict:
    return evaluate(ctx, args, NAME, VARIANTS, METRICS, "Table 4: semantic noise / position code",
                    "Rows are presets with overrides (MODEL keys for --checkpoint: "
                    "va-spade:neither, va-spade:noise, va-spade:position, va-spade:both, same for "
                    "va-clade). mIoU / Acc in %; params / GMac of the generator at the paper "
                    "resolution.")
