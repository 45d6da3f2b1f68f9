"""``run_analysis.py classes``: list a dataset's class ids and names."""
from __future__ import annotations

import json

from ..labels import LABEL_SPACES, label_space


def register(subparsers) -> None:
    p = subparsers.add_parser("classes", help="list the class ids and names of a dataset",
                              description="List the class ids and names of a dataset's label space.")
    p.add_argument("--dataset", required=True, choices=sorted(LABEL_SPACES))
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args) -> int:
    space = label_space(args.dataset)
    if args.format == "json":
        print(json.dumps({str(i): name for i, name in enumerate(space.classes)}))
    else:
        for i, name in enumerate(space.classes):
            print(f"{i:4d}  {name}")
    return 0
