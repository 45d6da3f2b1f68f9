"""The trained study's tables, verdicts, figures and report, from its cells.

Every number is a mean over seeds with its 95% t-interval (:mod:`analysis.intervals`); every
verdict on a claim of the paper is chosen by comparing those intervals (rules in
docs/study.md), so a claim that does not hold at the study's budget is reported as failing.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from analysis.figures import (SOURCE_STYLE, colorize, image_grid, save_figure, source_label,
                              to_rgb)
from analysis.intervals import NONE, Interval, compare, interval, is_number
from analysis.report import REPO, link, md_table, relative
from vasis.atomic import atomic_write_text
from vasis.labels import label_space
from vasis.train.generate import EncodedBatches, load_generator, sample_images

from . import fig1_fig3, table1
from .study import BASELINE_OF, MIOU_SHARE, NAME, Profile

HEADLINE = ["mIoU", "Acc", "FID-v", "precision", "recall", "density", "coverage", "intra_std",
            "sample_std", "near_fraction", "area_fraction", "near_excess", "repetition",
            "texture_repetition", "inter_std", "ICV-one"]
TABLE1 = ["FID-v", "mIoU", "Acc", "intra_std", "ICV-one"]
MIOU_TOLERANCE = 5.0   # one seed: mIoU this many points lower counts as worse
FID_TOLERANCE = 0.10   # one seed: FID this share higher counts as worse
DIGITS = {"mIoU": 1, "Acc": 1, "FID-v": 1, "ICV-one": 2}   # decimals shown; others 3
CURVES = (("mIoU", "mIoU (%)"), ("intra_std", "within-image intra-class std"),
          ("near_excess", "near-boundary share - area share"),
          ("sample_std", "std across samples, same layout"))


class Results:
    """The cells of a study, read as intervals over seeds."""

    def __init__(self, cells: pd.DataFrame, prof: Profile):
        self.cells, self.prof = cells, prof
        self.final = prof.scale.iters
        self._groups = {k: g.value.tolist() for k, g in
                        cells.groupby(["model", "setting", "step", "metric"], dropna=False)}

    def get(self, model: str, setting: str, metric: str, step=None) -> Interval:
        """The interval over seeds of one cell. The data's cells are the same in every seed
        (the same maps and images) but the painted repetition reference, which draws with the
        seed: the first seed's value, no interval."""
        if model == "data":
            for (m, _, _, met), vals in self._groups.items():
                if m == "data" and met == metric:
                    return interval(vals[:1])
            return NONE
        step = self.final if step is None else step
        vals = self._groups.get((model, setting, float(step), metric))
        return interval(vals) if vals is not None else NONE

    def note(self, model: str, setting: str, metric: str) -> str | None:
        """A cell's text when it is not a number (e.g. 'n/a (weights missing: ...)')."""
        if model == "data":
            setting = "real"
        c = self.cells
        sub = c[(c.model == model) & (c.setting == setting) & (c.metric == metric)]
        return next((str(v) for v in sub.value if not is_number(v)), None)

    def steps(self, model: str, setting: str = "original") -> list[float]:
        sub = self.cells[(self.cells.model == model) & (self.cells.setting == setting)]
        return sorted(s for s in sub.step.dropna().unique())

    def seeds(self, model: str, setting: str = "original") -> int:
        sub = self.cells[(self.cells.model == model) & (self.cells.setting == setting)
                         & (self.cells.step == self.final)]
        return int(sub.seed.nunique())

    def classes(self) -> list[str]:
        names = [m.split(":", 1)[1] for m in self.cells.metric.unique()
                 if str(m).startswith("intra_std:")]
        return list(dict.fromkeys(names))


# ----------------------------------------------------------------------------- tables
def headline_table(res: Results) -> pd.DataFrame:
    rows = []
    for model in ("data", *res.prof.models):
        r = {"source": source_label(model), "seeds": res.seeds(model) if model != "data" else "-"}
        for m in HEADLINE:
            iv = res.get(model, "original", m)
            r[m] = iv.text(DIGITS.get(m, 3)) if iv.n else (res.note(model, "original", m) or "-")
        rows.append(r)
    return pd.DataFrame(rows)


def class_table(res: Results) -> pd.DataFrame:
    rows = []
    for c in res.classes():
        r = {"class": c}
        for model in ("data", *res.prof.models):
            r[f"intra {source_label(model)}"] = res.get(model, "original", f"intra_std:{c}").text()
        for model in ("data", *res.prof.models):
            iv = res.get(model, "original", f"sample_std:{c}")
            r[f"sample {source_label(model)}"] = iv.text(4)
        rows.append(r)
    return pd.DataFrame(rows)


def table1_rows(res: Results) -> list[tuple[str, str, str]]:
    """(model, stored setting, reading) of Table 1."""
    rows = []
    for m in res.prof.table1:
        rows.append((m, "original", "-"))
        rows += [(m, f"retrained:{s}", "retrained") for s in table1.RETRAINED[m]]
        rows += [(m, f"surgery:{s}", "surgery") for s in table1.SURGERY_ROWS[m]]
    return rows


def table1_table(res: Results) -> pd.DataFrame:
    out = []
    for model, setting, reading in table1_rows(res):
        r = {"model": source_label(model), "reading": reading,
             "setting": setting.split(":")[-1]}
        for m in TABLE1:
            iv = res.get(model, setting, m)
            r[m] = iv.text(DIGITS.get(m, 3)) if iv.n else (res.note(model, setting, m) or "-")
        out.append(r)
    return pd.DataFrame(out)


def summary_frame(res: Results) -> pd.DataFrame:
    """Tidy intervals of every (model, setting, step, metric): the study's CSV."""
    rows = []
    for (model, setting, step, metric), vals in res._groups.items():
        iv = interval(vals)
        rows.append(dict(model=model, setting=setting, step=step, metric=metric, mean=iv.mean,
                         lo=iv.lo, hi=iv.hi, n=iv.n))
    return pd.DataFrame(rows, columns=["model", "setting", "step", "metric", "mean", "lo", "hi",
                                       "n"]).sort_values(["model", "setting", "step", "metric"])


# ----------------------------------------------------------------------------- verdicts
def _miou_gate(res: Results) -> float:
    real = res.get("data", "real", "mIoU")
    return MIOU_SHARE * real.mean if real.n else float("nan")


def _side(a: Interval, b) -> str:
    """:func:`compare`; with one seed the side of the means, marked ``(one seed)``."""
    c = compare(a, b)
    if c != "one seed":
        return c
    bm = b.mean if isinstance(b, Interval) else float(b)
    return ("above" if a.mean > bm else "below" if a.mean < bm else "overlap") + " (one seed)"


def _verdict(ok: bool, *sides: str) -> str:
    """``holds`` / ``does not hold``, marked ``(one seed)`` when a comparison had one seed;
    ``missing`` when every comparison lacks its numbers (a missing FID alone leaves mIoU)."""
    if all(x == "missing" for x in sides):
        return "missing"
    return ("holds" if ok else "does not hold") + (
        " (one seed)" if any(x.endswith("(one seed)") for x in sides) else "")


def _worse(mi: Interval, base_m: Interval, fi: Interval, base_f: Interval) -> tuple[bool, str, str]:
    """Whether mIoU is clearly lower or FID clearly higher; with one seed: by more than the
    tolerances (:data:`MIOU_TOLERANCE` points, :data:`FID_TOLERANCE` of the FID)."""
    drop, rise = _side(mi, base_m), _side(fi, base_f)
    worse_m = drop.startswith("below") and (
        drop == "below" or base_m.mean - mi.mean > MIOU_TOLERANCE)
    worse_f = rise.startswith("above") and (
        rise == "above" or fi.mean > (1 + FID_TOLERANCE) * base_f.mean)
    return worse_m or worse_f, drop, rise


def _evidence(mi, base_m, drop, fi, base_f, rise, against: str = "") -> str:
    return (f"mIoU {mi.text(1)} vs {against}{base_m.text(1)} ({drop}); "
            f"FID-v {fi.text(1)} vs {base_f.text(1)} ({rise})")


def verdicts(res: Results) -> pd.DataFrame:
    """One row per (claim, subject): the verdict (rules in docs/study.md) and its numbers."""
    rows = []
    add = lambda claim, subject, verdict, text: rows.append(
        dict(claim=claim, subject=subject, verdict=verdict, evidence=text))
    gate = _miou_gate(res)
    real = res.get("data", "real", "mIoU")
    for m in res.prof.models:
        iv = res.get(m, "original", "mIoU")
        one = "" if iv.known else " (one seed)"
        add("reproduces the classes", source_label(m),
            ("holds" if iv.mean >= gate else "does not hold") + one if iv.n else "missing",
            f"mIoU {iv.text(1)} vs {MIOU_SHARE:.0%} of the real images' {real.mean:.1f} = "
            f"{gate:.1f}")
    for m in res.prof.table1:
        base_m, base_f = res.get(m, "original", "mIoU"), res.get(m, "original", "FID-v")
        shown = {r[1] for r in table1_rows(res) if r[0] == m}
        for s in ("retrained:conv-k1", "surgery:conv-k1", "surgery:block-k1"):
            if s not in shown:
                continue
            mi, fi = res.get(m, s, "mIoU"), res.get(m, s, "FID-v")
            worse, drop, rise = _worse(mi, base_m, fi, base_f)
            wrecked = drop.startswith("below") and mi.mean < gate
            verdict = _verdict(wrecked, drop, rise)
            if not wrecked and worse and verdict != "missing":
                verdict = verdict.replace("does not hold", "partly")
            add("conv-k1 wrecks the model", f"{source_label(m)} {s}", verdict,
                _evidence(mi, base_m, drop, fi, base_f, rise, "original "))
        for s in ("retrained:reflect", "surgery:reflect"):
            mi, fi = res.get(m, s, "mIoU"), res.get(m, s, "FID-v")
            worse, drop, rise = _worse(mi, base_m, fi, base_f)
            add("reflect padding leaves quality about the same", f"{source_label(m)} {s}",
                _verdict(not worse, drop, rise),
                _evidence(mi, base_m, drop, fi, base_f, rise, "original "))
    data_excess = res.get("data", "real", "near_excess").mean
    data_rep = res.get("data", "real", "texture_repetition").mean
    for va, base in BASELINE_OF.items():
        if va not in res.prof.models or base not in res.prof.models:
            continue
        ex = res.get(base, "original", "near_excess")
        c = _side(ex, data_excess)
        add("baseline variation sits at class boundaries", source_label(base),
            _verdict(c.startswith("above"), c),
            f"near-boundary share minus area share {ex} vs the data's {data_excess:+.3f} ({c})")
        rep = res.get(base, "original", "texture_repetition")
        c = _side(rep, data_rep)
        add("baseline pattern repeats with the boundary", source_label(base),
            _verdict(c.startswith("above"), c),
            f"texture repetition (mean NCC of the high-passed strips beside the boundary at "
            f"{len(fig1_fig3.POSITIONS)} positions) {rep} vs the data's {data_rep:.3f} ({c})")
        pair = f"{source_label(va)} vs {source_label(base)}"
        for metric, claim, good in (
                ("intra_std", "VA raises within-image intra-class variation", "above"),
                ("sample_std", "VA varies across samples of a layout", "above"),
                ("texture_repetition", "VA breaks the repetition", "below"),
                ("near_excess", "VA moves variation away from boundaries", "below")):
            a, b = res.get(va, "original", metric), res.get(base, "original", metric)
            c = _side(a, b)
            add(claim, pair, _verdict(c.startswith(good), c), f"{metric} {a} vs {b} ({c})")
        mi, fi = res.get(va, "original", "mIoU"), res.get(va, "original", "FID-v")
        base_m, base_f = res.get(base, "original", "mIoU"), res.get(base, "original", "FID-v")
        worse, drop, rise = _worse(mi, base_m, fi, base_f)
        add("VA does not hurt FID / mIoU", pair, _verdict(not worse, drop, rise),
            _evidence(mi, base_m, drop, fi, base_f, rise))
    return pd.DataFrame(rows, columns=["claim", "subject", "verdict", "evidence"])


def findings(v: pd.DataFrame) -> list[str]:
    """One sentence per claim, chosen by its verdicts: the same for all its subjects, or how
    many hold and which do not."""
    out = []
    for claim, g in v.groupby("claim", sort=False):
        n, held = len(g), int(g.verdict.str.startswith("holds").sum())
        kinds = list(dict.fromkeys(g.verdict))
        if len(kinds) == 1:
            head = (f"**{claim}: {kinds[0]}** for all {n} ({', '.join(g.subject)})." if n > 1
                    else f"**{claim}: {kinds[0]}** ({g.subject.iloc[0]}).")
        else:
            others = ", ".join(f"{s} ({vd})" for s, vd in zip(g.subject, g.verdict)
                               if not vd.startswith("holds"))
            head = f"**{claim}: holds for {held} of {n}** (not for {others})."
        evidence = "; ".join(f"{s}: {e}" for s, e in zip(g.subject, g.evidence))
        out.append(f"* {head} {evidence}.")
    return out


# ----------------------------------------------------------------------------- figures
def curves_figure(res: Results):
    fig, axes = plt.subplots(1, len(CURVES), figsize=(3.1 * len(CURVES), 2.6))
    for ax, (metric, title) in zip(axes, CURVES):
        for m in res.prof.models:
            steps = res.steps(m)
            ivs = [res.get(m, "original", metric, s) for s in steps]
            pts = [(s, iv) for s, iv in zip(steps, ivs) if iv.n]
            if not pts:
                continue
            x = [s for s, _ in pts]
            st = SOURCE_STYLE.get(m, dict(label=m))
            ax.plot(x, [iv.mean for _, iv in pts], marker="o", ms=3, **st)
            if all(iv.known for _, iv in pts):
                ax.fill_between(x, [iv.lo for _, iv in pts], [iv.hi for _, iv in pts],
                                color=st.get("color"), alpha=0.15, lw=0)
        d = res.get("data", "real", metric)
        if d.n:
            ref = _miou_gate(res) if metric == "mIoU" else d.mean
            ax.axhline(ref, color="0.3", ls="--", lw=1,
                       label=f"{MIOU_SHARE:.0%} of real" if metric == "mIoU" else "data")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("iteration", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.suptitle("Learning curves (mean over seeds, band = 95% interval)", fontsize=9)
    fig.tight_layout()
    return fig


def profile_figure(res: Results):
    ds = sorted(int(m.split(":")[1]) for m in res.cells.metric.unique()
                if str(m).startswith("profile:"))
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for m in ("data", *res.prof.models):
        ivs = [res.get(m, "original", f"profile:{d}") for d in ds]
        st = SOURCE_STYLE.get(m, dict(label=m))
        ax.plot(ds, [iv.mean for iv in ivs], marker="o", ms=3, **st)
        if m != "data" and all(iv.known for iv in ivs):
            ax.fill_between(ds, [iv.lo for iv in ivs], [iv.hi for iv in ivs],
                            color=st.get("color"), alpha=0.15, lw=0)
    area = [res.get("data", "real", f"profile_area:{d}").mean for d in ds]
    ax.plot(ds, area, color="k", ls=":", label="share of the area")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("distance d to a class boundary or the border (px)", fontsize=7)
    ax.set_ylabel("share of the class's variation within d", fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    ax.set_title("Where the intra-class variation is (trained, final step)", fontsize=8)
    fig.tight_layout()
    return fig


def _generators(prof: Profile, ctx) -> dict:
    return {m: load_generator(ctx.run_dir(m, {}), ctx.device)[0] for m in prof.models
            if ctx.run_dir(m, {}).exists()}


@torch.no_grad()
def samples_figure(prof: Profile, ctx, gens: dict, layouts: int = 2):
    size = ctx.train_size()
    labels, inst = ctx.eval_data(size)
    real = ctx.real_images(size)
    nc = label_space(ctx.dataset).label_nc
    S = prof.scale.samples
    cells, names = [], []
    for i in range(min(layouts, len(labels))):
        for m, g in gens.items():
            imgs = sample_images(g, EncodedBatches(g, labels[i:i + 1], None if inst is None else
                                                   inst[i:i + 1], 1, ctx.device), S, ctx.seed)
            cells.append([colorize(labels[i], nc), to_rgb(real[i])]
                         + [to_rgb(imgs[k, 0].float().cpu()) for k in range(S)])
            names.append(f"map {i}: {source_label(m)}")
    return image_grid(cells, names, ["layout", "real"] + [f"sample {k}" for k in range(S)],
                      "The same layout, several samples (seed 0, final step)")


@torch.no_grad()
def repetition_figure(ctx, gens: dict):
    g0 = next(iter(gens.values()))
    series, _ = fig1_fig3.layouts(g0, ctx.dataset)
    nc = label_space(ctx.dataset).label_nc
    cols = [colorize(series, nc)] + [to_rgb(ctx.generate(g, series, seed=ctx.seed))
                                     for g in gens.values()]
    cells = [[c[r] for c in cols] for r in range(len(series))]
    rows = [f"boundary at {p:.2f}" for p in fig1_fig3.POSITIONS]
    return image_grid(cells, rows, ["layout"] + [source_label(m) for m in gens],
                      "The same boundary at several positions (seed 0, final step)")


def figures(res: Results, prof: Profile, ctx, figdir: Path) -> dict:
    figdir = Path(figdir)
    out = {"study_curves": save_figure(curves_figure(res), figdir / "study_curves.png"),
           "study_profile": save_figure(profile_figure(res), figdir / "study_profile.png")}
    gens = _generators(prof, ctx)
    if gens:
        out["study_samples"] = save_figure(samples_figure(prof, ctx, gens),
                                           figdir / "study_samples.png", colors=128)
        if ctx.dataset == "scenes":
            out["study_repetition"] = save_figure(repetition_figure(ctx, gens),
                                                  figdir / "study_repetition.png", colors=128)
    return out


# ----------------------------------------------------------------------------- report
def write_report(prof: Profile, out: Path, cells: pd.DataFrame, ctxs, figdir=None) -> dict:
    """``OUT/study.md``, ``OUT/study_cells.csv`` (every cell per seed), ``OUT/study_summary.csv``
    (intervals), ``OUT/study_verdicts.csv`` and the figures (``figdir``, default ``OUT``)."""
    out = Path(out)
    figdir = Path(figdir) if figdir is not None else out
    res = Results(cells, prof)
    v = verdicts(res)
    paths = {"cells": out / "study_cells.csv", "summary": out / "study_summary.csv",
             "verdicts": out / "study_verdicts.csv", "markdown": out / "study.md"}
    atomic_write_text(paths["cells"], cells.to_csv(index=False))
    atomic_write_text(paths["summary"], summary_frame(res).to_csv(index=False))
    atomic_write_text(paths["verdicts"], v.to_csv(index=False))
    figs = figures(res, prof, ctxs[0], figdir)
    paths.update(figs)
    atomic_write_text(paths["markdown"], "\n".join(report_lines(res, v, ctxs[0], figs, out)) + "\n")
    return paths


def report_lines(res: Results, v: pd.DataFrame, ctx, figs: dict, out: Path) -> list[str]:
    prof, s = res.prof, res.prof.scale
    doc = link(REPO / "docs" / "study.md", out)
    gen_ov = ", ".join(f"{k}={val}" for k, val in s.generator.items()) or "the preset's widths"
    seeds = ", ".join(str(x) for x in prof.seeds)
    lines = [
        f"# The trained study ({prof.name} profile)",
        "",
        f"{', '.join(source_label(m) for m in prof.models)} trained on `{ctx.dataset}` at "
        f"{s.size[0]}x{s.size[1]} ({gen_ov}; {s.n_train or 'all'} training images; batch "
        f"{s.batch_size}) for {s.iters} iterations, seeds {seeds}; checkpoints every "
        f"{s.ckpt_every or s.iters} iterations give the learning curves. Evaluation: the first "
        f"{s.eval_images} validation label maps, {s.samples} samples each, against the real "
        f"images of the same maps. Values: mean [95% interval] over seeds. How each number and "
        f"verdict is made: [docs/study.md]({doc}).",
        "",
        "## Verdicts on the paper's claims",
        "",
        *findings(v),
        "",
        "## At the end of training",
        "",
        md_table(headline_table(res)),
        "",
        f"`intra_std`: within-image std of a class's pixels, `sample_std`: std across samples of "
        f"the same layout, `near_fraction` / `area_fraction`: share of the class's variation / "
        f"area within {prof.distance} px of a class boundary or the border (`near_excess` = the "
        f"difference), `repetition`: mean NCC of the 8 px strips beside the same boundary at "
        f"{len(fig1_fig3.POSITIONS)} positions (`texture_repetition`: the same after removing "
        f"each strip's 5 px local mean; the data's value: the design's textures painted on those "
        f"layouts); all in [0, 1] intensity units, means over "
        f"classes. mIoU / Acc in %, ICV-one in 0..255. The data row's FID-v and PRDC: as many "
        f"other real validation images against the same reference (the floor at this N); its "
        f"mIoU / Acc: the segmenter on the real images.",
        "",
    ]
    for key, title in (("study_curves", "Learning curves"), ("study_profile", "Distance profile"),
                       ("study_samples", "Same-layout samples"),
                       ("study_repetition", "Pattern repetition")):
        if key in figs:
            lines += [f"![{title}]({relative(figs[key], out)})", ""]
    lines += ["## Table 1 on the trained models", "", md_table(table1_table(res)), "",
              "## Per class", "", md_table(class_table(res)), "",
              ctx.fid_note(), ""]
    return lines
