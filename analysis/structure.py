"""The analysis of the structural probes (the main job's tables and claims).

From the recordings of :func:`analysis.study.record`: boundary-distance profile rows
(:func:`profile_rows`), the image variation metrics of a two-class layout
(:func:`variation_row`, :func:`repetition`), the per-block summary (:func:`block_summary`),
the near-border shares (:func:`near_border`), the paper's structural claims as measured
(:func:`check_claims`), and what the 3x3 -> 1x1 kernel swaps change (:func:`kernel_effect`,
:func:`kernel_table`, :func:`kernel_findings`: sentences chosen from the measured values).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from . import metrics
from .report import fmt
from .study import BASELINES, BORDER_D, CLADE_TYPE, FLAT, NONZERO, VA_MODELS, Recording


def profile_rows(rec: Recording, lab_name: str, border: bool, base: dict) -> list[dict]:
    rows = []
    for block, f in rec.features.items():
        lab = rec.class_maps[block]
        if lab is None:
            continue
        rms = float(f.double().pow(2).mean().sqrt())
        prof = metrics.variation_profile(f, lab, border=border)
        h = lab.shape[0]
        for r in prof.to_dict("records"):
            r.update(base, block=block, layout=lab_name, reference="border" if border else "class boundary",
                     size=h, rms=rms,
                     rel_std=r["std"] / rms if rms > 0 else np.nan,
                     rel_shift=r["shift"] / rms if rms > 0 else np.nan)
            rows.append(r)
    return rows


def variation_row(rec: Recording, labels: torch.Tensor, base: dict) -> dict:
    imgs = rec.images.double()
    cv = metrics.class_variation(imgs[0], labels, samples=imgs if len(imgs) >= 2 else None)
    return dict(base, intra_std=float(cv["intra_std"].mean()), inter_std=float(cv["inter_std"].iloc[0]),
                ratio=float(cv["ratio"].mean()),
                sample_std=float(cv["sample_std"].mean()) if len(imgs) >= 2 else np.nan)


def repetition(gen: nn.Module, series: torch.Tensor, cls: int, seed: int) -> float:
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        gen.eval()
        imgs = gen(series).double()
    anchors, patch = metrics.boundary_anchors(series, orientation="vertical", depth=8, side="first")
    return metrics.pattern_repetition(imgs, anchors, patch, labels=series, cls=cls)


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


def near_border(profiles: pd.DataFrame) -> pd.DataFrame:
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
        nb = near_border(profiles)
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


def kernel_effect(r3: Recording, r1: Recording, base: dict) -> list[dict]:
    rows = []
    for i, (block, f3) in enumerate(r3.features.items()):
        f1 = r1.features[block]
        lab = r3.class_maps[block]
        diff = (f3.double() - f1.double())
        rms3 = float(f3.double().pow(2).mean().sqrt())
        sq = diff.pow(2).mean(0).numpy()
        h = lab.shape[0]
        two = len(torch.unique(lab)) > 1
        d = metrics.distance_to_boundary(lab, border=not two)
        near = d <= max(1.0, h / 8)
        tot = float(sq.sum())
        rows.append(dict(base, block=block, block_index=i, size=h,
                         diff=float(np.sqrt(sq.mean())) / rms3 if rms3 > 0 else np.nan,
                         near=float(sq[near].sum()) / tot if tot > 0 else np.nan,
                         area=float(near.mean())))
    return rows


SWAPS = {"norm": "norm convs", "block": "residual convs"}


def kernel_table(kernel: pd.DataFrame) -> pd.DataFrame:
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
               f"{fmt(float(res[res.swap == 'block']['diff'].median()))} (largest: "
               f"{fmt(float(top['diff']))}, {top.model} {top.layout} {top.padding} {top.block}).")
    spade = res[~res.model.isin(CLADE_TYPE)]
    if len(spade):
        med = {s: float(spade[spade.swap == s]["diff"].median()) for s in SWAPS}
        ratio = med["block"] / med["norm"] if med["norm"] > 0 else math.inf
        out.append(
            f"* Models with norm convs ({', '.join(sorted(set(spade.model)))}): median `diff` "
            f"of the residual swap {fmt(med['block'])}, of the norm swap {fmt(med['norm'])}: "
            + (f"the residual kernel changes the features {ratio:.3g} times as much as the "
               f"norm kernel." if math.isfinite(ratio) and ratio >= 1 else
               f"the norm kernel changes them more (ratio {ratio:.3g})." if math.isfinite(ratio)
               else "the norm swap changes nothing."))
    clade = res[res.model.isin(CLADE_TYPE)]
    if len(clade):
        n, b = clade[clade.swap == "norm"]["diff"], clade[clade.swap == "block"]["diff"]
        out.append(
            f"* CLADE-type models ({', '.join(sorted(set(clade.model)))}): norm swap max "
            f"`diff` {fmt(float(n.max()))}, residual swap median {fmt(float(b.median()))}: "
            + ("the residual convs are what a conv-k1 CLADE changes."
               if float(n.max()) == 0 and float(b.median()) > 0 else
               "as measured (expected: 0 for the norm swap)."))
    flat = res[(res.swap == "block") & (res.padding == "reflect") & (res.layout == "one-class")
               & res.model.isin(BASELINES)]
    if len(flat):
        v = float(flat["diff"].max())
        out.append(
            f"* Baselines ({', '.join(sorted(set(flat.model)))}), reflect padding, one class: "
            f"residual swap max `diff` {fmt(v)}"
            + (" - a uniform class stays what it was: every block's input is constant there, "
               "and the tap sum keeps a conv's response to a constant input."
               if v < FLAT else " - not zero, although the inputs are uniform (look into it)."))
    for s in SWAPS:
        r = res[(res.swap == s) & (res["diff"] > 0)].dropna(subset=["near"])
        if len(r):
            excess = float((r.near - r.area).mean())
            out.append(
                f"* {SWAPS[s].capitalize()}: mean of (share of the squared difference near the "
                f"boundary/border - share of the area there) = {fmt(excess)}: "
                + ("the change is concentrated at boundaries and borders." if excess > 0.05
                   else "the change is not concentrated there."))
    return out


def claim_findings(claims: pd.DataFrame, summary: pd.DataFrame,
                   profiles: pd.DataFrame) -> list[str]:
    """One sentence per claim and two on where the variation sits, each chosen from the
    measured values: a claim that fails is reported as failing, with its value."""
    out = []
    for claim, g in claims.groupby("claim", sort=False):
        ok, bad = g[g.holds.astype(bool)], g[~g.holds.astype(bool)]
        parts = []
        if len(ok):
            parts.append(f"holds for {', '.join(ok.model)} "
                         f"({', '.join(fmt(v) for v in ok.value)})")
        if len(bad):
            parts.append(f"**fails** for {', '.join(bad.model)} "
                         f"({', '.join(fmt(v) for v in bad.value)}; needed "
                         f"{bad.threshold.iloc[0]})")
        out.append(f"* {claim} ({g.measure.iloc[0]}): {'; '.join(parts)}.")
    nb = near_border(profiles)
    fc = nb[(nb.padding == "zero") & (nb.block == "fc")]
    if len(fc):
        lo = fc.loc[fc.variance_within.idxmin()]
        if float(lo.variance_within) >= 1 - 1e-9:
            out.append(f"* Zero padding, one class, `fc`: in every model all of the spatial "
                       f"variation lies within {BORDER_D} px of the image edge: the interior "
                       f"stays exactly flat and the border ring is where the variation starts.")
        else:
            out.append(f"* Zero padding, one class, `fc`: the share of the spatial variation "
                       f"within {BORDER_D} px of the image edge is as low as "
                       f"{fmt(float(lo.variance_within))} ({lo.model}, k{lo.kernel}; area there "
                       f"{fmt(float(lo.area_within))}): not all of it sits in the border ring.")
    fcs = summary[(summary.layout == "one-class") & (summary.block == "fc")
                  & (summary.padding == "reflect") & summary.model.isin(VA_MODELS)]
    if len(fcs):
        v = float(fcs.rel_spatial.max())
        out.append(f"* VA models ({', '.join(dict.fromkeys(fcs.model))}), reflect padding, one "
                   f"class, `fc`: max spatial_std/rms {fmt(v)}"
                   + (": flat, so their variation starts in the residual blocks." if v < FLAT
                      else ": not flat."))
    return out
