"""``run_analysis.py complexity``: parameters and MACs per image of a model preset."""
from __future__ import annotations

import json

from ..complexity import complexity
from ..config import NOISE_KINDS, PADDINGS, POSITION_KINDS
from ..presets import DATASETS, MODELS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "complexity", help="parameters and MACs of a model's generator and discriminator",
        description="Parameters and multiply-accumulates per image of a model preset's generator "
                    "and discriminator at the dataset's resolution, counted as the SIS papers "
                    "count them (ptflops MACs of the registered module types).")
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--padding", choices=PADDINGS, help="override the generator's padding")
    p.add_argument("--noise", choices=NOISE_KINDS, help="override the norms' noise")
    p.add_argument("--position", nargs="+", choices=POSITION_KINDS + ("none",),
                   help="override the norms' position code(s); 'none' for no position code")
    p.add_argument("--kernel", type=int, choices=(1, 3),
                   help="override the norm convs' kernel (kernel_size; official --kernel_norm)")
    p.add_argument("--block-kernel", type=int, choices=(1, 3),
                   help="override the residual blocks' conv_0/conv_1 kernel (block_kernel_size; "
                        "official --kernel)")
    p.set_defaults(func=run)


def run(args) -> int:
    overrides = {}
    if args.padding is not None:
        overrides["padding"] = args.padding
    if args.noise is not None:
        overrides["noise"] = args.noise
    if args.position is not None:
        overrides["position"] = tuple(args.position)
    if args.kernel is not None:
        overrides["kernel_size"] = args.kernel
    if args.block_kernel is not None:
        overrides["block_kernel_size"] = args.block_kernel
    result = complexity(args.model, args.dataset, **overrides)
    if args.format == "json":
        print(json.dumps(result))
        return 0
    print(f"{args.model} on {args.dataset} ({result['height']}x{result['width']}), per image")
    print(f"{'':<15}{'params':>10}{'MACs':>14}")
    for part in ("generator", "discriminator"):
        print(f"{part:<15}{result[part + '_params'] / 1e6:>8.2f} M"
              f"{result[part + '_macs'] / 1e9:>9.2f} GMac")
    return 0
