"""The training part of the main job: SPADE vs VA-SPADE trained briefly on the built-in scenes.

After the structural probes, :func:`run_training` trains SPADE and VA-SPADE with
:func:`vasis.train.train` on the CPU-sized ``scenes`` preset - same seed, same data order (the
trainer's seeded batch stream), same recipe (``scenes``: batch 4, TTUR, no VGG), same width and
the same number of iterations - then generates images for held-out scene label maps (the
``val`` split, never trained on) and measures, per class and side by side with the real images
of the same label maps:

* ``intra_std``: within-image spatial std of the class's pixels (per RGB channel, averaged;
  then the mean over the images where the class has >= ``MIN_PIXELS`` pixels), in [0, 1]
  intensity units - :func:`vasis.data.scenes.within_image_class_std`, the data's own statistic;
* ``sample_std``: std across ``samples`` generations of the *same* label map at each pixel
  (ddof 1), averaged over the class's pixels and the layouts. For the data it is the design's
  conditional std given the layout (:func:`data_sample_std`: texture noise, 8-bit rounding,
  per-image illumination and per-instance colour shifts are drawn afresh for a new photo of the
  same layout);
* ``near_fraction``: the fraction of the class's variation within ``distance`` px of a class
  boundary or the image border (:func:`analysis.metrics.fraction_within`), next to
  ``area_fraction``, the share of the class's pixels there (what evenly spread variation gives);
* per source: ``inter_std`` (spread of the class means, :func:`analysis.metrics.inter_class_std`)
  and ``colour_error`` (rms distance of each class's mean colour from the real image's, the
  "better than noise" check, with the untrained generators and a label-blind mean-colour image
  as references);
* image quality (:func:`image_quality`): FID and precision / recall / density / coverage of each
  model's first sample per held-out map against the real images of the same maps (equal N),
  next to other real scenes at the same N (the data's own floor), with the weights named.

Run folders live in ``<out>/train/<model>``. A complete run (a checkpoint at the requested step,
same settings) is reused; a shorter one with the same settings is resumed (an interrupted job
continues training where its last checkpoint left off, every ``ckpt_every`` iterations); a run
with other settings or more iterations is replaced (:func:`analysis.runs.train_or_reuse`).
Images are drawn with :func:`vasis.train.generate.sample_images` (its one seed formula).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import vasis
from vasis.data.scenes import (_INST, _TEX, ILLUMINATION, QUANT_VAR, SceneDataset,
                               within_image_class_std)
from vasis.labels import label_space
from vasis.metrics.density_coverage import PRDC_FIELDS, min_images
from vasis.metrics.image_sets import SMALL_N_NOTE, compare, fid_model_or_reason, open_set
from vasis.train import RunSettings
from vasis.train.generate import batches_of, load_generator, sample_images
from vasis.train.recipes import recipe

from . import metrics
from .figures import trained_figures
from .recorder import calibrate
from .report import REPO, link, md_table, relative
from .cpu import all_cores
from .runs import check_run_dir, last_losses, train_or_reuse
from .study import TINY, TINY_DISCRIMINATOR

TRAIN_MODELS = ("spade", "va-spade")
LABELS = {"data": "data", "spade": "SPADE", "va-spade": "VA-SPADE"}
DEFAULT_ITERS = 200
DEFAULT_NGF = 8
MIN_PIXELS = 64        # a class enters an image's statistics with at least this many pixels
PROFILE_D = (1, 2, 4, 8, 16, 32)


@dataclass
class TrainConfig:
    """The training part: ``iters`` iterations of batch 4 at generator width ``ngf``."""

    iters: int = DEFAULT_ITERS
    ngf: int = DEFAULT_NGF
    generator: dict = field(default_factory=dict)      # further generator overrides
    discriminator: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    n_train: int | None = None                         # training scenes (default: 1000)
    layouts: int = 16                                  # held-out label maps (val split)
    samples: int = 4                                   # generations per label map
    distance: int = 4                                  # px, near-boundary fraction
    ckpt_every: int = 25
    models: tuple[str, ...] = TRAIN_MODELS

    def settings(self, model: str, seed: int):
        return RunSettings(model, "scenes", generator={"ngf": self.ngf, **self.generator},
                           discriminator=dict(self.discriminator), recipe=dict(self.recipe),
                           seed=seed, iters=self.iters, ckpt_every=self.ckpt_every,
                           log_every=max(1, min(10, self.iters)), sample_every=0, keep=1,
                           n_train=self.n_train, tensorboard=False)


def run_dir_of(out, model: str) -> Path:
    return Path(out) / "train" / model


def check_run_dirs(tcfg: "TrainConfig", out) -> None:
    """Refuse, before anything runs, a foreign folder where a training run would go."""
    for model in tcfg.models:
        check_run_dir(run_dir_of(out, model))




def quick_config(iters: int = 2) -> TrainConfig:
    """The training part at tiny widths and a few iterations (tests, ``--quick``)."""
    return TrainConfig(iters=iters, ngf=TINY["ngf"], generator={"hidden": TINY["hidden"]},
                       discriminator=dict(TINY_DISCRIMINATOR), n_train=8, layouts=4, samples=2,
                       ckpt_every=1)


# ----------------------------------------------------------------------------- evaluation
def heldout(n: int, seed: int, size=(128, 128)):
    """(labels (n, H, W), real images (n, 3, H, W) in [-1, 1], scenes) of the ``val`` split."""
    ds = SceneDataset(n, size=size, seed=seed, split="val")
    scenes = [ds.scene(i) for i in range(n)]
    items = [ds[i] for i in range(n)]
    return (torch.stack([it["label"] for it in items]), torch.stack([it["image"] for it in items]),
            scenes)


def _clipped_normal_std(sd: float) -> float:
    """std of N(0, sd^2) clipped to +-2 sd (the scenes' instance shifts)."""
    if sd == 0:
        return 0.0
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(2 / math.sqrt(2))
    var = (1 - 2 * tail) - 2 * 2 * phi2 + 2 * tail * 4
    return sd * math.sqrt(var)


def data_sample_std(scene: dict) -> np.ndarray:
    """Per-pixel std of a new photo of the same layout, under the scenes' design, (H, W) in [0, 1].

    Given the label map, a new draw changes the white-noise texture (``texture_std``), the 8-bit
    rounding, the image's illumination ``U(0.92, 1.08)`` and each instance's colour shift: per
    channel ``var = texture^2 + 1/(12*255^2) + var(illum) * clean^2 + E[illum^2] * shift_var``
    (to first order: the scene's own clean value stands for the expected one), averaged over RGB
    as a std.
    """
    lab = scene["label"].astype(np.int64)
    clean = scene["clean"].astype(np.float64)             # (H, W, 3)
    a, b = ILLUMINATION
    var_i, mean_i2 = (b - a) ** 2 / 12, ((a + b) / 2) ** 2 + (b - a) ** 2 / 12
    shift = np.array([_clipped_normal_std(float(s)) for s in _INST]) ** 2
    var = (_TEX.astype(np.float64)[lab] ** 2 + QUANT_VAR + mean_i2 * shift[lab])[..., None] \
        + var_i * clean ** 2
    return np.sqrt(var).mean(-1)


def _per_class_mean(values: np.ndarray, lab: np.ndarray, nc: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class mean of an (H, W) map over the class's pixels (>= MIN_PIXELS), and the mask."""
    flat, v = lab.reshape(-1), values.reshape(-1)
    n = np.bincount(flat, minlength=nc)[:nc]
    s = np.bincount(flat, v, nc)[:nc]
    ok = n >= MIN_PIXELS
    return np.where(ok, s / np.maximum(n, 1), np.nan), ok


def _class_colours(img: np.ndarray, lab: np.ndarray, nc: int) -> np.ndarray:
    """(nc, 3) mean colour per class ([0, 1] image (3, H, W)); NaN below MIN_PIXELS."""
    return np.stack([_per_class_mean(img[c], lab, nc)[0] for c in range(3)], 1)


def source_statistics(images: np.ndarray, labels: np.ndarray, distance: int,
                      sample_map: np.ndarray | None = None) -> dict:
    """Statistics of one source. ``images``: (S, n, 3, H, W) in [0, 1] (S samples of n maps);
    ``labels``: (n, H, W); ``sample_map``: (n, H, W) per-pixel sample std (else from ``images``,
    which then needs S >= 2). Returns per-class arrays and per-image arrays."""
    nc = len(label_space("scenes").classes)
    S, n = images.shape[:2]
    flat_imgs = images.reshape(S * n, *images.shape[2:])
    flat_labs = np.concatenate([labels] * S)
    intra, count = within_image_class_std(flat_imgs, flat_labs, nc, MIN_PIXELS, value_range=(0, 1))
    if sample_map is None:
        sample_map = images.std(axis=0, ddof=1).mean(axis=1) if S >= 2 else None
    samp = np.full((n, nc), np.nan)
    near = np.full((S * n, nc), np.nan)
    area = np.full((n, nc), np.nan)
    ds = sorted(set(PROFILE_D) | {distance})
    prof = np.full((S * n, nc, len(ds)), np.nan)
    prof_area = np.full((n, nc, len(ds)), np.nan)
    inter = np.full(S * n, np.nan)
    colours = np.full((S * n, nc, 3), np.nan)
    for i in range(n):
        lab = labels[i]
        if sample_map is not None:
            samp[i] = _per_class_mean(sample_map[i], lab, nc)[0]
        dist = metrics.distance_to_boundary(lab, border=True)
        for c in range(nc):
            m = lab == c
            if m.sum() >= MIN_PIXELS:
                area[i, c] = float((dist[m] <= distance).mean())
                prof_area[i, c] = [(dist[m] <= d).mean() for d in ds]
        for s in range(S):
            j = s * n + i
            img = images[s, i]
            colours[j] = _class_colours(img, lab, nc)
            inter[j] = metrics.inter_class_std(img, lab)
            within = metrics.fraction_within(img, lab, ds, border=True)
            for c in range(nc):
                if (lab == c).sum() >= MIN_PIXELS:
                    prof[j, c] = within[c]
                    near[j, c] = prof[j, c, ds.index(distance)]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean over all-NaN columns
        return dict(intra=intra, images=count, sample=np.nanmean(samp, 0),
                    near=np.nanmean(near, 0), area=np.nanmean(area, 0),
                    profile=np.nanmean(prof, 0), profile_area=np.nanmean(prof_area, 0), d=ds,
                    inter=float(np.nanmean(inter)), colours=colours)


def colour_error(colours: np.ndarray, real: np.ndarray) -> float:
    """Mean over images and classes of the rms (over RGB) distance between class mean colours;
    ``colours`` (S*n, nc, 3) is compared with ``real`` (n, nc, 3) tiled over the samples."""
    ref = np.concatenate([real] * (len(colours) // len(real)))
    d = np.sqrt(((colours - ref) ** 2).mean(-1))
    return float(np.nanmean(d))


def image_quality(real: torch.Tensor, generated: dict, other_real: torch.Tensor,
                  nearest_k: int = 5) -> pd.DataFrame:
    """FID and precision / recall / density / coverage of each model's first sample per held-out
    map against the real images of the same maps (equal N), and the same for ``other_real``
    (real images of other scenes: the floor that N images of the data itself reach). One row per
    source; ``weights`` names the FID weights (or why there are none)."""
    net = fid_model_or_reason()
    ref = open_set(real, "data")
    sets = {"data (other scenes)": other_real, **generated}
    rows = []
    for name, imgs in sets.items():
        row = dict(source=name, n_real=len(real), n_generated=len(imgs))
        if isinstance(net, str):
            rows.append(dict(row, FID="n/a (no FID weights)", weights=net))
            continue
        use_prdc = min(len(real), len(imgs)) >= min_images(nearest_k)
        r = compare(ref, imgs, prdc=use_prdc, nearest_k=nearest_k, model=net)
        row.update(FID=r["fid"], weights=r["weights"])
        for f in PRDC_FIELDS:
            row[f] = r[f] if use_prdc else f"n/a (k = {nearest_k} needs {min_images(nearest_k)} images)"
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the part
def run_training(tcfg: TrainConfig, seed: int, out: Path, figdir: Path,
                 progress: bool = True) -> dict:
    """Train (or reuse), evaluate and draw; returns the tables, figure paths and run info."""
    out, figdir = Path(out), Path(figdir)
    names = list(label_space("scenes").classes)
    runs = {}
    for model in tcfg.models:
        run_dir = run_dir_of(out, model)
        with all_cores():
            info = train_or_reuse(tcfg.settings(model, seed), run_dir, progress)
        info["losses"] = last_losses(run_dir)
        runs[model] = info

    t0 = time.time()
    labels, real, scenes = heldout(tcfg.layouts, seed + 1)
    lab_np = labels.numpy()
    real01 = (real.numpy()[None] + 1) / 2
    sources = {"data": source_statistics(
        real01, lab_np, tcfg.distance, np.stack([data_sample_std(s) for s in scenes]))}
    real_colours = sources["data"]["colours"]
    generated = {}
    summary = []
    for model in tcfg.models:
        gen, *_ = load_generator(run_dir_of(out, model))
        imgs = sample_images(gen, batches_of(labels, 4), tcfg.samples, seed)
        generated[model] = imgs
        sources[model] = source_statistics((imgs.numpy() + 1) / 2, lab_np, tcfg.distance)
        # the same architecture and seed untrained (the trainer's initial weights), BN settled
        torch.manual_seed(seed)
        init = vasis.build_generator(model, "scenes", **tcfg.settings(model, seed).generator)
        ds = SceneDataset(4, seed=seed)
        init = calibrate(init, torch.stack([ds[i]["label"] for i in range(4)]), steps=2)
        u = (sample_images(init, batches_of(labels, 4), 1, seed).numpy() + 1) / 2
        ustat = source_statistics(u, lab_np, tcfg.distance)
        summary.append(dict(source=f"{LABELS[model]} untrained", model=model, step=0,
                            colour_error=colour_error(ustat["colours"], real_colours),
                            inter_std=ustat["inter"], intra_std=float(np.nanmean(ustat["intra"][1:])),
                            sample_std=np.nan, near_fraction=float(np.nanmean(ustat["near"][1:]))))
    # label-blind reference: every pixel the mean colour of the training data
    flat = real01[0].transpose(1, 0, 2, 3).reshape(3, -1).mean(1)
    blind = np.broadcast_to(flat[None, None, :], real_colours.shape)
    rows, prof_rows = [], []
    for src, st in sources.items():
        for c in range(1, len(names)):
            rows.append(dict(source=src, class_id=c, class_name=names[c], images=int(st["images"][c]),
                             intra_std=st["intra"][c], sample_std=st["sample"][c],
                             near_fraction=st["near"][c], area_fraction=st["area"][c]))
            for k, d in enumerate(st["d"]):
                prof_rows.append(dict(source=src, class_id=c, class_name=names[c], d=d,
                                      variance_fraction=st["profile"][c, k],
                                      area_fraction=st["profile_area"][c, k]))
        if src != "data":
            summary.append(dict(source=LABELS[src], model=src, step=runs[src]["step"],
                                colour_error=colour_error(st["colours"], real_colours),
                                inter_std=st["inter"], intra_std=float(np.nanmean(st["intra"][1:])),
                                sample_std=float(np.nanmean(st["sample"][1:])),
                                near_fraction=float(np.nanmean(st["near"][1:]))))
    d = sources["data"]
    summary.insert(0, dict(source="data", model="", step=np.nan, colour_error=0.0,
                           inter_std=d["inter"], intra_std=float(np.nanmean(d["intra"][1:])),
                           sample_std=float(np.nanmean(d["sample"][1:])),
                           near_fraction=float(np.nanmean(d["near"][1:]))))
    summary.append(dict(source="mean colour (label-blind)", model="", step=np.nan,
                        colour_error=colour_error(blind.copy(), real_colours), inter_std=0.0,
                        intra_std=0.0, sample_std=0.0, near_fraction=np.nan))
    table = pd.DataFrame(rows)
    table = table[table.images > 0].reset_index(drop=True)
    profiles = pd.DataFrame(prof_rows)
    summary = pd.DataFrame(summary)

    figs = trained_figures(table, labels, real, generated, tcfg, figdir)
    other = heldout(tcfg.layouts, seed + 2)[1]      # other val scenes: the data's own FID floor
    quality = image_quality(real, {LABELS[m]: generated[m][0] for m in tcfg.models}, other)
    return dict(table=table, profiles=profiles, summary=summary, runs=runs, figures=figs,
                eval_seconds=time.time() - t0, layouts=tcfg.layouts, seed=seed, fid=quality)


# ----------------------------------------------------------------------------- report
def _mean(summary: pd.DataFrame, source: str, col: str) -> float:
    r = summary[summary.source == source]
    return float(r[col].iloc[0]) if len(r) else float("nan")


def render_section(trained: dict, tcfg: TrainConfig, out: Path) -> list[str]:
    """The report section of the training part (markdown lines)."""
    out = Path(out)
    rel = lambda p: relative(p, out)
    table, summary, runs = trained["table"], trained["summary"], trained["runs"]
    models = [m for m in tcfg.models if m in runs]
    names = [LABELS[m] for m in models]
    run_lines = []
    for m in models:
        r = runs[m]
        how = {"reused": f"reused (already at step {r['step']})",
               "resumed": f"resumed from step {r['from_step']} to {r['step']} in {r['seconds']:.0f} s",
               "trained": f"trained to step {r['step']} in {r['seconds']:.0f} s",
               "retrained": f"trained anew to step {r['step']} in {r['seconds']:.0f} s (an "
                            f"earlier run there had other settings or more steps)"}[r["status"]]
        loss = ", ".join(f"{k} {v:.3g}" for k, v in r["losses"].items()
                         if not k.startswith("lr/") and k != "epoch")
        run_lines.append(f"* {LABELS[m]} (`{rel(out / 'train' / m)}`): {how}; last logged "
                         f"losses: {loss or '-'}.")
    s = tcfg.settings(models[0], 0)
    rc = recipe(models[0], "scenes", **tcfg.recipe)
    gen_ov = ", ".join(f"{k}={v}" for k, v in s.generator.items())
    disc_ov = ", ".join(f"{k}={v}" for k, v in s.discriminator.items()) or "the preset's"

    # the per-class table: class x {data, models} for the three measures
    piv = {}
    for col in ("intra_std", "sample_std", "near_fraction"):
        piv[col] = table.pivot_table(index="class_name", columns="source", values=col,
                                     sort=False, dropna=False)
    area = table[table.source == "data"].set_index("class_name")["area_fraction"]
    srcs = ["data"] + models
    heads = {"intra_std": "intra", "sample_std": "sample", "near_fraction": f"near {tcfg.distance}px"}
    cls_rows = []
    for c in piv["intra_std"].index:
        row = {"class": c}
        for col in ("intra_std", "sample_std", "near_fraction"):
            for src in srcs:
                row[f"{heads[col]} {LABELS[src]}"] = piv[col].loc[c].get(src, np.nan)
        row["area within"] = area.get(c, np.nan)
        cls_rows.append(row)
    cls = pd.DataFrame(cls_rows)
    summ = summary.rename(columns={"intra_std": "intra (mean)", "sample_std": "sample (mean)",
                                   "near_fraction": f"near {tcfg.distance}px (mean)"})
    summ = summ.drop(columns=["model"])
    summ["step"] = ["-" if not np.isfinite(v) else str(int(v)) for v in summ["step"]]

    lines = [
        "## Trained briefly: SPADE vs VA-SPADE on the scenes data",
        "",
        f"{' and '.join(names)} trained with `vasis.train.train` on the built-in scenes "
        f"(128x128, {s.n_train or 1000} training scenes) for **{tcfg.iters} iterations** each: "
        f"same seed ({trained['seed']}), same data order (the trainer's seeded batch stream), "
        f"the `scenes` recipe (batch {rc.batch_size}, Adam lr G {rc.lr_g:g} / D {rc.lr_d:g}, "
        f"betas ({rc.beta1:g}, {rc.beta2:g}), hinge + feature matching, no VGG), generator "
        f"{gen_ov}, discriminator {disc_ov}. A short CPU budget: the point is the comparison under "
        f"equal conditions, not converged models. Change it with `--train-iters N`; skip it "
        f"with `--no-train`.",
        "",
        *run_lines,
        "",
        f"Evaluation: {trained['layouts']} held-out label maps (the `val` split of the scenes, "
        f"never trained on), each generated {tcfg.samples} times (eval mode, the same seeds "
        f"for both models), compared with the real images of the same label maps. Units: "
        f"[0, 1] intensity. Per class (classes with >= {MIN_PIXELS} pixels in an image): "
        f"`intra` = within-image spatial std (per RGB channel, averaged; mean over images and "
        f"samples; `vasis.data.within_image_class_std`), `sample` = std across the samples of "
        f"the same label map per pixel, averaged over the class (data: the design's std of a new "
        f"photo of the same layout - texture noise, rounding, illumination, instance colour "
        f"shifts), `near {tcfg.distance}px` = share of the class's variation within "
        f"{tcfg.distance} px of a class boundary or the image border (`fraction_within`; "
        f"`area within` = the share of the class's pixels there, what evenly spread variation "
        f"gives). `colour_error` = rms distance of each class's mean colour from the real "
        f"image's (0 = right colours); `inter_std` = spread of the class means.",
        "",
        md_table(summ, 3),
        "",
        md_table(cls, 3),
        "",
        f"![trained variation]({rel(trained['figures']['trained_variation'])})",
        "",
        f"![trained samples]({rel(trained['figures']['trained_samples'])})",
        "",
        "What the numbers show:",
        "",
    ]
    lines += _findings(table, summary, models, tcfg, out)
    lines.append("")
    if trained.get("fid") is not None:
        lines += _quality_section(trained["fid"])
    return lines


def _quality_section(q: pd.DataFrame) -> list[str]:
    """FID / PRDC of the trained models, labelled with the weights and N."""
    weights = str(q.weights.iloc[0])
    shown = q.drop(columns=["weights"])
    return [
        "### Image quality: FID, precision, recall, density, coverage",
        "",
        f"Each model's first sample of the {int(q.n_generated.iloc[0])} held-out label maps against "
        f"the real images of the same maps (N = {int(q.n_real.iloc[0])} per side), on the FID "
        f"Inception's pool3 features; `data (other scenes)` is {int(q.n_generated.iloc[0])} real "
        f"images of other scenes against the same real images: what the data itself scores at "
        f"this N. Precision / recall / density / coverage: the `prdc` package (Naeem et al. "
        f"2020), k = 5. Weights: {weights}. {SMALL_N_NOTE} (`trained_fid.csv`)",
        "",
        md_table(shown, 3),
        "",
    ]


def _findings(table, summary, models, tcfg, out: Path) -> list[str]:
    """Plain statements read off the numbers (each one conditional on what was measured)."""
    doc = link(REPO / "docs" / "main-job.md", out)
    out = []
    data = summary[summary.source == "data"].iloc[0]
    blind = _mean(summary, "mean colour (label-blind)", "colour_error")
    for m in models:
        trained = summary[summary.source == LABELS[m]].iloc[0]
        untr = _mean(summary, f"{LABELS[m]} untrained", "colour_error")
        better = trained.colour_error < 0.5 * min(untr, blind)
        out.append(
            f"* {LABELS[m]} after {int(trained.step)} iterations: class colour error "
            f"{trained.colour_error:.3f} (untrained {untr:.3f}, label-blind mean colour "
            f"{blind:.3f}), inter-class std {trained.inter_std:.3f} (data {data.inter_std:.3f}): "
            + ("clearly better than noise - it paints the classes in roughly the right colours."
               if better else "**not** clearly better than noise at this budget; the comparisons "
                              "below say little."))
    piv = table.pivot_table(index="class_name", columns="source", values="sample_std")
    for m in models:
        v = float(piv[m].mean()) if m in piv else float("nan")
        dv = float(piv["data"].mean())
        if v == 0:
            out.append(f"* {LABELS[m]}: std across samples exactly 0 - it has no noise input, one "
                       f"label map gives one image (data: {dv:.3f} by design).")
        else:
            out.append(f"* {LABELS[m]}: std across samples {v:.4f} on average over classes, "
                       f"{v / dv:.0%} of the data's {dv:.3f}: the semantic noise does change the "
                       f"image, but far less than a new photo of the same layout would."
                       if v < 0.5 * dv else
                       f"* {LABELS[m]}: std across samples {v:.4f} on average, "
                       f"{v / dv:.0%} of the data's {dv:.3f}.")
    intra = table.pivot_table(index="class_name", columns="source", values="intra_std")
    near = table.pivot_table(index="class_name", columns="source", values="near_fraction")
    area = table[table.source == "data"].set_index("class_name")["area_fraction"]
    if len(models) == 2:
        a, b = models
        k = int((intra[b] > intra[a]).sum())
        out.append(f"* Within-image std: {LABELS[b]} above {LABELS[a]} in {k} of {len(intra)} "
                   f"classes (class means {intra[b].mean():.3f} vs {intra[a].mean():.3f}; data "
                   f"{intra['data'].mean():.3f})."
                   + (f" So at this budget {LABELS[b]} does **not** show more within-image "
                      f"intra-class variation than {LABELS[a]}." if k <= len(intra) // 2 else
                      f" So at this budget {LABELS[b]} shows more within-image intra-class "
                      f"variation than {LABELS[a]} in more than half of the classes."))
    for m in models:
        excess = float((near[m] - area).mean())
        dex = float((near["data"] - area).mean())
        out.append(f"* Near-boundary share ({tcfg.distance} px): {LABELS[m]} {near[m].mean():.2f}"
                   f" on average over classes against {area.mean():.2f} of the area and "
                   f"{near['data'].mean():.2f} for the data (excess over area {excess:+.2f} vs "
                   f"data {dex:+.2f})"
                   + (": its within-class variation sits at class boundaries and the border more "
                      "than the data's does - the boundary-bound pattern the paper attributes to "
                      "class-conditional normalization."
                      if excess > dex + 0.1 else
                      ": not more concentrated at boundaries than the data's."))
    if len(models) == 2:
        ea, eb = (float((near[m] - area).mean()) for m in models)
        sa, sb = (float(piv[m].mean()) if m in piv else float("nan") for m in models)
        gain = (f"; its std across samples is {sb:.4f} against {sa:.4f}" if sb > sa else
                f"; nor is its std across samples higher ({sb:.4f} vs {sa:.4f})")
        out.append(f"* {LABELS[models[1]]} vs {LABELS[models[0]]}: near-boundary excess "
                   f"{eb:+.2f} vs {ea:+.2f} - "
                   + (f"{LABELS[models[1]]} does **not** move its variation away from the "
                      f"boundaries at this budget{gain}." if eb >= ea - 0.05 else
                      f"{LABELS[models[1]]} keeps less of its variation at the boundaries."))
    out.append(f"* {tcfg.iters} iterations of batch 4: how to read numbers from so short a "
               f"budget: [docs/main-job.md]({doc}#the-training-part).")
    return out
