"""Table 5: variants of VA-SPADE / VA-CLADE - one-channel position code (``position_channels=
'one'``), plus (``noise_combine='plus'``), rand (``noise='random'``), absolute and relative
position codes - as overrides of the presets. Params at Cityscapes: docs/facts.md section 1
(VA-SPADE 83.34 / 83.31 / 96.78 / - / 81.25 / 81.25 M). 'rand' has no per-class noise tables:
the suite drops them (82.56 M), the official code keeps them unused (the paper's 83.34 M).
"""
from __future__ import annotations

from .common import Context
from .table4 import evaluate

NAME = "table5"
VARIANTS = {
    "base": ("VA (semantic noise + learnable position)", {}),
    "one-channel": ("position_channels=one", {"position_channels": "one"}),
    "plus": ("noise_combine=plus", {"noise_combine": "plus"}),
    "rand": ("noise=random", {"noise": "random"}),
    "absolute": ("position=absolute", {"position": ["absolute"]}),
    "relative": ("position=relative", {"position": ["relative"]}),
}
METRICS = ["FID-v", "mIoU", "Acc", "ICV-one"]


def run(ctx: Context, args) -> dict:
    return evaluate(ctx, args, NAME, VARIANTS, METRICS, "Table 5: variants",
                    "MODEL keys for --checkpoint: va-spade:base, va-spade:one-channel, "
                    "va-spade:plus, va-spade:rand, va-spade:absolute, va-spade:relative (same for "
                    "va-clade). mIoU / Acc in %; params / GMac of the generator at the paper "
                    "resolution. 'rand': the suite drops the unused per-class noise tables that "
                    "the official code keeps (paper 83.34 M).")
