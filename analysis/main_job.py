"""The main analysis job (``python run_analysis.py`` == ``run_analysis.py main``).

Every model preset is built once on the CPU-sized ``scenes`` preset (fixed seed, untrained),
its BatchNorm statistics are settled with :func:`analysis.recorder.calibrate` on a few procedural
scenes, and four copies are made by model surgery - zero vs reflect padding
(:func:`analysis.surgery.swap_padding`) x 3x3 vs 1x1 norm convs
(:func:`analysis.surgery.swap_norm_kernel`, ``mode='sum'``) - so every setting of a model runs with
the *same* weights and BN statistics. Two more copies per model swap the residual blocks' 3x3
convs for 1x1 (:func:`analysis.surgery.swap_block_kernel`, ``mode='sum'``, zero and reflect
padding) for the kernel-effect table. Each copy generates a one-class and a two-class layout
``samples`` times; the feature recorder gives the per-block statistics, and the variation metrics
of ``docs/metrics.md`` (boundary-distance profiles, intra/inter-class variation, pattern repetition)
are computed on the kept features and generated images.

With ``JobConfig.trained`` set (the CLI default; ``--no-train`` clears it) the job then runs a
trained part after the probes - the command passes the trained study's headline
(:mod:`experiments.study_main`) - and puts its section into the report.

Outputs: ``<out>/report.md`` (tables, the structural claims as measured), CSV files
(``block_stats.csv``, ``profiles.csv``, ``variation.csv``, ``claims.csv``) and figures in
``<figures>`` (Figure-2-style per-block std, layouts, generated images, boundary profiles).
All files are written atomically (temporary file + ``os.replace``).

This module only orchestrates and writes the report: the building blocks are
:mod:`analysis.study` (shared with ``run_analysis.py probe`` and the experiments), the tables
and claims :mod:`analysis.structure`, the figures :mod:`analysis.figures`, the table writer
:mod:`analysis.report`. What each finding of the report says is chosen from the measured
numbers; the static explanations are in ``docs/main-job.md``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
from tqdm.auto import tqdm

import vasis
from vasis.atomic import atomic_write_text
from vasis.errors import UserError

from . import layouts
from .cpu import fast_cpu
from .figures import all_figures
from .recorder import calibrate
from .report import REPO, link, md_table, relative
from .structure import (block_summary, check_claims, claim_findings, kernel_effect,
                        kernel_findings, kernel_table, near_border, profile_rows, repetition,
                        variation_row)
from .study import (BORDER_D, FLAT, MODELS, NONZERO, SERIES, SETTINGS, calibration_labels,
                    default_classes, make_layout, record, settings_of)
from .surgery import swap_block_kernel

__all__ = ["JobConfig", "run_job", "render_report"]


def atomic_write_csv(path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False))



# ----------------------------------------------------------------------------- the job
@dataclass
class JobConfig:
    models: tuple[str, ...] = MODELS
    dataset: str = "scenes"
    samples: int = 4
    seed: int = 0
    calib_maps: int = 4
    calib_steps: int = 2
    overrides: dict = field(default_factory=dict)   # e.g. ngf/hidden for quick runs
    out: Path = REPO / "outputs" / "main"
    figures: Path = REPO / "figures"
    progress: bool = True
    # The trained part, run after the probes: called with (out, figures folder, progress), it
    # returns {'lines': report section, 'figures': {key: path}, 'files': [paths],
    # 'summary': one line}. None: skipped (``--no-train``). Its optional ``start()`` is called
    # before the probes (training in worker processes meanwhile), ``stop()`` if they fail.
    trained: Callable[[Path, Path, bool], dict] | None = None


def run_job(cfg: JobConfig) -> dict:
    """Run the main job; returns {'report': path, 'figures': {key: path}, 'csv': [paths],
    'seconds': t, 'claims': DataFrame}."""
    with fast_cpu():
        return _run_job(cfg)


def _run_job(cfg: JobConfig) -> dict:
    t0 = time.time()
    unknown = [m for m in cfg.models if m not in MODELS]
    if unknown:
        raise UserError(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    if cfg.samples < 2:
        raise UserError(f"samples must be >= 2 (sample std), got {cfg.samples}")
    # the probes run on one thread (fast_cpu): the trained part's workers take the other cores
    getattr(cfg.trained, "start", lambda: None)()
    try:
        probes = _probes(cfg)
    except BaseException:
        getattr(cfg.trained, "stop", lambda: None)()
        raise
    figs = probes["figures"]
    probe_seconds = time.time() - t0
    trained = None
    if cfg.trained is not None:
        trained = cfg.trained(Path(cfg.out), Path(cfg.figures), cfg.progress)
        figs.update(trained["figures"])
    seconds = time.time() - t0
    out = Path(cfg.out)
    report = render_report(cfg, probes["summary"], probes["profiles"], probes["variation"],
                           probes["kernel"], probes["claims"], figs, out, seconds,
                           trained=trained, probe_seconds=probe_seconds)
    atomic_write_text(out / "report.md", report)
    return {"report": out / "report.md", "figures": figs,
            "csv": probes["csv"] + list((trained or {}).get("files", [])),
            "seconds": seconds, "claims": probes["claims"], "trained": trained}


def _probes(cfg: JobConfig) -> dict:
    """The structural probes of every model: their tables (CSV files written) and figures."""
    one_cls, two_cls = default_classes(cfg.dataset, "one-class"), default_classes(cfg.dataset, "two-class")

    stats, profiles, variation, layouts_by_name, images = [], [], [], {}, {}
    kernel_rows = []
    bar = tqdm(total=len(cfg.models) * len(SETTINGS), desc="main job", unit="setting",
                disable=not cfg.progress)
    for model in cfg.models:
        torch.manual_seed(cfg.seed)
        gen = vasis.build_generator(model, cfg.dataset, **cfg.overrides)
        size = (gen.cfg.height, gen.cfg.width)
        gen = calibrate(gen, calibration_labels(cfg.dataset, size, cfg.calib_maps, cfg.seed),
                        steps=cfg.calib_steps)
        lays = {"one-class": make_layout("one-class", one_cls, cfg.dataset, gen),
                "two-class": make_layout("two-class", two_cls, cfg.dataset, gen)}
        layouts_by_name.update(lays)
        series = layouts.boundary_series(*two_cls, SERIES, orientation="vertical", dataset=gen)
        layouts_by_name["series"] = series
        sky = layouts.resolve_class(two_cls[0], gen)
        kept, copies = {}, {}
        for (pad, k), g in settings_of(gen):
            copies[(pad, k)] = g
            bar.set_postfix_str(f"{model} {pad} k{k}")
            base = dict(model=model, padding=pad, kernel=k)
            for lname, lab in lays.items():
                rec = record(g, lab, cfg.samples, cfg.seed)
                df = rec.stats
                for col, val in (("samples", cfg.samples), ("kernel", k), ("padding", pad),
                                 ("layout", lname), ("dataset", cfg.dataset), ("model", model)):
                    df.insert(0, col, val)
                stats.append(df)
                images[(model, pad, k, lname)] = rec.images[0]
                kept[(pad, k, lname)] = rec
                if lname == "one-class":
                    profiles += profile_rows(rec, lname, True, base)
                else:
                    profiles += profile_rows(rec, lname, False, base)
                    row = variation_row(rec, lab, base)
                    row["repetition"] = repetition(g, series, sky, cfg.seed)
                    variation.append(row)
            bar.update(1)
        for pad in ("zero", "reflect"):
            # The residual-conv swap of the 3x3-norm copy: same weights, BN statistics, noise.
            block1 = swap_block_kernel(copies[(pad, 3)], 1)
            for lname, lab in lays.items():
                base = dict(model=model, padding=pad, layout=lname)
                kernel_rows += kernel_effect(kept[(pad, 3, lname)], kept[(pad, 1, lname)],
                                             dict(base, swap="norm"))
                kernel_rows += kernel_effect(kept[(pad, 3, lname)],
                                             record(block1, lab, cfg.samples, cfg.seed),
                                             dict(base, swap="block"))
    bar.close()
    kernel = pd.DataFrame(kernel_rows)

    stats = pd.concat(stats, ignore_index=True)
    profiles = pd.DataFrame(profiles)
    variation = pd.DataFrame(variation)
    summary = block_summary(stats)
    claims = check_claims(summary, profiles, cfg.models)

    out, figdir = Path(cfg.out), Path(cfg.figures)
    csvs = {"block_stats.csv": stats, "block_summary.csv": summary, "profiles.csv": profiles,
            "variation.csv": variation, "kernel_effect.csv": kernel,
            "claims.csv": claims}
    for name, df in csvs.items():
        atomic_write_csv(out / name, df)
    figs = all_figures(summary, profiles, layouts_by_name, images, cfg, figdir)
    return {"summary": summary, "profiles": profiles, "variation": variation, "kernel": kernel,
            "claims": claims, "figures": figs, "csv": [out / n for n in csvs]}


# ----------------------------------------------------------------------------- report
def _block_table(summary: pd.DataFrame, layout: str, value: str) -> pd.DataFrame:
    s = summary[summary.layout == layout].copy()
    s["setting"] = s.padding + " k" + s.kernel.astype(str)
    t = s.pivot_table(index=["model", "setting"], columns="block_index", values=value, sort=False)
    t.columns = ["fc" if c == 0 else f"b{c}" for c in t.columns]
    return t.reset_index()


def render_report(cfg: JobConfig, summary, profiles, variation, kernel, claims, figs,
                  out: Path, seconds: float, trained: dict | None = None,
                  probe_seconds: float | None = None) -> str:
    """The report: settings and tables, and findings chosen from the measured numbers
    (:func:`analysis.structure.claim_findings`, :func:`analysis.structure.kernel_findings`,
    the trained part's own section); what does not depend on the
    run is in ``docs/main-job.md`` and linked."""
    rel = lambda p: relative(p, out)
    doc = link(REPO / "docs" / "main-job.md", out)
    ov = ", ".join(f"{k}={v}" for k, v in cfg.overrides.items()) or "none (the preset's widths)"
    n_ok = int(claims.holds.sum())
    lines = [
        "# Main analysis job: padding, norm kernel and class-level variation",
        "",
        f"Models: {', '.join(cfg.models)} on the `{cfg.dataset}` preset (128x128 unless "
        f"overridden; width overrides: {ov}). **The probed models are untrained** (built with "
        f"`torch.manual_seed({cfg.seed})`; BatchNorm settled by {cfg.calib_steps} train-mode "
        f"passes over {cfg.calib_maps} procedural scenes); four surgery copies per model "
        f"(padding zero/reflect x norm-conv kernel 3/1) share every weight, and two more swap "
        f"the residual convs for 1x1. The setup, what every number means and why the claims "
        f"are expected: [docs/main-job.md]({doc}).",
        "",
        f"Layouts: one-class = all `{default_classes(cfg.dataset, 'one-class')[0]}`; two-class "
        f"= `{'` above `'.join(default_classes(cfg.dataset, 'two-class'))}` (horizontal "
        f"boundary at half height); each generated {cfg.samples} times (seed {cfg.seed}). "
        f"Pattern repetition uses a vertical boundary at {', '.join(map(str, SERIES))} of the "
        f"width. Near the border = within {BORDER_D} feature pixel(s) of the image edge; flat = "
        f"spatial_std/rms below {FLAT:g}, clearly non-zero = above {NONZERO:g}.",
        "",
        f"Run time: {seconds:.0f} s"
        + (f" (probes {probe_seconds:.0f} s, trained part {seconds - probe_seconds:.0f} s)"
           if trained is not None and probe_seconds is not None else "")
        + f". Regenerate with `python run_analysis.py` "
        f"(see [figures/README.md]({link(REPO / 'figures' / 'README.md', out)})).",
        "",
        f"## The paper's structural claims, as measured ({n_ok}/{len(claims)} hold)",
        "",
        md_table(claims[["claim", "model", "measure", "value", "threshold", "holds"]], 3),
        "",
        "Measured:",
        "",
        *claim_findings(claims, summary, profiles),
        "",
        "## Per-block spatial std / rms, one-class layout (Figure 2)",
        "",
        f"![per-block std]({rel(figs['fig2'])})",
        "",
        md_table(_block_table(summary, "one-class", "rel_spatial")),
        "",
        "## Per-block spatial std / rms, two-class layout",
        "",
        md_table(_block_table(summary, "two-class", "rel_spatial")),
        "",
        "## Per-block std across samples / rms, one-class layout",
        "",
        f"![sample std]({rel(figs['sample'])})",
        "",
        md_table(_block_table(summary, "one-class", "rel_sample")),
        "",
        "## Where the zero-padding variation lives (one-class, zero padding, 3x3 norm convs)",
        "",
        f"![boundary profiles]({rel(figs['profiles'])})",
        "",
    ]
    nb = near_border(profiles)
    nb = nb[(nb.padding == "zero") & (nb.kernel == 3)].copy()
    nb["block_index"] = nb.groupby("model").cumcount()
    nb = nb[nb.block_index <= 3]
    lines += [
        f"Share of the spatial variation within {BORDER_D} feature pixel(s) of the image edge "
        "(`variance_within`), the share of the area there (`area_within`) and the edge ring's "
        "offset (`edge_shift`) for the first blocks (size = the block's resolution).",
        "",
        md_table(nb[["model", "block", "size", "variance_within", "area_within", "edge_shift"]]),
        "",
        "## 3x3 vs 1x1 convs: what the norm and the residual kernels change",
        "",
        f"Two surgery swaps of every model: the norms' convs (`swap_norm_kernel`) and the "
        f"residual blocks' conv_0/conv_1 (`swap_block_kernel`); `diff`, `near` and `area` and "
        f"what to expect: [docs/main-job.md]({doc}#the-kernel-swaps). Measured:",
        "",
        *kernel_findings(kernel),
        "",
        md_table(kernel_table(kernel)),
        "",
        "## Variation metrics of the generated images (two-class layout)",
        "",
        md_table(variation[["model", "padding", "kernel", "intra_std", "inter_std", "ratio",
                            "sample_std", "repetition"]]),
        "",
    ]
    if trained is not None:
        lines += trained["lines"]
    else:
        lines += ["## Trained models", "",
                  "Skipped (`--no-train`): the trained part shows the headline of the trained "
                  f"study ([docs/study.md]({link(REPO / 'docs' / 'study.md', out)})).",
                  ""]
    lines += [
        "## Figures",
        "",
        f"* layouts: ![layouts]({rel(figs['layouts'])})",
        f"* generated images (first sample of every model x setting x layout): "
        f"![images]({rel(figs['images'])})",
        "",
        "## Files",
        "",
        "* `block_stats.csv`: every recorder row (model, dataset, layout, padding, kernel, "
        "samples, block, kind, statistic, class, class_name, channel, value);",
        "* `block_summary.csv`: per block spatial_std, sample_std, rms, fig2_std, rel_spatial, "
        "rel_sample;",
        "* `profiles.csv`: `variation_profile` of every block (one-class: distance to the image "
        "edge; two-class: distance to the class boundary);",
        "* `variation.csv`: the image metrics above; `claims.csv`: the claims table;",
        "* `kernel_effect.csv`: per model, swap (norm / block), padding, layout and block: "
        "diff, near, area of the kernel table;",
    ]
    if trained is not None:
        lines += [f"* {trained['summary']}"]
    lines += [
        "",
    ]
    return "\n".join(lines)
