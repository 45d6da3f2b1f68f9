"""``run_analysis.py variation``: the VASIS intra-class variation statistics of an image folder.

Prints ``one_color``, ``one_light``, ``all_color``, ``all_light`` (see
:func:`vasis.metrics.intra_class.intra_class_variation` and ``docs/metrics.md``), computed exactly as the
official VASIS evaluation script (``--official``) or corrected (default).
"""
from __future__ import annotations

import json

from vasis.labels import label_space
from vasis.metrics.intra_class import FIELDS, OFFICIAL_DATASETS, intra_class_variation_dirs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "variation", help="intra-class variation (one/all color/light) of generated images",
        description="Intra-class variation of the images in --images against the label maps in "
                    "--labels (label of x.jpg is x.png; Cityscapes *leftImg8bit* -> "
                    "*gtFine_labelIds*). Default: corrected statistics (mean over present "
                    "classes, one std, 0..255 scale); --dataset sets the label space: ids "
                    "outside its classes are refused, its don't-care 255 (COCO-Stuff) ignored. --official: "
                    "exactly the VASIS evaluation script, quirks included (fails on label maps "
                    "with don't-care 255, e.g. COCO-Stuff; images must already have the "
                    "evaluation size; JPEGs on a 0..65025 scale).")
    p.add_argument("--images", required=True, help="folder of (generated) RGB images")
    p.add_argument("--labels", required=True, help="folder of label maps (PNG ids)")
    p.add_argument("--dataset", required=True, choices=sorted(OFFICIAL_DATASETS))
    p.add_argument("--official", action="store_true",
                   help="reproduce the official VASIS computation exactly")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args) -> int:
    result = intra_class_variation_dirs(args.images, args.labels, args.dataset,
                                        official=args.official)
    values = result.as_dict()
    if args.format == "json":
        print(json.dumps(values))
    else:
        mode = "official" if result.official else "corrected"
        nc = label_space(args.dataset).label_nc
        present = int((result.per_class["images"] > 0).sum())
        print(f"# intra-class variation ({mode}, {result.n_images} images, {args.dataset}: "
              f"{present} of its {nc} classes present)")
        for key in FIELDS:
            print(f"{key:10s} {values[key]:.3f}")
    return 0
