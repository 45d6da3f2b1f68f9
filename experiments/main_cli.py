"""``run_analysis.py main`` (also the bare ``run_analysis.py``): the main analysis job.

Every model preset on the CPU-sized ``scenes`` preset, one- and two-class layouts, zero vs
reflect padding, 3x3 vs 1x1 norm convs (by surgery, the same weights), the feature recorder and
the variation metrics; see :mod:`analysis.main_job`. Then (unless ``--no-train``) the trained
study's headline (:mod:`experiments.study_main`): the full study's results when
``run_analysis.py study`` has run, else the reduced study (one seed, reused later by the full
one). Writes ``<out>/report.md`` with CSV files and the figures, and prints where they are.
"""
from __future__ import annotations

from pathlib import Path

from analysis.main_job import JobConfig, run_job
from analysis.report import REPO
from analysis.study import MODELS, TINY
from vasis.commands.argtypes import count
from vasis.errors import UserError

from .study import PROFILES
from .study_main import TrainedPart

QUICK_MODELS = ("spade", "clade", "va-clade")
_TINY_TEXT = ", ".join(f"{k} {v}" for k, v in TINY.items())


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "main", help="the main analysis job (the default without a subcommand)",
        description="Probe every model preset (untrained, fixed seed, BN calibrated) on the "
                    "scenes preset: one-/two-class layouts x zero/reflect padding x 3x3/1x1 norm "
                    "convs; then the trained study's headline (SPADE, VA-SPADE, CLADE, VA-CLADE "
                    "trained on the built-in scenes: its full results when `study` has run, else "
                    "one seed of it). Writes a report with tables and CSV files (--out) and "
                    "figures (--figures).")
    p.add_argument("--out", default=str(REPO / "outputs" / "main"),
                   help="folder for report.md and the CSV files (default: outputs/main)")
    p.add_argument("--figures", default=None,
                   help="folder for the figures (default: figures/ of the repository for the "
                        "full run, <out>/figures with --quick or --models)")
    p.add_argument("--models", default=None,
                   help=f"comma-separated subset of {','.join(MODELS)} (default: all)")
    p.add_argument("--samples", type=count(1), default=None,
                   help="generations per layout (default 4; --quick 2)")
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--quick", action="store_true",
                   help=f"a fast check: {','.join(QUICK_MODELS)} at tiny widths ({_TINY_TEXT}), "
                        f"2 samples; the study's quick profile")
    p.add_argument("--no-train", action="store_true",
                   help="skip the trained part (only the structural probes)")
    p.add_argument("--study-out", default=None,
                   help="the trained study's folder (default: outputs/study, where "
                        "`run_analysis.py study` writes; <out>/study with --quick or a custom "
                        "--out)")
    p.add_argument("--train-iters", type=int, default=None, metavar="N",
                   help=f"iterations of the reduced study's runs (default: the study's, "
                        f"{PROFILES['cpu'].scale.iters}; --quick {PROFILES['quick'].scale.iters}); "
                        f"runs are reused when complete and resumed when shorter")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    models = MODELS
    if getattr(args, "quick", False):
        models = QUICK_MODELS
    if getattr(args, "models", None):
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        unknown = [m for m in models if m not in MODELS]
        if unknown:
            raise UserError(f"unknown model(s) {', '.join(unknown)}; choose from "
                            f"{', '.join(MODELS)}")
    quick = getattr(args, "quick", False)
    samples = getattr(args, "samples", None) or (2 if quick else 4)
    out = Path(getattr(args, "out", REPO / "outputs" / "main"))
    figures = getattr(args, "figures", None)
    if figures is None:
        figures = REPO / "figures" if (models == MODELS and not quick) else out / "figures"
    iters = getattr(args, "train_iters", None)
    if iters is not None and iters < 1:
        raise UserError(f"--train-iters must be >= 1, got {iters}")
    trained = None
    if not getattr(args, "no_train", False):
        study_out = getattr(args, "study_out", None)
        if study_out is None:
            default_out = out == REPO / "outputs" / "main"
            study_out = REPO / "outputs" / "study" if default_out and not quick else out / "study"
        trained = TrainedPart(study_out, quick=quick, seed=getattr(args, "seed", 0), iters=iters)
        trained.check()  # before the probes run for a minute
    cfg = JobConfig(models=tuple(models), samples=samples, seed=getattr(args, "seed", 0),
                    overrides=dict(TINY) if quick else {}, out=out,
                    figures=Path(figures), progress=not getattr(args, "no_progress", False),
                    trained=trained)
    result = run_job(cfg)
    claims = result["claims"]
    print(f"main job done in {result['seconds']:.0f} s: {int(claims.holds.sum())}/{len(claims)} "
          f"claims hold")
    print(f"report:  {result['report']}")
    print(f"tables:  {', '.join(str(p) for p in result['csv'])}")
    print(f"figures: {', '.join(str(p) for p in result['figures'].values())}")
    return 0

