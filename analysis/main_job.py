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

With ``JobConfig.train`` set (the CLI default; ``--no-train`` clears it) the job then trains
SPADE and VA-SPADE briefly on the built-in scenes and compares their intra-class variation with
the data's (:mod:`analysis.main_train`; runs in ``<out>/train/<model>``, reused or resumed).

Outputs: ``<out>/report.md`` (tables, the structural claims as measured), CSV files
(``block_stats.csv``, ``profiles.csv``, ``variation.csv``, ``claims.csv``) and figures in
``<figures>`` (Figure-2-style per-block std, layouts, generated images, boundary profiles).
All files are written atomically (temporary file + ``os.replace``).

The building blocks (:func:`parse_size`, :func:`calibration_labels`, :func:`record`,
:func:`settings_of`) are shared with ``run_analysis.py probe``.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from vasis.atomic import atomic_write_bytes, atomic_write_text

from . import layouts as L
from . import metrics as M
from .recorder import FeatureRecorder, calibrate
from .surgery import swap_block_kernel, swap_norm_kernel, swap_padding
from vasis.errors import UserError

__all__ = ["MODELS", "SETTINGS", "BASELINES", "VA_MODELS", "JobConfig", "parse_size",
           "default_classes", "calibration_labels", "settings_of", "record", "run_job",
           "atomic_write_text", "atomic_savefig", "fast_cpu"]

MODELS = ("spade", "clade", "clade-icpe", "oasis", "va-spade", "va-clade", "va-oasis")
BASELINES = ("spade", "clade", "oasis")          # flat under reflect padding on one class
VA_MODELS = ("va-spade", "va-clade", "va-oasis")  # semantic noise + position code
SETTINGS = (("zero", 3), ("zero", 1), ("reflect", 3), ("reflect", 1))
LAYOUTS = ("one-class", "two-class")
FLAT = 1e-5        # spatial std / rms below this counts as zero (float32 round-off is ~1e-7)
NONZERO = 1e-3     # ... above this as clearly non-zero
BORDER_D = 1       # "near the border": within this many feature pixels of the image edge
SERIES = (0.25, 0.5, 0.75)  # boundary positions of the pattern-repetition series
REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers
def parse_size(text) -> tuple[int, int] | None:
    """``'HxW'`` (or ``'N'`` for NxN) -> (H, W); ``None`` passes through."""
    if text is None:
        return None
    s = str(text).strip().lower()
    parts = s.split("x")
    try:
        if len(parts) == 1:
            h = w = int(parts[0])
        elif len(parts) == 2:
            h, w = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise UserError(f"bad size {text!r}: use HxW, e.g. 128x128") from None
    if h <= 0 or w <= 0:
        raise UserError(f"bad size {text!r}: height and width must be positive")
    return h, w


def default_classes(dataset: str, layout: str) -> tuple[str, ...]:
    """One class: sky; two classes: sky above road (scenes: sky above ground)."""
    if layout == "one-class":
        return ("sky",)
    return ("sky", "ground") if dataset == "scenes" else ("sky", "road")


def make_layout(layout: str, classes, dataset, gen) -> torch.Tensor:
    """The (H, W) map of ``layout`` ('one-class' or 'two-class') at ``gen``'s resolution."""
    if layout == "one-class":
        if len(classes) != 1:
            raise UserError(f"--layout one-class takes one class, got {len(classes)}: "
                             f"{','.join(map(str, classes))}")
        return L.one_class(classes[0], dataset=gen)
    if layout == "two-class":
        if len(classes) != 2:
            raise UserError(f"--layout two-class takes two classes, got {len(classes)}: "
                             f"{','.join(map(str, classes))}")
        a, b = (L.resolve_class(c, gen) for c in classes)
        if a == b:
            raise UserError(f"--classes {','.join(map(str, classes))} names class id {a} twice; "
                            f"a two-class layout needs two different classes (for one class use "
                            f"--layout one-class)")
        if gen.cfg.height < 2:
            raise UserError(f"--layout two-class needs at least 2 pixel rows; the resolution is "
                            f"{gen.cfg.height}x{gen.cfg.width} (use a larger --size)")
        return L.two_class(classes[0], classes[1], dataset=gen)
    raise UserError(f"unknown layout {layout!r}; choose one-class or two-class")


def calibration_labels(dataset: str, size: tuple[int, int], n: int = 4,
                       seed: int = 0) -> torch.Tensor:
    """(n, H, W) label maps to settle BatchNorm statistics on.

    ``scenes``: the suite's procedural scenes (``SceneDataset(n, size, seed)``); other datasets:
    seeded random rectangles of random classes on a random background class.
    """
    h, w = size
    if dataset == "scenes" and min(h, w) >= 16:
        from vasis.data.scenes import SceneDataset

        ds = SceneDataset(n, size=(h, w), seed=seed)
        return torch.stack([ds[i]["label"] for i in range(n)])
    from vasis.labels import label_space

    nc = label_space(dataset).label_nc
    g = torch.Generator().manual_seed(seed)
    out = torch.randint(0, nc, (n, 1, 1), generator=g).expand(n, h, w).clone()
    for i in range(n):
        for _ in range(6):
            t, b = sorted(torch.randint(0, h + 1, (2,), generator=g).tolist())
            l, r = sorted(torch.randint(0, w + 1, (2,), generator=g).tolist())
            out[i, t:b, l:r] = int(torch.randint(0, nc, (1,), generator=g))
    return out


def settings_of(gen: nn.Module, paddings=("zero", "reflect"), kernels=(3, 1)):
    """[((padding, kernel), copy)] made by surgery from ``gen``: the same weights in each copy."""
    out = []
    for pad in paddings:
        gp = swap_padding(gen, pad)
        for k in kernels:
            out.append(((pad, k), gp if k == gen.cfg.norm.kernel_size else swap_norm_kernel(gp, k)))
    return out


@dataclass
class Recording:
    stats: pd.DataFrame                        # the recorder's tidy rows (block, statistic, ...)
    features: dict[str, torch.Tensor]          # block -> (C, h, w) of the first sample
    class_maps: dict[str, torch.Tensor]        # block -> (h, w) class map
    images: torch.Tensor                       # (samples, 3, H, W) generated images


def record(gen: nn.Module, labels: torch.Tensor, samples: int, seed: int,
           bn: str = "eval") -> Recording:
    """Generate ``labels`` ``samples`` times (seeded; ``bn`` as in
    :meth:`analysis.recorder.FeatureRecorder.run`) and record per-block statistics, the first
    sample's block features and all generated images."""
    images = []
    handle = gen.register_forward_hook(lambda m, i, o: images.append(o.detach().cpu()))
    try:
        with FeatureRecorder(gen, keep_features=1, sample_stats=samples >= 2) as rec:
            rec.run(labels, samples, seed=seed, bn=bn)
            stats = rec.statistics()
            feats = {n: f[0] for n, f in rec.features.items()}
            maps = {n: rec.class_map(n) for n in rec.points}
    finally:
        handle.remove()
    return Recording(stats, feats, maps, torch.cat(images))


@contextmanager
def fast_cpu():
    """Run torch on one thread with denormal floats flushed to zero; restored afterwards.

    Some feature channels of untrained generators decay to denormal values (~1e-40), and x86
    CPUs compute with those up to 50x slower. ``torch.set_flush_denormal`` sets the flag of the
    calling thread only (worker threads may not inherit it), so the job runs torch on one
    thread. Values below ~1e-38 become 0; no statistic here can tell.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)


def _tqdm(iterable=None, **kw):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, **kw)


# ----------------------------------------------------------------------------- atomic files
def atomic_write_csv(path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False))


def atomic_savefig(fig, path, dpi: int = 100, colors: int | None = None) -> None:
    """Save ``fig`` as PNG atomically; ``colors``: quantize to that many palette colours (keeps
    image grids small)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    data = buf.getvalue()
    if colors:
        from PIL import Image

        img = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=colors)
        out = io.BytesIO()
        img.save(out, format="png", optimize=True)
        data = out.getvalue()
    atomic_write_bytes(path, data)


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
    train: "TrainConfig | None" = None   # the training part (analysis.main_train); None: skip


def _profile_rows(rec: Recording, lab_name: str, border: bool, base: dict) -> list[dict]:
    rows = []
    for block, f in rec.features.items():
        lab = rec.class_maps[block]
        if lab is None:
            continue
        rms = float(f.double().pow(2).mean().sqrt())
        prof = M.variation_profile(f, lab, border=border)
        h = lab.shape[0]
        for r in prof.to_dict("records"):
            r.update(base, block=block, layout=lab_name, reference="border" if border else "class boundary",
                     size=h, rms=rms,
                     rel_std=r["std"] / rms if rms > 0 else np.nan,
                     rel_shift=r["shift"] / rms if rms > 0 else np.nan)
            rows.append(r)
    return rows


def _variation_row(rec: Recording, labels: torch.Tensor, base: dict) -> dict:
    imgs = rec.images.double()
    cv = M.class_variation(imgs[0], labels, samples=imgs if len(imgs) >= 2 else None)
    return dict(base, intra_std=float(cv["intra_std"].mean()), inter_std=float(cv["inter_std"].iloc[0]),
                ratio=float(cv["ratio"].mean()),
                sample_std=float(cv["sample_std"].mean()) if len(imgs) >= 2 else np.nan)


def _repetition(gen: nn.Module, series: torch.Tensor, cls: int, seed: int) -> float:
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        gen.eval()
        imgs = gen(series).double()
    anchors, patch = M.boundary_anchors(series, orientation="vertical", depth=8, side="first")
    return M.pattern_repetition(imgs, anchors, patch, labels=series, cls=cls)


def run_job(cfg: JobConfig) -> dict:
    """Run the main job; returns {'report': path, 'figures': {key: path}, 'csv': [paths],
    'seconds': t, 'claims': DataFrame}."""
    with fast_cpu():
        return _run_job(cfg)


def _run_job(cfg: JobConfig) -> dict:
    import vasis

    t0 = time.time()
    unknown = [m for m in cfg.models if m not in MODELS]
    if unknown:
        raise UserError(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    if cfg.samples < 2:
        raise UserError(f"samples must be >= 2 (sample std), got {cfg.samples}")
    one_cls, two_cls = default_classes(cfg.dataset, "one-class"), default_classes(cfg.dataset, "two-class")

    stats, profiles, variation, layouts_by_name, images = [], [], [], {}, {}
    kernel_rows = []
    bar = _tqdm(total=len(cfg.models) * len(SETTINGS), desc="main job", unit="setting",
                disable=not cfg.progress)
    for mi, model in enumerate(cfg.models):
        torch.manual_seed(cfg.seed)
        gen = vasis.build_generator(model, cfg.dataset, **cfg.overrides)
        size = (gen.cfg.height, gen.cfg.width)
        gen = calibrate(gen, calibration_labels(cfg.dataset, size, cfg.calib_maps, cfg.seed),
                        steps=cfg.calib_steps)
        lays = {"one-class": make_layout("one-class", one_cls, cfg.dataset, gen),
                "two-class": make_layout("two-class", two_cls, cfg.dataset, gen)}
        layouts_by_name.update(lays)
        series = L.boundary_series(*two_cls, SERIES, orientation="vertical", dataset=gen)
        layouts_by_name["series"] = series
        sky = L.resolve_class(two_cls[0], gen)
        kept, copies = {}, {}
        for (pad, k), g in settings_of(gen):
            copies[(pad, k)] = g
            bar.set_postfix_str(f"{model} {pad} k{k}") if hasattr(bar, "set_postfix_str") else None
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
                    profiles += _profile_rows(rec, lname, True, base)
                else:
                    profiles += _profile_rows(rec, lname, False, base)
                    row = _variation_row(rec, lab, base)
                    row["repetition"] = _repetition(g, series, sky, cfg.seed)
                    variation.append(row)
            bar.update(1)
        for pad in ("zero", "reflect"):
            # The residual-conv swap of the 3x3-norm copy: same weights, BN statistics, noise.
            block1 = swap_block_kernel(copies[(pad, 3)], 1)
            for lname, lab in lays.items():
                base = dict(model=model, padding=pad, layout=lname)
                kernel_rows += _kernel_effect(kept[(pad, 3, lname)], kept[(pad, 1, lname)],
                                              dict(base, swap="norm"))
                kernel_rows += _kernel_effect(kept[(pad, 3, lname)],
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
    from . import main_figures as F

    figs = F.all_figures(summary, profiles, layouts_by_name, images, cfg, figdir)
    probe_seconds = time.time() - t0
    trained = None
    if cfg.train is not None:
        from . import main_train as T

        trained = T.run_training(cfg.train, cfg.seed, out, figdir, cfg.progress)
        for name, key in (("trained_variation.csv", "table"), ("trained_summary.csv", "summary"),
                          ("trained_profiles.csv", "profiles"), ("trained_fid.csv", "fid")):
            atomic_write_csv(out / name, trained[key])
            csvs[name] = trained[key]
        figs.update(trained["figures"])
    seconds = time.time() - t0
    report = render_report(cfg, summary, profiles, variation, kernel, claims, figs, out,
                           seconds, trained=trained, probe_seconds=probe_seconds)
    atomic_write_text(out / "report.md", report)
    return {"report": out / "report.md", "figures": figs, "csv": [out / n for n in csvs],
            "seconds": seconds, "claims": claims, "trained": trained}


# ----------------------------------------------------------------------------- analysis
def block_summary(stats: pd.DataFrame) -> pd.DataFrame:
    """One row per model x setting x layout x block: spatial_std, sample_std, rms, fig2_std and the
    scale-free rel_spatial = spatial_std / rms, rel_sample = sample_std / rms."""
    keep = stats[stats["class"].isna() & stats.statistic.isin(
        ["spatial_std", "sample_std", "rms", "fig2_std"])]
    idx = ["model", "padding", "kernel", "layout", "block"]
    p = keep.pivot_table(index=idx, columns="statistic", values="value", sort=False).reset_index()
    p.columns.name = None
    p["block_index"] = p.groupby(["model", "padding", "kernel", "layout"]).cumcount()
    p["rel_spatial"] = p["spatial_std"] / p["rms"]
    p["rel_sample"] = p["sample_std"] / p["rms"]
    return p


def _near_border(profiles: pd.DataFrame) -> pd.DataFrame:
    """Per model x setting x block (one-class): fraction of the variation within BORDER_D feature
    pixels of the image edge, and the fraction of the area there."""
    one = profiles[(profiles.layout == "one-class") & (profiles.d_high == BORDER_D + 1)]
    cols = ["model", "padding", "kernel", "block", "size", "cum_variance_fraction",
            "cum_area_fraction", "rel_shift"]
    return one[cols].rename(columns={"cum_variance_fraction": "variance_within",
                                     "cum_area_fraction": "area_within",
                                     "rel_shift": "edge_shift"})


def check_claims(summary: pd.DataFrame, profiles: pd.DataFrame, models) -> pd.DataFrame:
    """The paper's structural claims, as measured; one row per claim x model."""
    rows = []
    one = summary[summary.layout == "one-class"]
    for m in models:
        s = one[one.model == m]
        refl, zero = s[s.padding == "reflect"], s[s.padding == "zero"]
        if m in BASELINES:
            v = float(refl.rel_spatial.max())
            rows.append(dict(claim="reflect + one class: zero spatial std in every block", model=m,
                             measure="max over blocks and kernels of spatial_std/rms",
                             value=v, threshold=f"< {FLAT:g}", holds=bool(v < FLAT)))
        v = float(zero.rel_spatial.min())
        rows.append(dict(claim="zero padding + one class: non-zero spatial std in every block",
                         model=m, measure="min over blocks and kernels of spatial_std/rms",
                         value=v, threshold=f"> {NONZERO:g}", holds=bool(v > NONZERO)))
        nb = _near_border(profiles)
        fc = nb[(nb.model == m) & (nb.padding == "zero") & (nb.block == "fc")]
        if len(fc):
            excess = float((fc.variance_within - fc.area_within).min())
            rows.append(dict(
                claim="zero padding: the variation is created at the border "
                      f"(fc: share of variation within {BORDER_D} px of the edge > share of area)",
                model=m, measure="min over kernels of variance share - area share at fc",
                value=excess, threshold="> 0.05", holds=bool(excess > 0.05)))
        if m in VA_MODELS:
            res = s[s.block != "fc"]
            v = float(res.rel_spatial.min())
            rows.append(dict(claim="VA model + one class: non-zero spatial std in every residual "
                                   "block, any padding/kernel", model=m,
                             measure="min over residual blocks and settings of spatial_std/rms",
                             value=v, threshold=f"> {NONZERO:g}", holds=bool(v > NONZERO)))
            v = float(res.rel_sample.min())
            rows.append(dict(claim="VA model: non-zero std across samples in every residual "
                                   "block", model=m,
                             measure="min over residual blocks and settings of sample_std/rms",
                             value=v, threshold=f"> {NONZERO:g}", holds=bool(v > NONZERO)))
    return pd.DataFrame(rows)


def _kernel_effect(r3: Recording, r1: Recording, base: dict) -> list[dict]:
    rows = []
    for i, (block, f3) in enumerate(r3.features.items()):
        f1 = r1.features[block]
        lab = r3.class_maps[block]
        diff = (f3.double() - f1.double())
        rms3 = float(f3.double().pow(2).mean().sqrt())
        sq = diff.pow(2).mean(0).numpy()
        h = lab.shape[0]
        two = len(torch.unique(lab)) > 1
        d = M.distance_to_boundary(lab, border=not two)
        near = d <= max(1.0, h / 8)
        tot = float(sq.sum())
        rows.append(dict(base, block=block, block_index=i, size=h,
                         diff=float(np.sqrt(sq.mean())) / rms3 if rms3 > 0 else np.nan,
                         near=float(sq[near].sum()) / tot if tot > 0 else np.nan,
                         area=float(near.mean())))
    return rows


SWAPS = {"norm": "norm convs", "block": "residual convs"}
CLADE_TYPE = ("clade", "clade-icpe", "va-clade")  # norms without convs


def _kernel_table(kernel: pd.DataFrame) -> pd.DataFrame:
    k = kernel[kernel.block_index <= 3].copy()
    k["where"] = k.layout + " " + k.padding
    k["swapped"] = k.swap.map(SWAPS)
    idx = ["model", "swapped", "where"]
    t = k.pivot_table(index=idx, columns="block_index", values=["diff", "near"], dropna=False,
                      sort=False)
    out = pd.DataFrame({"model": [i[0] for i in t.index], "3x3 -> 1x1": [i[1] for i in t.index],
                        "layout, padding": [i[2] for i in t.index]})
    for bi in sorted(k.block_index.unique()):
        name = "fc" if bi == 0 else f"b{bi}"
        area = k[k.block_index == bi].groupby(idx, sort=False)["area"].first()
        out[f"{name} diff"] = t[("diff", bi)].values
        out[f"{name} near/area"] = [f"{n:.2f}/{a:.2f}" if np.isfinite(n) else "-"
                                    for n, a in zip(t[("near", bi)].values, area.values)]
    return out


def kernel_findings(kernel: pd.DataFrame) -> list[str]:
    """What the two kernel swaps do, stated from the measured ``kernel_effect`` rows (residual
    blocks b1-b3, where the swaps first act; fc is a stem conv neither swap touches)."""
    res = kernel[(kernel.block_index >= 1) & (kernel.block_index <= 3)]
    if res.empty:
        return []
    out = []
    top = res[res.swap == "block"].sort_values("diff").iloc[-1]
    out.append(f"* Residual-conv swap, all models, layouts and paddings: median `diff` "
               f"{_fmt(float(res[res.swap == 'block']['diff'].median()))} (largest: "
               f"{_fmt(float(top['diff']))}, {top.model} {top.layout} {top.padding} {top.block}).")
    spade = res[~res.model.isin(CLADE_TYPE)]
    if len(spade):
        med = {s: float(spade[spade.swap == s]["diff"].median()) for s in SWAPS}
        ratio = med["block"] / med["norm"] if med["norm"] > 0 else math.inf
        out.append(
            f"* Models with norm convs ({', '.join(sorted(set(spade.model)))}): median `diff` "
            f"of the residual swap {_fmt(med['block'])}, of the norm swap {_fmt(med['norm'])}: "
            + (f"the residual kernel changes the features {ratio:.3g} times as much as the "
               f"norm kernel." if math.isfinite(ratio) and ratio >= 1 else
               f"the norm kernel changes them more (ratio {ratio:.3g})." if math.isfinite(ratio)
               else "the norm swap changes nothing."))
    clade = res[res.model.isin(CLADE_TYPE)]
    if len(clade):
        n, b = clade[clade.swap == "norm"]["diff"], clade[clade.swap == "block"]["diff"]
        out.append(
            f"* CLADE-type models ({', '.join(sorted(set(clade.model)))}): norm swap max "
            f"`diff` {_fmt(float(n.max()))}, residual swap median {_fmt(float(b.median()))}: "
            + ("the residual convs are what a conv-k1 CLADE changes."
               if float(n.max()) == 0 and float(b.median()) > 0 else
               "as measured (expected: 0 for the norm swap)."))
    flat = res[(res.swap == "block") & (res.padding == "reflect") & (res.layout == "one-class")
               & res.model.isin(BASELINES)]
    if len(flat):
        v = float(flat["diff"].max())
        out.append(
            f"* Baselines ({', '.join(sorted(set(flat.model)))}), reflect padding, one class: "
            f"residual swap max `diff` {_fmt(v)}"
            + (" - a uniform class stays what it was: every block's input is constant there, "
               "and the tap sum keeps a conv's response to a constant input."
               if v < FLAT else " - not zero, although the inputs are uniform (look into it)."))
    for s in SWAPS:
        r = res[(res.swap == s) & (res["diff"] > 0)].dropna(subset=["near"])
        if len(r):
            excess = float((r.near - r.area).mean())
            out.append(
                f"* {SWAPS[s].capitalize()}: mean of (share of the squared difference near the "
                f"boundary/border - share of the area there) = {_fmt(excess)}: "
                + ("the change is concentrated at boundaries and borders." if excess > 0.05
                   else "the change is not concentrated there."))
    return out


# ----------------------------------------------------------------------------- report
def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "**NO**"
    if isinstance(v, (int, np.integer)):
        return str(v)
    v = float(v)
    if v == 0:
        return "0"
    if abs(v) < 10 ** -digits or abs(v) >= 1e4:
        return f"{v:.1e}"
    return f"{v:.{digits}f}"


def md_table(df: pd.DataFrame, digits: int = 3) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v, digits) if not isinstance(v, str) else v
                                       for v in r) + " |")
    return "\n".join(lines)


def _block_table(summary: pd.DataFrame, layout: str, value: str) -> pd.DataFrame:
    s = summary[summary.layout == layout].copy()
    s["setting"] = s.padding + " k" + s.kernel.astype(str)
    t = s.pivot_table(index=["model", "setting"], columns="block_index", values=value, sort=False)
    t.columns = ["fc" if c == 0 else f"b{c}" for c in t.columns]
    return t.reset_index()


def _link(path, start) -> str:
    """A relative link when ``start`` is inside the repository, else the absolute path."""
    path, start = Path(path).resolve(), Path(start).resolve()
    if REPO in start.parents or start == REPO:
        return os.path.relpath(path, start)
    return str(path)


def render_report(cfg: JobConfig, summary, profiles, variation, kernel, claims, figs,
                  out: Path, seconds: float, trained: dict | None = None,
                  probe_seconds: float | None = None) -> str:
    rel = lambda p: os.path.relpath(Path(p).resolve(), Path(out).resolve())
    docs = _link(REPO / "docs" / "metrics.md", out)
    ov = ", ".join(f"{k}={v}" for k, v in cfg.overrides.items()) or "none (the preset's widths)"
    n_ok = int(claims.holds.sum())
    lines = [
        "# Main analysis job: padding, norm kernel and class-level variation",
        "",
        f"Models: {', '.join(cfg.models)} on the `{cfg.dataset}` preset (128x128 unless "
        f"overridden; width overrides: {ov}). **The probed models are untrained** (the last "
        f"section trains two of them briefly): each is the preset "
        f"built with `torch.manual_seed({cfg.seed})` (the suite's official weight init), then "
        f"its BatchNorm running statistics (and spectral-norm vectors) are settled with "
        f"`analysis.calibrate` ({cfg.calib_steps} train-mode passes over {cfg.calib_maps} "
        f"procedural scenes) so that eval-mode features have sane magnitudes. Four copies per "
        f"model by surgery - padding zero/reflect x norm-conv kernel 3/1 (`swap_norm_kernel`, "
        f"mode `sum`: identical output inside uniform regions) - share every weight and BN "
        f"statistic: differences between settings come only from what the convs see across "
        f"the image border and across class boundaries. Two more copies (zero/reflect) swap "
        f"the residual blocks' 3x3 convs for 1x1 the same way (`swap_block_kernel`; kernel "
        f"section only).",
        "",
        f"Layouts: one-class = all `{default_classes(cfg.dataset, 'one-class')[0]}`; two-class "
        f"= `{'` above `'.join(default_classes(cfg.dataset, 'two-class'))}` (horizontal "
        f"boundary at half height); each generated {cfg.samples} times (seed {cfg.seed}). "
        f"Pattern repetition uses a vertical boundary at {', '.join(map(str, SERIES))} of the "
        f"width.",
        "",
        f"What the numbers mean (definitions: [docs/metrics.md]({docs})):",
        "",
        "* `spatial_std/rms`: the spatial std of each channel of a block's output over the "
        "whole map, averaged over channels and samples, divided by the block's root mean "
        "square (scale-free; 0 = every channel is a constant map);",
        "* `sample_std/rms`: std across the samples of the same layout at each pixel "
        "(averaged), over rms: 0 = the generator is deterministic for this layout;",
        f"* near-border share: fraction of a block's spatial variation (sum of squares) within "
        f"{BORDER_D} feature pixel(s) of the image edge (`fraction_within`), next to the share of "
        f"the area there;",
        "* intra / inter / ratio: on the generated RGB images of the two-class layout: mean "
        "within-class std, std of the class means, their ratio (~0: flat classes);",
        "* repetition: mean NCC of the 8-pixel strips of sky just left of the boundary, across "
        "the three boundary placements (1: the texture is stamped identically wherever the "
        "boundary appears; NaN: flat strips).",
        "",
        f"Run time: {seconds:.0f} s"
        + (f" (probes {probe_seconds:.0f} s, training part {seconds - probe_seconds:.0f} s)"
           if trained is not None and probe_seconds is not None else "")
        + f". Regenerate with `python run_analysis.py` "
        f"(see [figures/README.md]({_link(REPO / 'figures' / 'README.md', out)})).",
        "",
        f"## The paper's structural claims, as measured ({n_ok}/{len(claims)} hold)",
        "",
        md_table(claims[["claim", "model", "measure", "value", "threshold", "holds"]], 3),
        "",
        "Reading: with reflect padding nothing distinguishes one pixel of a uniform class from "
        "another, so SPADE, CLADE and OASIS produce constant maps in every block (their 3D noise "
        "in OASIS is constant over space; it varies across samples only). With zero padding "
        "the border is the only source of variation: at `fc` (the first padded conv, 4x4 on "
        "scenes) the interior pixels stay exactly flat and all the variation sits in the border "
        "ring; later blocks upsample it over the whole map (see the profile figure). The VA "
        "models vary in every residual block under any padding or kernel (noise and position "
        "code); their `fc` is a plain conv of the label map and is flat under reflect padding.",
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
    nb = _near_border(profiles)
    nb = nb[(nb.padding == "zero") & (nb.kernel == 3)].copy()
    nb["block_index"] = nb.groupby("model").cumcount()
    nb = nb[nb.block_index <= 3]
    lines += [
        f"Share of the spatial variation within {BORDER_D} feature pixel(s) of the image edge "
        "(`variance_within`) against the share of the area there (`area_within`), and the "
        "channel-rms offset of the edge ring's mean from the map's mean (`edge_shift`, over rms), "
        "for the first blocks (size = the block's resolution). Reflect padding gives flat maps "
        "(no variation to place) for the baselines.",
        "",
        md_table(nb[["model", "block", "size", "variance_within", "area_within", "edge_shift"]]),
        "",
        "## 3x3 vs 1x1 convs: what the norm and the residual kernels change",
        "",
        "Two surgery swaps of every model (mode `sum`: identical output where a conv's input "
        "is constant): the conditional norms' convs (`swap_norm_kernel`, the official "
        "`--kernel_norm`) and the residual blocks' conv_0/conv_1 (`swap_block_kernel`, the "
        "official `--kernel`; docs/switches.md). `diff` = rms(features with 3x3 - features "
        "with 1x1) / rms(3x3 features), same weights, BN statistics and noise (seeded), first "
        "sample; `near` = share of the squared difference within 1/8 of the map of the class "
        "boundary (two-class; one-class: of the image edge), `area` = share of the area there. "
        "The untrained presets' norm convs start with small weights (the official init, std "
        "0.02), so what the norm kernel changes is small next to the residual path; "
        "CLADE-type norms have no convs. Measured:",
        "",
        *kernel_findings(kernel),
        "",
        md_table(_kernel_table(kernel)),
        "",
        "## Variation metrics of the generated images (two-class layout)",
        "",
        md_table(variation[["model", "padding", "kernel", "intra_std", "inter_std", "ratio",
                            "sample_std", "repetition"]]),
        "",
        "Untrained models: the image values are what a random generator gives; compare rows "
        "(settings, models), not absolute levels.",
        "",
    ]
    if trained is not None:
        from . import main_train as T

        lines += T.render_section(trained, cfg.train, out)
    else:
        lines += ["## Trained models", "",
                  "Skipped (`--no-train`): the training part trains SPADE and VA-SPADE briefly "
                  "and compares their variation with the data's (see `analysis/main_train.py`).",
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
        lines += [
            "* `trained_variation.csv`: per source (data, spade, va-spade) and class: intra_std, "
            "sample_std, near_fraction, area_fraction, images; `trained_summary.csv`: per source "
            "(also the untrained generators and a label-blind mean-colour image): step, "
            "colour_error, inter_std and the class means of the per-class columns; "
            "`trained_profiles.csv`: the boundary-distance profile (share of variation and of "
            "area within d px) per source, class and d;",
            "* `train/<model>/`: the training runs (`run.json`, `losses.jsonl`, the last "
            "checkpoint); `python run_analysis.py generate` reads them.",
        ]
    lines += [
        "",
    ]
    return "\n".join(lines)
